;; A WASI command that loads beyond its linear memory.
(module
  (memory (export "memory") 1)
  (func $peek (result i32) i32.const 70000 i32.load)
  (func (export "_start") call $peek drop))

;; An import from outside WASI preview 1: refused.
(module
  (import "env" "system" (func $system (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") i32.const 0 call $system drop))

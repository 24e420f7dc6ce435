;; A WASI command that recurses without end (each frame stores its own
;; argument after the call returns, so no compiler can turn it into a
;; loop): the call stack is exhausted.
(module
  (memory (export "memory") 1)
  (func $deeper (param i32)
    local.get 0
    i32.const 1
    i32.add
    call $deeper
    i32.const 0
    local.get 0
    i32.store)
  (func (export "_start") i32.const 0 call $deeper))

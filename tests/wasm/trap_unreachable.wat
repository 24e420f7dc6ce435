;; A WASI command that traps: `unreachable` in a named function (recursive,
;; so the C compiler keeps it a function of its own and the trap message
;; can name it).
(module
  (memory (export "memory") 1)
  (func $explode (param i32)
    local.get 0
    if
      local.get 0
      i32.const 1
      i32.sub
      call $explode
    end
    unreachable)
  (func (export "_start") i32.const 3 call $explode))

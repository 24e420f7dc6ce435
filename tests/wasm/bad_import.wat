;; fd_write declared with a signature WASI does not give it: refused
;; before it is compiled (the engine is linked by untyped C names).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") i64.const 1 call $w drop))

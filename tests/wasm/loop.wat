;; A WASI command that never ends (for --timeout).
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop br 0)))

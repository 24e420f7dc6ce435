/* The functions of WASI preview 1 as wasm2c names and types them: each
 * parameter i32 -> u32, i64 -> u64, the result the errno (u32). The
 * module's imports are checked against the same signatures before it is
 * compiled (wasm/module.c), as C's linker checks no types. */
#ifndef REINS_WASM_WASI_H
#define REINS_WASM_WASI_H

#include "engine.h"

u32 Z_wasi_snapshot_preview1Z_fd_read(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 nread);
u32 Z_wasi_snapshot_preview1Z_fd_write(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 nwritten);
u32 Z_wasi_snapshot_preview1Z_fd_pread(wasi_t *w, u32 fd, u32 iovs, u32 count, u64 offset,
                                       u32 nread);
u32 Z_wasi_snapshot_preview1Z_fd_pwrite(wasi_t *w, u32 fd, u32 iovs, u32 count, u64 offset,
                                        u32 nwritten);
u32 Z_wasi_snapshot_preview1Z_fd_close(wasi_t *w, u32 fd);
u32 Z_wasi_snapshot_preview1Z_fd_seek(wasi_t *w, u32 fd, u64 offset, u32 whence, u32 result);
u32 Z_wasi_snapshot_preview1Z_fd_tell(wasi_t *w, u32 fd, u32 result);
u32 Z_wasi_snapshot_preview1Z_fd_sync(wasi_t *w, u32 fd);
u32 Z_wasi_snapshot_preview1Z_fd_datasync(wasi_t *w, u32 fd);
u32 Z_wasi_snapshot_preview1Z_fd_advise(wasi_t *w, u32 fd, u64 offset, u64 len, u32 advice);
u32 Z_wasi_snapshot_preview1Z_fd_allocate(wasi_t *w, u32 fd, u64 offset, u64 len);
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(wasi_t *w, u32 fd, u32 buf);
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_set_flags(wasi_t *w, u32 fd, u32 flags);
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_set_rights(wasi_t *w, u32 fd, u64 base, u64 inheriting);
u32 Z_wasi_snapshot_preview1Z_fd_filestat_get(wasi_t *w, u32 fd, u32 buf);
u32 Z_wasi_snapshot_preview1Z_fd_filestat_set_size(wasi_t *w, u32 fd, u64 size);
u32 Z_wasi_snapshot_preview1Z_fd_filestat_set_times(wasi_t *w, u32 fd, u64 atim, u64 mtim, u32 fst);
u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(wasi_t *w, u32 fd, u32 buf);
u32 Z_wasi_snapshot_preview1Z_fd_prestat_dir_name(wasi_t *w, u32 fd, u32 path, u32 len);
u32 Z_wasi_snapshot_preview1Z_fd_renumber(wasi_t *w, u32 fd, u32 to);
u32 Z_wasi_snapshot_preview1Z_fd_readdir(wasi_t *w, u32 fd, u32 buf, u32 buf_len, u64 cookie,
                                         u32 bufused);
u32 Z_wasi_snapshot_preview1Z_args_sizes_get(wasi_t *w, u32 count, u32 size);
u32 Z_wasi_snapshot_preview1Z_args_get(wasi_t *w, u32 ptrs, u32 buf);
u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(wasi_t *w, u32 count, u32 size);
u32 Z_wasi_snapshot_preview1Z_environ_get(wasi_t *w, u32 ptrs, u32 buf);
u32 Z_wasi_snapshot_preview1Z_clock_res_get(wasi_t *w, u32 id, u32 result);
u32 Z_wasi_snapshot_preview1Z_clock_time_get(wasi_t *w, u32 id, u64 precision, u32 result);
u32 Z_wasi_snapshot_preview1Z_random_get(wasi_t *w, u32 buf, u32 len);
u32 Z_wasi_snapshot_preview1Z_sched_yield(wasi_t *w);
void Z_wasi_snapshot_preview1Z_proc_exit(wasi_t *w, u32 code);
u32 Z_wasi_snapshot_preview1Z_proc_raise(wasi_t *w, u32 sig);
u32 Z_wasi_snapshot_preview1Z_sock_accept(wasi_t *w, u32 fd, u32 flags, u32 result);
u32 Z_wasi_snapshot_preview1Z_sock_recv(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 flags,
                                        u32 nread, u32 oflags);
u32 Z_wasi_snapshot_preview1Z_sock_send(wasi_t *w, u32 fd, u32 iovs, u32 count, u32 flags,
                                        u32 nwritten);
u32 Z_wasi_snapshot_preview1Z_sock_shutdown(wasi_t *w, u32 fd, u32 how);
u32 Z_wasi_snapshot_preview1Z_poll_oneoff(wasi_t *w, u32 in, u32 out, u32 count, u32 nevents);
u32 Z_wasi_snapshot_preview1Z_path_open(wasi_t *w, u32 fd, u32 lookup, u32 path, u32 path_len,
                                        u32 oflags, u64 rights_base, u64 rights_inheriting,
                                        u32 fdflags, u32 result);
u32 Z_wasi_snapshot_preview1Z_path_create_directory(wasi_t *w, u32 fd, u32 path, u32 len);
u32 Z_wasi_snapshot_preview1Z_path_filestat_get(wasi_t *w, u32 fd, u32 lookup, u32 path, u32 len,
                                                u32 buf);
u32 Z_wasi_snapshot_preview1Z_path_filestat_set_times(wasi_t *w, u32 fd, u32 lookup, u32 path,
                                                      u32 len, u64 atim, u64 mtim, u32 fst);
u32 Z_wasi_snapshot_preview1Z_path_link(wasi_t *w, u32 old_fd, u32 old_lookup, u32 old_path,
                                        u32 old_len, u32 new_fd, u32 new_path, u32 new_len);
u32 Z_wasi_snapshot_preview1Z_path_readlink(wasi_t *w, u32 fd, u32 path, u32 len, u32 buf,
                                            u32 buf_len, u32 bufused);
u32 Z_wasi_snapshot_preview1Z_path_remove_directory(wasi_t *w, u32 fd, u32 path, u32 len);
u32 Z_wasi_snapshot_preview1Z_path_unlink_file(wasi_t *w, u32 fd, u32 path, u32 len);
u32 Z_wasi_snapshot_preview1Z_path_rename(wasi_t *w, u32 fd, u32 old_path, u32 old_len, u32 new_fd,
                                          u32 new_path, u32 new_len);
u32 Z_wasi_snapshot_preview1Z_path_symlink(wasi_t *w, u32 old_path, u32 old_len, u32 fd,
                                           u32 new_path, u32 new_len);

#endif

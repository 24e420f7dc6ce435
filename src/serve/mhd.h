/* libmicrohttpd, opened at run time by `reins serve` only.
 *
 * Why not linked in: Debian's libmicrohttpd is built with HTTPS support, and
 * its constructor initializes GnuTLS (gnutls_global_init) in every process
 * that links it, static or shared. Measured on this host, that costs every
 * reins command 6 ms (quiet) to 14 ms (loaded) of start-up, and `reins
 * run`'s start-up is a budget (DESIGN §8). Opened with dlopen, only the daemon pays it, once.
 *
 * The function pointers keep the header's declared types (__typeof__), so
 * the compiler still checks every call against <microhttpd.h>. */
#ifndef REINS_SERVE_MHD_H
#define REINS_SERVE_MHD_H

#include <microhttpd.h>

#include "util/error.h"

struct serve_mhd {
        void *handle;
        __typeof__(MHD_start_daemon) *start_daemon;
        __typeof__(MHD_stop_daemon) *stop_daemon;
        __typeof__(MHD_get_connection_info) *get_connection_info;
        __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
        __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
        __typeof__(MHD_create_response_from_callback) *create_response_from_callback;
        __typeof__(MHD_add_response_header) *add_response_header;
        __typeof__(MHD_queue_response) *queue_response;
        __typeof__(MHD_destroy_response) *destroy_response;
        __typeof__(MHD_set_connection_option) *set_connection_option;
};

/* The library's soname: the runtime package is libmicrohttpd12. */
#define SERVE_MHD_SONAME "libmicrohttpd.so.12"

/* Open the library and resolve every function; -ENOENT with a message that
 * names the package when it is missing. */
int serve_mhd_open(struct serve_mhd *mhd, struct reins_error *err);
void serve_mhd_close(struct serve_mhd *mhd);

#endif

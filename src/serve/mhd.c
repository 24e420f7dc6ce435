/* libmicrohttpd through dlopen (serve/mhd.h says why). */
#include "serve/mhd.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* Resolve one symbol into `slot`; false (and err) when it is missing. */
static bool mhd_resolve(void *handle, const char *name, void *slot, struct reins_error *err)
{
        void *symbol = dlsym(handle, name);
        if (!symbol) {
                reins_error_set(err, ENOENT, "%s has no %s: an incompatible libmicrohttpd",
                                SERVE_MHD_SONAME, name);
                return false;
        }
        /* a function pointer stored through its object representation: what
         * POSIX guarantees dlsym's result may be used for */
        memcpy(slot, &symbol, sizeof(symbol));
        return true;
}

int serve_mhd_open(struct serve_mhd *mhd, struct reins_error *err)
{
        memset(mhd, 0, sizeof(*mhd));
        /* RTLD_LOCAL: its symbols (and GnuTLS's) stay out of the global scope */
        mhd->handle = dlopen(SERVE_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!mhd->handle) {
                const char *why = dlerror();
                return reins_error_set(err, ENOENT,
                                       "reins serve needs libmicrohttpd (Debian: apt-get install "
                                       "libmicrohttpd12): %s",
                                       why ? why : "cannot be opened");
        }
        if (!mhd_resolve(mhd->handle, "MHD_start_daemon", &mhd->start_daemon, err) ||
            !mhd_resolve(mhd->handle, "MHD_stop_daemon", &mhd->stop_daemon, err) ||
            !mhd_resolve(mhd->handle, "MHD_get_connection_info", &mhd->get_connection_info, err) ||
            !mhd_resolve(mhd->handle, "MHD_lookup_connection_value", &mhd->lookup_connection_value,
                         err) ||
            !mhd_resolve(mhd->handle, "MHD_create_response_from_buffer",
                         &mhd->create_response_from_buffer, err) ||
            !mhd_resolve(mhd->handle, "MHD_create_response_from_callback",
                         &mhd->create_response_from_callback, err) ||
            !mhd_resolve(mhd->handle, "MHD_add_response_header", &mhd->add_response_header, err) ||
            !mhd_resolve(mhd->handle, "MHD_queue_response", &mhd->queue_response, err) ||
            !mhd_resolve(mhd->handle, "MHD_destroy_response", &mhd->destroy_response, err) ||
            !mhd_resolve(mhd->handle, "MHD_set_connection_option", &mhd->set_connection_option,
                         err)) {
                serve_mhd_close(mhd);
                return -ENOENT;
        }
        return 0;
}

void serve_mhd_close(struct serve_mhd *mhd)
{
        if (mhd->handle)
                dlclose(mhd->handle);
        memset(mhd, 0, sizeof(*mhd));
}

/* Ownership made visible: a variable declared with one of these attributes
 * is released when it leaves scope; steal_ptr/steal_fd hand ownership on. */
#ifndef REINS_UTIL_CLEANUP_H
#define REINS_UTIL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_free_fn(void *p)
{
        free(*(void **)p);
}

static inline void cleanup_close_fn(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void cleanup_fclose_fn(FILE **f)
{
        if (*f)
                fclose(*f);
}

static inline void cleanup_closedir_fn(DIR **d)
{
        if (*d)
                closedir(*d);
}

#define cleanup_free     __attribute__((cleanup(cleanup_free_fn)))
#define cleanup_fd       __attribute__((cleanup(cleanup_close_fn)))
#define cleanup_fclose   __attribute__((cleanup(cleanup_fclose_fn)))
#define cleanup_closedir __attribute__((cleanup(cleanup_closedir_fn)))

static inline void *steal_ptr_impl(void *pp)
{
        void **p = pp;
        void *v = *p;
        *p = NULL;
        return v;
}
/* Typed: the result has the type of *pp, and a pp that does not point to a
 * pointer is a compile error (a cast of void * to an integer type). */
#define steal_ptr(pp) ((__typeof__(*(pp)))steal_ptr_impl(pp))

static inline int steal_fd(int *fd)
{
        int v = *fd;
        *fd = -1;
        return v;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif

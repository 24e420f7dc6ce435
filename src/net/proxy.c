/* Placeholder until the egress proxy lands: proxy mode fails closed. */
#include "net/proxy.h"

#include <errno.h>
#include <unistd.h>

int proxy_create(const struct proxy_options *options, int listen_fd, struct proxy **out,
                 struct reins_error *err)
{
        (void)options;
        close(listen_fd);
        *out = NULL;
        return reins_error_set(err, ENOSYS, "the egress proxy is not available in this build");
}

int proxy_poll_fd(const struct proxy *proxy)
{
        (void)proxy;
        return -1;
}

void proxy_dispatch(struct proxy *proxy)
{
        (void)proxy;
}

void proxy_free(struct proxy *proxy)
{
        (void)proxy;
}

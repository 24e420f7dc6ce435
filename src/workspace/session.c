/* Placeholder until the workspace sessions land: overlay mode fails closed. */
#include "workspace/session.h"

#include <errno.h>
#include <string.h>

int workspace_session_create(const char *id, const char *lower, const json_t *meta,
                             struct workspace_session *out, struct reins_error *err)
{
        (void)id;
        (void)lower;
        (void)meta;
        memset(out, 0, sizeof(*out));
        return reins_error_set(err, ENOSYS, "copy-on-write sessions are not available in this build");
}

int workspace_session_open(const char *id, struct workspace_session *out,
                           struct reins_error *err)
{
        return workspace_session_create(id, NULL, NULL, out, err);
}

int workspace_session_mark(const struct workspace_session *session, const char *state,
                           int value, struct reins_error *err)
{
        (void)session;
        (void)state;
        (void)value;
        (void)err;
        return 0;
}

void workspace_session_free(struct workspace_session *session)
{
        (void)session;
}

/* reins thaw SESSION: let a session the risk engine froze go on (its
 * freezer cgroup is thawed, or its processes get SIGCONT where it was
 * frozen with SIGSTOP, and the session returns to tier T0; a workspace made
 * read-only stays read-only). The request goes over the session's control
 * socket; `reins stop SESSION` ends it instead. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "cli/control_client.h"

int cli_thaw(int argc, char **argv)
{
        if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: reins thaw SESSION\n\n"
                       "Let a session frozen by the risk engine go on (see 'reins ps').\n"
                       "Exit status: 0 thawed; 1 no such session or it refused; 2 usage.\n");
                return 0;
        }
        if (argc != 2) {
                fprintf(stderr, "usage: reins thaw SESSION\n");
                return EXIT_REINS_USAGE;
        }
        struct reins_error err = {0};
        json_t *request = json_pack("{s:s}", "op", "thaw"), *reply = NULL;
        int r = control_request(argv[1], request, &reply, &err);
        json_decref(request);
        if (r < 0) {
                notice("thaw %s: %s", argv[1], err.message);
                return 1;
        }
        int status = 0;
        if (!json_is_true(json_object_get(reply, "ok"))) {
                const char *why = json_string_value(json_object_get(reply, "error"));
                notice("thaw %s: %s", argv[1], why ? why : "refused");
                status = 1;
        } else {
                printf("thawed %s\n", json_string_value(json_object_get(reply, "session")));
        }
        json_decref(reply);
        return status;
}

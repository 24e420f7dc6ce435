/* reins thaw SESSION: let a session the risk engine froze go on (its
 * freezer cgroup is thawed, or its processes get SIGCONT where it was
 * frozen with SIGSTOP, and the session returns to tier T0; a workspace made
 * read-only stays read-only). The request goes over the session's control
 * socket, signed with the user's key and bound to a nonce the session gave
 * this connection; `reins stop SESSION` ends it instead. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "session/control_client.h"
#include "govern/identity.h"

int cli_thaw(int argc, char **argv)
{
        if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: reins thaw SESSION\n\n"
                       "Let a session frozen by the risk engine go on (see 'reins ps'), back\n"
                       "at tier T0. The request is signed with your key ('reins id'), as an\n"
                       "approval is: nothing else may loosen a session.\n"
                       "Exit status: 0 thawed; 1 no such session or it refused; 2 usage.\n");
                return 0;
        }
        if (argc != 2) {
                fprintf(stderr, "usage: reins thaw SESSION\n");
                return EXIT_REINS_USAGE;
        }
        struct reins_error err = {0};
        struct audit_key key;
        /* a thaw loosens the session as much as an approval: it is signed
         * with your key, and the session checks it (govern/answer_sign.h) */
        if (identity_user_key(&key, false, &err) < 0) {
                fprintf(stderr, "reins: thaw %s: cannot sign the request: %s\n", argv[1],
                        err.message);
                return 1;
        }
        json_auto_t *reply = NULL;
        int r = control_signed_request(argv[1], "thaw", &key, &reply, &err);
        audit_key_wipe(&key);
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
        return status;
}

/* The control socket and the agent's request channel (session/control.c),
 * driven through their public interface over real sockets, so that the
 * bytes take the path they take in a session: the framing (JSON lines, or
 * an HTTP POST on the agent channel), the JSON, the operations, the gate
 * (govern/gate.c: destination and path checks, the pending queue) and the
 * signed answers (govern/answer_sign.c).
 *
 * The first byte picks the channel: bit 0 set, the agent channel (what a
 * process in the sandbox reaches); clear, the control socket (the user's
 * side, which the agent must not reach but whose parser must hold anyway).
 * With bit 1 set on the control socket, the rest is one JSON request that
 * is re-signed here with the session's user key and the current time, so
 * the fuzzer gets past the signature into gate_answer. Each input starts
 * from a fresh session holding one pending request (id "fuzzsess-1"). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/keys.h"
#include "session/control.h"
#include "fuzz.h"
#include "govern/answer_sign.h"
#include "govern/approvals.h"
#include "govern/gate.h"
#include "util/strv.h"

#define FUZZ_SESSION "fuzzsess"

static struct audit_key user_key, daemon_key;
static struct reins_strv deny;

static char runtime[] = "/tmp/reins-fuzz-XXXXXX";

/* The sockets are gone with each session; their directories go at exit. */
static void remove_runtime(void)
{
        char reins[sizeof(runtime) + 8];
        snprintf(reins, sizeof(reins), "%s/reins", runtime);
        rmdir(reins);
        rmdir(runtime);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        static const unsigned char seed[crypto_sign_SEEDBYTES] = "reins fuzz user key seed 32 byte";
        FUZZ_CHECK(sodium_init() >= 0);
        crypto_sign_seed_keypair(user_key.public_key, user_key.secret_key, seed);
        /* the key of a daemon that started the session (reins serve) */
        static const unsigned char daemon_seed[crypto_sign_SEEDBYTES] =
            "reins fuzz daemon key seed 32 b";
        crypto_sign_seed_keypair(daemon_key.public_key, daemon_key.secret_key, daemon_seed);
        /* a private runtime directory of our own for the control socket */
        FUZZ_CHECK(mkdtemp(runtime) != NULL);
        atexit(remove_runtime);
        setenv("XDG_RUNTIME_DIR", runtime, 1);
        FUZZ_CHECK(strv_push(&deny, "blocked.test") == 0);
        json_object_seed(1);
        return 0;
}

static int thaw_stub(void *ctx, const json_t *by, struct reins_error *err)
{
        (void)ctx;
        (void)by;
        (void)err;
        return 0;
}

/* The request re-signed: payload.time set to now, signature by the user
 * key, or by the daemon's (`by_daemon`). */
static char *sign_request(const uint8_t *data, size_t size, size_t *length, bool by_daemon)
{
        json_t *request = json_loadb((const char *)data, size, 0, NULL);
        json_t *payload = json_object_get(request, "payload");
        char *text = NULL;
        if (json_is_object(payload)) {
                char signature[ANSWER_SIGNATURE_HEX + 1];
                struct reins_error err = {0};
                json_object_set_new(payload, "time", json_integer((json_int_t)time(NULL)));
                if (answer_sign(by_daemon ? &daemon_key : &user_key, payload, signature, &err) == 0)
                        json_object_set_new(request, "signature", json_string(signature));
                text = json_dumps(request, JSON_COMPACT);
        }
        json_decref(request);
        if (!text)
                return NULL;
        /* one line: the control socket reads up to '\n' */
        *length = strlen(text);
        char *line = realloc(text, *length + 2);
        if (!line) {
                free(text);
                return NULL;
        }
        memcpy(line + (*length)++, "\n", 2);
        return line;
}

static int connect_to(const struct sockaddr_un *address, socklen_t length)
{
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (const struct sockaddr *)address, length) < 0) {
                close(fd);
                fd = -1;
        }
        return fd;
}

/* A listening socket standing for the sandbox's 127.0.0.1:3129 (any
 * stream listener serves: the channel only accepts and reads). */
static int agent_listener(struct sockaddr_un *address, socklen_t *length)
{
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        struct sockaddr_un autobind = {.sun_family = AF_UNIX};
        *length = sizeof(*address);
        if (bind(fd, (struct sockaddr *)&autobind, sizeof(sa_family_t)) < 0 || listen(fd, 4) < 0 ||
            getsockname(fd, (struct sockaddr *)address, length) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* The replies are read and dropped (FUZZ_VERBOSE=1 shows them). */
static void drain(int fd)
{
        char reply[4096];
        ssize_t n;
        while ((n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT)) > 0)
                if (getenv("FUZZ_VERBOSE"))
                        fwrite(reply, 1, (size_t)n, stderr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 40000)
                return 0;
        bool agent = data[0] & 1, sign = !agent && (data[0] & 2);
        const char *bytes = (const char *)data + 1;
        size_t length = size - 1;
        char *signed_text = NULL;
        if (sign) {
                signed_text = sign_request(data + 1, size - 1, &length, data[0] & 4);
                if (!signed_text)
                        return 0;
                bytes = signed_text;
        }

        struct approvals *approvals = approvals_new(FUZZ_SESSION, 120000, false);
        struct reins_error err = {0};
        struct gate_config gate_config = {
            .approvals = approvals, .deny = &deny, .unknown_ask = true, .quiet = true};
        struct gate *gate = approvals ? gate_new(&gate_config, &err) : NULL;
        struct approval_request pending;
        FUZZ_CHECK(gate && gate_agent_ask(gate, "destination", "example.test:443", "seed", &pending,
                                          &err) == 0);
        struct session_control_config config = {.session = FUZZ_SESSION,
                                                .gate = gate,
                                                .user_public = user_key.public_key,
                                                .daemon_public = daemon_key.public_key,
                                                .thaw = thaw_stub};
        struct session_control *ctl = NULL;
        if (session_control_open(&config, &ctl, &err) < 0) {
                fprintf(stderr, "fuzz_control: %s\n", err.message);
                abort();
        }
        int client = -1;
        if (agent) {
                struct sockaddr_un address;
                socklen_t address_length;
                int listener = agent_listener(&address, &address_length);
                FUZZ_CHECK(listener >= 0);
                session_control_add_agent_listener(ctl, listener);
                client = connect_to(&address, address_length);
        } else {
                struct sockaddr_un address = {.sun_family = AF_UNIX};
                snprintf(address.sun_path, sizeof(address.sun_path), "%s",
                         session_control_path(ctl));
                client = connect_to(&address, sizeof(address));
        }
        FUZZ_CHECK(client >= 0);
        /* what fits in the socket at once; the channel reads it in pieces */
        size_t sent = 0;
        while (sent < length) {
                ssize_t n = send(client, bytes + sent, length - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n <= 0)
                        break;
                sent += (size_t)n;
        }
        for (int round = 0; round < 8; round++) {
                session_control_dispatch(ctl);
                drain(client);
        }
        if (agent) {
                /* a human answers the agent's request (the first after the
                 * seed one): a waiting agent gets its reply now */
                char id[APPROVALS_ID_MAX];
                snprintf(id, sizeof(id), "%s-2", FUZZ_SESSION);
                (void)gate_answer(gate, id, data[0] & 2, 0, APPROVAL_SCOPE_EXACT, NULL, NULL, &err);
                drain(client);
        }
        /* the peer goes away, as a killed agent does */
        close(client);
        session_control_dispatch(ctl);
        session_control_close(ctl);
        gate_free(gate);
        approvals_free(approvals);
        free(signed_text);
        return 0;
}

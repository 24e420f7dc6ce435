/* Capabilities (CVE-2022-27650, crun's inheritable capabilities).
 *
 * CapInh, CapPrm, CapEff, CapBnd and CapAmb must all be 0, NoNewPrivs 1.
 * Then each argument LABEL=PATH is exec'd (it is capdump): a uid-0 process
 * regains its bounding set on any exec unless the set is empty (or NNP caps
 * it), and a setuid-root binary must not raise the euid or the capabilities. */
#include "probe.h"

static int all_zero(const char *hex)
{
        for (const char *p = hex; *p; p++)
                if (*p != '0')
                        return 0;
        return *hex != '\0';
}

int main(int argc, char **argv)
{
        char status[4096], v[64];
        if (slurp("/proc/self/status", status, sizeof(status)) <= 0) {
                check("status_readable", 1, "cannot read /proc/self/status");
                done();
                return 0;
        }
        static const char *const caps[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
        for (size_t i = 0; i < 5; i++) {
                const char *got = status_field(status, caps[i], v, sizeof(v));
                check(caps[i], !got || !all_zero(got), "%s", got ? got : "missing");
        }
        const char *nnp = status_field(status, "NoNewPrivs", v, sizeof(v));
        check("NoNewPrivs", !nnp || strcmp(nnp, "1") != 0, "%s", nnp ? nnp : "missing");

        uid_t euid = geteuid();
        for (int i = 1; i < argc; i++) {
                char label[64], name[96];
                const char *eq = strchr(argv[i], '=');
                if (!eq)
                        continue;
                snprintf(label, sizeof(label), "%.*s", (int)(eq - argv[i]), argv[i]);
                const char *path = eq + 1;
                int p[2];
                if (pipe(p) < 0)
                        continue;
                pid_t pid = fork();
                if (pid == 0) {
                        dup2(p[1], 1);
                        close(p[0]);
                        close(p[1]);
                        execl(path, path, (char *)NULL);
                        printf("EXECFAIL %s\n", strerror(errno));
                        _exit(127);
                }
                close(p[1]);
                char out[512] = "";
                ssize_t n = 0, r;
                while ((r = read(p[0], out + n, sizeof(out) - 1 - (size_t)n)) > 0)
                        n += r;
                out[n > 0 ? n : 0] = '\0';
                close(p[0]);
                waitpid(pid, NULL, 0);
                out[strcspn(out, "\n")] = '\0';
                unsigned got_euid = 0;
                char eff[64] = "", prm[64] = "";
                if (sscanf(out, "CAPDUMP uid=%*u euid=%u CapEff=%63s CapPrm=%63s", &got_euid, eff,
                           prm) != 3) {
                        snprintf(name, sizeof(name), "%s_ran", label);
                        check(name, 1, "no report from %s: %s", path, out);
                        continue;
                }
                snprintf(name, sizeof(name), "%s_euid", label);
                check(name, got_euid != euid, "euid %u -> %u", euid, got_euid);
                snprintf(name, sizeof(name), "%s_caps", label);
                check(name, !all_zero(eff) || !all_zero(prm), "CapEff=%s CapPrm=%s", eff, prm);
        }
        done();
        return 0;
}

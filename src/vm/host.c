/* `reins vm-host`: the command of a vm session's host sandbox (vm/vm.h).
 * It starts QEMU there -- so QEMU has only the sandbox's view, its network
 * namespace (loopback and the proxy), its limits -- with the guest kernel
 * and reins' initramfs, and returns the guest command's exit status.
 *
 *   9p "root"  the sandbox's / read-only (the guest's view of the system)
 *   9p "ws"    the workspace, read-write or read-only
 *   9p "ctl"   the request: the guest's `reins run` line and environment
 *   virtio-serial ports: reins.stdin, reins.stdout, reins.stderr,
 *   reins.status (the exit status), reins.net (connections to the proxy)
 *
 * QEMU dies with vm-host (PR_SET_PDEATHSIG), vm-host with the sandbox's
 * init, the sandbox with the supervisor: the VM never outlives reins. */
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/strv.h"
#include "vm/mux.h"

extern char **environ;

#define VM_CTL_DIR "/dev/shm/reins-vm" /* the sandbox's private tmpfs */
/* QEMU takes no standard stream into an fd set: copies of 1 and 2 there */
#define VM_STDIO_COPY 20

struct vm_host_args {
        const char *kernel, *initrd, *policy, *accel;
        const char *workspace, *workspace_mode, *timeout;
        const char *weaken; /* make weak only: REINS_WEAKEN for the guest's reins */
        unsigned long ram_mib, cpus;
        struct reins_strv pass; /* --ro/--rw/--env for the guest's reins run */
        bool debug;
        char **command;
};

static int vm_host_parse(int argc, char **argv, struct vm_host_args *a)
{
        a->accel = "tcg";
        a->ram_mib = VM_DEFAULT_RAM_MIB;
        a->cpus = 1;
        int i = 1;
        for (; i < argc; i++) {
                const char *o = argv[i];
                if (strcmp(o, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(o, "--debug") == 0) {
                        a->debug = true;
                        continue;
                }
                if (i + 1 >= argc)
                        return -EINVAL;
                const char *v = argv[++i];
                if (strcmp(o, "--kernel") == 0)
                        a->kernel = v;
                else if (strcmp(o, "--initrd") == 0)
                        a->initrd = v;
                else if (strcmp(o, "--policy") == 0)
                        a->policy = v;
                else if (strcmp(o, "--accel") == 0)
                        a->accel = v;
                else if (strcmp(o, "--workspace") == 0)
                        a->workspace = v;
                else if (strcmp(o, "--workspace-mode") == 0)
                        a->workspace_mode = v;
                else if (strcmp(o, "--ro") == 0 || strcmp(o, "--rw") == 0 ||
                         strcmp(o, "--env") == 0) {
                        if (strv_push(&a->pass, o) < 0 || strv_push(&a->pass, v) < 0)
                                return -ENOMEM;
                } else if (strcmp(o, "--weaken") == 0)
                        a->weaken = v;
                else if (strcmp(o, "--timeout") == 0)
                        a->timeout = v;
                else if (strcmp(o, "--ram-mib") == 0)
                        a->ram_mib = strtoul(v, NULL, 10);
                else if (strcmp(o, "--cpus") == 0)
                        a->cpus = strtoul(v, NULL, 10);
                else
                        return -EINVAL;
        }
        if (i >= argc || !a->kernel || !a->initrd || !a->policy || !a->workspace)
                return -EINVAL;
        a->command = argv + i;
        return 0;
}

/* The port of http://127.0.0.1:PORT in HTTP_PROXY (set by the host plan
 * when the session has the proxy); 0 when there is none. */
static unsigned vm_host_proxy_port(void)
{
        const char *proxy = getenv("HTTP_PROXY");
        const char *prefix = "http://127.0.0.1:";
        if (!proxy || strncmp(proxy, prefix, strlen(prefix)) != 0)
                return 0;
        unsigned long port = strtoul(proxy + strlen(prefix), NULL, 10);
        return port > 0 && port < 65536 ? (unsigned)port : 0;
}

static int vm_host_write(const char *name, const void *bytes, size_t length)
{
        char path[PATH_MAX];
        snprintf(path, sizeof(path), VM_CTL_DIR "/%s", name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        int r = fileio_write_all(fd, bytes, length);
        close(fd);
        return r;
}

/* A list as NUL-terminated strings, one after the other. */
static int vm_host_write_list(const char *name, char *const *items)
{
        char *text = NULL;
        size_t length = 0;
        FILE *out = open_memstream(&text, &length);
        if (!out)
                return -ENOMEM;
        for (char *const *p = items; p && *p; p++)
                fwrite(*p, 1, strlen(*p) + 1, out);
        if (fclose(out) != 0) {
                free(text);
                return -ENOMEM;
        }
        int r = vm_host_write(name, text, length);
        free(text);
        return r;
}

static bool vm_host_is_proxy_variable(const char *entry)
{
        static const char *const names[] = {
            "HTTP_PROXY=",  "HTTPS_PROXY=", "ALL_PROXY=", "http_proxy=",
            "https_proxy=", "all_proxy=",   "NO_PROXY=",  "no_proxy="};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strncmp(entry, names[i], strlen(names[i])) == 0)
                        return true;
        return false;
}

/* The guest's `reins run`: the same policy, the container backend, the
 * workspace direct (an overlay is the host's: the share already is the
 * copy) or readonly, and the network of the guest (loopback, where the
 * proxy's port leads to the host's proxy) when the session has a proxy. */
static int vm_host_request(const struct vm_host_args *a, const char *self, unsigned proxy_port)
{
        bool readonly = a->workspace_mode && strcmp(a->workspace_mode, "readonly") == 0;
        struct reins_strv argv = {0}, env = {0};
        int r = 0;
        const char *fixed[] = {self,
                               "run",
                               a->debug ? "-v" : "-q",
                               "-p",
                               a->policy,
                               "--isolation",
                               "container",
                               "-w",
                               a->workspace,
                               "--workspace-mode",
                               readonly ? "readonly" : "direct",
                               "--net",
                               proxy_port ? "host" : "none",
                               "--audit",
                               "/run/reins/trail.jsonl"};
        for (size_t i = 0; r >= 0 && i < sizeof(fixed) / sizeof(fixed[0]); i++)
                r = strv_push(&argv, fixed[i]);
        for (char **e = environ; r >= 0 && *e; e++) {
                if (vm_host_is_proxy_variable(*e)) {
                        char name[32];
                        snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
                        if ((r = strv_push(&argv, "--env")) >= 0)
                                r = strv_push(&argv, name);
                }
                if (r >= 0 && strncmp(*e, "XDG_", 4) != 0)
                        r = strv_push(&env, *e);
        }
        for (size_t i = 0; r >= 0 && i < a->pass.count; i++)
                r = strv_push(&argv, a->pass.items[i]);
        if (r >= 0 && a->timeout && (r = strv_push(&argv, "--timeout")) >= 0)
                r = strv_push(&argv, a->timeout);
        if (r >= 0)
                r = strv_push(&argv, "--");
        for (char **c = a->command; r >= 0 && *c; c++)
                r = strv_push(&argv, *c);
        /* the guest reins' own state: a tmpfs of the guest */
        static const char *const state[] = {
            "XDG_STATE_HOME=/run/reins/state", "XDG_CONFIG_HOME=/run/reins/config",
            "XDG_CACHE_HOME=/run/reins/cache", "XDG_RUNTIME_DIR=/run/reins/runtime"};
        for (size_t i = 0; r >= 0 && i < sizeof(state) / sizeof(state[0]); i++)
                r = strv_push(&env, state[i]);
        if (r >= 0 && a->weaken) {
                char *weakened = NULL;
                r = asprintf(&weakened, "REINS_WEAKEN=%s", a->weaken) < 0
                        ? -ENOMEM
                        : strv_push_take(&env, weakened);
        }
        char port[16];
        snprintf(port, sizeof(port), "%u", proxy_port);
        if (r >= 0)
                r = vm_host_write_list("argv", argv.items);
        if (r >= 0)
                r = vm_host_write_list("env", env.items);
        if (r >= 0)
                r = vm_host_write("workspace", a->workspace, strlen(a->workspace) + 1);
        if (r >= 0)
                r = vm_host_write("workspace-mode", readonly ? "ro" : "rw", 3);
        if (r >= 0)
                r = vm_host_write("proxy-port", port, strlen(port) + 1);
        /* the guest's reins runs as the caller does on the host (the owner
         * of the workspace, as the 9p share shows it) */
        char ids[48];
        snprintf(ids, sizeof(ids), "%u:%u", (unsigned)getuid(), (unsigned)getgid());
        if (r >= 0)
                r = vm_host_write("ids", ids, strlen(ids) + 1);
        char now[32];
        snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
        if (r >= 0)
                r = vm_host_write("time", now, strlen(now) + 1);
        strv_free(&argv);
        strv_free(&env);
        return r;
}

static int vm_host_push_fmt(struct reins_strv *v, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static int vm_host_push_fmt(struct reins_strv *v, const char *format, ...)
{
        va_list ap;
        va_start(ap, format);
        char *s = NULL;
        int n = vasprintf(&s, format, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        return strv_push_take(v, s);
}

static int vm_host_qemu_argv(const struct vm_host_args *a, bool net, struct reins_strv *q)
{
        bool readonly = a->workspace_mode && strcmp(a->workspace_mode, "readonly") == 0;
        int r = 0;
        const char *base[] = {
            "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
            "-no-reboot",
            /* -M microvm: no PCI, no ACPI, virtio-mmio devices given here */
            "-M",
            a->debug ? "microvm,acpi=off,x-option-roms=off,rtc=off,isa-serial=on"
                     : "microvm,acpi=off,x-option-roms=off,rtc=off,isa-serial=off",
            "-cpu", strcmp(a->accel, "kvm") == 0 ? "host" : "max", "-kernel", a->kernel, "-initrd",
            a->initrd,
            /* no NIC: the guest's only way out is the reins.net port */
            "-device", "virtio-serial-device", "-device", "virtio-rng-device",
            /* stdin and stdout apart: the end of stdin closes its
             * port only (the guest reads EOF there) */
            "-chardev", "stdio,id=stdin,signal=off", "-device",
            "virtserialport,chardev=stdin,name=reins.stdin", "-device",
            "virtserialport,chardev=stdout,name=reins.stdout", "-device",
            "virtserialport,chardev=stderr,name=reins.stderr", "-chardev",
            "file,id=status,path=" VM_CTL_DIR "/status", "-device",
            "virtserialport,chardev=status,name=reins.status", "-fsdev",
            "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap", "-device",
            "virtio-9p-device,fsdev=root,mount_tag=root", "-fsdev",
            "local,id=ctl,path=" VM_CTL_DIR ",security_model=none,readonly=on", "-device",
            "virtio-9p-device,fsdev=ctl,mount_tag=ctl"};
        for (size_t i = 0; r >= 0 && i < sizeof(base) / sizeof(base[0]); i++)
                r = strv_push(q, base[i]);
        /* stdout and stderr: QEMU writes to vm-host's own descriptors (an
         * fd set, the same open file), or reopens them through /proc when
         * they are read-write (a terminal: fd sets match the access mode) */
        for (int fd = 1; r >= 0 && fd <= 2; fd++) {
                const char *id = fd == 1 ? "stdout" : "stderr";
                int flags = fcntl(fd, F_GETFL);
                if (flags >= 0 && (flags & O_ACCMODE) == O_WRONLY) {
                        if ((r = strv_push(q, "-add-fd")) >= 0)
                                r = vm_host_push_fmt(q, "fd=%d,set=%d", VM_STDIO_COPY + fd, fd);
                        if (r >= 0 && (r = strv_push(q, "-chardev")) >= 0)
                                r = vm_host_push_fmt(q, "file,id=%s,path=/dev/fdset/%d,append=on",
                                                     id, fd);
                } else if ((r = strv_push(q, "-chardev")) >= 0)
                        r = vm_host_push_fmt(q, "file,id=%s,path=/proc/self/fd/%d,append=on", id,
                                             fd);
        }
        if (r >= 0 && (r = strv_push(q, "-accel")) >= 0)
                r = strcmp(a->accel, "kvm") == 0
                        ? strv_push(q, "kvm")
                        : vm_host_push_fmt(q, "tcg,tb-size=%d", VM_TB_SIZE_MIB);
        if (r >= 0 && (r = strv_push(q, "-m")) >= 0)
                r = vm_host_push_fmt(q, "%luM", a->ram_mib);
        if (r >= 0 && (r = strv_push(q, "-smp")) >= 0)
                r = vm_host_push_fmt(q, "%lu", a->cpus);
        if (r >= 0 && (r = strv_push(q, "-fsdev")) >= 0)
                r = vm_host_push_fmt(q, "local,id=ws,path=%s,security_model=none%s", a->workspace,
                                     readonly ? ",readonly=on" : "");
        if (r >= 0 && (r = strv_push(q, "-device")) >= 0)
                r = strv_push(q, "virtio-9p-device,fsdev=ws,mount_tag=ws");
        if (r >= 0 && net) {
                const char *more[] = {"-chardev", "socket,id=net,path=" VM_CTL_DIR "/net.sock",
                                      "-device", "virtserialport,chardev=net,name=reins.net"};
                for (size_t i = 0; r >= 0 && i < 4; i++)
                        r = strv_push(q, more[i]);
        }
        if (r >= 0 && a->debug && (r = strv_push(q, "-serial")) >= 0)
                r = strv_push(q, "file:/proc/self/fd/2");
        if (r >= 0 && (r = strv_push(q, "-append")) >= 0)
                r = strv_push(q, a->debug
                                     ? "console=ttyS0 tsc=reliable panic=-1 reboot=t rdinit=/init"
                                     : "quiet loglevel=0 tsc=reliable panic=-1 reboot=t "
                                       "rdinit=/init");
        return r;
}

static volatile sig_atomic_t vm_host_signal;
static void vm_host_on_signal(int sig)
{
        vm_host_signal = sig;
}

int vm_host_main(int argc, char **argv)
{
        struct vm_host_args a = {0};
        if (vm_host_parse(argc, argv, &a) < 0) {
                fprintf(stderr, "reins: vm-host: internal command, started by `reins run "
                                "--isolation vm`\n");
                return 125;
        }
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                return 125;
        self[n] = '\0';
        unsigned proxy_port = vm_host_proxy_port();
        if (mkdir(VM_CTL_DIR, 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "reins: vm: %s: %s\n", VM_CTL_DIR, strerror(errno));
                return 125;
        }
        int r = vm_host_request(&a, self, proxy_port);
        if (r < 0) {
                fprintf(stderr, "reins: vm: writing the guest's request: %s\n", strerror(-r));
                return 125;
        }
        unlink(VM_CTL_DIR "/status");
        int listener = -1;
        if (proxy_port) {
                struct sockaddr_un at = {.sun_family = AF_UNIX};
                snprintf(at.sun_path, sizeof(at.sun_path), VM_CTL_DIR "/net.sock");
                unlink(at.sun_path);
                listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (listener < 0 || bind(listener, (struct sockaddr *)&at, sizeof(at)) < 0 ||
                    listen(listener, 1) < 0) {
                        fprintf(stderr, "reins: vm: the network port: %s\n", strerror(errno));
                        return 125;
                }
        }
        struct reins_strv q = {0};
        if (vm_host_qemu_argv(&a, proxy_port != 0, &q) < 0)
                return 125;

        struct sigaction sa = {.sa_handler = vm_host_on_signal};
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        pid_t qemu = fork();
        if (qemu < 0)
                return 125;
        if (qemu == 0) {
                /* QEMU dies with vm-host, even on SIGKILL */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGHUP, SIG_DFL);
                dup2(1, VM_STDIO_COPY + 1);
                dup2(2, VM_STDIO_COPY + 2);
                execvp(q.items[0], q.items);
                fprintf(stderr, "reins: vm: cannot run %s: %s\n", q.items[0], strerror(errno));
                _exit(125);
        }
        pid_t relay = -1;
        if (listener >= 0) {
                relay = fork();
                if (relay == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        int serial = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
                        _exit(serial >= 0 && vm_mux_host(serial, proxy_port) == 0 ? 0 : 1);
                }
                close(listener);
        }
        int wstatus = 0;
        bool forwarded = false;
        for (;;) {
                pid_t pid = waitpid(qemu, &wstatus, 0);
                if (pid == qemu)
                        break;
                if (pid < 0 && errno != EINTR)
                        break;
                if (vm_host_signal && !forwarded) {
                        /* `reins stop`, Ctrl-C: the VM goes (QEMU ends on SIGTERM) */
                        kill(qemu, SIGTERM);
                        forwarded = true;
                }
        }
        if (relay > 0) {
                kill(relay, SIGKILL);
                waitpid(relay, NULL, 0);
        }
        strv_free(&q);
        /* the guest's status, as its init wrote it to reins.status */
        int fd = open(VM_CTL_DIR "/status", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        char text[16] = "";
        if (fd >= 0) {
                ssize_t got = read(fd, text, sizeof(text) - 1);
                text[got > 0 ? got : 0] = '\0';
                close(fd);
        }
        char *end = NULL;
        long status = strtol(text, &end, 10);
        if (end != text && status >= 0 && status <= 255)
                return (int)status;
        if (vm_host_signal)
                return 128 + vm_host_signal;
        if (WIFSIGNALED(wstatus))
                return 128 + WTERMSIG(wstatus);
        fprintf(stderr, "reins: vm: the guest ended without an exit status (QEMU: %d)\n",
                WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        return 125;
}

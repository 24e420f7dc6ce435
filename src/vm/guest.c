/* pid 1 of the guest (vm/vm.h): reins itself, from the initramfs.
 *
 * It mounts what the kernel gives it (proc, sys, devtmpfs), the host
 * sandbox's view (9p tag "root", read-only), the workspace (tag "ws", rw or
 * ro as the policy says) and vm-host's request (tag "ctl": the command line
 * of the guest's `reins run` and its environment), builds the guest's root
 * from them, and runs that `reins run` -- the agent in reins' container
 * sandbox, inside the VM -- with stdio on virtio-serial ports. Its exit
 * status goes back on the "reins.status" port; then the guest stops (a
 * reboot that QEMU's -no-reboot turns into QEMU's exit).
 *
 * Nothing here can be loaded into the guest kernel (no modules), and what
 * the agent does to the guest kernel (sysctls, its own mounts) stays in it. */
#include "vm/vm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/fileio.h"
#include "vm/mux.h"

bool vm_is_guest_init(int argc, char **argv)
{
        return argc > 0 && getpid() == 1 && strcmp(argv[0], "/init") == 0;
}

/* The guest's console is the kernel's: nothing reads it unless
 * REINS_VM_DEBUG put it on vm-host's stderr. */
static void vm_guest_say(const char *what, int e)
{
        int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return;
        dprintf(fd, "reins-guest: %s%s%s\n", what, e ? ": " : "", e ? strerror(e) : "");
        close(fd);
}

static int vm_status_fd = -1;

/* Report `status` to vm-host and stop the guest. */
static __attribute__((noreturn)) void vm_guest_end(int status)
{
        if (vm_status_fd >= 0) {
                dprintf(vm_status_fd, "%d\n", status);
                fsync(vm_status_fd);
                close(vm_status_fd);
        }
        sync();
        /* -no-reboot: the reset ends QEMU (reboot=t: a triple fault, which
         * needs neither ACPI nor a keyboard controller) */
        reboot(RB_AUTOBOOT);
        for (;;)
                pause();
}

static __attribute__((noreturn)) void vm_guest_fail(const char *what, int e)
{
        vm_guest_say(what, e);
        vm_guest_end(125);
}

static void vm_guest_mount(const char *source, const char *target, const char *type,
                           unsigned long flags, const char *data)
{
        if (mount(source, target, type, flags, data) < 0) {
                char what[PATH_MAX + 64];
                snprintf(what, sizeof(what), "mount %s on %s", type ? type : source, target);
                vm_guest_fail(what, errno);
        }
}

/* The virtio-serial port named `name` (/sys/class/virtio-ports/vportNpM/name):
 * there is no udev to make /dev/virtio-ports/NAME. */
static int vm_guest_find_port(const char *name, int flags)
{
        DIR *dir = opendir("/sys/class/virtio-ports");
        if (!dir)
                return -errno;
        struct dirent *entry;
        int fd = -ENOENT;
        while ((entry = readdir(dir))) {
                if (entry->d_name[0] == '.')
                        continue;
                char path[PATH_MAX], got[64] = "";
                snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", entry->d_name);
                int nfd = open(path, O_RDONLY | O_CLOEXEC);
                if (nfd < 0)
                        continue;
                ssize_t n = read(nfd, got, sizeof(got) - 1);
                close(nfd);
                if (n <= 0)
                        continue;
                got[n] = '\0';
                got[strcspn(got, "\n")] = '\0';
                if (strcmp(got, name) != 0)
                        continue;
                snprintf(path, sizeof(path), "/dev/%s", entry->d_name);
                fd = open(path, flags | O_NOCTTY);
                if (fd < 0)
                        fd = -errno;
                break;
        }
        closedir(dir);
        return fd;
}

/* Ports are announced by the device after the driver is up: they may come a
 * moment after init starts. */
static int vm_guest_open_port(const char *name, int flags)
{
        int fd = -ENOENT;
        for (int tries = 0; tries < 300; tries++) {
                fd = vm_guest_find_port(name, flags);
                if (fd != -ENOENT)
                        return fd;
                usleep(10 * 1000);
        }
        return fd;
}

/* A NUL-separated file of the ctl share as a NULL-terminated array. */
static char **vm_guest_read_list(const char *path)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                vm_guest_fail(path, errno);
        char *data = NULL;
        size_t length = 0;
        bool truncated = false;
        if (fileio_read_fd(fd, 1u << 20, &data, &length, &truncated) < 0 || truncated)
                vm_guest_fail(path, EFBIG);
        close(fd);
        size_t count = 0;
        for (size_t i = 0; i < length; i++)
                count += data[i] == '\0';
        char **list = calloc(count + 1, sizeof(*list));
        if (!list)
                vm_guest_fail("out of memory", ENOMEM);
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
                list[i] = data + at;
                at += strlen(data + at) + 1;
        }
        return list; /* data lives as long as init */
}

static char *vm_guest_read_line(const char *path)
{
        char **list = vm_guest_read_list(path);
        if (!list[0])
                vm_guest_fail(path, EINVAL);
        return list[0];
}

/* The guest's root: a tmpfs holding the host sandbox's top-level entries
 * (directories bound from the read-only share, links copied), the guest's
 * own proc, sys, dev and run, and the workspace share at its host path. */
static void vm_guest_build_root(const char *workspace, bool workspace_ro)
{
        vm_guest_mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID, "mode=0755");
        DIR *dir = opendir("/mnt/root");
        if (!dir)
                vm_guest_fail("/mnt/root", errno);
        struct dirent *entry;
        while ((entry = readdir(dir))) {
                const char *name = entry->d_name;
                if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
                    strcmp(name, "proc") == 0 || strcmp(name, "sys") == 0 ||
                    strcmp(name, "dev") == 0 || strcmp(name, "run") == 0)
                        continue;
                char from[PATH_MAX], to[PATH_MAX];
                snprintf(from, sizeof(from), "/mnt/root/%s", name);
                snprintf(to, sizeof(to), "/newroot/%s", name);
                struct stat st;
                if (lstat(from, &st) < 0)
                        continue;
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlink(from, target, sizeof(target) - 1);
                        if (n > 0) {
                                target[n] = '\0';
                                if (symlink(target, to) < 0)
                                        vm_guest_fail(to, errno);
                        }
                } else if (S_ISDIR(st.st_mode)) {
                        if (mkdir(to, 0755) < 0)
                                vm_guest_fail(to, errno);
                        vm_guest_mount(from, to, NULL, MS_BIND | MS_REC, NULL);
                }
        }
        closedir(dir);
        static const char *const own[] = {"/newroot/proc", "/newroot/sys", "/newroot/dev",
                                          "/newroot/run"};
        for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
                if (mkdir(own[i], 0755) < 0 && errno != EEXIST)
                        vm_guest_fail(own[i], errno);
        vm_guest_mount("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        vm_guest_mount("sysfs", "/newroot/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        vm_guest_mount("cgroup2", "/newroot/sys/fs/cgroup", "cgroup2",
                       MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        vm_guest_mount("devtmpfs", "/newroot/dev", "devtmpfs", MS_NOSUID, NULL);
        mkdir("/newroot/dev/pts", 0755);
        vm_guest_mount("devpts", "/newroot/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                       "newinstance,ptmxmode=0666,mode=620");
        mkdir("/newroot/dev/shm", 01777);
        vm_guest_mount("tmpfs", "/newroot/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
        /* the guest reins' own state (XDG_*_HOME, vm/host.c) */
        static const char *const state[] = {"/newroot/run/reins", "/newroot/run/reins/state",
                                            "/newroot/run/reins/config", "/newroot/run/reins/cache",
                                            "/newroot/run/reins/runtime"};
        for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++)
                mkdir(state[i], 0700);
        char target[PATH_MAX];
        snprintf(target, sizeof(target), "/newroot%s", workspace);
        vm_guest_mount("ws", target, "9p", workspace_ro ? MS_RDONLY : 0,
                       "trans=virtio,version=9p2000.L,msize=262144,cache=none");
}

/* Loopback up: the guest's network is lo alone (no NIC), where the
 * network port's listener waits for the agent's proxy connections. */
static void vm_guest_loopback_up(void)
{
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                ioctl(fd, SIOCSIFFLAGS, &ifr);
        }
        close(fd);
}

static bool vm_guest_is_probe(void)
{
        char line[4096] = "";
        int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, line, sizeof(line) - 1);
        close(fd);
        line[n > 0 ? n : 0] = '\0';
        return strstr(line, "reins.probe=1") != NULL;
}

int vm_guest_main(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        if (mount("proc", "/proc", "proc", 0, NULL) < 0 ||
            mount("sysfs", "/sys", "sysfs", 0, NULL) < 0 ||
            mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) < 0)
                vm_guest_fail("mounting proc, sys, dev", errno);
        vm_status_fd = vm_guest_open_port("reins.status", O_WRONLY | O_CLOEXEC);
        if (vm_status_fd < 0)
                vm_guest_fail("no reins.status port", -vm_status_fd);
        if (vm_guest_is_probe()) { /* the accelerator's probe boot (vm/accel.c) */
                dprintf(vm_status_fd, "probe\n");
                close(vm_status_fd);
                vm_status_fd = -1;
                vm_guest_end(0);
        }
        vm_guest_mount("root", "/mnt/root", "9p", MS_RDONLY,
                       "trans=virtio,version=9p2000.L,msize=262144,cache=loose");
        vm_guest_mount("ctl", "/mnt/ctl", "9p", MS_RDONLY, "trans=virtio,version=9p2000.L");
        char *workspace = vm_guest_read_line("/mnt/ctl/workspace");
        char *mode = vm_guest_read_line("/mnt/ctl/workspace-mode");
        char **args = vm_guest_read_list("/mnt/ctl/argv");
        char **env = vm_guest_read_list("/mnt/ctl/env");
        char *proxy_port = vm_guest_read_line("/mnt/ctl/proxy-port");
        /* no RTC in the guest: the host's clock, as vm-host read it, so the
         * guest's records and certificates carry the time */
        struct timespec now = {.tv_sec = strtoll(vm_guest_read_line("/mnt/ctl/time"), NULL, 10)};
        if (now.tv_sec > 0)
                clock_settime(CLOCK_REALTIME, &now);
        char *ids = vm_guest_read_line("/mnt/ctl/ids");
        uid_t uid = (uid_t)strtoul(ids, NULL, 10);
        gid_t gid = (gid_t)strtoul(strchr(ids, ':') ? strchr(ids, ':') + 1 : "0", NULL, 10);
        if (!args[0] || workspace[0] != '/')
                vm_guest_fail("bad request", EINVAL);
        vm_guest_say("building the root", 0);
        vm_guest_build_root(workspace, strcmp(mode, "ro") == 0);
        static const char *const state[] = {"/newroot/run/reins", "/newroot/run/reins/state",
                                            "/newroot/run/reins/config", "/newroot/run/reins/cache",
                                            "/newroot/run/reins/runtime"};
        for (size_t i = 0; i < sizeof(state) / sizeof(state[0]); i++)
                if (chown(state[i], uid, gid) < 0)
                        vm_guest_fail(state[i], errno);
        vm_guest_say("root built", 0);
        umount2("/mnt/ctl", MNT_DETACH);

        /* the guest's root becomes /: the initramfs is left behind */
        if (chdir("/newroot") < 0 || mount("/newroot", "/", NULL, MS_MOVE, NULL) < 0 ||
            chroot(".") < 0 || chdir("/") < 0)
                vm_guest_fail("switching to the guest's root", errno);
        vm_guest_loopback_up();

        int in_fd = vm_guest_open_port("reins.stdin", O_RDONLY);
        int out_fd = vm_guest_open_port("reins.stdout", O_WRONLY);
        int err_fd = vm_guest_open_port("reins.stderr", O_WRONLY);
        int net =
            strcmp(proxy_port, "0") ? vm_guest_open_port("reins.net", O_RDWR | O_CLOEXEC) : -1;
        int listener = -1;
        if (net >= 0) {
                /* the proxy's port, on the guest's loopback: HTTP_PROXY and
                 * its twins, as the host session set them, stay true */
                listener = vm_mux_listen((unsigned)strtoul(proxy_port, NULL, 10));
                if (listener < 0)
                        vm_guest_fail("listening for the proxy", -listener);
        }
        pid_t relay = -1;
        if (net >= 0) {
                relay = fork();
                if (relay == 0) {
                        _exit(vm_mux_guest(net, listener) < 0 ? 1 : 0);
                }
                close(listener);
                close(net);
        }
        vm_guest_say("starting reins run", 0);
        pid_t child = fork();
        if (child < 0)
                vm_guest_fail("fork", errno);
        if (child == 0) {
                if (in_fd < 0 || out_fd < 0 || err_fd < 0)
                        _exit(125);
                dup2(in_fd, 0);
                dup2(out_fd, 1);
                dup2(err_fd, 2);
                if (in_fd > 2)
                        close(in_fd);
                if (out_fd > 2)
                        close(out_fd);
                if (err_fd > 2)
                        close(err_fd);
                /* the caller's identity, as on the host: an unprivileged
                 * caller's reins is unprivileged in the guest too */
                if (uid != 0 && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
                        _exit(125);
                if (chdir(workspace) < 0)
                        _exit(125);
                execve(args[0], args, env);
                dprintf(2, "reins: vm: cannot run %s in the guest: %s\n", args[0], strerror(errno));
                _exit(125);
        }
        /* init: reap everything; the run's status is the session's */
        int status = 125;
        for (;;) {
                int wstatus;
                pid_t pid = wait(&wstatus);
                if (pid < 0 && errno == EINTR)
                        continue;
                if (pid < 0)
                        break;
                if (pid == child) {
                        status =
                            WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
                        break;
                }
        }
        if (relay > 0)
                kill(relay, SIGKILL);
        vm_guest_end(status);
}

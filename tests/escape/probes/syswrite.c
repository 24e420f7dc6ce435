/* cgroup and /proc/sys writes (CVE-2023-25809 class).
 *
 * /sys/fs/cgroup, /proc/sys and /proc/sysrq-trigger must be read-only or
 * absent. Each target is only opened for writing (and closed): nothing is ever
 * written, so a broken sandbox cannot reboot or reconfigure the host. A
 * directory creation in the cgroup tree is undone at once. */
#include "probe.h"

#include <sys/stat.h>

static const char *const targets[][2] = {
        {"cgroup_procs", "/sys/fs/cgroup/cgroup.procs"},
        {"cgroup_v1_pids", "/sys/fs/cgroup/pids/cgroup.procs"},
        {"cgroup_v1_memory", "/sys/fs/cgroup/memory/memory.limit_in_bytes"},
        {"cgroup_unified", "/sys/fs/cgroup/unified/cgroup.procs"},
        {"release_agent", "/sys/fs/cgroup/memory/release_agent"},
        {"uevent_helper", "/sys/kernel/uevent_helper"},
        {"proc_sys_hostname", "/proc/sys/kernel/hostname"},
        {"proc_sys_core_pattern", "/proc/sys/kernel/core_pattern"},
        {"proc_sys_drop_caches", "/proc/sys/vm/drop_caches"},
        {"proc_sys_modprobe", "/proc/sys/kernel/modprobe"},
        {"sysrq_trigger", "/proc/sysrq-trigger"},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
                int fd = open(targets[i][1], O_WRONLY | O_CLOEXEC);
                int e = errno;
                check(targets[i][0], fd >= 0, "%s: %s", targets[i][1],
                      fd >= 0 ? "open for write succeeded" : strerror(e));
                if (fd >= 0)
                        close(fd);
        }
        static const char *const dirs[] = {"/sys/fs/cgroup/reins-escape-probe",
                                           "/sys/fs/cgroup/pids/reins-escape-probe"};
        int made = 0;
        char which[200] = "";
        for (size_t i = 0; i < 2; i++)
                if (mkdir(dirs[i], 0755) == 0) {
                        made++;
                        snprintf(which + strlen(which), sizeof(which) - strlen(which), "%s ",
                                 dirs[i]);
                        rmdir(dirs[i]);
                }
        check("cgroup_mkdir", made > 0, "%s", made ? which : "no cgroup directory created");
        struct stat st;
        info("/sys %s", stat("/sys", &st) == 0 ? "exists" : "absent");
        done();
        return 0;
}

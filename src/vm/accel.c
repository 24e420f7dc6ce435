/* Which accelerator a vm session's QEMU uses, and why (vm/vm.h).
 *
 * KVM only when /dev/kvm exists and can boot reins' guest: some hosts offer
 * a /dev/kvm that cannot (kvm_pvm, a software nested hypervisor, boots no
 * ordinary Linux guest). So the first time, a probe boot under a deadline:
 * the guest's init, told `reins.probe` on its command line, reports at once;
 * silence within VM_PROBE_DEADLINE_S means no. The answer is cached per host
 * (kernel release and /dev/kvm's identity) in the cache directory. */
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/path.h"

#define VM_PROBE_DEADLINE_S 10

/* Boot the guest with KVM and wait for its init's word. */
static bool vm_accel_probe(const char *status_path)
{
        struct reins_error err = {0};
        char *kernel = NULL, *initrd = NULL;
        if (vm_kernel_path(&kernel, &err) < 0 || vm_initramfs_path(&initrd, &err) < 0) {
                free(kernel);
                return false;
        }
        unlink(status_path);
        char chardev[4200];
        snprintf(chardev, sizeof(chardev), "file,id=status,path=%s", status_path);
        pid_t pid = fork();
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                execlp("qemu-system-x86_64", "qemu-system-x86_64", "-nodefaults", "-no-user-config",
                       "-display", "none", "-no-reboot", "-M",
                       "microvm,acpi=off,x-option-roms=off,rtc=off,isa-serial=off", "-accel", "kvm",
                       "-cpu", "host", "-m", "128M", "-kernel", kernel, "-initrd", initrd,
                       "-device", "virtio-serial-device", "-chardev", chardev, "-device",
                       "virtserialport,chardev=status,name=reins.status", "-append",
                       "quiet panic=-1 reboot=t rdinit=/init reins.probe=1", (char *)NULL);
                _exit(127);
        }
        free(kernel);
        free(initrd);
        if (pid < 0)
                return false;
        bool ok = false;
        for (int tenth = 0; tenth < VM_PROBE_DEADLINE_S * 10; tenth++) {
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        pid = -1;
                        break;
                }
                struct timespec pause = {0, 100 * 1000 * 1000};
                nanosleep(&pause, NULL);
        }
        if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        FILE *in = fopen(status_path, "re");
        char line[32] = "";
        if (in) {
                ok = fgets(line, sizeof(line), in) && strncmp(line, "probe", 5) == 0;
                fclose(in);
        }
        unlink(status_path);
        return ok;
}

bool vm_accel_is_kvm(char *why, size_t why_size)
{
        const char *forced = getenv("REINS_VM_ACCEL");
        if (forced && strcmp(forced, "tcg") == 0) {
                snprintf(why, why_size, "REINS_VM_ACCEL=tcg");
                return false;
        }
        struct stat kvm;
        if (stat("/dev/kvm", &kvm) < 0 || !S_ISCHR(kvm.st_mode)) {
                snprintf(why, why_size, "no /dev/kvm on this host");
                return false;
        }
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                snprintf(why, why_size, "/dev/kvm: %s", strerror(errno));
                return false;
        }
        close(fd);
        struct reins_error err = {0};
        char *dir = NULL;
        if (vm_cache_dir(&dir, &err) < 0) {
                snprintf(why, why_size, "no cache directory for the KVM probe's answer");
                return false;
        }
        struct utsname u;
        uname(&u);
        char name[512];
        snprintf(name, sizeof(name), "%s/accel-%s-%llx-%lld", dir, u.release,
                 (unsigned long long)kvm.st_rdev, (long long)kvm.st_ctime);
        char status_path[600];
        snprintf(status_path, sizeof(status_path), "%s/probe-%d.status", dir, (int)getpid());
        free(dir);
        FILE *cached = fopen(name, "re");
        char answer[16] = "";
        if (cached) {
                if (!fgets(answer, sizeof(answer), cached))
                        answer[0] = '\0';
                fclose(cached);
        }
        if (!answer[0]) {
                bool ok = vm_accel_probe(status_path);
                snprintf(answer, sizeof(answer), "%s", ok ? "kvm\n" : "tcg\n");
                int out = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (out >= 0) {
                        if (write(out, answer, strlen(answer)) < 0)
                                answer[0] = answer[0];
                        close(out);
                }
        }
        if (strncmp(answer, "kvm", 3) == 0) {
                snprintf(why, why_size, "/dev/kvm booted the guest (probe cached per host)");
                return true;
        }
        snprintf(why, why_size,
                 "/dev/kvm did not boot the guest within %d s (a nested or software hypervisor "
                 "such as kvm_pvm?); answer cached per host",
                 VM_PROBE_DEADLINE_S);
        return false;
}

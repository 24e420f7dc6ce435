/* Helper of caps.c, not a probe: exec'd (plain, and as a setuid-root copy the
 * test plants in the workspace), it prints what it got. */
#include "probe.h"

int main(void)
{
        char status[4096], eff[64] = "?", prm[64] = "?";
        if (slurp("/proc/self/status", status, sizeof(status)) > 0) {
                status_field(status, "CapEff", eff, sizeof(eff));
                status_field(status, "CapPrm", prm, sizeof(prm));
        }
        printf("CAPDUMP uid=%u euid=%u CapEff=%s CapPrm=%s\n", getuid(), geteuid(), eff, prm);
        return 0;
}

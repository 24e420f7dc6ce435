/* A test library (LD_PRELOAD) that writes the peak RSS (VmHWM, KiB) of the
 * process it is loaded into to $REINS_TEST_HWM_DIR/PID when it exits. The
 * sandbox drops LD_PRELOAD, so only reins' own processes report. Built by
 * tests/escape/test_supervisor.py and tests/integration/test_bounds.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((destructor)) static void reins_test_report_hwm(void)
{
        const char *dir = getenv("REINS_TEST_HWM_DIR");
        if (!dir)
                return;
        FILE *in = fopen("/proc/self/status", "r");
        if (!in)
                return;
        char line[256];
        long hwm = -1;
        while (fgets(line, sizeof(line), in))
                if (strncmp(line, "VmHWM:", 6) == 0)
                        hwm = strtol(line + 6, NULL, 10);
        fclose(in);
        char path[4096];
        snprintf(path, sizeof(path), "%s/%d", dir, (int)getpid());
        FILE *out = fopen(path, "w");
        if (out) {
                fprintf(out, "%ld\n", hwm);
                fclose(out);
        }
}

/* Argument injection (CVE-2020-17367, CVE-2024-32462): print argv[1..] as hex,
 * one line each, so the test can compare them byte for byte. */
#include "probe.h"

int main(int argc, char **argv)
{
        printf("ARGC %d\n", argc - 1);
        for (int i = 1; i < argc; i++) {
                printf("ARG %d ", i - 1);
                for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++)
                        printf("%02x", *p);
                printf("\n");
        }
        done();
        return 0;
}

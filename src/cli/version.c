/* reins --version: the version, then what this binary was built with, so a
 * bug report (or a package's users) can tell one build from another. */
#include <ares_version.h>
#include <jansson.h>
#include <nettle/version.h>
#include <seccomp.h>
#include <sodium.h>
#include <stdio.h>
#include <yaml.h>
#include <zlib.h>

#include "cli/cli.h"

int cli_version(void)
{
        printf("reins %s\n", REINS_VERSION);
        /* every build has them: reins has no optional protection to leave out,
         * and a host that lacks one is refused at run time (reins doctor) */
        printf("features: namespaces seccomp landlock cgroup2 egress-proxy audit-trail "
               "risk-engine approvals tokens overlay environments oci "
               "serve(libmicrohttpd, dlopen) tls-syslog(gnutls, dlopen)");
#ifdef REINS_WEAKEN_BUILD
        /* `make weak`: protections can be switched off (escape tests only) */
        printf(" WEAKENED-TEST-BUILD");
#endif
#ifdef REINS_BENCH_EXEC_STAMP
        printf(" bench-exec-stamp");
#endif
        printf("\nlibraries (static): libseccomp %d.%d.%d, libsodium %s, libyaml %s, jansson %s, "
               "c-ares %s, nettle %d.%d, zlib %s\n",
               SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO, SODIUM_VERSION_STRING,
               yaml_get_version_string(), JANSSON_VERSION, ARES_VERSION_STR, NETTLE_VERSION_MAJOR,
               NETTLE_VERSION_MINOR, ZLIB_VERSION);
        return 0;
}

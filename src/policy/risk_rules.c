/* The built-in detection rules: ids, defaults and one-line explanations
 * (policy/risk_rules.h). */
#include "policy/risk_rules.h"

#include <string.h>

#define MINUTE_MS (60 * 1000)

const struct risk_rule_info rule_table[RULE_COUNT] = {
    [RULE_SECRET_EGRESS] = {"secret-read-egress", RISK_HIGH, 40, 0, NULL, 5 * MINUTE_MS,
                            "exec, net.decision",
                            "a secret file was read and network egress followed"},
    [RULE_CREDENTIAL_HUNT] = {"credential-hunting", RISK_HIGH, 35, 0, NULL, 0, "exec",
                              "a search for key material over a home directory or the root"},
    [RULE_PROC_SNOOP] = {"proc-snooping", RISK_HIGH, 35, 0, NULL, 0, "exec",
                         "read of another process's environ or memory"},
    [RULE_DOWNLOAD_RUN] = {"download-and-run", RISK_HIGH, 40, 0, NULL, 0, "exec",
                           "downloaded content piped straight into an interpreter"},
    [RULE_DECODE_RUN] = {"decode-and-run", RISK_HIGH, 40, 0, NULL, 0, "exec",
                         "decoded (obfuscated) content piped straight into an interpreter"},
    [RULE_RUN_FETCHED] = {"run-fetched-file", RISK_HIGH, 35, 0, NULL, 0, "exec",
                          "a file downloaded in this session was executed"},
    [RULE_RECON] = {"recon-tool", RISK_MEDIUM, 15, 0, NULL, 0, "exec",
                    "a network reconnaissance or sniffing tool was run"},
    [RULE_REVERSE_SHELL] = {"reverse-shell", RISK_CRITICAL, 100, 0, NULL, 0, "exec",
                            "a shell wired to a network socket (reverse shell)"},
    [RULE_ESCAPE] = {"escape-primitive", RISK_HIGH, 35, 0, NULL, 0, "exec, syscall.denied",
                     "a namespace, mount, module or capability tool was run, or such a "
                     "syscall was refused (sandbox escape)"},
    [RULE_PERSISTENCE] = {"persistence-write", RISK_HIGH, 35, 0, NULL, 0,
                          "exec, file.protected_write",
                          "a write to a shell rc, cron, authorized_keys, git hook or agent "
                          "config (persistence)"},
    [RULE_CLOUD_METADATA] = {"cloud-metadata", RISK_HIGH, 40, 0, NULL, 0, "net.decision",
                             "a connection to a cloud metadata service (instance credentials)"},
    [RULE_DNS_EXFIL_NAME] = {"dns-exfil-name", RISK_MEDIUM, 20, 40, "characters in a label", 0,
                             "net.decision",
                             "a host name with a long or random-looking label (data in DNS)"},
    [RULE_DNS_EXFIL_SUBDOMAINS] = {"dns-exfil-subdomains", RISK_MEDIUM, 25, 20,
                                   "distinct subdomains of one domain", MINUTE_MS, "net.decision",
                                   "many distinct subdomains of one domain (data in DNS)"},
    [RULE_PASTE_UPLOAD] = {"paste-upload", RISK_MEDIUM, 25, 0, NULL, 0, "net.decision",
                           "a connection to a paste, file-share, webhook or tunnel service"},
    [RULE_EGRESS_VOLUME] = {"egress-volume", RISK_MEDIUM, 25, 100ll * 1024 * 1024, "bytes sent",
                            5 * MINUTE_MS, "net.progress, net.close, net.budget",
                            "egress volume over the threshold"},
    [RULE_EGRESS_SPIKE] = {"egress-spike", RISK_MEDIUM, 15, 8ll * 1024 * 1024, "bytes sent",
                           10 * 1000, "net.progress, net.close",
                           "a sudden burst of egress: a window over the threshold and 10 times "
                           "the session's rate before it"},
    [RULE_REPEATED_DENIALS] = {"repeated-denials", RISK_MEDIUM, 20, 10, "denied connections",
                               MINUTE_MS, "net.decision",
                               "repeated denied network attempts (probing)"},
    [RULE_MASS_DELETION] = {"mass-deletion", RISK_HIGH, 35, 200, "deleted paths", MINUTE_MS, "exec",
                            "recursive deletion of the workspace or home, or many "
                            "deletions"},
    [RULE_MASS_REWRITE] = {"mass-rewrite", RISK_HIGH, 35, 200, "files rewritten", MINUTE_MS, "exec",
                           "many workspace files rewritten in place (sed -i, shred, truncate, "
                           "encryption), or a file encrypted and its original removed"},
    [RULE_KEY_EGRESS] = {"key-material-egress", RISK_CRITICAL, 100, 0, NULL, 0, "net.key_material",
                         "key material (an AWS key id, a private key) in plaintext egress"},
    [RULE_CANARY_READ] = {"canary-read", RISK_CRITICAL, 100, 0, NULL, 0, "file.canary_read",
                          "a planted canary credential was read: nobody legitimate reads it"},
    [RULE_APPROVAL_FLOOD] = {"approval-flooding", RISK_MEDIUM, 20, 10, "approval requests",
                             MINUTE_MS, "approval.request, approval.refused",
                             "a flood of approval requests (wearing the human down)"},
    [RULE_DROP_EXEC] = {"drop-and-execute", RISK_MEDIUM, 15, 0, NULL, 0, "exec",
                        "a file made executable in this session was run from outside the "
                        "workspace (a staging place such as /tmp)"},
    [RULE_CREDENTIAL_MISUSE] = {"credential-misuse", RISK_CRITICAL, 100, 0, NULL, 0,
                                "net.credential_misuse",
                                "a credential's placeholder sent to a host it is not for "
                                "(the request was refused): an exfiltration attempt"},
};

const struct risk_rule_info *risk_rule_list(size_t *count)
{
        *count = RULE_COUNT;
        return rule_table;
}

const struct risk_rule_info *risk_rule_find(const char *id)
{
        for (int i = 0; i < RULE_COUNT; i++)
                if (strcmp(rule_table[i].id, id) == 0)
                        return &rule_table[i];
        return NULL;
}

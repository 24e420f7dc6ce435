/* The network part of the plan: none (loopback only), proxy (loopback plus
 * the egress proxy, the only way out) or host (no network namespace: must
 * be asked for on the command line, and is loud). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/netns.h"
#include "sandbox/plan_internal.h"

static int plan_network_mode(const struct reins_policy *policy, const struct plan_options *options,
                             enum policy_network_mode *mode, struct reins_error *err)
{
        *mode = policy->network.mode;
        if (options->net) {
                if (strcmp(options->net, "none") == 0)
                        *mode = POLICY_NETWORK_NONE;
                else if (strcmp(options->net, "proxy") == 0)
                        *mode = POLICY_NETWORK_PROXY;
                else if (strcmp(options->net, "host") == 0)
                        *mode = POLICY_NETWORK_HOST;
                else
                        return reins_error_set(
                            err, EINVAL, "--net '%s': expected none, proxy or host", options->net);
        } else if (options->allow_net.count > 0 && *mode == POLICY_NETWORK_NONE) {
                *mode = POLICY_NETWORK_PROXY; /* --allow-net means: through the proxy */
        }
        if (*mode == POLICY_NETWORK_HOST && !(options->net && strcmp(options->net, "host") == 0))
                return reins_error_set(err, EPERM,
                                       "network.mode host removes all egress control: it "
                                       "needs --net host on the command line as well");
        return 0;
}

static int plan_proxy_env(struct reins_plan *plan)
{
        char http[64], socks[64];
        snprintf(http, sizeof(http), "http://127.0.0.1:%d", NETNS_PROXY_PORT);
        snprintf(socks, sizeof(socks), "socks5h://127.0.0.1:%d", NETNS_PROXY_PORT);
        const char *names[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"};
        char entry[128];
        int r = 0;
        for (size_t i = 0; r == 0 && i < sizeof(names) / sizeof(names[0]); i++) {
                snprintf(entry, sizeof(entry), "%s=%s", names[i], http);
                r = plan_env_put(plan, entry);
        }
        if (r == 0) {
                snprintf(entry, sizeof(entry), "ALL_PROXY=%s", socks);
                r = plan_env_put(plan, entry);
        }
        if (r == 0) {
                snprintf(entry, sizeof(entry), "all_proxy=%s", socks);
                r = plan_env_put(plan, entry);
        }
        /* nothing bypasses the proxy (there is no other way out anyway) */
        if (r == 0)
                r = plan_env_put(plan, "NO_PROXY=");
        if (r == 0)
                r = plan_env_put(plan, "no_proxy=");
        return r;
}

int plan_add_network(struct reins_plan *plan, const struct reins_policy *policy,
                     const struct plan_options *options, struct reins_error *err)
{
        enum policy_network_mode mode;
        int r = plan_network_mode(policy, options, &mode, err);
        if (r < 0)
                return r;
        bool lists = policy->network.allow.count || policy->network.deny.count ||
                     policy->network.ask.count || policy->network.hosts.count ||
                     options->allow_net.count;
        if (mode == POLICY_NETWORK_NONE && lists)
                return reins_error_set(err, EINVAL,
                                       "network.allow/deny/ask/hosts are set but network.mode is "
                                       "none: set mode: proxy (or pass --net proxy)");
        plan->host_network = mode == POLICY_NETWORK_HOST;
        plan->proxy = mode == POLICY_NETWORK_PROXY;
        /* the agent's request channel, when a human may be asked at all; it
         * lives in the sandbox's own network namespace (none with --net host) */
        plan->agent_channel =
            !plan->host_network && (policy->approvals.present || policy->network.ask.count > 0);
        if (plan->agent_channel) {
                char entry[64];
                snprintf(entry, sizeof(entry), "REINS_REQUEST_URL=http://127.0.0.1:%d/ask",
                         NETNS_AGENT_PORT);
                if ((r = plan_env_put(plan, entry)) < 0)
                        return reins_error_set(err, -r, "out of memory");
        }
        if (!plan->proxy)
                return 0;
        plan->egress_budget_bytes = policy->network.egress_budget_bytes == POLICY_UNSET
                                        ? 0
                                        : policy->network.egress_budget_bytes;
        if ((r = strv_copy(&plan->net_allow, &policy->network.allow)) < 0 ||
            (r = strv_copy(&plan->net_allow, &options->allow_net)) < 0 ||
            (r = strv_copy(&plan->net_deny, &policy->network.deny)) < 0 ||
            (r = strv_copy(&plan->net_ask, &policy->network.ask)) < 0 ||
            (r = strv_copy(&plan->net_hosts, &policy->network.hosts)) < 0 ||
            (r = plan_proxy_env(plan)) < 0)
                return reins_error_set(err, -r, "out of memory");
        return 0;
}

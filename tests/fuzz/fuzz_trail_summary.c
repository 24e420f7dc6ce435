/* The dashboard's sums of a trail (src/serve/trail_summary.c): a file of
 * JSON lines the session's user may have written anything into, read by
 * the daemon (root, perhaps) a piece at a time as it grows.
 *
 * The first two bytes cut the rest into three appends; after each, the
 * summary is brought up to date. Properties: every text for a person is
 * printable ASCII of at most 512 bytes; counts and bytes are integers from
 * 0 to 2^53; the lists keep their bounds; the buckets hold no more than
 * the counts; and the summary read in pieces, buckets included, equals the
 * summary of the whole read at once (a line cut by an append is read when
 * it ends, never twice, never half). */
#include <jansson.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "serve/trail_summary.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        json_object_seed(1);
        return 0;
}

static void check_text(const json_t *value)
{
        FUZZ_CHECK(json_is_string(value));
        const char *s = json_string_value(value);
        FUZZ_CHECK(json_string_length(value) <= 512);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
}

static void check_count(const json_t *value)
{
        FUZZ_CHECK(json_is_integer(value));
        FUZZ_CHECK(json_integer_value(value) >= 0);
        FUZZ_CHECK(json_integer_value(value) <= ((json_int_t)1 << 53));
}

static void check_counts(const json_t *object)
{
        const char *key;
        const json_t *value;
        FUZZ_CHECK(json_is_object(object));
        json_object_foreach((json_t *)object, key, value)
        {
                if (strcmp(key, "partial") == 0)
                        FUZZ_CHECK(json_is_false(value)); /* small inputs: read whole */
                else
                        check_count(value);
        }
}

static void check_summary(const struct trail_summary_query *q)
{
        check_counts(q->egress);
        check_counts(q->counts);
        const json_t *d = q->detail;
        FUZZ_CHECK(json_is_boolean(json_object_get(d, "truncated")));
        size_t i;
        const json_t *item;
        FUZZ_CHECK(json_array_size(json_object_get(d, "processes")) <= 2000);
        json_array_foreach(json_object_get(d, "processes"), i, item)
        {
                check_text(json_object_get(item, "text"));
                if (!json_is_null(json_object_get(item, "time")))
                        check_text(json_object_get(item, "time"));
        }
        FUZZ_CHECK(json_array_size(json_object_get(d, "destinations")) <= 256);
        json_array_foreach(json_object_get(d, "destinations"), i, item)
        {
                check_text(json_object_get(item, "host"));
                const char *keys[] = {"allowed", "denied", "asked", "bytes_up", "bytes_down"};
                for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
                        check_count(json_object_get(item, keys[k]));
                json_int_t port = json_integer_value(json_object_get(item, "port"));
                FUZZ_CHECK(port >= 0 && port <= 65535);
        }
        json_array_foreach(json_object_get(d, "tiers"), i, item)
        {
                check_text(json_object_get(item, "reason"));
                json_int_t tier = json_integer_value(json_object_get(item, "tier"));
                FUZZ_CHECK(tier >= -1 && tier <= 3);
        }
        json_array_foreach(json_object_get(d, "findings"), i, item)
        {
                if (json_string_length(json_object_get(item, "rule")))
                        check_text(json_object_get(item, "rule"));
                if (json_string_length(json_object_get(item, "text")))
                        check_text(json_object_get(item, "text"));
                FUZZ_CHECK(json_array_size(json_object_get(item, "evidence")) <= 32);
        }
}

static void query_free(struct trail_summary_query *q)
{
        json_decref(q->egress);
        json_decref(q->counts);
        json_decref(q->detail);
}

/* Buckets of a week from November 2023, wide enough for the seeds' times. */
#define FUZZ_BUCKETS   64
#define FUZZ_SINCE_MS  1700000000000LL
#define FUZZ_BUCKET_MS (7LL * 24 * 3600 * 1000)

/* The summary of `fd` as it is now, through `all`, its buckets in
 * `buckets` (zeroed here). */
static int summarise(struct serve_summaries *all, int fd, struct trail_summary_query *q,
                     uint64_t (*buckets)[TRAIL_SUMMARY_COUNTS])
{
        struct stat st;
        FUZZ_CHECK(fstat(fd, &st) == 0);
        memset(buckets, 0, FUZZ_BUCKETS * sizeof(*buckets));
        *q = (struct trail_summary_query){.want_totals = true,
                                          .want_detail = true,
                                          .since_ms = FUZZ_SINCE_MS,
                                          .bucket_ms = FUZZ_BUCKET_MS,
                                          .bucket_count = FUZZ_BUCKETS,
                                          .buckets = buckets};
        return trail_summary_read(all, "fuzz", fd, &st, q);
}

/* The buckets never hold more than the counts. */
static void check_buckets(const struct trail_summary_query *q,
                          uint64_t (*buckets)[TRAIL_SUMMARY_COUNTS])
{
        static const char *const names[] = {"denials", "findings", "approvals"};
        for (int k = 0; k < TRAIL_SUMMARY_COUNTS; k++) {
                uint64_t sum = 0;
                for (int b = 0; b < FUZZ_BUCKETS; b++)
                        sum += buckets[b][k];
                FUZZ_CHECK(sum <=
                           (uint64_t)json_integer_value(json_object_get(q->counts, names[k])));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        size_t rest = size - 2;
        size_t cut1 = rest ? data[0] % (rest + 1) : 0;
        size_t cut2 = cut1 + (rest - cut1 ? data[1] % (rest - cut1 + 1) : 0);
        const uint8_t *text = data + 2;
        int fd = memfd_create("fuzz-trail", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        struct serve_summaries *pieces = serve_summaries_new();
        struct serve_summaries *whole = serve_summaries_new();
        FUZZ_CHECK(pieces && whole);
        size_t bounds[] = {0, cut1, cut2, rest};
        struct trail_summary_query q = {0};
        static uint64_t buckets[FUZZ_BUCKETS][TRAIL_SUMMARY_COUNTS];
        static uint64_t buckets_once[FUZZ_BUCKETS][TRAIL_SUMMARY_COUNTS];
        for (int i = 0; i < 3; i++) {
                size_t n = bounds[i + 1] - bounds[i];
                FUZZ_CHECK(n == 0 || write(fd, text + bounds[i], n) == (ssize_t)n);
                query_free(&q);
                if (summarise(pieces, fd, &q, buckets) < 0)
                        goto out; /* out of memory */
                check_summary(&q);
                check_buckets(&q, buckets);
        }
        struct trail_summary_query once;
        if (summarise(whole, fd, &once, buckets_once) == 0) {
                FUZZ_CHECK(json_equal(q.egress, once.egress));
                FUZZ_CHECK(json_equal(q.counts, once.counts));
                FUZZ_CHECK(json_equal(q.detail, once.detail));
                FUZZ_CHECK(memcmp(buckets, buckets_once, sizeof(buckets)) == 0);
        }
        query_free(&once);
out:
        query_free(&q);
        serve_summaries_free(pieces);
        serve_summaries_free(whole);
        close(fd);
        return 0;
}

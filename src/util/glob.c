/* Path globs for filesystem rules (see glob.h).
 *
 * Syntax, per '/'-separated component:
 *   *      any run of bytes within the component, including a leading '.'
 *          (deny lists must not let ".env" slip past "*env")
 *   ?      exactly one character (a whole UTF-8 sequence)
 *   [set]  one byte from the set: [abc], ranges [a-z], negation [!a] or [^a];
 *          a ']' right after '[' (or '[!') is a member
 *   **     a whole component only: any number of components, including none,
 *          so "**" + "/.env" matches ".env" and "a/b/.env", and "/home/u/" + "**"
 *          matches "/home/u" itself and everything below it
 * There is no escape character: '\' is an ordinary byte.
 *
 * Matching is exact (a pattern naming a directory does not match the paths
 * below it; the sandbox hides the directory instead), except that a pattern
 * without '/' is matched against the last component of any path.
 *
 * Both matchers below are the classic greedy wildcard algorithm (on
 * components for '**', on bytes for '*'): linear space, O(n*m) time at
 * worst, no recursion, so a hostile pattern cannot blow the stack. */
#include "util/glob.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct span {
        const char *start;
        size_t len;
};

static bool span_equals(struct span s, const char *text)
{
        return s.len == strlen(text) && memcmp(s.start, text, s.len) == 0;
}

/* The next non-empty component at *cursor ('/' separated), advancing it.
 * False at the end. Runs of '/' count as one separator. */
static bool next_component(const char **cursor, struct span *out)
{
        const char *p = *cursor;
        while (*p == '/')
                p++;
        if (!*p)
                return false;
        const char *end = strchr(p, '/');
        if (!end)
                end = p + strlen(p);
        out->start = p;
        out->len = (size_t)(end - p);
        *cursor = end;
        return true;
}

/* Length of the [set] starting at p (at '['), including both brackets,
 * or 0 when it is not closed within the component of length `avail`. */
static size_t set_length(const char *p, size_t avail)
{
        size_t i = 1;
        if (i < avail && (p[i] == '!' || p[i] == '^'))
                i++;
        if (i < avail && p[i] == ']')
                i++; /* a leading ']' is a member */
        for (; i < avail; i++)
                if (p[i] == ']')
                        return i + 1;
        return 0;
}

/* Does the byte c belong to the set at p (length len, brackets included)? */
static bool set_contains(const char *p, size_t len, unsigned char c)
{
        size_t i = 1, end = len - 1;
        bool negated = false, found = false;
        if (p[i] == '!' || p[i] == '^') {
                negated = true;
                i++;
        }
        /* set_length stopped at the first ']' after a leading member ']', so
         * every byte up to `end` is a member or part of a range */
        while (i < end) {
                unsigned char lo = (unsigned char)p[i];
                if (i + 2 < end && p[i + 1] == '-') {
                        unsigned char hi = (unsigned char)p[i + 2];
                        if (c >= lo && c <= hi)
                                found = true;
                        i += 3;
                } else {
                        if (c == lo)
                                found = true;
                        i++;
                }
        }
        return found != negated;
}

/* Bytes in the UTF-8 sequence that starts with byte c (1 for anything that
 * is not a valid lead byte, so '?' still consumes something). */
static size_t utf8_sequence_length(unsigned char c)
{
        if (c >= 0xf0 && c <= 0xf7)
                return 4;
        if (c >= 0xe0)
                return c <= 0xef ? 3 : 1;
        if (c >= 0xc0)
                return 2;
        return 1;
}

/* One pattern element within a component: its length in the pattern. */
static size_t element_length(const char *p, size_t avail)
{
        if (*p == '[') {
                size_t n = set_length(p, avail);
                return n ? n : 1; /* validated patterns never leave '[' open */
        }
        return 1;
}

/* Match one element (not '*') against the text at t, setting *consumed.
 * The caller guarantees t has at least one byte left. */
static bool element_matches(const char *p, size_t plen, const char *t, size_t tavail,
                            size_t *consumed)
{
        if (*p == '?') {
                size_t n = utf8_sequence_length((unsigned char)*t);
                if (n > tavail)
                        n = tavail;
                for (size_t i = 1; i < n; i++)
                        if (((unsigned char)t[i] & 0xc0) != 0x80)
                                n = i; /* truncated sequence: consume the valid part */
                *consumed = n;
                return true;
        }
        *consumed = 1;
        if (*p == '[' && plen > 1)
                return set_contains(p, plen, (unsigned char)*t);
        return *p == *t;
}

/* Does one component of the pattern match one component of the path? */
static bool component_matches(struct span pattern, struct span text)
{
        size_t pi = 0, ti = 0;
        size_t star_pi = SIZE_MAX, star_ti = 0; /* last '*' seen and where it began */

        while (ti < text.len) {
                if (pi < pattern.len && pattern.start[pi] == '*') {
                        star_pi = ++pi;
                        star_ti = ti;
                        continue;
                }
                size_t consumed = 0;
                if (pi < pattern.len) {
                        size_t plen = element_length(pattern.start + pi, pattern.len - pi);
                        if (element_matches(pattern.start + pi, plen, text.start + ti,
                                            text.len - ti, &consumed)) {
                                pi += plen;
                                ti += consumed;
                                continue;
                        }
                }
                if (star_pi == SIZE_MAX)
                        return false;
                /* let the last '*' swallow one more byte and retry after it */
                pi = star_pi;
                ti = ++star_ti;
        }
        while (pi < pattern.len && pattern.start[pi] == '*')
                pi++;
        return pi == pattern.len;
}

#define GLOB_MAX_COMPONENTS 256

/* Split s into at most GLOB_MAX_COMPONENTS components; -E2BIG beyond. */
static int split_components(const char *s, struct span *out, size_t *count)
{
        size_t n = 0;
        struct span c;
        while (next_component(&s, &c)) {
                if (n == GLOB_MAX_COMPONENTS)
                        return -E2BIG;
                out[n++] = c;
        }
        *count = n;
        return 0;
}

static bool is_double_star(struct span s)
{
        return span_equals(s, "**");
}

bool glob_match(const char *pattern, const char *path)
{
        if (!pattern || !path || !*pattern)
                return false;

        struct span pc[GLOB_MAX_COMPONENTS], tc[GLOB_MAX_COMPONENTS];
        size_t pn, tn;
        /* More components than we can hold: a path that deep cannot be
         * judged, and for a deny list "match" is the safe answer. */
        if (split_components(pattern, pc, &pn) < 0 || split_components(path, tc, &tn) < 0)
                return true;

        if (!strchr(pattern, '/')) {
                /* "*.pem": the last component of any path ("**" matches all) */
                if (tn == 0)
                        return false;
                return is_double_star(pc[0]) || component_matches(pc[0], tc[tn - 1]);
        }
        /* an absolute pattern matches only absolute paths, and vice versa */
        if ((pattern[0] == '/') != (path[0] == '/'))
                return false;

        size_t pi = 0, ti = 0;
        size_t star_pi = SIZE_MAX, star_ti = 0;
        while (ti < tn) {
                if (pi < pn && is_double_star(pc[pi])) {
                        star_pi = ++pi;
                        star_ti = ti;
                        continue;
                }
                if (pi < pn && component_matches(pc[pi], tc[ti])) {
                        pi++;
                        ti++;
                        continue;
                }
                if (star_pi == SIZE_MAX)
                        return false;
                pi = star_pi;
                ti = ++star_ti;
        }
        while (pi < pn && is_double_star(pc[pi]))
                pi++;
        return pi == pn;
}

bool glob_is_literal(const char *pattern)
{
        return pattern && !strpbrk(pattern, "*?[");
}

/* Validate one component [start, start+len). */
static int validate_component(const char *start, size_t len, const char **why)
{
        struct span s = {start, len};
        if (span_equals(s, ".") || span_equals(s, "..")) {
                *why = "'.' and '..' components are not allowed (write the path without them)";
                return -EINVAL;
        }
        if (is_double_star(s))
                return 0;
        if (memmem(start, len, "**", 2)) {
                *why = "'**' must be a whole path component (like a/**/b), not part of one";
                return -EINVAL;
        }
        for (size_t i = 0; i < len; i++) {
                if (start[i] == '[') {
                        size_t n = set_length(start + i, len - i);
                        if (n == 0) {
                                *why = "unclosed '[' (a set is [abc] or [a-z], within one "
                                       "path component)";
                                return -EINVAL;
                        }
                        i += n - 1;
                }
        }
        return 0;
}

int glob_validate(const char *pattern, const char **why)
{
        const char *unused;
        if (!why)
                why = &unused;
        if (!pattern || !*pattern) {
                *why = "empty pattern";
                return -EINVAL;
        }
        for (const unsigned char *c = (const unsigned char *)pattern; *c; c++) {
                if (*c < 0x20 || *c == 0x7f) {
                        *why = "control characters are not allowed";
                        return -EINVAL;
                }
        }
        if (pattern[0] == '~' && pattern[1] != '\0' && pattern[1] != '/') {
                *why = "'~user' is not supported (use ~/ for your home directory)";
                return -EINVAL;
        }
        const char *p = pattern;
        if (*p == '/')
                p++;
        if (*p == '\0')
                return 0; /* "/" itself */
        for (;;) {
                const char *end = strchr(p, '/');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                if (len == 0) {
                        *why = end ? "empty path component ('//')" : "trailing '/'";
                        return -EINVAL;
                }
                int r = validate_component(p, len, why);
                if (r < 0)
                        return r;
                if (!end)
                        return 0;
                p = end + 1;
        }
}

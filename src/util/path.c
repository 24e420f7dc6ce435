#include "util/path.h"

#include <stdlib.h>
#include <string.h>

char *path_join(const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        size_t lb = strlen(b);
        char *out = malloc(la + 1 + lb + 1);
        if (!out)
                return NULL;
        memcpy(out, a, la);
        out[la] = '/';
        memcpy(out + la + 1, b, lb + 1);
        if (lb == 0 && la > 0)
                out[la] = '\0';
        return out;
}

bool path_is_under(const char *path, const char *dir)
{
        size_t len = strlen(dir);
        while (len > 0 && dir[len - 1] == '/')
                len--;
        if (len == 0)
                return path[0] == '/';
        if (strncmp(path, dir, len) != 0)
                return false;
        return path[len] == '\0' || path[len] == '/';
}

int path_compare_components(const char *a, const char *b)
{
        /* Compare with '/' ranking below every other byte, so "/a" < "/a/b" < "/a-b". */
        for (;; a++, b++) {
                unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
                if (ca == cb) {
                        if (ca == '\0')
                                return 0;
                        continue;
                }
                if (ca == '\0')
                        return -1;
                if (cb == '\0')
                        return 1;
                if (ca == '/')
                        return -1;
                if (cb == '/')
                        return 1;
                return ca < cb ? -1 : 1;
        }
}

char *path_expand_home(const char *path, const char *home)
{
        if (path[0] != '~')
                return strdup(path);
        if (path[1] != '\0' && path[1] != '/')
                return NULL; /* ~user is not supported */
        if (!home || home[0] != '/')
                return NULL;
        return path_join(home, path + 1);
}

int path_depth(const char *path)
{
        int depth = 0;
        for (const char *p = path; *p; p++)
                if (*p == '/' && p[1] != '\0' && p[1] != '/')
                        depth++;
        return depth;
}

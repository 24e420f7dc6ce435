/* The dashboard's files, compiled into the binary: scripts/embed_web.sh
 * turns every file of src/serve/web/ into one entry of this table at build
 * time (build/gen/web_assets.c), so that `reins serve` needs nothing
 * installed beside it and nothing is built when it runs. */
#ifndef REINS_SERVE_WEB_ASSETS_H
#define REINS_SERVE_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
        const char *name; /* the file's name: [A-Za-z0-9._-], no directory */
        const unsigned char *bytes;
        size_t size;
};

/* web_asset_count entries, then one of NULLs. */
extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

#endif

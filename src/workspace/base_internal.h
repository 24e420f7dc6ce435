/* What the base record's files share (base.c: the record and its entries,
 * base_classify.c: the three-way classification, base_capture.c: recording
 * bases and keeping their contents). */
#ifndef REINS_WORKSPACE_BASE_INTERNAL_H
#define REINS_WORKSPACE_BASE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "workspace/base.h"

/* strcmp of two entries' paths (the record's order) */
int ws_base_compare(const void *a, const void *b);
/* The line an entry takes on disk: what WORKSPACE_BASE_MAX_BYTES counts. */
size_t ws_base_line_length(const struct workspace_base_entry *e);
/* `n` bytes as 2n lower-case hex digits and a NUL. */
void ws_base_hex(const unsigned char *bytes, size_t n, char *out);
long long ws_base_ctime_ns(const struct stat *st);
/* lstat of `path` beneath root ("" is root itself), no symlink followed. */
int ws_base_lstat(int root, const char *path, struct stat *st);
/* Is the host entry (st, NULL when absent) the one recorded? */
bool ws_base_host_same(const struct workspace_base_entry *e, const struct stat *st);
/* Read all of fd from its start, hashing (and writing to out, when >= 0);
 * the length read in *total, *written false when a write fell short. */
int ws_base_read_hash(int fd, int out, unsigned char hash[WORKSPACE_HASH_BYTES], long long *total,
                      bool *written);

#endif

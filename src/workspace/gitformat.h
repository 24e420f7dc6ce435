/* The pieces of git's patch format that need more than printf: blob ids
 * (SHA-1, which git apply checks before it applies a binary patch), C-style
 * quoting of file names, and "GIT binary patch" literals (zlib-deflated,
 * then git's base85 lines). */
#ifndef REINS_WORKSPACE_GITFORMAT_H
#define REINS_WORKSPACE_GITFORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* SHA-1 of "blob <length>\0<data>", as 40 hex digits. */
void gitformat_blob_id(const char *data, size_t length, char hex[41]);

/* Write `prefix` + `name` the way git writes a path in a patch header:
 * plain when every byte is printable ASCII other than '"' and '\\', else the
 * whole thing in double quotes with \n, \t, \", \\ and \ooo escapes. */
void gitformat_write_path(FILE *out, const char *prefix, const char *name);

/* Does git quote this name? */
bool gitformat_path_needs_quotes(const char *name);

/* "literal N" and the base85 lines of `data` (no trailing blank line). */
int gitformat_write_binary_literal(FILE *out, const char *data, size_t length);

/* Exposed for the unit tests. */
size_t git_base85_encode(char *out, const uint8_t *data, size_t length);

#endif

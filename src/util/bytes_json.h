/* Untrusted bytes (argv, paths, host names) into JSON, faithfully: valid
 * UTF-8 becomes a JSON string; anything else becomes {"base64": "..."} so
 * no byte is lost or altered. */
#ifndef REINS_UTIL_BYTES_JSON_H
#define REINS_UTIL_BYTES_JSON_H

#include <jansson.h>
#include <stddef.h>

json_t *bytes_json(const char *bytes, size_t length);
json_t *bytes_json_z(const char *string);       /* NUL-terminated */
json_t *bytes_json_array(char *const *strings); /* NULL-terminated list */

#endif

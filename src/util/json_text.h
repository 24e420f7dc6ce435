/* Untrusted bytes (argv, paths, host names) into JSON, faithfully: valid
 * UTF-8 becomes a JSON string; anything else becomes {"base64": "..."} so
 * no byte is lost or altered. */
#ifndef REINS_UTIL_JSON_TEXT_H
#define REINS_UTIL_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

json_t *json_text(const char *bytes, size_t length);
json_t *json_text_z(const char *string);       /* NUL-terminated */
json_t *json_text_array(char *const *strings); /* NULL-terminated list */

#endif

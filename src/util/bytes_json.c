#include "util/bytes_json.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

json_t *bytes_json(const char *bytes, size_t length)
{
        json_t *s = json_stringn(bytes, length); /* NULL for invalid UTF-8 or NUL bytes */
        if (s)
                return s;
        size_t size = sodium_base64_encoded_len(length, sodium_base64_VARIANT_ORIGINAL);
        char *encoded = malloc(size);
        if (!encoded)
                return NULL;
        sodium_bin2base64(encoded, size, (const unsigned char *)bytes, length,
                          sodium_base64_VARIANT_ORIGINAL);
        json_t *object = json_pack("{s:s}", "base64", encoded);
        free(encoded);
        return object;
}

json_t *bytes_json_z(const char *string)
{
        return bytes_json(string, strlen(string));
}

json_t *bytes_json_array(char *const *strings)
{
        json_t *list = json_array();
        for (char *const *s = strings; list && s && *s; s++)
                json_array_append_new(list, bytes_json_z(*s));
        return list;
}

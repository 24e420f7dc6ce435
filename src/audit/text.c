#include "audit/text.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text_escape.h"

static bool buffer_grow(struct audit_buffer *b, size_t more)
{
        if (b->failed)
                return false;
        if (b->capacity - b->length > more)
                return true;
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity - b->length <= more)
                capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown) {
                b->failed = true;
                return false;
        }
        b->data = grown;
        b->capacity = capacity;
        return true;
}

void audit_buffer_add(struct audit_buffer *b, const char *bytes, size_t length)
{
        if (!buffer_grow(b, length))
                return;
        memcpy(b->data + b->length, bytes, length);
        b->length += length;
        b->data[b->length] = '\0';
}

void audit_buffer_adds(struct audit_buffer *b, const char *string)
{
        audit_buffer_add(b, string, strlen(string));
}

void audit_buffer_addc(struct audit_buffer *b, char c)
{
        audit_buffer_add(b, &c, 1);
}

void audit_buffer_addf(struct audit_buffer *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char small[256];
        int n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n < sizeof(small)) {
                audit_buffer_add(b, small, (size_t)n);
                return;
        }
        if (!buffer_grow(b, (size_t)n))
                return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->length, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->length += (size_t)n;
}

char *audit_buffer_take(struct audit_buffer *b)
{
        if (b->failed) {
                audit_buffer_free(b);
                return NULL;
        }
        char *s = b->data ? b->data : strdup("");
        bool ascii = b->ascii;
        memset(b, 0, sizeof(*b));
        b->ascii = ascii;
        return s;
}

void audit_buffer_free(struct audit_buffer *b)
{
        free(b->data);
        bool ascii = b->ascii;
        memset(b, 0, sizeof(*b));
        b->ascii = ascii;
}

char *audit_value_bytes(const json_t *value, size_t *length)
{
        if (json_is_string(value)) {
                *length = json_string_length(value);
                char *copy = malloc(*length + 1);
                if (copy) {
                        memcpy(copy, json_string_value(value), *length);
                        copy[*length] = '\0';
                }
                return copy;
        }
        const char *encoded = json_string_value(json_object_get(value, "base64"));
        if (!json_is_object(value) || json_object_size(value) != 1 || !encoded)
                return NULL;
        size_t size = strlen(encoded) + 1;
        char *bytes = malloc(size);
        if (!bytes)
                return NULL;
        if (sodium_base642bin((unsigned char *)bytes, size, encoded, strlen(encoded), NULL, length,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
                free(bytes);
                return NULL;
        }
        bytes[*length] = '\0';
        return bytes;
}

/* Escaped bytes appended to b (util/text_escape.h does the escaping). */
static void buffer_add_escaped(struct audit_buffer *b, const char *bytes, size_t length,
                               unsigned flags)
{
        flags |= b->ascii ? TEXT_ESCAPE_ASCII : 0;
        size_t needed = text_escape(NULL, 0, bytes, length, flags);
        if (!buffer_grow(b, needed))
                return;
        b->length += text_escape(b->data + b->length, needed + 1, bytes, length, flags);
}

void audit_text_escape(struct audit_buffer *b, const char *bytes, size_t length)
{
        buffer_add_escaped(b, bytes, length, 0);
}

void audit_shell_quote(struct audit_buffer *b, const char *bytes, size_t length)
{
        bool plain = length > 0;
        for (size_t i = 0; i < length && plain; i++) {
                unsigned char c = (unsigned char)bytes[i];
                plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || strchr("-_./=:,+@%", c);
        }
        if (plain) {
                audit_buffer_add(b, bytes, length);
        } else if (!memchr(bytes, '\'', length) &&
                   !text_escape_needed(bytes, length,
                                       TEXT_ESCAPE_KEEP_BACKSLASH |
                                           (b->ascii ? TEXT_ESCAPE_ASCII : 0))) {
                /* inside '…' every byte but ' stands for itself */
                audit_buffer_addc(b, '\'');
                audit_buffer_add(b, bytes, length);
                audit_buffer_addc(b, '\'');
        } else {
                /* bash's $'…' decodes every escape text_escape writes */
                audit_buffer_adds(b, "$'");
                buffer_add_escaped(b, bytes, length, TEXT_ESCAPE_SHELL);
                audit_buffer_addc(b, '\'');
        }
}

void audit_argv_text(struct audit_buffer *b, const json_t *argv)
{
        size_t i;
        const json_t *arg;
        json_array_foreach(argv, i, arg)
        {
                if (i > 0)
                        audit_buffer_addc(b, ' ');
                size_t length = 0;
                char *bytes = audit_value_bytes(arg, &length);
                if (bytes)
                        audit_shell_quote(b, bytes, length);
                else
                        audit_buffer_adds(b, "?");
                free(bytes);
        }
}

static bool text_is_argv(const json_t *value)
{
        if (!json_is_array(value))
                return false;
        size_t i, length;
        const json_t *item;
        json_array_foreach(value, i, item)
        {
                char *bytes = audit_value_bytes(item, &length);
                free(bytes);
                if (!bytes)
                        return false;
        }
        return true;
}

void audit_value_text(struct audit_buffer *b, const json_t *value)
{
        size_t length = 0;
        char *bytes = NULL;
        if (json_is_string(value) || (json_is_object(value) && json_object_size(value) == 1))
                bytes = audit_value_bytes(value, &length);
        if (bytes) {
                audit_text_escape(b, bytes, length);
                free(bytes);
                return;
        }
        if (text_is_argv(value)) {
                /* shell words are already escaped */
                audit_argv_text(b, value);
                return;
        }
        char *json =
            json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
        if (json)
                audit_text_escape(b, json, strlen(json));
        else
                b->failed = true;
        free(json);
}

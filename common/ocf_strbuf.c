/*  ocf_strbuf: growing string.  */
#include "ocf_strbuf.h"
#include "ocf_alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_reserve (ocf_strbuf_t *self, size_t extra)
{
    if (self->len + extra + 1 <= self->cap)
        return;
    size_t cap = self->cap ? self->cap : 256;
    while (cap < self->len + extra + 1)
        cap *= 2;
    self->data = ocf_realloc (self->data, cap);
    self->cap = cap;
}

void
ocf_strbuf_append (ocf_strbuf_t *self, const char *text, size_t len)
{
    s_reserve (self, len);
    memcpy (self->data + self->len, text, len);
    self->len += len;
    self->data[self->len] = '\0';
}

void
ocf_strbuf_puts (ocf_strbuf_t *self, const char *text)
{
    ocf_strbuf_append (self, text, strlen (text));
}

void
ocf_strbuf_printf (ocf_strbuf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int needed = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (needed < 0)
        return;
    s_reserve (self, (size_t) needed);
    va_start (args, format);
    vsnprintf (self->data + self->len, (size_t) needed + 1, format, args);
    va_end (args);
    self->len += (size_t) needed;
}

void
ocf_strbuf_json_string (ocf_strbuf_t *self, const char *text)
{
    ocf_strbuf_append (self, "\"", 1);
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char escaped[2] = { '\\', (char) *c };
            ocf_strbuf_append (self, escaped, 2);
        }
        else
        if (*c < 0x20)
            ocf_strbuf_printf (self, "\\u%04x", *c);
        else
            ocf_strbuf_append (self, (const char *) c, 1);
    }
    ocf_strbuf_append (self, "\"", 1);
}

void
ocf_strbuf_trim_comma (ocf_strbuf_t *self)
{
    if (self->len && self->data[self->len - 1] == ',')
        self->data[--self->len] = '\0';
}

void
ocf_strbuf_reset (ocf_strbuf_t *self)
{
    self->len = 0;
    if (self->data)
        self->data[0] = '\0';
}

void
ocf_strbuf_free (ocf_strbuf_t *self)
{
    free (self->data);
    *self = (ocf_strbuf_t) { 0 };
}

/*  ocf_strbuf: a growing string, for building large JSON replies without a DOM
    (a LIST of 10,000 rows is spliced from stored canonical records).  */
#ifndef OCF_STRBUF_H
#define OCF_STRBUF_H

#include <stddef.h>

typedef struct {
    char *data;                  //  always NUL-terminated once anything was appended
    size_t len;
    size_t cap;
} ocf_strbuf_t;

void ocf_strbuf_append (ocf_strbuf_t *self, const char *text, size_t len);
void ocf_strbuf_puts (ocf_strbuf_t *self, const char *text);
void ocf_strbuf_printf (ocf_strbuf_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
//  Appends text as a JSON string literal, quotes and escapes included.
void ocf_strbuf_json_string (ocf_strbuf_t *self, const char *text);
//  Removes a trailing comma, if any (after appending list items).
void ocf_strbuf_trim_comma (ocf_strbuf_t *self);
void ocf_strbuf_reset (ocf_strbuf_t *self);
void ocf_strbuf_free (ocf_strbuf_t *self);

#endif

/*  ocf_linebuf: bounded line splitter.  */
#include "ocf_linebuf.h"

#include <string.h>

void
ocf_linebuf_feed (ocf_linebuf_t *self, const char *data, size_t size, ocf_linebuf_fn *fn, void *arg)
{
    while (size) {
        const char *newline = memchr (data, '\n', size);
        size_t take = newline ? (size_t) (newline - data) : size;
        size_t room = OCF_LINEBUF_MAX - self->len;
        if (take > room || (take == room && !newline)) {
            //  Full: hand the piece over now and keep going with the rest of the line.
            memcpy (self->data + self->len, data, room);
            fn (self->data, OCF_LINEBUF_MAX, true, arg);
            self->len = 0;
            data += room;
            size -= room;
            continue;
        }
        memcpy (self->data + self->len, data, take);
        self->len += take;
        if (!newline)
            return;
        size_t len = self->len;
        if (len && self->data[len - 1] == '\r')
            len--;
        fn (self->data, len, false, arg);
        self->len = 0;
        data += take + 1;
        size -= take + 1;
    }
}

void
ocf_linebuf_flush (ocf_linebuf_t *self, ocf_linebuf_fn *fn, void *arg)
{
    if (self->len)
        fn (self->data, self->len, false, arg);
    self->len = 0;
}

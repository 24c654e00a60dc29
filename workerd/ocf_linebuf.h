/*  ocf_linebuf: cuts a child's output into lines for the log, with bounded memory.
    Bytes arrive in pieces of any size; each complete line is handed over without its end of
    line. A line longer than OCF_LINEBUF_MAX is handed over in pieces of that size, so a
    child that never writes a newline cannot make workerd buffer without limit (the size
    keeps a piece, with its prefix, within one ocf_log line).  */
#ifndef OCF_LINEBUF_H
#define OCF_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

#define OCF_LINEBUF_MAX 1900

typedef struct {
    char data[OCF_LINEBUF_MAX];
    size_t len;
} ocf_linebuf_t;

//  continued: the line goes on in the next call (it was cut at OCF_LINEBUF_MAX).
typedef void (ocf_linebuf_fn) (const char *line, size_t len, bool continued, void *arg);

void ocf_linebuf_feed (ocf_linebuf_t *self, const char *data, size_t size, ocf_linebuf_fn *fn, void *arg);
//  Hands over a last line that had no newline (at the end of the output).
void ocf_linebuf_flush (ocf_linebuf_t *self, ocf_linebuf_fn *fn, void *arg);

#endif

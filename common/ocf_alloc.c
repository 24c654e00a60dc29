/*  ocf_alloc: allocations that abort, with a message, when memory is exhausted.  */
#include "ocf_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  No ocf_log here: formatting a log line may itself need memory. A plain write to stderr
//  reaches the journal all the same.
static void *
s_checked (void *pointer, size_t size, const char *what)
{
    if (!pointer) {
        fprintf (stderr, "out of memory: %s of %zu bytes failed; aborting (systemd restarts the daemon)\n", what, size);
        abort ();
    }
    return pointer;
}

void *
ocf_malloc (size_t size)
{
    return s_checked (malloc (size ? size : 1), size, "malloc");
}

void *
ocf_calloc (size_t count, size_t size)
{
    return s_checked (calloc (count ? count : 1, size ? size : 1), count * size, "calloc");
}

void *
ocf_realloc (void *pointer, size_t size)
{
    return s_checked (realloc (pointer, size ? size : 1), size, "realloc");
}

char *
ocf_strdup (const char *text)
{
    return s_checked (strdup (text), strlen (text) + 1, "strdup");
}

char *
ocf_strndup (const char *text, size_t len)
{
    return s_checked (strndup (text, len), len + 1, "strndup");
}

/*  ocf_sysinfo: /proc readers.  */
#include "ocf_sysinfo.h"
#include "ocf_alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
ocf_sysinfo_cpus_parse (const char *stat)
{
    int cpus = 0;
    for (const char *line = stat; line && *line; ) {
        //  "cpu " is the total over all CPUs; "cpu0", "cpu1"... are the online ones.
        if (strncmp (line, "cpu", 3) == 0 && isdigit ((unsigned char) line[3]))
            cpus++;
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    return cpus;
}

int64_t
ocf_sysinfo_memory_mb_parse (const char *meminfo, const char *field)
{
    const char *line = meminfo;
    size_t len = strlen (field);
    while (line && *line) {
        long long kib;
        if (strncmp (line, field, len) == 0 && line[len] == ':')
            return sscanf (line + len + 1, "%lld kB", &kib) == 1 && kib > 0 ? kib / 1024 : 0;
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    return 0;
}

static char *
s_read (const char *root, const char *name)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", root, name);
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    //  /proc files report size 0: read until the end, bounded (a /proc/stat of a large
    //  host is tens of KiB).
    size_t cap = 65536, len = 0, got;
    char *text = ocf_malloc (cap + 1);
    while (len < cap && (got = fread (text + len, 1, cap - len, file)) > 0)
        len += got;
    text[len] = '\0';
    fclose (file);
    return text;
}

int
ocf_sysinfo_read (const char *proc_root, int *cpus, int64_t *memory_mb, int64_t *memory_used_mb)
{
    char *stat = s_read (proc_root, "stat");
    char *meminfo = s_read (proc_root, "meminfo");
    *cpus = stat ? ocf_sysinfo_cpus_parse (stat) : 0;
    *memory_mb = meminfo ? ocf_sysinfo_memory_mb_parse (meminfo, "MemTotal") : 0;
    //  What programs hold: what the kernel could not give to a new one without swapping.
    int64_t available = meminfo ? ocf_sysinfo_memory_mb_parse (meminfo, "MemAvailable") : 0;
    *memory_used_mb = available > 0 && available <= *memory_mb ? *memory_mb - available : 0;
    free (stat);
    free (meminfo);
    return *cpus > 0 && *memory_mb > 0 ? 0 : -1;
}

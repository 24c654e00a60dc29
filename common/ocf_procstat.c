/*  ocf_procstat: /proc/PID/stat parser and reader.  */
#include "ocf_procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
ocf_procstat_parse (const char *text, size_t size, ocf_procstat_t *stat)
{
    char line[1024];
    if (size == 0 || size >= sizeof line)
        return -1;
    memcpy (line, text, size);
    line[size] = '\0';
    char *open = strchr (line, '(');
    char *close = strrchr (line, ')');
    if (!open || !close || close < open || close[1] != ' ')
        return -1;
    char *end;
    errno = 0;
    long pid = strtol (line, &end, 10);
    if (end == line || *end != ' ' || end + 1 != open || pid <= 0 || errno)
        return -1;
    memset (stat, 0, sizeof *stat);
    stat->pid = (pid_t) pid;
    size_t comm = (size_t) (close - open - 1);
    if (comm >= sizeof stat->comm)
        comm = sizeof stat->comm - 1;
    memcpy (stat->comm, open + 1, comm);
    //  After the comm: state (field 3), then numbers; the start time is field 22.
    char *field = close + 2, *saveptr = NULL;
    int index = 3;
    for (char *word = strtok_r (field, " \n", &saveptr); word; word = strtok_r (NULL, " \n", &saveptr), index++) {
        if (index == 3) {
            if (strlen (word) != 1)
                return -1;
            stat->state = word[0];
            continue;
        }
        errno = 0;
        long long value = strtoll (word, &end, 10);
        if (*end || errno)
            return -1;
        if (index == 4)
            stat->ppid = (pid_t) value;
        else
        if (index == 5)
            stat->pgrp = (pid_t) value;
        else
        if (index == 22) {
            if (value < 0)
                return -1;
            stat->start_time = (uint64_t) value;
            return 0;
        }
    }
    return -1;
}

int
ocf_procstat_read (pid_t pid, ocf_procstat_t *stat)
{
    char path[64], text[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read (fd, text, sizeof text - 1);
    close (fd);
    if (got <= 0)
        return -1;
    return ocf_procstat_parse (text, (size_t) got, stat);
}

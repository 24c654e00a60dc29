/*  ocf_procstat: what /proc/PID/stat says about a process.
    workerd tells a backend it started from a process that took its pid later by the start
    time (in clock ticks since boot, field 22), finds a backend's descendants through the
    parent pids, and names a process by its comm; the tests find what their daemons left
    behind. The parser is sans-I/O (the comm may hold spaces and parentheses: it ends at
    the last ')'); ocf_procstat_read reads the file.  */
#ifndef OCF_PROCSTAT_H
#define OCF_PROCSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    char comm[64];               //  at most 15 bytes from the kernel; more is cut
    char state;
    pid_t ppid;
    pid_t pgrp;
    uint64_t start_time;         //  clock ticks after boot
} ocf_procstat_t;

//  Parses the text of /proc/PID/stat. Returns 0, or -1 when it is not such a line.
int ocf_procstat_parse (const char *text, size_t size, ocf_procstat_t *stat);
//  Reads /proc/PID/stat. Returns 0, or -1 (no such process, or unreadable).
int ocf_procstat_read (pid_t pid, ocf_procstat_t *stat);

#endif

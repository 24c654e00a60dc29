/*  ocf_portowner: LISTEN socket inodes, matched against /proc/PID/fd.  */
#include "ocf_portowner.h"
#include "ocf_alloc.h"
#include "ocf_procnet.h"
#include "ocf_procstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TABLE (16 * 1024 * 1024)   //  a table of that size is ~100,000 sockets
#define ANCESTRY_MAX 64

static char *
s_read_file (const char *path, size_t *size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 65536, used = 0;
    char *text = ocf_malloc (cap);
    ssize_t got;
    while ((got = read (fd, text + used, cap - used)) > 0) {
        used += (size_t) got;
        if (used == cap && cap < MAX_TABLE)
            text = ocf_realloc (text, cap *= 2);
        else
        if (used == cap)
            break;
    }
    close (fd);
    *size = used;
    return text;
}

//  True when pid is ancestor or one of its descendants (through the parent pids), or in
//  its process group (a worker whose parent died was handed to init or a subreaper).
static bool
s_descends (pid_t pid, pid_t ancestor)
{
    for (int depth = 0; depth < ANCESTRY_MAX && pid > 1; depth++) {
        ocf_procstat_t stat;
        if (pid == ancestor)
            return true;
        if (ocf_procstat_read (pid, &stat) != 0)
            return false;
        if (stat.pgrp == ancestor)
            return true;
        pid = stat.ppid;
    }
    return false;
}

//  The pid holding socket inode (0: none readable holds it).
static pid_t
s_holder (uint64_t inode)
{
    char wanted[64];
    snprintf (wanted, sizeof wanted, "socket:[%llu]", (unsigned long long) inode);
    DIR *proc = opendir ("/proc");
    struct dirent *process;
    pid_t found = 0;
    while (!found && proc && (process = readdir (proc))) {
        pid_t pid = (pid_t) atoi (process->d_name);
        if (pid <= 0)
            continue;
        char path[300];
        snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
        DIR *fds = opendir (path);
        struct dirent *fd;
        while (!found && fds && (fd = readdir (fds))) {
            char link[300], target[64];
            snprintf (link, sizeof link, "/proc/%d/fd/%s", (int) pid, fd->d_name);
            ssize_t len = readlink (link, target, sizeof target - 1);
            if (len > 0) {
                target[len] = '\0';
                if (strcmp (target, wanted) == 0)
                    found = pid;
            }
        }
        if (fds)
            closedir (fds);
    }
    if (proc)
        closedir (proc);
    return found;
}

int
ocf_portowner_check (ocf_portowner_t *self, pid_t pid, const char *host, int port, char *holder, size_t holder_size)
{
    ocf_procnet_target_t target;
    if (ocf_procnet_target (host, &target) != 0)
        return 0;
    uint64_t inodes[OCF_PORTOWNER_MAX_SOCKETS];
    size_t count = 0;
    //  Through self: under ProcSubset=pid (the unit's sandbox) /proc/net is hidden.
    static const char *tables[] = { "/proc/self/net/tcp", "/proc/self/net/tcp6" };
    for (int i = 0; i < 2; i++) {
        size_t size;
        char *text = s_read_file (tables[i], &size);
        if (text)
            ocf_procnet_listeners (text, size, i == 1, &target, port, inodes, OCF_PORTOWNER_MAX_SOCKETS, &count);
        free (text);
    }
    if (self->pid == pid && self->count == count && memcmp (self->inodes, inodes, count * sizeof *inodes) == 0)
        return 0;
    self->count = 0;
    for (size_t i = 0; i < count; i++) {
        pid_t owner = s_holder (inodes[i]);
        if (owner && s_descends (owner, pid))
            continue;
        ocf_procstat_t stat;
        if (!owner)
            snprintf (holder, holder_size, "a process of another user");
        else
        if (ocf_procstat_read (owner, &stat) == 0)
            snprintf (holder, holder_size, "pid %d (%s)", (int) owner, stat.comm);
        else
            snprintf (holder, holder_size, "pid %d", (int) owner);
        return -1;
    }
    self->pid = pid;
    self->count = count;
    memcpy (self->inodes, inodes, count * sizeof *inodes);
    return 0;
}

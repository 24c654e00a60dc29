/*  ocf_lock: flock()-based instance lock.  */
#include "ocf_lock.h"
#include "ocf_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct _ocf_lock_t {
    int fd;
    char *path;
};

ocf_lock_t *
ocf_lock_new (const char *path, char *error, size_t error_size)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf (error, error_size, "cannot open lock file %s: %s", path, strerror (errno));
        return NULL;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "";
        ssize_t got = pread (fd, holder, sizeof holder - 1, 0);
        holder[got > 0 ? got : 0] = '\0';
        holder[strcspn (holder, "\n")] = '\0';
        snprintf (error, error_size, "another instance holds %s (pid %s)", path,
                  *holder ? holder : "unknown");
        close (fd);
        return NULL;
    }
    char pid[32];
    int len = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
    if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, len, 0) != len) {
        //  The pid is only informational; the flock is what guards the endpoint.
    }
    ocf_lock_t *self = ocf_calloc (1, sizeof *self);
    self->fd = fd;
    self->path = ocf_strdup (path);
    return self;
}

void
ocf_lock_destroy (ocf_lock_t **self_p)
{
    ocf_lock_t *self = *self_p;
    if (!self)
        return;
    //  The file stays: unlinking it would let two later instances lock two different inodes.
    close (self->fd);
    free (self->path);
    free (self);
    *self_p = NULL;
}

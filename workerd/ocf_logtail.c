/*  ocf_logtail: inotify-driven reader of a log file, with truncation at a size.  */
#include "ocf_logtail.h"
#include "ocf_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUDGET 65536             //  bytes per wake-up
#define AGAIN_MS 10              //  the rest of a burst, after the others had a turn

struct _ocf_logtail_t {
    zloop_t *loop;
    int fd;
    int inotify;
    off_t offset;
    size_t max_size;
    ocf_linebuf_t lines;
    ocf_linebuf_fn *fn;
    void *arg;
    int again_timer;
};

//  Reads up to budget bytes; returns true when the end of the file was reached.
static bool
s_read (ocf_logtail_t *self, size_t budget)
{
    struct stat info;
    //  Truncated by someone else (an operator's `: > file`): start over.
    if (fstat (self->fd, &info) == 0 && info.st_size < self->offset)
        self->offset = 0;
    char buffer[16384];
    while (budget) {
        ssize_t got = pread (self->fd, buffer, sizeof buffer < budget ? sizeof buffer : budget, self->offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        self->offset += got;
        budget -= (size_t) got;
        ocf_linebuf_feed (&self->lines, buffer, (size_t) got, self->fn, self->arg);
    }
    if (!budget)
        return false;
    //  What was written between the read and this is lost to workerd's log (not to the
    //  file's reader before): a few bytes at most, once per max_size.
    if ((size_t) self->offset >= self->max_size && ftruncate (self->fd, 0) == 0)
        self->offset = 0;
    return true;
}

static int s_on_again (zloop_t *loop, int timer_id, void *arg);

static void
s_follow (ocf_logtail_t *self)
{
    if (s_read (self, BUDGET) || self->again_timer >= 0)
        return;
    self->again_timer = zloop_timer (self->loop, AGAIN_MS, 1, s_on_again, self);
}

static int
s_on_again (zloop_t *loop, int timer_id, void *arg)
{
    ocf_logtail_t *self = arg;
    self->again_timer = -1;
    s_follow (self);
    return 0;
}

static int
s_on_inotify (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    ocf_logtail_t *self = arg;
    char events[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
    while (read (self->inotify, events, sizeof events) > 0)
        ;
    s_follow (self);
    return 0;
}

ocf_logtail_t *
ocf_logtail_new (zloop_t *loop, const char *path, size_t max_size, ocf_linebuf_fn *fn, void *arg, char *error,
                 size_t error_size)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf (error, error_size, "cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    int inotify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (inotify < 0 || inotify_add_watch (inotify, path, IN_MODIFY) < 0) {
        snprintf (error, error_size, "cannot watch %s: %s", path, strerror (errno));
        if (inotify >= 0)
            close (inotify);
        close (fd);
        return NULL;
    }
    ocf_logtail_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->fd = fd;
    self->inotify = inotify;
    self->max_size = max_size;
    self->fn = fn;
    self->arg = arg;
    self->again_timer = -1;
    self->offset = lseek (fd, 0, SEEK_END);
    if (self->offset < 0)
        self->offset = 0;
    if ((size_t) self->offset >= max_size && ftruncate (fd, 0) == 0)
        self->offset = 0;
    zmq_pollitem_t item = { NULL, inotify, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &item, s_on_inotify, self);
    zloop_poller_set_tolerant (loop, &item);
    return self;
}

void
ocf_logtail_drain (ocf_logtail_t *self)
{
    //  Bounded: what the group's leftovers still write is read by the next wake-up.
    for (int round = 0; round < 16 && !s_read (self, BUDGET); round++)
        ;
    ocf_linebuf_flush (&self->lines, self->fn, self->arg);
}

void
ocf_logtail_destroy (ocf_logtail_t **self_p)
{
    ocf_logtail_t *self = *self_p;
    if (!self)
        return;
    zmq_pollitem_t item = { NULL, self->inotify, 0, 0 };
    zloop_poller_end (self->loop, &item);
    if (self->again_timer >= 0)
        zloop_timer_end (self->loop, self->again_timer);
    close (self->inotify);
    close (self->fd);
    free (self);
    *self_p = NULL;
}

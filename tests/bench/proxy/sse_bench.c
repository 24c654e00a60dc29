/*  sse_bench: many concurrent server-sent-event streams, timing every event on arrival.
    Opens N connections to one URL at once, POSTs the same streaming request on each, and for
    every event carrying "x_sent_us" (wall-clock microseconds when ocf-test-backend sent it)
    records how long it took to arrive. Meanwhile samples the resident memory of the given
    processes (the proxy under test). One epoll loop, no library: its own overhead is small and
    the same for every proxy measured. Prints one line of key=value results.
    The requests are spread evenly over SPREAD_MS (environment, default 50: one event
    interval), as independent clients would send them; with SPREAD_MS=0 they all leave at
    once and every event interval becomes a burst of STREAMS events, whose queueing then
    dominates the delays.
    Build: cc -O2 -I common -o sse_bench tests/bench/proxy/sse_bench.c
    Usage: sse_bench HOST PORT PATH STREAMS BODY [PID,PID...] [HEADER]...  */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ocf_time.h"

#define MAX_STREAMS 20000
#define TAIL 64                  //  bytes kept across reads: a marker may be split by a read

typedef struct {
    int fd;
    char carry[TAIL + 4096];
    size_t carry_len;
    int events;
    int done;
} stream_t;

static int64_t *s_delays;
static size_t s_delay_count, s_delay_cap;

static long
s_rss_kb (const char *pids)
{
    long total = 0;
    char *copy = strdup (pids), *saveptr = NULL;
    for (char *pid = strtok_r (copy, ",", &saveptr); pid; pid = strtok_r (NULL, ",", &saveptr)) {
        char path[64], line[256];
        snprintf (path, sizeof path, "/proc/%s/status", pid);
        FILE *file = fopen (path, "r");
        while (file && fgets (line, sizeof line, file))
            if (strncmp (line, "VmRSS:", 6) == 0)
                total += atol (line + 6);
        if (file)
            fclose (file);
    }
    free (copy);
    return total;
}

static void
s_scan (stream_t *stream, int64_t now)
{
    static const char marker[] = "\"x_sent_us\":";
    char *cursor = stream->carry, *end = stream->carry + stream->carry_len;
    char *found;
    while ((found = memmem (cursor, (size_t) (end - cursor), marker, sizeof marker - 1))) {
        char *digits = found + sizeof marker - 1, *stop = digits;
        while (stop < end && *stop >= '0' && *stop <= '9')
            stop++;
        if (stop == end)
            break;                   //  the number goes on in the next read
        int64_t sent = strtoll (digits, NULL, 10);
        if (s_delay_count == s_delay_cap) {
            s_delay_cap = s_delay_cap ? s_delay_cap * 2 : 65536;
            s_delays = realloc (s_delays, s_delay_cap * sizeof *s_delays);
        }
        s_delays[s_delay_count++] = now - sent;
        stream->events++;
        cursor = stop;
    }
    if (memmem (stream->carry, stream->carry_len, "[DONE]", 6))
        stream->done = 1;
    //  Keep only a tail that may hold the start of a marker.
    size_t keep = (size_t) (end - cursor) < TAIL ? (size_t) (end - cursor) : TAIL;
    memmove (stream->carry, end - keep, keep);
    stream->carry_len = keep;
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
    if (argc < 6) {
        fprintf (stderr, "usage: sse_bench HOST PORT PATH STREAMS BODY [PID,PID...] [HEADER]...\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3], *body = argv[5], *pids = argc > 6 ? argv[6] : "";
    int port = atoi (argv[2]), count = atoi (argv[4]);
    if (count < 1 || count > MAX_STREAMS)
        return 2;
    char request[8192];
    int len = snprintf (request, sizeof request, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\n", path, host, port, strlen (body));
    for (int i = 7; i < argc; i++)
        len += snprintf (request + len, sizeof request - (size_t) len, "%s\r\n", argv[i]);
    len += snprintf (request + len, sizeof request - (size_t) len, "\r\n%s", body);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, host, &address.sin_addr);
    int ep = epoll_create1 (0);
    stream_t *streams = calloc ((size_t) count, sizeof *streams);
    int errors = 0, open_streams = 0, sent = 0;
    for (int i = 0; i < count; i++) {
        int fd = socket (AF_INET, SOCK_STREAM, 0), on = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        if (connect (fd, (struct sockaddr *) &address, sizeof address) != 0) {
            errors++;
            close (fd);
            streams[i].fd = -1;
            continue;
        }
        streams[i].fd = fd;
        struct epoll_event event = { .events = EPOLLIN, .data.ptr = &streams[i] };
        epoll_ctl (ep, EPOLL_CTL_ADD, fd, &event);
        open_streams++;
    }
    double spread_ms = getenv ("SPREAD_MS") ? atof (getenv ("SPREAD_MS")) : 50;
    long rss_max = pids[0] ? s_rss_kb (pids) : 0;
    int64_t start_us = ocf_time_wall_us ();
    int64_t next_sample = ocf_time_mono_ms () + 100, deadline = ocf_time_mono_ms () + 600000;
    struct epoll_event ready[256];
    while (open_streams > 0 && ocf_time_mono_ms () < deadline) {
        //  Send the requests that are due.
        int64_t now_us = ocf_time_wall_us ();
        while (sent < count && start_us + (int64_t) (spread_ms * 1000 * sent / count) <= now_us) {
            stream_t *stream = &streams[sent++];
            if (stream->fd >= 0 && write (stream->fd, request, (size_t) len) != len) {
                errors++;
                close (stream->fd);
                stream->fd = -1;
                open_streams--;
            }
        }
        int wait_ms = sent < count ? 1 : 100;
        int n = epoll_wait (ep, ready, 256, wait_ms);
        int64_t now = ocf_time_wall_us ();
        for (int i = 0; i < n; i++) {
            stream_t *stream = ready[i].data.ptr;
            ssize_t got = read (stream->fd, stream->carry + stream->carry_len, sizeof stream->carry - stream->carry_len);
            if (got > 0) {
                stream->carry_len += (size_t) got;
                s_scan (stream, now);
            }
            if (got == 0 || (got < 0 && errno != EAGAIN) || stream->done) {
                if (!stream->done)
                    errors++;
                close (stream->fd);
                stream->fd = -1;
                open_streams--;
            }
        }
        if (pids[0] && ocf_time_mono_ms () >= next_sample) {
            long rss = s_rss_kb (pids);
            rss_max = rss > rss_max ? rss : rss_max;
            next_sample = ocf_time_mono_ms () + 100;
        }
    }
    qsort (s_delays, s_delay_count, sizeof *s_delays, s_compare);
    int64_t p50 = s_delay_count ? s_delays[s_delay_count / 2] : 0;
    int64_t p99 = s_delay_count ? s_delays[(s_delay_count * 99) / 100] : 0;
    int64_t max = s_delay_count ? s_delays[s_delay_count - 1] : 0;
    printf ("streams=%d events=%zu errors=%d p50_us=%lld p99_us=%lld max_us=%lld rss_max_kb=%ld\n", count, s_delay_count,
            errors, (long long) p50, (long long) p99, (long long) max, rss_max);
    return errors ? 1 : 0;
}

/*  ocf-test-netdelay: holds every packet of an NFQUEUE queue for a fixed delay, then lets it
    through, in arrival order. It stands in for `tc qdisc ... netem delay` where the kernel has
    no sch_netem (the latency test's kernels): iptables rules send a host's packets to the
    queue (`-j NFQUEUE --queue-num N --queue-bypass`), this program, run in the same network
    namespace, gives each the verdict NF_ACCEPT once its delay has passed. It asks the kernel
    for the packets' metadata only (their ids), waits in ppoll() until the oldest is due, and
    holds at most --max-held: beyond that a packet goes through at once and is counted, as do
    the ones the kernel could not queue (its queue is fail-open). Prints a line saying it is
    ready once bound; on SIGTERM or SIGINT lets every held packet through and exits 0. It is
    not part of the fabric and is never installed.
    Usage: ocf-test-netdelay --queue N --delay-ms MS [--max-held N]  */
//  glibc's netinet/in.h (arpa/inet.h) first: linux/netfilter.h then leaves out its own copy.
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "delay_fifo.h"
#include "ocf_signals.h"
#include "ocf_time.h"

#define RECV_BUFFER 8192
#define SOCKET_BUFFER (4 * 1024 * 1024)

typedef struct {
    struct nfq_q_handle *queue;
    delay_fifo_t *fifo;
    int64_t delay_us;
    uint64_t delayed;
    uint64_t passed_full;        //  let through at once: --max-held were held
    uint64_t verdicts_failed;    //  the kernel no longer had the packet
} netdelay_t;

static void
accept_packet (netdelay_t *self, uint32_t id)
{
    if (nfq_set_verdict (self->queue, id, NF_ACCEPT, 0, NULL) < 0)
        self->verdicts_failed++;
}

static int
on_packet (struct nfq_q_handle *queue, struct nfgenmsg *message, struct nfq_data *packet, void *arg)
{
    (void) queue;
    (void) message;
    netdelay_t *self = arg;
    struct nfqnl_msg_packet_hdr *header = nfq_get_msg_packet_hdr (packet);
    if (!header)
        return 0;
    uint32_t id = ntohl (header->packet_id);
    if (delay_fifo_push (self->fifo, id, ocf_time_mono_us () + self->delay_us))
        self->delayed++;
    else {
        self->passed_full++;
        accept_packet (self, id);
    }
    return 0;
}

static void
release_due (netdelay_t *self, int64_t now_us)
{
    uint32_t id;
    while (delay_fifo_pop_due (self->fifo, now_us, &id))
        accept_packet (self, id);
}

//  A whole number in [min, max] from an option's value, or exit 2 saying which option.
static long
number_option (const char *name, const char *text, long min, long max)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max) {
        fprintf (stderr, "ocf-test-netdelay: --%s '%s': a whole number from %ld to %ld\n",
                 name, text, min, max);
        exit (2);
    }
    return value;
}

static void
usage (void)
{
    fprintf (stderr, "usage: ocf-test-netdelay --queue N --delay-ms MS [--max-held N]\n");
    exit (2);
}

int
main (int argc, char **argv)
{
    long queue_num = -1, delay_ms = -1, max_held = 4096;
    static const struct option options [] = {
        { "queue", required_argument, NULL, 'q' },
        { "delay-ms", required_argument, NULL, 'd' },
        { "max-held", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case 'q': queue_num = number_option ("queue", optarg, 0, 65535); break;
            case 'd': delay_ms = number_option ("delay-ms", optarg, 0, 60000); break;
            case 'm': max_held = number_option ("max-held", optarg, 1, 1 << 20); break;
            default: usage ();
        }
    }
    if (optind != argc || queue_num < 0 || delay_ms < 0)
        usage ();

    static const int signals [] = { SIGTERM, SIGINT, 0 };
    ocf_signals_t *sigs = ocf_signals_new (signals);
    netdelay_t self = { .fifo = delay_fifo_new ((size_t) max_held), .delay_us = delay_ms * 1000 };
    struct nfq_handle *handle = nfq_open ();
    if (!handle) {
        fprintf (stderr, "ocf-test-netdelay: nfq_open: %s\n", strerror (errno));
        return 1;
    }
    self.queue = nfq_create_queue (handle, (uint16_t) queue_num, on_packet, &self);
    if (!self.queue) {
        fprintf (stderr, "ocf-test-netdelay: binding queue %ld: %s (another program holds it, or no "
                 "CAP_NET_ADMIN)\n", queue_num, strerror (errno));
        return 1;
    }
    //  Room in the kernel's queue for what we hold and a burst being read; beyond it the
    //  kernel lets packets through rather than dropping them.
    if (nfq_set_mode (self.queue, NFQNL_COPY_META, 0) < 0 ||
        nfq_set_queue_maxlen (self.queue, (uint32_t) max_held * 2) < 0 ||
        nfq_set_queue_flags (self.queue, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
        fprintf (stderr, "ocf-test-netdelay: configuring queue %ld: %s\n", queue_num, strerror (errno));
        return 1;
    }
    nfnl_rcvbufsiz (nfq_nfnlh (handle), SOCKET_BUFFER);
    printf ("ocf-test-netdelay: ready: queue %ld, %ld ms delay, at most %ld held\n",
            queue_num, delay_ms, max_held);
    fflush (stdout);

    struct pollfd fds [2] = {
        { .fd = nfq_fd (handle), .events = POLLIN },
        { .fd = ocf_signals_fd (sigs), .events = POLLIN }
    };
    uint64_t reads_lost = 0;     //  ENOBUFS: the kernel dropped messages for a full socket
    bool running = true;
    char buffer [RECV_BUFFER] __attribute__ ((aligned));
    while (running) {
        int64_t now_us = ocf_time_mono_us ();
        release_due (&self, now_us);
        int64_t due_us = delay_fifo_next_due (self.fifo);
        struct timespec wait;
        if (due_us >= 0) {
            int64_t left_us = due_us > now_us ? due_us - now_us : 0;
            wait = (struct timespec) { left_us / 1000000, (left_us % 1000000) * 1000 };
        }
        if (ppoll (fds, 2, due_us >= 0 ? &wait : NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            fprintf (stderr, "ocf-test-netdelay: ppoll: %s\n", strerror (errno));
            break;
        }
        if (fds [1].revents & POLLIN) {
            int signal_number;
            while ((signal_number = ocf_signals_next (sigs)))
                if (signal_number == SIGTERM || signal_number == SIGINT)
                    running = false;
        }
        if (fds [0].revents & POLLIN) {
            ssize_t got;
            while ((got = recv (fds [0].fd, buffer, sizeof buffer, MSG_DONTWAIT)) >= 0 || errno == ENOBUFS) {
                if (got < 0)
                    reads_lost++;
                else
                    nfq_handle_packet (handle, buffer, (int) got);
            }
        }
    }
    release_due (&self, INT64_MAX);
    printf ("ocf-test-netdelay: %" PRIu64 " packets delayed, %" PRIu64 " let through at once "
            "(%ld held), %" PRIu64 " verdicts refused, %" PRIu64 " reads lost\n",
            self.delayed, self.passed_full, max_held, self.verdicts_failed, reads_lost);
    nfq_destroy_queue (self.queue);
    nfq_close (handle);
    delay_fifo_destroy (&self.fifo);
    ocf_signals_destroy (&sigs);
    return 0;
}

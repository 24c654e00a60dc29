/*  ocf_loop: one event loop of proxyd, with everything it serves requests from.
    Each loop owns a SO_REUSEPORT listener (the kernel spreads connections) or a copy of the
    one systemd passed (ocf-proxyd.socket: all loops accept from it), the same for the
    fabric listener (mutual TLS, other hosts only; ocf-proxyd-fabric.socket), an h2o context,
    its own routing view fed by tabled, its upstream connection pools and its local API
    clients: loops share nothing on the request path but atomic counters (ocf_metrics,
    ocf_load). Loop 0 runs in the main thread and also carries proxyd's control duties
    (ocf_proxyd). Stopping: the listener closes, kept-alive clients are told "close", the
    requests in flight finish (up to stop_timeout), then the loop ends.  */
#ifndef OCF_LOOP_H
#define OCF_LOOP_H

#include "ocf_choose.h"
#include "ocf_config.h"
#include "ocf_viewsync.h"
#include "ocf_load.h"
#include "ocf_metrics.h"
#include "ocf_tls.h"
#include "ocf_upstream.h"
#include "ocf_view.h"
#include "ocf_zsock.h"

#include <h2o.h>
#include <pthread.h>
#include <stdbool.h>

typedef struct _ocf_proxyd_t ocf_proxyd_t;

typedef enum { OCF_SCRAPE_TABLED = 0, OCF_SCRAPE_GOSSIPD, OCF_SCRAPE_WORKERD, OCF_SCRAPE_COUNT } ocf_scrape_target_t;

typedef struct {
    ocf_proxyd_t *server;
    ocf_config_t *config;
    ocf_metrics_t *metrics;
    ocf_load_t *load;
    ocf_load_t *backends;
    h2o_globalconf_t *globalconf;
    int index;
    pthread_t thread;
    h2o_evloop_t *evloop;
    h2o_context_t context;
    h2o_accept_ctx_t accept;
    int listen_fd;
    h2o_socket_t *listener;
    //  The fabric listener: its connections are TLS (the handshake run by the loop, then
    //  fabric_accept: HTTP/1), their peers members (ocf_tls), and their requests carry
    //  fabric_hosts as conn->hosts, which tells them apart.
    int fabric_fd;
    h2o_socket_t *fabric_listener;
    h2o_accept_ctx_t fabric_accept;
    h2o_hostconf_t *fabric_hosts[2];
    SSL_CTX *tls_server;         //  NULL: no fabric listener
    SSL_CTX *tls_client;         //  hops to other hosts' fabric listeners
    size_t handshakes;           //  fabric connections in their TLS handshake now
    bool fabric_waiting;         //  the fabric listener waits for handshakes to end before accepting
    h2o_linklist_t clients;      //  accepted connections, closed at the end
    h2o_linklist_t forwards;     //  requests being forwarded (ocf_forward), aborted at the end
    ocf_view_t *view;
    ocf_zclient_t *tabled;       //  LIST/HELLO (the viewsync), SERVICE.UP/DOWN (/v1/dnt/_node)
    ocf_viewsync_t *viewsync;
    ocf_pools_t *pools;
    ocf_chooser_t chooser;
    ocf_zclient_t *scrape[OCF_SCRAPE_COUNT];  //  STATS for /metrics, DRAIN for /v1/admin: short deadline
    size_t inflight;             //  requests of this loop being answered
    int wake_fd;                 //  eventfd: another thread asks this loop to stop
    h2o_socket_t *wake;
    bool stopping;
    bool done;
    uint64_t stop_deadline;      //  loop time (ms) after which streams are cut
    uint64_t stop_started;       //  loop time (ms) of the stop
    h2o_timeout_entry_t drain_check;
} ocf_loop_t;

//  The listening socket systemd passed under a name (socket activation: "api" for [proxyd]
//  listen, "fabric" for fabric_listen), checked against the address of that key and made
//  non-blocking: its descriptor; -1 when none was passed; -2, with error set, when what was
//  passed cannot be used (not a listening TCP socket, another address than the key's).
int ocf_loop_inherited_listener (const char *name, const char *key, const char *address, char *error,
                                 size_t error_size);

//  Creates the loop, the context and the listeners: copies of the inherited descriptors when
//  they are >= 0, else bound now, so that a busy port is reported at start. Returns 0, or -1
//  with error set.
int ocf_loop_init (ocf_loop_t *self, ocf_proxyd_t *server, int index, int inherited_fd, int inherited_fabric_fd,
                   char *error, size_t error_size);
//  Runs the event loop until it has stopped. Starts the viewsync first.
void ocf_loop_run (ocf_loop_t *self);
//  From any thread: stop accepting, finish what is in flight, end the loop.
void ocf_loop_stop (ocf_loop_t *self);
void ocf_loop_fini (ocf_loop_t *self);

//  Counts a request being answered; at the end of the last one a stopping loop stops.
void ocf_loop_request_begin (ocf_loop_t *self);
void ocf_loop_request_end (ocf_loop_t *self);
//  The loop that serves a request.
ocf_loop_t *ocf_loop_of (h2o_req_t *req);
//  Whether the request came through the fabric listener (from an authenticated member).
bool ocf_loop_fabric_request (h2o_req_t *req);
//  Whether the request is a hop that another host's proxyd sent through the fabric listener,
//  as it was sent: not the client's request that a p2p hop carries, served here again
//  (reprocessed), which still came through the listener. ocf_access decides on both.
bool ocf_fabric_hop (h2o_req_t *req);
//  STATS client for a daemon (created on first use).
ocf_zclient_t *ocf_loop_scrape (ocf_loop_t *self, ocf_scrape_target_t target);

#endif

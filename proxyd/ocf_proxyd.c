/*  ocf_proxyd: loops, shared state and control.  */
#include "ocf_proxyd.h"
#include "ocf_alloc.h"
#include "ocf_daemon.h"
#include "ocf_dashboard.h"
#include "ocf_respond.h"
#include "ocf_log.h"
#include "ocf_msg.h"
#include "ocf_routes.h"
#include "ocf_admin.h"
#include "ocf_apidocs.h"
#include "ocf_scrape.h"
#include "ocf_sdlisten.h"
#include "ocf_sdnotify.h"
#include "ocf_signals.h"
#include "ocf_tableapi.h"
#include "ocf_time.h"
#include "ocf_loop.h"

#include <errno.h>
#include <malloc.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define TRIM_INTERVAL_MS 10000
//  free() gives the top of the heap back to the system as soon as 128 KB are free there (glibc's
//  default), and the next events fault it in again: at 1000 streams that was 150 brk calls and
//  ~3,000 page faults a second, in the middle of relaying events. Memory goes back after a
//  burst instead (s_on_trim), so the heap may keep this much free between bursts.
#define HEAP_KEEP_BYTES (8 * 1024 * 1024)
#define FABRIC_IDLE_MARGIN_MS 5000  //  how much longer than its peers' pools a listener keeps idle hops

struct _ocf_proxyd_t {
    ocf_config_t *config;
    h2o_globalconf_t globalconf;
    ocf_routetable_t routes;
    ocf_access_t *access;
    char server_name[64];
    ocf_metrics_t *metrics;
    ocf_load_t *load;
    ocf_load_t *backends;        //  the same counts per backend address, for workerd's drains
    ocf_modelstats_t *modelstats;
    ocf_eventlog_t *eventlog;
    ocf_tls_t *tls;              //  this host's credentials on the fabric
    ocf_loop_t *loops;
    int loop_count;
    bool socket_activated;       //  listening on the socket systemd passed (ocf-proxyd.socket)
    int64_t started_ms;
    //  Control, on loop 0 (the main thread)
    h2o_loop_t *evloop;
    ocf_signals_t *signals;
    h2o_socket_t *signal_event;
    zsock_t *api;
    ocf_zwatch_t *api_watch;
    int loops_fd;                //  eventfd: loops say their view is loaded, or they stopped listening
    h2o_socket_t *loops_event;
    int settled;                 //  atomic: loops whose view is loaded
    int unlistened;              //  atomic: loops that closed their listeners after a stop
    bool ready;
    bool stopping;
    bool stopping_notified;      //  STOPPING=1 sent: no loop accepts any more
    bool running;                //  the other loops' threads were started
    h2o_timeout_t watchdog_timeout;
    h2o_timeout_entry_t watchdog;
    h2o_timeout_t report_timeout;
    h2o_timeout_entry_t report;
    h2o_timeout_t trim_timeout;
    h2o_timeout_entry_t trim;
    struct _report_t {
        ocf_proxyd_t *server;
        int slot;
        int64_t value;           //  sent
        int64_t reported;        //  last acknowledged by tabled, -1: none
    } reports[OCF_LOAD_SLOTS];
    size_t reports_waiting;
};

ocf_config_t *
ocf_proxyd_config (ocf_proxyd_t *self)
{
    return self->config;
}

ocf_metrics_t *
ocf_proxyd_metrics (ocf_proxyd_t *self)
{
    return self->metrics;
}

ocf_load_t *
ocf_proxyd_load (ocf_proxyd_t *self)
{
    return self->load;
}

ocf_load_t *
ocf_proxyd_backends (ocf_proxyd_t *self)
{
    return self->backends;
}

ocf_modelstats_t *
ocf_proxyd_modelstats (ocf_proxyd_t *self)
{
    return self->modelstats;
}

ocf_eventlog_t *
ocf_proxyd_eventlog (ocf_proxyd_t *self)
{
    return self->eventlog;
}

ocf_tls_t *
ocf_proxyd_tls (ocf_proxyd_t *self)
{
    return self->tls;
}

h2o_globalconf_t *
ocf_proxyd_globalconf (ocf_proxyd_t *self)
{
    return &self->globalconf;
}

const ocf_routetable_t *
ocf_proxyd_routes (ocf_proxyd_t *self)
{
    return &self->routes;
}

ocf_access_t *
ocf_proxyd_access (ocf_proxyd_t *self)
{
    return self->access;
}

void
ocf_proxyd_register_routes (ocf_routetable_t *routes)
{
    ocf_routetable_init (routes);
    ocf_tableapi_routes (routes);
    ocf_routes_register (routes);
    ocf_scrape_routes (routes);
    ocf_admin_routes (routes);
    ocf_dashboard_routes (routes);
    ocf_apidocs_routes (routes);
}

int64_t
ocf_proxyd_uptime_ms (ocf_proxyd_t *self)
{
    return ocf_time_mono_ms () - self->started_ms;
}

static void
s_loop_reports (ocf_proxyd_t *self, int *counter)
{
    __atomic_add_fetch (counter, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (write (self->loops_fd, &one, sizeof one) < 0)
        ocf_log_error ("cannot signal the main loop: %s", strerror (errno));
}

void
ocf_proxyd_loop_settled (ocf_proxyd_t *self)
{
    s_loop_reports (self, &self->settled);
}

void
ocf_proxyd_loop_unlistened (ocf_proxyd_t *self)
{
    s_loop_reports (self, &self->unlistened);
}

//  --------------------------------------------------------------------------
//  Control

//  STOPPING=1 says that no new connection will be accepted, so it waits until every loop has
//  closed its listeners: a client that connects after it is refused (or, socket-activated, waits
//  for the next ocf-proxyd), never served by a loop that had not heard of the stop yet.
static void
s_notify_stopping (ocf_proxyd_t *self)
{
    if (self->stopping_notified || __atomic_load_n (&self->unlistened, __ATOMIC_ACQUIRE) < self->loop_count)
        return;
    self->stopping_notified = true;
    ocf_sdnotify ("STOPPING=1");
}

static void
s_on_loops (h2o_socket_t *sock, const char *error)
{
    ocf_proxyd_t *self = sock->data;
    uint64_t value;
    if (read (self->loops_fd, &value, sizeof value) < 0)
        return;
    if (self->stopping)
        s_notify_stopping (self);
    if (self->ready || __atomic_load_n (&self->settled, __ATOMIC_ACQUIRE) < self->loop_count)
        return;
    self->ready = true;
    ocf_view_t *view = self->loops[0].view;
    ocf_log_info ("ready: listening on %s%s, fabric (mutual TLS) on %s, with %d event loop%s, policy %s; %zu nodes in view "
                  "(%zu live)%s", self->config->proxyd.listen, self->socket_activated ? " (the socket systemd passed)" : "",
                  self->config->proxyd.fabric_listen,
                  self->loop_count, self->loop_count > 1 ? "s" : "",
                  self->config->proxyd.policy, ocf_view_size (view), ocf_view_live_count (view),
                  ocf_viewsync_connected (self->loops[0].viewsync) ? "" : "; tabled unreachable, retrying");
    ocf_sdnotify_status ("serving on %s, %zu nodes in view", self->config->proxyd.listen, ocf_view_size (view));
    ocf_sdnotify ("READY=1");
}

static void
s_stop (ocf_proxyd_t *self, int signal_number)
{
    if (self->stopping)
        return;
    self->stopping = true;
    ocf_log_info ("received %s, stopping: finishing requests in flight; %s", strsignal (signal_number),
                  self->socket_activated ? "new connections wait in systemd's socket for the next ocf-proxyd"
                                         : "no new connections");
    for (int i = 0; i < self->loop_count; i++)
        ocf_loop_stop (&self->loops[i]);
}

static void
s_on_signal (h2o_socket_t *sock, const char *error)
{
    ocf_proxyd_t *self = sock->data;
    int signal_number;
    while ((signal_number = ocf_signals_next (self->signals)))
        if (signal_number == SIGTERM || signal_number == SIGINT)
            s_stop (self, signal_number);
        else
        if (signal_number == SIGHUP) {
            ocf_access_reload (self->access);
            char why[1024];
            if (ocf_tls_reload_keys (self->tls, &self->config->gossipd, why, sizeof why) != 0)
                ocf_log_error ("SIGHUP: keeping the authorized keys in force: %s", why);
            else
                ocf_log_info ("SIGHUP: authorized keys reloaded");
        }
}

static void
s_on_watchdog (h2o_timeout_entry_t *entry)
{
    ocf_proxyd_t *self = H2O_STRUCT_FROM_MEMBER (ocf_proxyd_t, watchdog, entry);
    ocf_sdnotify ("WATCHDOG=1");
    h2o_timeout_link (self->evloop, &self->watchdog_timeout, &self->watchdog);
}

typedef struct _report_t report_t;

static void
s_on_reported (void *arg, ocf_zreply_t status, json_t *body, const char *error)
{
    report_t *report = arg;
    ocf_proxyd_t *self = report->server;
    self->reports_waiting--;
    if (status == OCF_ZREPLY_OK)
        report->reported = report->value;
    else
        ocf_log_debug ("SERVICE.LOAD %s: %s", ocf_load_name (self->load, report->slot), error);
}

//  Every load_report_interval: the in-flight count of each service this node serves, when it
//  changed since tabled last took it.
static void
s_on_report (h2o_timeout_entry_t *entry)
{
    ocf_proxyd_t *self = H2O_STRUCT_FROM_MEMBER (ocf_proxyd_t, report, entry);
    h2o_timeout_link (self->evloop, &self->report_timeout, &self->report);
    ocf_loop_t *loop = &self->loops[0];
    ocf_view_node_t *me = ocf_view_self (loop->view);
    if (!me || self->reports_waiting || self->stopping)
        return;
    for (size_t slot = 0; slot < ocf_load_count (self->load); slot++) {
        const char *name = ocf_load_name (self->load, (int) slot);
        int64_t value = ocf_load_get (self->load, (int) slot);
        report_t *report = &self->reports[slot];
        if (value == report->reported || !ocf_view_node_service (me, name, strlen (name)))
            continue;
        report->value = value;
        self->reports_waiting++;
        ocf_zclient_call (loop->tabled, "SERVICE.LOAD", json_pack ("{s:s, s:{s:I}}", "name", name, "load", "inflight",
                          (json_int_t) value), s_on_reported, report);
    }
}

//  After a burst (a thousand streams hold tens of MB of buffers), give the freed memory back
//  once nothing is in flight: malloc keeps it otherwise.
static void
s_on_trim (h2o_timeout_entry_t *entry)
{
    ocf_proxyd_t *self = H2O_STRUCT_FROM_MEMBER (ocf_proxyd_t, trim, entry);
    h2o_timeout_link (self->evloop, &self->trim_timeout, &self->trim);
    if (ocf_metrics_inflight (self->metrics) == 0)
        malloc_trim (0);
}

static json_t *
s_hello (ocf_proxyd_t *self)
{
    ocf_view_node_t *me = ocf_view_self (self->loops[0].view);
    return json_pack ("{s:s?, s:s, s:s, s:s, s:s, s:b, s:i, s:b}", "id", me ? me->id : NULL, "name", self->config->node.name,
                      "software", "ocf " OCF_VERSION, "listen", self->config->proxyd.listen,
                      "fabric_listen", self->config->proxyd.fabric_listen, "socket_activated",
                      self->socket_activated, "workers", self->loop_count, "ready", self->ready);
}

static json_t *
s_stats (ocf_proxyd_t *self)
{
    ocf_loop_t *loop = &self->loops[0];
    json_t *stats = ocf_metrics_json (self->metrics);
    json_object_set_new (stats, "uptime_ms", json_integer (ocf_proxyd_uptime_ms (self)));
    json_object_set_new (stats, "workers", json_integer (self->loop_count));
    json_object_set_new (stats, "view_nodes", json_integer ((json_int_t) ocf_view_size (loop->view)));
    json_object_set_new (stats, "view_live_nodes", json_integer ((json_int_t) ocf_view_live_count (loop->view)));
    json_object_set_new (stats, "table", ocf_viewsync_stats (loop->viewsync));
    json_t *inflight = json_object ();
    for (size_t slot = 0; slot < ocf_load_count (self->load); slot++)
        json_object_set_new (inflight, ocf_load_name (self->load, (int) slot), json_integer (ocf_load_get (self->load, (int) slot)));
    json_object_set_new (stats, "service_inflight", inflight);
    json_t *backends = json_object ();
    for (size_t slot = 0; slot < ocf_load_count (self->backends); slot++)
        json_object_set_new (backends, ocf_load_name (self->backends, (int) slot),
                             json_integer (ocf_load_get (self->backends, (int) slot)));
    json_object_set_new (stats, "backend_inflight", backends);
    return stats;
}

static void
s_on_api (zsock_t *sock, void *arg)
{
    ocf_proxyd_t *self = arg;
    zmsg_t *request = zmsg_recv (sock);
    if (!request)
        return;
    zmsg_t *reply = ocf_msg_take_envelope (request);
    ocf_msg_t msg;
    char error[512];
    if (ocf_msg_decode_zmsg (&msg, request, 1024 * 1024, error, sizeof error) != 0)
        ocf_msg_append (reply, "ERR", json_pack ("{s:s}", "error", error));
    else {
        if (strcmp (msg.verb, "HELLO") == 0)
            ocf_msg_append (reply, "OK", s_hello (self));
        else
        if (strcmp (msg.verb, "STATS") == 0)
            ocf_msg_append (reply, "OK", s_stats (self));
        else
            ocf_msg_append (reply, "ERR", ocf_msg_error_body ("unknown verb %s (known: HELLO STATS)", msg.verb));
        ocf_msg_clear (&msg);
    }
    zmsg_destroy (&request);
    if (zmsg_send (&reply, sock) != 0)
        zmsg_destroy (&reply);       //  the client is gone or too slow: never block the loop
    ocf_zwatch_sent (self->api_watch);
}

//  --------------------------------------------------------------------------

//  A loop thread ends its loop, frees what it owns, then stays parked until the process
//  exits: h2o keeps per-thread caches of buffers and pool chunks that it offers no way to free,
//  and they stay reachable (not leaked) as long as their thread lives.
//  (Process-wide, since parked threads outlive the server object.)
static pthread_mutex_t s_finished_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_finished_cond = PTHREAD_COND_INITIALIZER;
static int s_finished;

static void *
s_loop_thread (void *arg)
{
    ocf_loop_t *loop = arg;
    ocf_loop_run (loop);
    ocf_loop_fini (loop);
    pthread_mutex_lock (&s_finished_lock);
    s_finished++;
    pthread_cond_broadcast (&s_finished_cond);
    while (true)
        pthread_cond_wait (&s_finished_cond, &s_finished_lock);
    return NULL;
}

ocf_proxyd_t *
ocf_proxyd_new (ocf_config_t *config, char *error, size_t error_size)
{
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP, 0 };
    mallopt (M_TRIM_THRESHOLD, HEAP_KEEP_BYTES);
    ocf_proxyd_t *self = ocf_calloc (1, sizeof *self);
    self->config = config;
    self->started_ms = ocf_time_mono_ms ();
    self->signals = ocf_signals_new (signals);   //  blocked here, inherited by every thread
    ocf_proxyd_register_routes (&self->routes);
    self->metrics = ocf_metrics_new (&self->routes);
    self->load = ocf_load_new ();
    self->backends = ocf_load_new ();
    self->modelstats = ocf_modelstats_new ();
    self->eventlog = ocf_eventlog_new ();
    self->loops_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    for (int i = 0; i < OCF_LOAD_SLOTS; i++)
        self->reports[i] = (report_t) { self, i, 0, -1 };
    h2o_config_init (&self->globalconf);
    snprintf (self->server_name, sizeof self->server_name, "ocf-proxyd/%s", OCF_VERSION);
    self->globalconf.server_name = h2o_iovec_init (self->server_name, strlen (self->server_name));
    self->globalconf.max_request_entity_size = (size_t) config->proxyd.max_body;
    self->globalconf.http1.upgrade_to_http2 = 0;     //  HTTP/1.1 only (see docs/proxyd.md)
    //  Other hosts keep their hops to this one idle up to fabric_keepalive_timeout: this side
    //  waits longer, so that a pooled hop is closed by its owner, never under a request.
    //  (The timeout also bounds an HTTP client's idle keep-alive, as nginx's 75 s does.)
    uint64_t fabric_idle = (uint64_t) config->proxyd.fabric_keepalive_timeout_ms + FABRIC_IDLE_MARGIN_MS;
    if (fabric_idle > self->globalconf.http1.req_timeout)
        self->globalconf.http1.req_timeout = fabric_idle;
    self->globalconf.handshake_timeout = (uint64_t) config->proxyd.fabric_handshake_timeout_ms;   //  TLS: the fabric's only
    self->loop_count = (int) config->proxyd.workers;
    self->loops = ocf_calloc ((size_t) self->loop_count, sizeof *self->loops);
    for (int i = 0; i < self->loop_count; i++)
        self->loops[i].listen_fd = self->loops[i].fabric_fd = -1;
    ocf_identity_t *identity = ocf_identity_load (config->node.state_dir, error, error_size);
    self->tls = identity ? ocf_tls_new (identity, &config->gossipd, error, error_size) : NULL;
    ocf_identity_destroy (&identity);
    if (!self->tls) {
        ocf_proxyd_destroy (&self);
        return NULL;
    }
    self->access = ocf_access_new (config, self->loop_count, error, error_size);
    if (!self->access) {
        ocf_proxyd_destroy (&self);
        return NULL;
    }
    ocf_respond_register (h2o_config_register_host (&self->globalconf, h2o_iovec_init (H2O_STRLIT ("default")), 65535),
                          self->access);
    int inherited = ocf_loop_inherited_listener ("api", "[proxyd] listen", config->proxyd.listen, error, error_size);
    int inherited_fabric = inherited == -2 || !ocf_config_fabric (config) ? -1
                         : ocf_loop_inherited_listener ("fabric", "[proxyd] fabric_listen", config->proxyd.fabric_listen,
                                                        error, error_size);
    int passed = ocf_sdlisten_fds ();
    if (inherited == -2 || inherited_fabric == -2) {
        ocf_proxyd_destroy (&self);
        return NULL;
    }
    if (passed > (inherited >= 0) + (inherited_fabric >= 0)) {
        snprintf (error, error_size, "systemd passed %d sockets; ocf-proxyd takes the one named api ([proxyd] listen) and "
                  "the one named fabric ([proxyd] fabric_listen, when not off)", passed);
        ocf_proxyd_destroy (&self);
        return NULL;
    }
    self->socket_activated = inherited >= 0;
    int failed = 0;
    for (int i = 0; i < self->loop_count && !failed; i++)
        failed = ocf_loop_init (&self->loops[i], self, i, inherited, inherited_fabric, error, error_size);
    if (inherited >= 0)
        close (inherited);       //  each loop has its copy; systemd keeps its own
    if (inherited_fabric >= 0)
        close (inherited_fabric);
    if (failed) {
        ocf_proxyd_destroy (&self);
        return NULL;
    }
    self->evloop = self->loops[0].evloop;
    char endpoint[300];
    self->api = zsock_new (ZMQ_ROUTER);
    zsock_set_sndtimeo (self->api, 0);
    zsock_set_linger (self->api, 0);
    if (zsock_bind (self->api, "%s", ocf_daemon_endpoint (config, "proxyd.api", endpoint, sizeof endpoint)) != 0) {
        snprintf (error, error_size, "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        ocf_proxyd_destroy (&self);
        return NULL;
    }
    return self;
}

int
ocf_proxyd_run (ocf_proxyd_t *self)
{
    self->api_watch = ocf_zwatch_new (self->evloop, self->api, s_on_api, self);
    self->signal_event = h2o_evloop_socket_create (self->evloop, dup (ocf_signals_fd (self->signals)), H2O_SOCKET_FLAG_DONT_READ);
    self->signal_event->data = self;
    h2o_socket_read_start (self->signal_event, s_on_signal);
    self->loops_event = h2o_evloop_socket_create (self->evloop, self->loops_fd, H2O_SOCKET_FLAG_DONT_READ);
    self->loops_event->data = self;
    h2o_socket_read_start (self->loops_event, s_on_loops);
    int64_t watchdog = ocf_sdnotify_watchdog_interval_ms ();
    h2o_timeout_init (self->evloop, &self->watchdog_timeout, (uint64_t) (watchdog > 0 ? watchdog : 1000));
    self->watchdog.cb = s_on_watchdog;
    if (watchdog > 0)
        h2o_timeout_link (self->evloop, &self->watchdog_timeout, &self->watchdog);
    h2o_timeout_init (self->evloop, &self->report_timeout, (uint64_t) self->config->proxyd.load_report_interval_ms);
    self->report.cb = s_on_report;
    h2o_timeout_link (self->evloop, &self->report_timeout, &self->report);
    h2o_timeout_init (self->evloop, &self->trim_timeout, TRIM_INTERVAL_MS);
    self->trim.cb = s_on_trim;
    h2o_timeout_link (self->evloop, &self->trim_timeout, &self->trim);
    self->running = true;
    for (int i = 1; i < self->loop_count; i++) {
        pthread_create (&self->loops[i].thread, NULL, s_loop_thread, &self->loops[i]);
        pthread_detach (self->loops[i].thread);
    }
    ocf_loop_run (&self->loops[0]);
    pthread_mutex_lock (&s_finished_lock);
    while (s_finished < self->loop_count - 1)
        pthread_cond_wait (&s_finished_cond, &s_finished_lock);
    pthread_mutex_unlock (&s_finished_lock);
    return 0;
}

void
ocf_proxyd_destroy (ocf_proxyd_t **self_p)
{
    ocf_proxyd_t *self = *self_p;
    if (!self)
        return;
    if (self->evloop) {
        if (h2o_timeout_is_linked (&self->watchdog))
            h2o_timeout_unlink (&self->watchdog);
        if (h2o_timeout_is_linked (&self->report))
            h2o_timeout_unlink (&self->report);
        if (h2o_timeout_is_linked (&self->trim))
            h2o_timeout_unlink (&self->trim);
        if (self->api_watch) {
            h2o_timeout_dispose (self->evloop, &self->watchdog_timeout);
            h2o_timeout_dispose (self->evloop, &self->report_timeout);
            h2o_timeout_dispose (self->evloop, &self->trim_timeout);
        }
        ocf_zwatch_destroy (&self->api_watch);
        if (self->signal_event)
            h2o_socket_close (self->signal_event);
        if (self->loops_event)
            h2o_socket_close (self->loops_event);
    }
    zsock_destroy (&self->api);
    //  Running loop threads freed theirs already.
    for (int i = self->running ? 0 : self->loop_count - 1; i >= 0; i--)
        ocf_loop_fini (&self->loops[i]);
    free (self->loops);
    ocf_tls_destroy (&self->tls);
    if (!self->loops_event && self->loops_fd >= 0)
        close (self->loops_fd);      //  else closed with its socket
    h2o_config_dispose (&self->globalconf);
    ocf_access_destroy (&self->access);
    ocf_load_destroy (&self->load);
    ocf_load_destroy (&self->backends);
    ocf_modelstats_destroy (&self->modelstats);
    ocf_eventlog_destroy (&self->eventlog);
    ocf_metrics_destroy (&self->metrics);
    ocf_signals_destroy (&self->signals);
    free (self);
    *self_p = NULL;
}

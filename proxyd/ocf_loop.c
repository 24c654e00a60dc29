/*  ocf_loop: one event loop.  */
#include "ocf_loop.h"
#include "ocf_alloc.h"
#include "ocf_daemon.h"
#include "ocf_forward.h"
#include "ocf_log.h"
#include "ocf_proxyd.h"
#include "ocf_sdlisten.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define TABLED_TIMEOUT_MS 2000
#define SCRAPE_TIMEOUT_MS 300
#define CLOSE_WAIT_MS 3000       //  longest wait for clients to go once the loop is done
#define MAX_HANDSHAKES 256       //  fabric handshakes under way at once, per loop
#define FIRST_REQUEST_GRACE_MS 1000  //  at a stop, how long a new connection may take to send its request

typedef struct {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    ocf_loop_t *loop;
    h2o_timeout_entry_t handshake;   //  linked while a fabric client's TLS handshake is under way
    h2o_timeout_entry_t preface;     //  linked until an API client's first bytes tell HTTP/1 from HTTP/2
    char peer[OCF_NODE_ID_LEN + 1];  //  a fabric client: the node its handshake proved it is
} client_t;

static void s_on_client_close (void *data);

//  The accepted connection a socket belongs to (NULL: not one of ours).
static client_t *
s_client_of (h2o_socket_t *sock)
{
    return sock && sock->on_close.cb == s_on_client_close ? sock->on_close.data : NULL;
}

ocf_loop_t *
ocf_loop_of (h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER (ocf_loop_t, context, req->conn->ctx);
}

bool
ocf_loop_fabric_request (h2o_req_t *req)
{
    return req->conn->hosts == ocf_loop_of (req)->fabric_hosts;
}

//  A connection outlives the authorized keys it was admitted under: every hop asks again, so
//  a host struck off at a reload loses its pooled connections' requests too.
bool
ocf_fabric_hop (h2o_req_t *req)
{
    if (!ocf_loop_fabric_request (req) || req->num_reprocessed != 0)
        return false;
    client_t *client = s_client_of (req->conn->callbacks->get_socket (req->conn));
    return client && ocf_tls_authorized (ocf_proxyd_tls (client->loop->server), client->peer);
}

//  Who may open a fabric connection to this loop, or answer one: a live node of its view.
//  A client connection remembers who it is.
static bool
s_is_member (void *arg, const char *node_id, h2o_socket_t *sock)
{
    ocf_loop_t *self = arg;
    ocf_view_node_t *node = ocf_view_lookup (self->view, node_id);
    bool member = node && ocf_view_node_live (node);
    client_t *client = s_client_of (sock);
    if (member && client)
        snprintf (client->peer, sizeof client->peer, "%s", node_id);
    return member;
}

//  --------------------------------------------------------------------------
//  Listening

//  [proxyd] listen (or fabric_listen: key) as a socket address; host names are refused
//  (AI_NUMERICHOST): where a proxy listens must not depend on a resolver at boot.
static struct addrinfo *
s_resolve (const char *key, const char *address, char *error, size_t error_size)
{
    char host[256];
    int port;
    if (ocf_config_parse_hostport (address, host, sizeof host, &port) != 0) {
        snprintf (error, error_size, "%s '%s' is not host:port", key, address);
        return NULL;
    }
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
    struct addrinfo *result;
    int rc = getaddrinfo (host, service, &hints, &result);
    if (rc != 0) {
        snprintf (error, error_size, "%s '%s': %s", key, address, gai_strerror (rc));
        return NULL;
    }
    return result;
}

//  SO_REUSEPORT lets every loop bind the address, but would also let another program of the
//  same user share it silently: the first loop checks with an exclusive bind that nobody
//  else listens there.
static int
s_listen (const char *key, const char *address, bool exclusive_check, char *error, size_t error_size)
{
    struct addrinfo *result = s_resolve (key, address, error, error_size);
    if (!result)
        return -1;
    if (exclusive_check) {
        int probe = socket (result->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
        setsockopt (probe, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        int failed = bind (probe, result->ai_addr, result->ai_addrlen) != 0 ? errno : 0;
        close (probe);
        if (failed) {
            snprintf (error, error_size, "cannot listen on %s: %s", address, strerror (failed));
            freeaddrinfo (result);
            return -1;
        }
    }
    int fd = socket (result->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1;
    //  Every loop binds the same address: the kernel spreads new connections over them.
    if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0
    ||  setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0
    ||  bind (fd, result->ai_addr, result->ai_addrlen) != 0 || listen (fd, SOMAXCONN) != 0) {
        snprintf (error, error_size, "cannot listen on %s: %s", address, strerror (errno));
        if (fd >= 0)
            close (fd);
        fd = -1;
    }
    freeaddrinfo (result);
    return fd;
}

static bool
s_same_address (const struct sockaddr_storage *bound, const struct sockaddr *wanted)
{
    if (bound->ss_family != wanted->sa_family)
        return false;
    if (wanted->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *) bound, *b = (const struct sockaddr_in *) wanted;
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *) bound, *b = (const struct sockaddr_in6 *) wanted;
    return a->sin6_port == b->sin6_port && memcmp (&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
}

int
ocf_loop_inherited_listener (const char *name, const char *key, const char *address, char *error, size_t error_size)
{
    const char *unit = strcmp (name, "api") == 0 ? "ocf-proxyd.socket" : "ocf-proxyd-fabric.socket";
    int fd = ocf_sdlisten_named (name);
    //  One socket without the names of ocf-proxyd's units: the API's, as before the fabric.
    if (fd < 0 && strcmp (name, "api") == 0 && ocf_sdlisten_fds () == 1 && ocf_sdlisten_named ("fabric") < 0)
        fd = OCF_SDLISTEN_FIRST_FD;
    if (fd < 0)
        return -1;
    int type = 0, listening = 0;
    socklen_t type_len = sizeof type, listening_len = sizeof listening;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    if (getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM
    ||  getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &listening_len) != 0 || !listening
    ||  getsockname (fd, (struct sockaddr *) &bound, &bound_len) != 0
    ||  (bound.ss_family != AF_INET && bound.ss_family != AF_INET6)) {
        snprintf (error, error_size, "the socket systemd passed is not a listening TCP socket (see %s)", unit);
        return -2;
    }
    struct addrinfo *wanted = s_resolve (key, address, error, error_size);
    if (!wanted)
        return -2;
    bool same = s_same_address (&bound, wanted->ai_addr);
    freeaddrinfo (wanted);
    if (!same) {
        char host[NI_MAXHOST] = "?";
        h2o_socket_getnumerichost ((struct sockaddr *) &bound, bound_len, host);
        bool v6 = bound.ss_family == AF_INET6;
        snprintf (error, error_size, "the socket systemd passed listens on %s%s%s:%d but %s is %s: make them "
                  "the same (ListenStream= in a drop-in: systemctl edit %s)", v6 ? "[" : "", host,
                  v6 ? "]" : "", (int) h2o_socket_getport ((struct sockaddr *) &bound), key, address, unit);
        return -2;
    }
    //  Every loop watches the one socket; accepting must not block the ones that lose a race.
    if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) != 0) {
        snprintf (error, error_size, "the socket systemd passed: %s", strerror (errno));
        return -2;
    }
    return fd;
}

static void s_on_accept (h2o_socket_t *listener, const char *error);

//  A fabric client's handshake ended (done, failed or timed out): a waiting listener goes on.
static void
s_handshake_end (client_t *client, ocf_fabric_handshake_t result)
{
    if (h2o_timeout_is_linked (&client->handshake))
        h2o_timeout_unlink (&client->handshake);
    ocf_loop_t *self = client->loop;
    self->handshakes--;
    ocf_metrics_fabric_handshake (self->metrics, result);
    if (self->fabric_waiting && self->fabric_listener && !self->stopping) {
        self->fabric_waiting = false;
        h2o_socket_read_start (self->fabric_listener, s_on_accept);
    }
}

static void
s_on_client_close (void *data)
{
    client_t *client = data;
    if (h2o_timeout_is_linked (&client->handshake))
        s_handshake_end (client, OCF_FABRIC_HANDSHAKE_FAILED);
    if (h2o_timeout_is_linked (&client->preface))
        h2o_timeout_unlink (&client->preface);
    h2o_linklist_unlink (&client->link);
    free (client);
}

//  h2o's own accept times handshakes out too (its handshake_timeout, set from [proxyd]
//  fabric_handshake_timeout), but neither bounds how many are under way nor says how they end:
//  proxyd runs the fabric's handshakes itself, on the same timer, counts their results, then
//  hands the connection to h2o as HTTP/1 over the TLS socket (as h2o does after its own).
static void
s_on_handshake_timeout (h2o_timeout_entry_t *entry)
{
    client_t *client = H2O_STRUCT_FROM_MEMBER (client_t, handshake, entry);
    s_handshake_end (client, OCF_FABRIC_HANDSHAKE_TIMEOUT);
    h2o_socket_close (client->sock);
}

static void
s_on_handshake (h2o_socket_t *sock, const char *error)
{
    client_t *client = sock->data;
    ocf_loop_t *self = client->loop;
    sock->data = NULL;
    if (error) {
        //  ocf_tls's peer check fails the certificate with X509_V_ERR_CERT_REJECTED; h2o
        //  reports a failed verification by that code's text.
        bool refused = strcmp (error, X509_verify_cert_error_string (X509_V_ERR_CERT_REJECTED)) == 0;
        s_handshake_end (client, refused ? OCF_FABRIC_HANDSHAKE_REFUSED : OCF_FABRIC_HANDSHAKE_FAILED);
        h2o_socket_close (sock);
        return;
    }
    s_handshake_end (client, OCF_FABRIC_HANDSHAKE_OK);
    h2o_accept (&self->fabric_accept, sock);
}

//  HTTP/1.1 only (docs/proxyd.md): h2c is declined. An upgrade request is answered in
//  HTTP/1.1, kept alive (ocf_respond); a client that opens with HTTP/2's preface (prior
//  knowledge) is told so in HTTP/2, as RFC 9113 5.4.1 and 7 provide: the server's SETTINGS,
//  then GOAWAY with HTTP_1_1_REQUIRED, then the connection closes. h2o alone answers that
//  preface with an HTTP/1.1 400 that HTTP/2 clients cannot read (curl: an empty reply).
static const char s_h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
static const char s_h2_refusal[] =
    "\x00\x00\x00\x04\x00\x00\x00\x00\x00"                                //  SETTINGS, empty
    "\x00\x00\x15\x07\x00\x00\x00\x00\x00" "\x00\x00\x00\x00" "\x00\x00\x00\x0d"  //  GOAWAY 0, HTTP_1_1_REQUIRED
    "HTTP/1.1 only";                                                       //  its debug data (13 bytes)

static void
s_on_refusal_sent (h2o_socket_t *sock, const char *error)
{
    h2o_socket_close (sock);
}

static void
s_on_preface_timeout (h2o_timeout_entry_t *entry)
{
    client_t *client = H2O_STRUCT_FROM_MEMBER (client_t, preface, entry);
    h2o_socket_close (client->sock);
}

static void
s_on_first_bytes (h2o_socket_t *sock, const char *error)
{
    client_t *client = sock->data;
    if (error) {
        h2o_socket_close (sock);
        return;
    }
    size_t preface_len = sizeof s_h2_preface - 1;
    size_t len = sock->input->size < preface_len ? sock->input->size : preface_len;
    bool h2 = memcmp (sock->input->bytes, s_h2_preface, len) == 0;
    if (h2 && len < preface_len)
        return;                  //  the preface so far: wait for the rest
    h2o_timeout_unlink (&client->preface);
    sock->data = NULL;
    if (!h2) {
        h2o_accept (&client->loop->accept, sock);    //  HTTP/1: h2o parses what was read
        return;
    }
    h2o_socket_read_stop (sock);
    h2o_iovec_t refusal = h2o_iovec_init (s_h2_refusal, sizeof s_h2_refusal - 1);
    h2o_socket_write (sock, &refusal, 1, s_on_refusal_sent);
}

static void
s_on_accept (h2o_socket_t *listener, const char *error)
{
    ocf_loop_t *self = listener->data;
    if (error)
        return;
    h2o_socket_t *sock;
    while (!self->stopping) {
        //  Silent connections must not take every socket, nor refuse members: beyond the
        //  bound, new connections wait in the listen backlog until a handshake ends (done,
        //  or cut at fabric_handshake_timeout). Pooled connections, past theirs, go on.
        if (listener == self->fabric_listener && self->handshakes >= MAX_HANDSHAKES) {
            h2o_socket_read_stop (listener);
            self->fabric_waiting = true;
            ocf_metrics_fabric_accept_wait (self->metrics);
            break;
        }
        if (!(sock = h2o_evloop_socket_accept (listener)))
            break;
        client_t *client = ocf_calloc (1, sizeof *client);
        client->sock = sock;
        client->loop = self;
        h2o_linklist_insert (&self->clients, &client->link);
        sock->on_close.cb = s_on_client_close;
        sock->on_close.data = client;
        if (listener == self->fabric_listener) {
            self->handshakes++;
            client->handshake.cb = s_on_handshake_timeout;
            h2o_timeout_link (self->evloop, &self->context.handshake_timeout, &client->handshake);
            sock->data = client;
            h2o_socket_ssl_handshake (sock, self->tls_server, NULL, s_on_handshake);
        }
        else {
            //  Until its first bytes arrive, on h2o's timer for a request's head.
            client->preface.cb = s_on_preface_timeout;
            h2o_timeout_link (self->evloop, &self->context.http1.req_timeout, &client->preface);
            sock->data = client;
            h2o_socket_read_start (sock, s_on_first_bytes);
        }
    }
}

//  --------------------------------------------------------------------------
//  Stopping

//  Whether an API client accepted before the stop has not sent its first bytes yet: its
//  request was made in time, and closing the connection under it would fail it (curl: no
//  answer at all).
static bool
s_awaits_first_request (ocf_loop_t *self)
{
    for (h2o_linklist_t *node = self->clients.next; node != &self->clients; node = node->next)
        if (h2o_timeout_is_linked (&H2O_STRUCT_FROM_MEMBER (client_t, link, node)->preface))
            return true;
    return false;
}

static void
s_check_drained (ocf_loop_t *self)
{
    if (!self->stopping || self->done)
        return;
    uint64_t now = h2o_now (self->evloop);
    bool idle = self->inflight == 0
             && (now >= self->stop_started + FIRST_REQUEST_GRACE_MS || !s_awaits_first_request (self));
    if (idle || now >= self->stop_deadline)
        self->done = true;
}

static void
s_on_drain_check (h2o_timeout_entry_t *entry)
{
    ocf_loop_t *self = H2O_STRUCT_FROM_MEMBER (ocf_loop_t, drain_check, entry);
    s_check_drained (self);
    if (!self->done)
        h2o_timeout_link (self->evloop, &self->context.hundred_ms_timeout, &self->drain_check);
}

static void
s_on_wake (h2o_socket_t *sock, const char *error)
{
    ocf_loop_t *self = sock->data;
    uint64_t value;
    if (read (self->wake_fd, &value, sizeof value) < 0 || self->stopping)
        return;
    self->stopping = true;
    self->context.shutdown_requested = 1;    //  kept-alive clients get "connection: close"
    self->stop_started = h2o_now (self->evloop);
    self->stop_deadline = self->stop_started + (uint64_t) self->config->proxyd.stop_timeout_ms;
    if (self->listener) {
        h2o_socket_close (self->listener);
        self->listener = NULL;
    }
    if (self->fabric_listener) {
        h2o_socket_close (self->fabric_listener);
        self->fabric_listener = NULL;
    }
    ocf_proxyd_loop_unlistened (self->server);
    if (self->inflight)
        ocf_log_info ("loop %d: waiting for %zu requests in flight (at most %" PRId64 " ms)", self->index,
                      self->inflight, self->config->proxyd.stop_timeout_ms);
    self->drain_check.cb = s_on_drain_check;
    h2o_timeout_link (self->evloop, &self->context.hundred_ms_timeout, &self->drain_check);
    s_check_drained (self);
}

void
ocf_loop_request_begin (ocf_loop_t *self)
{
    self->inflight++;
}

void
ocf_loop_request_end (ocf_loop_t *self)
{
    self->inflight--;
    s_check_drained (self);
}

void
ocf_loop_stop (ocf_loop_t *self)
{
    uint64_t one = 1;
    if (write (self->wake_fd, &one, sizeof one) < 0)
        ocf_log_error ("cannot wake loop %d: %s", self->index, strerror (errno));
}

//  Ends whatever is left: forwards are aborted, client sockets shut down so that h2o notices
//  and closes them, and the loop turns until they are gone (bounded).
static void
s_close_clients (ocf_loop_t *self)
{
    ocf_forward_abort_all (self);
    for (h2o_linklist_t *node = self->clients.next; node != &self->clients; node = node->next) {
        client_t *client = H2O_STRUCT_FROM_MEMBER (client_t, link, node);
        shutdown (h2o_socket_get_fd (client->sock), SHUT_RDWR);
    }
    uint64_t deadline = h2o_now (self->evloop) + CLOSE_WAIT_MS;
    while (!h2o_linklist_is_empty (&self->clients) && h2o_now (self->evloop) < deadline)
        if (h2o_evloop_run (self->evloop, 10) != 0 && errno != EINTR)
            break;
}

//  --------------------------------------------------------------------------

//  Connections are accepted only from here on: before its first load the view is empty, and
//  every request would be answered 404 (no such model) instead of routed. Until then they wait
//  in the listen backlog, a few milliseconds after a start (or TABLED_TIMEOUT_MS when tabled
//  does not answer: then requests are served from the empty view, as proxyd says it is ready).
static void
s_on_settled (void *arg)
{
    ocf_loop_t *self = arg;
    if (self->listener)
        h2o_socket_read_start (self->listener, s_on_accept);
    if (self->fabric_listener)
        h2o_socket_read_start (self->fabric_listener, s_on_accept);
    ocf_proxyd_loop_settled (self->server);
}

//  A copy of the socket systemd passed, or one bound now.
static int
s_listener_fd (int inherited_fd, const char *key, const char *address, bool exclusive_check, char *error,
               size_t error_size)
{
    if (inherited_fd < 0)
        return s_listen (key, address, exclusive_check, error, error_size);
    int fd = fcntl (inherited_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        snprintf (error, error_size, "the socket systemd passed: %s", strerror (errno));
    return fd;
}

int
ocf_loop_init (ocf_loop_t *self, ocf_proxyd_t *server, int index, int inherited_fd, int inherited_fabric_fd,
               char *error, size_t error_size)
{
    self->server = server;
    self->config = ocf_proxyd_config (server);
    self->metrics = ocf_proxyd_metrics (server);
    self->load = ocf_proxyd_load (server);
    self->backends = ocf_proxyd_backends (server);
    self->globalconf = ocf_proxyd_globalconf (server);
    self->index = index;
    self->wake_fd = -1;
    h2o_linklist_init_anchor (&self->clients);
    h2o_linklist_init_anchor (&self->forwards);
    self->listen_fd = s_listener_fd (inherited_fd, "[proxyd] listen", self->config->proxyd.listen, index == 0, error,
                                     error_size);
    if (self->listen_fd < 0)
        return -1;
    if (ocf_config_fabric (self->config)
    &&  (self->fabric_fd = s_listener_fd (inherited_fabric_fd, "[proxyd] fabric_listen", self->config->proxyd.fabric_listen,
                                          index == 0, error, error_size)) < 0)
        return -1;
    self->evloop = h2o_evloop_create ();
    h2o_context_init (&self->context, self->evloop, self->globalconf);
    self->accept.ctx = &self->context;
    self->accept.hosts = self->globalconf->hosts;
    self->listener = h2o_evloop_socket_create (self->evloop, self->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    self->listener->data = self;
    ocf_tls_t *tls = ocf_proxyd_tls (server);
    self->tls_client = ocf_tls_client_context (tls, s_is_member, self);
    if (self->fabric_fd >= 0) {
        self->tls_server = ocf_tls_server_context (tls, s_is_member, self);
        self->fabric_hosts[0] = self->globalconf->hosts[0];
        self->fabric_accept = (h2o_accept_ctx_t) { .ctx = &self->context, .hosts = self->fabric_hosts };
        self->fabric_listener = h2o_evloop_socket_create (self->evloop, self->fabric_fd, H2O_SOCKET_FLAG_DONT_READ);
        self->fabric_listener->data = self;
    }
    if (!self->tls_client || (self->fabric_fd >= 0 && !self->tls_server)) {
        snprintf (error, error_size, "cannot create the TLS contexts of the fabric");
        return -1;
    }
    self->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->wake = h2o_evloop_socket_create (self->evloop, self->wake_fd, H2O_SOCKET_FLAG_DONT_READ);
    self->wake->data = self;
    h2o_socket_read_start (self->wake, s_on_wake);
    self->view = ocf_view_new ();
    char endpoint[300];
    self->tabled = ocf_zclient_new (self->evloop, ocf_daemon_endpoint (self->config, "tabled.api", endpoint, sizeof endpoint),
                                    TABLED_TIMEOUT_MS);
    ocf_pools_config_t pools = {
        .connect_ms = (uint64_t) self->config->proxyd.connect_timeout_ms,
        .first_byte_ms = (uint64_t) self->config->proxyd.first_byte_timeout_ms,
        .io_ms = (uint64_t) self->config->proxyd.io_timeout_ms,
        .keepalive_ms = (uint64_t) self->config->proxyd.keepalive_timeout_ms,
        .tls_keepalive_ms = (uint64_t) self->config->proxyd.fabric_keepalive_timeout_ms,
        .max_idle = 1024
    };
    self->pools = ocf_pools_new (&self->context, &pools, ocf_metrics_pools (self->metrics), self->tls_client);
    uint64_t seed = 0;
    if (getrandom (&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t) time (NULL) ^ ((uint64_t) index << 32);
    ocf_chooser_init (&self->chooser, (ocf_policy_t) ocf_policy_parse (self->config->proxyd.policy), seed);
    self->chooser.balance = self->config->proxyd.prefix_balance;
    self->chooser.near_ms = (double) self->config->proxyd.near_rtt_ms;
    return 0;
}

void
ocf_loop_run (ocf_loop_t *self)
{
    char endpoint[300];
    self->viewsync = ocf_viewsync_new (self->evloop, self->tabled, ocf_daemon_endpoint (self->config, "tabled.events", endpoint,
                               sizeof endpoint), self->view, s_on_settled, self);
    if (self->index == 0)
        ocf_viewsync_record (self->viewsync, ocf_proxyd_eventlog (self->server));
    while (!self->done)
        if (h2o_evloop_run (self->evloop, INT32_MAX) != 0 && errno != EINTR) {
            ocf_log_error ("loop %d: event loop failed: %s", self->index, strerror (errno));
            break;
        }
    s_close_clients (self);
}

ocf_zclient_t *
ocf_loop_scrape (ocf_loop_t *self, ocf_scrape_target_t target)
{
    static const char *names[OCF_SCRAPE_COUNT] = { "tabled.api", "gossipd.api", "workerd.api" };
    if (!self->scrape[target]) {
        char endpoint[300];
        self->scrape[target] = ocf_zclient_new (self->evloop, ocf_daemon_endpoint (self->config, names[target], endpoint,
                                                sizeof endpoint), SCRAPE_TIMEOUT_MS);
    }
    return self->scrape[target];
}

void
ocf_loop_fini (ocf_loop_t *self)
{
    if (!self->evloop) {
        if (self->listen_fd >= 0)
            close (self->listen_fd);
        if (self->fabric_fd >= 0)
            close (self->fabric_fd);
        return;
    }
    ocf_viewsync_destroy (&self->viewsync);
    for (int i = 0; i < OCF_SCRAPE_COUNT; i++)
        ocf_zclient_destroy (&self->scrape[i]);
    ocf_zclient_destroy (&self->tabled);
    ocf_pools_destroy (&self->pools);
    ocf_view_destroy (&self->view);
    if (h2o_timeout_is_linked (&self->drain_check))
        h2o_timeout_unlink (&self->drain_check);
    if (self->listener)
        h2o_socket_close (self->listener);
    if (self->fabric_listener)
        h2o_socket_close (self->fabric_listener);
    //  Connections still open hold their own references to these.
    SSL_CTX_free (self->tls_server);
    SSL_CTX_free (self->tls_client);
    h2o_socket_close (self->wake);
    if (!h2o_linklist_is_empty (&self->clients)) {
        //  A client h2o could not close in time: its context cannot be disposed under it.
        ocf_log_warning ("loop %d: clients still connected at exit", self->index);
        return;
    }
    h2o_context_dispose (&self->context);
#if H2O_VERSION_MAJOR == 2 && H2O_VERSION_MINOR < 3
    free (self->context.queue);              //  h2o before 2.3 forgets to (fixed upstream in 6b0a76e)
#endif
    h2o_evloop_run (self->evloop, 0);          //  let closed sockets be freed
    h2o_evloop_destroy (self->evloop);
    self->evloop = NULL;
}

/*  ocf_upstream: upstream connections and pools.  */
#include "ocf_upstream.h"
#include "ocf_alloc.h"
#include "ocf_tls.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 100
#define MAX_HEAD_BYTES (64 * 1024)
#define STAT(pools, field, n) __atomic_add_fetch (&(pools)->stats->field, (n), __ATOMIC_RELAXED)

typedef enum { STATE_CONNECTING, STATE_HEAD, STATE_BODY, STATE_IDLE } conn_state_t;
typedef enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_UNTIL_CLOSE } body_mode_t;

struct _ocf_pools_t {
    h2o_context_t *context;
    h2o_loop_t *loop;
    ocf_pools_config_t config;
    zhashx_t *pools;             //  "host:port" -> ocf_pool_t
    h2o_timeout_t connect_timeout;
    h2o_timeout_t first_byte_timeout;
    h2o_timeout_t io_timeout;
    h2o_timeout_t keepalive_timeout;
    h2o_timeout_t tls_keepalive_timeout;
    ocf_pools_stats_t *stats;    //  shared by every loop: updated atomically
    SSL_CTX *tls;
};

struct _ocf_pool_t {
    ocf_pools_t *pools;
    char *host;
    int port;
    h2o_iovec_t authority;
    char *tls_name;              //  NULL: plain HTTP
    bool numeric;                //  host is an address: no resolution needed
    struct sockaddr_storage address;
    socklen_t address_len;
    h2o_linklist_t idle;         //  most recently used first
    size_t idle_count;
};

struct _ocf_upconn_t {
    ocf_pool_t *pool;
    h2o_socket_t *sock;
    h2o_hostinfo_getaddr_req_t *resolving;
    conn_state_t state;
    h2o_linklist_t idle_link;
    h2o_timeout_entry_t timer;
    const ocf_upstream_cb_t *cb;
    void *arg;
    h2o_iovec_t *bufs;
    size_t buf_count;
    bool head_request;
    bool reused;                 //  sent on a kept-alive connection
    bool got_bytes;              //  any response byte arrived
    bool keepalive;
    bool paused;
    bool writing;                //  the request is still being written
    bool in_callback;
    bool closed;                 //  closed from inside a callback: freed when it returns
    body_mode_t body_mode;
    uint64_t body_left;          //  BODY_LENGTH
    struct phr_chunked_decoder decoder;
};

static void s_on_read (h2o_socket_t *sock, const char *error);
static void s_on_body_timeout (h2o_timeout_entry_t *entry);

//  --------------------------------------------------------------------------
//  Connection lifetime

static void
s_timer_stop (ocf_upconn_t *conn)
{
    if (h2o_timeout_is_linked (&conn->timer))
        h2o_timeout_unlink (&conn->timer);
}

static void
s_timer_start (ocf_upconn_t *conn, h2o_timeout_t *timeout, h2o_timeout_cb cb)
{
    s_timer_stop (conn);
    conn->timer.cb = cb;
    h2o_timeout_link (conn->pool->pools->loop, timeout, &conn->timer);
}

static void
s_conn_free (ocf_upconn_t *conn)
{
    ocf_pools_t *pools = conn->pool->pools;
    s_timer_stop (conn);
    if (h2o_linklist_is_linked (&conn->idle_link)) {
        h2o_linklist_unlink (&conn->idle_link);
        conn->pool->idle_count--;
        STAT (pools, idle, -1);
    }
    else
        STAT (pools, active, -1);
    if (conn->resolving)
        h2o_hostinfo_getaddr_cancel (conn->resolving);
    if (conn->sock)
        h2o_socket_close (conn->sock);
    free (conn);
}

//  Ends the exchange with an error reported to the owner, then frees the connection.
static void
s_fail (ocf_upconn_t *conn, ocf_up_error_t error, const char *text)
{
    const ocf_upstream_cb_t *cb = conn->cb;
    void *arg = conn->arg;
    conn->cb = NULL;
    s_conn_free (conn);
    if (cb)
        cb->on_error (arg, error, text);
}

static void
s_on_keepalive_timeout (h2o_timeout_entry_t *entry)
{
    s_conn_free (H2O_STRUCT_FROM_MEMBER (ocf_upconn_t, timer, entry));
}

//  The response ended: back to the pool when the connection may carry another request.
static void
s_recycle (ocf_upconn_t *conn)
{
    ocf_pool_t *pool = conn->pool;
    ocf_pools_t *pools = pool->pools;
    conn->cb = NULL;
    conn->arg = NULL;
    //  A connection still writing its request (the upstream answered early) cannot be reused.
    if (!conn->keepalive || conn->paused || conn->writing || pools->config.max_idle == 0) {
        s_conn_free (conn);
        return;
    }
    h2o_buffer_consume (&conn->sock->input, conn->sock->input->size);
    conn->state = STATE_IDLE;
    s_timer_start (conn, pool->tls_name ? &pools->tls_keepalive_timeout : &pools->keepalive_timeout, s_on_keepalive_timeout);
    STAT (pools, active, -1);
    STAT (pools, idle, 1);
    h2o_linklist_insert (pool->idle.next, &conn->idle_link);
    if (++pool->idle_count > pools->config.max_idle)
        s_conn_free (H2O_STRUCT_FROM_MEMBER (ocf_upconn_t, idle_link, pool->idle.prev));
}

void
ocf_upconn_close (ocf_upconn_t *conn)
{
    if (!conn)
        return;
    conn->cb = NULL;
    if (conn->in_callback)
        conn->closed = true;
    else
        s_conn_free (conn);
}

void
ocf_upconn_pause (ocf_upconn_t *conn, bool paused)
{
    if (!conn || conn->paused == paused || conn->state != STATE_BODY)
        return;
    conn->paused = paused;
    //  Paused, the body deadline keeps running: a client that stops reading altogether has the
    //  stream cut after io_timeout, rather than holding it open forever.
    s_timer_start (conn, &conn->pool->pools->io_timeout, s_on_body_timeout);
    if (paused)
        h2o_socket_read_stop (conn->sock);
    else
        h2o_socket_read_start (conn->sock, s_on_read);
}

h2o_buffer_t **
ocf_upconn_buffer (ocf_upconn_t *conn)
{
    return &conn->sock->input;
}

//  --------------------------------------------------------------------------
//  Response

static void
s_on_body_timeout (h2o_timeout_entry_t *entry)
{
    ocf_upconn_t *conn = H2O_STRUCT_FROM_MEMBER (ocf_upconn_t, timer, entry);
    s_fail (conn, OCF_UP_BODY_FAILED, conn->paused ? "the client stopped reading the body" : "upstream went silent inside the body");
}

static void
s_on_head_timeout (h2o_timeout_entry_t *entry)
{
    s_fail (H2O_STRUCT_FROM_MEMBER (ocf_upconn_t, timer, entry), OCF_UP_TIMEOUT, "no response from upstream in time");
}

//  Hands the waiting body bytes over; returns false when the connection is gone.
static bool
s_deliver (ocf_upconn_t *conn, bool eos)
{
    if (!conn->cb)
        return false;
    conn->in_callback = true;
    conn->cb->on_body (conn->arg, &conn->sock->input, eos);
    conn->in_callback = false;
    if (conn->closed) {
        s_conn_free (conn);
        return false;
    }
    if (eos)
        s_recycle (conn);
    return !eos;
}

//  new_bytes have just been appended to the input; earlier bytes are decoded body.
static void
s_body (ocf_upconn_t *conn, size_t new_bytes)
{
    h2o_buffer_t *input = conn->sock->input;
    bool eos = false;
    switch (conn->body_mode) {
        case BODY_NONE:
            if (input->size) {
                h2o_buffer_consume (&conn->sock->input, input->size);    //  a body where none belongs
                input = conn->sock->input;
                conn->keepalive = false;
            }
            eos = true;
            break;
        case BODY_LENGTH:
            if (new_bytes >= conn->body_left) {
                if (new_bytes > conn->body_left) {
                    input->size -= new_bytes - conn->body_left;   //  bytes after the body: not ours
                    conn->keepalive = false;
                }
                conn->body_left = 0;
                eos = true;
            }
            else
                conn->body_left -= new_bytes;
            break;
        case BODY_CHUNKED: {
            if (new_bytes == 0)
                break;
            size_t decoded = new_bytes;
            ssize_t left = phr_decode_chunked (&conn->decoder, input->bytes + input->size - new_bytes, &decoded);
            input->size = input->size - new_bytes + decoded;
            if (left == -1) {
                s_fail (conn, OCF_UP_BODY_FAILED, "malformed chunked encoding from upstream");
                return;
            }
            if (left >= 0) {
                eos = true;
                if (left > 0)
                    conn->keepalive = false;
            }
            break;
        }
        case BODY_UNTIL_CLOSE:
            break;
    }
    if ((input->size > 0 || eos) && !s_deliver (conn, eos))
        return;
    if (!eos && !conn->paused)
        s_timer_start (conn, &conn->pool->pools->io_timeout, s_on_body_timeout);
}

static bool
s_token_is (const struct phr_header *header, const char *name)
{
    size_t len = strlen (name);
    return header->name && header->name_len == len && strncasecmp (header->name, name, len) == 0;
}

static bool
s_value_has (const struct phr_header *header, const char *token)
{
    size_t len = strlen (token);
    for (size_t i = 0; i + len <= header->value_len; i++)
        if (strncasecmp (header->value + i, token, len) == 0)
            return true;
    return false;
}

static void
s_head (ocf_upconn_t *conn)
{
    h2o_buffer_t *input = conn->sock->input;
    while (true) {
        int minor, status;
        const char *reason;
        size_t reason_len, count = MAX_HEADERS;
        struct phr_header headers[MAX_HEADERS];
        int head_len = phr_parse_response (input->bytes, input->size, &minor, &status, &reason, &reason_len, headers, &count, 0);
        if (head_len == -2) {
            if (input->size > MAX_HEAD_BYTES)
                s_fail (conn, OCF_UP_FAILED, "response head from upstream is too large");
            return;
        }
        if (head_len == -1) {
            s_fail (conn, OCF_UP_FAILED, "malformed response from upstream");
            return;
        }
        if (status >= 100 && status < 200 && status != 101) {
            h2o_buffer_consume (&conn->sock->input, (size_t) head_len);   //  interim response: skip
            input = conn->sock->input;
            continue;
        }
        if (status == 101 || status < 100) {
            s_fail (conn, OCF_UP_FAILED, "unexpected protocol switch from upstream");
            return;
        }
        conn->keepalive = minor >= 1;
        conn->body_mode = BODY_UNTIL_CLOSE;
        int64_t content_length = -1;
        for (size_t i = 0; i < count; i++) {
            if (s_token_is (&headers[i], "connection"))
                conn->keepalive = s_value_has (&headers[i], "keep-alive") || (minor >= 1 && !s_value_has (&headers[i], "close"));
            else
            if (s_token_is (&headers[i], "transfer-encoding")) {
                if (!s_value_has (&headers[i], "chunked")) {
                    s_fail (conn, OCF_UP_FAILED, "unsupported transfer-encoding from upstream");
                    return;
                }
                conn->body_mode = BODY_CHUNKED;
            }
            else
            if (s_token_is (&headers[i], "content-length") && conn->body_mode != BODY_CHUNKED) {
                size_t length = h2o_strtosize (headers[i].value, headers[i].value_len);
                if (length == SIZE_MAX) {
                    s_fail (conn, OCF_UP_FAILED, "invalid content-length from upstream");
                    return;
                }
                conn->body_mode = BODY_LENGTH;
                conn->body_left = length;
                content_length = (int64_t) length;
            }
        }
        if (conn->head_request || status == 204 || status == 304)
            conn->body_mode = BODY_NONE;
        if (conn->body_mode == BODY_UNTIL_CLOSE)
            conn->keepalive = false;
        if (conn->body_mode == BODY_CHUNKED)
            content_length = -1;
        conn->state = STATE_BODY;
        s_timer_stop (conn);
        conn->in_callback = true;
        int accepted = conn->cb->on_head (conn->arg, status, h2o_iovec_init (reason, reason_len), headers, count, content_length);
        conn->in_callback = false;
        if (conn->closed || accepted != 0) {
            conn->cb = NULL;
            s_conn_free (conn);
            return;
        }
        h2o_buffer_consume (&conn->sock->input, (size_t) head_len);
        s_body (conn, conn->sock->input->size);
        return;
    }
}

static void
s_on_read (h2o_socket_t *sock, const char *error)
{
    ocf_upconn_t *conn = sock->data;
    if (conn->state == STATE_IDLE) {
        //  An idle connection has nothing to say: data or a close means it is unusable.
        s_conn_free (conn);
        return;
    }
    if (error) {
        if (conn->state == STATE_BODY && conn->body_mode == BODY_UNTIL_CLOSE && error == h2o_socket_error_closed) {
            conn->keepalive = false;
            s_deliver (conn, true);
        }
        else
        if (conn->state == STATE_BODY)
            s_fail (conn, OCF_UP_BODY_FAILED, "upstream closed the connection inside the body");
        else
        if (conn->reused && !conn->got_bytes) {
            STAT (conn->pool->pools, stale, 1);
            s_fail (conn, OCF_UP_STALE, "kept-alive connection closed by upstream");
        }
        else
            s_fail (conn, OCF_UP_FAILED, "upstream closed the connection without responding");
        return;
    }
    if (sock->bytes_read)
        conn->got_bytes = true;
    if (conn->state == STATE_HEAD)
        s_head (conn);
    else
    if (conn->state == STATE_BODY)
        s_body (conn, sock->bytes_read);
}

//  --------------------------------------------------------------------------
//  Request

static void
s_on_written (h2o_socket_t *sock, const char *error)
{
    ocf_upconn_t *conn = sock->data;
    conn->writing = false;
    if (error && conn->state == STATE_HEAD) {
        if (conn->reused && !conn->got_bytes) {
            STAT (conn->pool->pools, stale, 1);
            s_fail (conn, OCF_UP_STALE, "kept-alive connection closed by upstream");
        }
        else
            s_fail (conn, OCF_UP_FAILED, "cannot send the request to upstream");
    }
}

static void
s_send (ocf_upconn_t *conn)
{
    conn->state = STATE_HEAD;
    conn->sock->data = conn;
    s_timer_start (conn, &conn->pool->pools->first_byte_timeout, s_on_head_timeout);
    h2o_socket_read_start (conn->sock, s_on_read);
    conn->writing = true;
    h2o_socket_write (conn->sock, conn->bufs, conn->buf_count, s_on_written);
}

//  The connect deadline covers the TLS handshake too; a failed one is a failed connect (tried
//  on another provider).
static void
s_on_connected (h2o_socket_t *sock, const char *error)
{
    ocf_upconn_t *conn = sock->data;
    if (error) {
        STAT (conn->pool->pools, connect_failures, 1);
        s_fail (conn, OCF_UP_CONNECT_FAILED, error);
        return;
    }
    if (conn->pool->tls_name) {
        if (h2o_socket_get_ssl_session_reused (sock) == 1)
            STAT (conn->pool->pools, tls_resumed, 1);
        else
            STAT (conn->pool->pools, tls_full, 1);
    }
    s_send (conn);
}

static void
s_on_connect (h2o_socket_t *sock, const char *error)
{
    ocf_upconn_t *conn = sock->data;
    if (!error && conn->pool->tls_name) {
        ocf_tls_client_prepare (conn->pool->pools->tls, sock, conn->pool->tls_name);
        h2o_socket_ssl_handshake (sock, conn->pool->pools->tls, conn->pool->tls_name, s_on_connected);
    }
    else
        s_on_connected (sock, error);
}

static void
s_on_connect_timeout (h2o_timeout_entry_t *entry)
{
    ocf_upconn_t *conn = H2O_STRUCT_FROM_MEMBER (ocf_upconn_t, timer, entry);
    STAT (conn->pool->pools, connect_failures, 1);
    s_fail (conn, OCF_UP_CONNECT_FAILED, "connect timeout");
}

static bool
s_connect (ocf_upconn_t *conn, struct sockaddr *address, socklen_t len)
{
    conn->sock = h2o_socket_connect (conn->pool->pools->loop, address, len, s_on_connect);
    if (!conn->sock)
        return false;
    conn->sock->data = conn;
    STAT (conn->pool->pools, connects, 1);
    return true;
}

static void
s_on_resolved (h2o_hostinfo_getaddr_req_t *request, const char *error, struct addrinfo *result, void *arg)
{
    ocf_upconn_t *conn = arg;
    conn->resolving = NULL;
    if (error) {
        STAT (conn->pool->pools, connect_failures, 1);
        s_fail (conn, OCF_UP_CONNECT_FAILED, error);
        return;
    }
    struct addrinfo *chosen = h2o_hostinfo_select_one (result);
    if (!s_connect (conn, chosen->ai_addr, chosen->ai_addrlen)) {
        STAT (conn->pool->pools, connect_failures, 1);
        s_fail (conn, OCF_UP_CONNECT_FAILED, "cannot create a socket");
    }
}

ocf_upconn_t *
ocf_upstream_send (ocf_pool_t *pool, h2o_iovec_t *bufs, size_t count, bool head_request, const ocf_upstream_cb_t *cb,
                   void *arg)
{
    ocf_pools_t *pools = pool->pools;
    ocf_upconn_t *conn;
    if (pool->idle_count) {
        conn = H2O_STRUCT_FROM_MEMBER (ocf_upconn_t, idle_link, pool->idle.next);
        h2o_linklist_unlink (&conn->idle_link);
        pool->idle_count--;
        STAT (pools, idle, -1);
        STAT (pools, reuses, 1);
        conn->reused = true;
    }
    else {
        conn = ocf_calloc (1, sizeof *conn);
        conn->pool = pool;
    }
    STAT (pools, active, 1);
    conn->cb = cb;
    conn->arg = arg;
    conn->bufs = bufs;
    conn->buf_count = count;
    conn->head_request = head_request;
    conn->got_bytes = false;
    conn->paused = false;
    conn->closed = false;
    conn->body_left = 0;
    memset (&conn->decoder, 0, sizeof conn->decoder);
    conn->decoder.consume_trailer = 1;
    if (conn->sock) {
        s_send (conn);
        return conn;
    }
    conn->state = STATE_CONNECTING;
    s_timer_start (conn, &pools->connect_timeout, s_on_connect_timeout);
    if (pool->numeric) {
        if (!s_connect (conn, (struct sockaddr *) &pool->address, pool->address_len)) {
            STAT (pools, connect_failures, 1);
            conn->cb = NULL;
            s_conn_free (conn);
            return NULL;
        }
        return conn;
    }
    char service[8];
    snprintf (service, sizeof service, "%d", pool->port);
    conn->resolving = h2o_hostinfo_getaddr (&pools->context->receivers.hostinfo_getaddr,
                                            h2o_iovec_init (pool->host, strlen (pool->host)),
                                            h2o_iovec_init (service, strlen (service)), AF_UNSPEC, SOCK_STREAM,
                                            IPPROTO_TCP, AI_ADDRCONFIG | AI_NUMERICSERV, s_on_resolved, conn);
    return conn;
}

//  --------------------------------------------------------------------------
//  Pools

static void
s_pool_destroy (void **item)
{
    ocf_pool_t *pool = *item;
    if (!pool)
        return;
    while (pool->idle_count)
        s_conn_free (H2O_STRUCT_FROM_MEMBER (ocf_upconn_t, idle_link, pool->idle.next));
    free (pool->host);
    free (pool->tls_name);
    free (pool->authority.base);
    free (pool);
    *item = NULL;
}

ocf_pools_t *
ocf_pools_new (h2o_context_t *context, const ocf_pools_config_t *config, ocf_pools_stats_t *stats, SSL_CTX *tls)
{
    ocf_pools_t *self = ocf_calloc (1, sizeof *self);
    self->stats = stats;
    self->tls = tls;
    self->context = context;
    self->loop = context->loop;
    self->config = *config;
    self->pools = zhashx_new ();
    zhashx_set_destructor (self->pools, s_pool_destroy);
    h2o_timeout_init (self->loop, &self->connect_timeout, config->connect_ms);
    h2o_timeout_init (self->loop, &self->first_byte_timeout, config->first_byte_ms);
    h2o_timeout_init (self->loop, &self->io_timeout, config->io_ms);
    h2o_timeout_init (self->loop, &self->keepalive_timeout, config->keepalive_ms);
    h2o_timeout_init (self->loop, &self->tls_keepalive_timeout, config->tls_keepalive_ms);
    return self;
}

void
ocf_pools_destroy (ocf_pools_t **self_p)
{
    ocf_pools_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->pools);
    h2o_timeout_dispose (self->loop, &self->connect_timeout);
    h2o_timeout_dispose (self->loop, &self->first_byte_timeout);
    h2o_timeout_dispose (self->loop, &self->io_timeout);
    h2o_timeout_dispose (self->loop, &self->keepalive_timeout);
    h2o_timeout_dispose (self->loop, &self->tls_keepalive_timeout);
    free (self);
    *self_p = NULL;
}

ocf_pool_t *
ocf_pools_get (ocf_pools_t *self, const char *host, size_t host_len, int port, const char *tls_name)
{
    char key[400];
    if (host_len > 255 || (tls_name && (!self->tls || strlen (tls_name) > 64)))
        return NULL;
    bool v6 = memchr (host, ':', host_len) != NULL;
    //  The authority first; a TLS pool's key adds the name, since the connection is the node's.
    int authority_len = snprintf (key, sizeof key, "%s%.*s%s:%d", v6 ? "[" : "", (int) host_len, host, v6 ? "]" : "", port);
    if (tls_name)
        snprintf (key + authority_len, sizeof key - (size_t) authority_len, " %s", tls_name);
    ocf_pool_t *pool = zhashx_lookup (self->pools, key);
    if (pool)
        return pool;
    pool = ocf_calloc (1, sizeof *pool);
    pool->pools = self;
    pool->host = ocf_strndup (host, host_len);
    pool->port = port;
    pool->tls_name = tls_name ? ocf_strdup (tls_name) : NULL;
    pool->authority = h2o_iovec_init (ocf_strndup (key, (size_t) authority_len), (size_t) authority_len);
    h2o_linklist_init_anchor (&pool->idle);
    struct sockaddr_in *in4 = (struct sockaddr_in *) &pool->address;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &pool->address;
    if (inet_pton (AF_INET, pool->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons ((uint16_t) port);
        pool->address_len = sizeof *in4;
        pool->numeric = true;
    }
    else
    if (inet_pton (AF_INET6, pool->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons ((uint16_t) port);
        pool->address_len = sizeof *in6;
        pool->numeric = true;
    }
    zhashx_insert (self->pools, key, pool);
    return pool;
}

h2o_iovec_t
ocf_pool_authority (ocf_pool_t *pool)
{
    return pool->authority;
}

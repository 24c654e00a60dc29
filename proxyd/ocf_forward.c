/*  ocf_forward: one relayed request.  */
#include "ocf_forward.h"
#include "ocf_respond.h"
#include "ocf_log.h"
#include "ocf_request.h"
#include "ocf_time.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#define HIGH_WATER (1024 * 1024)     //  body bytes waiting for a slow client before reading pauses
#define MAX_STALE_RETRIES 8          //  kept-alive connections found closed, in a row

typedef struct {
    h2o_generator_t super;
    h2o_linklist_t link;             //  in the loop's forwards
    h2o_req_t *req;
    ocf_loop_t *loop;
    const ocf_router_t *router;
    void *router_arg;
    ocf_target_t target;
    bool has_target;
    unsigned attempts;
    unsigned max_attempts;
    unsigned stale_retries;
    ocf_upconn_t *conn;
    h2o_iovec_t bufs[3];             //  request line and host, the other headers, the body
    size_t buf_count;
    h2o_iovec_t headers;
    h2o_iovec_t request_id;
    bool head_request;
    bool started;                    //  the response head went to the client
    bool sent;                       //  h2o_send was called: the head is written or on its way
    bool in_flight;                  //  h2o is writing `sending`; wait for proceed
    bool eos;                        //  the upstream response is complete
    bool broken;                     //  the upstream failed inside the body
    bool event_stream;
    char last_byte;                  //  of the previous piece, to count events across pieces
    h2o_buffer_t *sending;
    h2o_buffer_t *waiting;           //  taken from the upstream at its end while sending
    int64_t started_us;
    int64_t first_byte_us;           //  -1 until a body byte came
    h2o_timeout_entry_t liveness;
} forward_t;

static const ocf_upstream_cb_t s_callbacks;
static void s_attempt (forward_t *self);
static void s_send (forward_t *self);

//  --------------------------------------------------------------------------
//  Request (built with copies rather than printf: this runs for every request)

static char *
s_put (char *cursor, const char *text, size_t len)
{
    memcpy (cursor, text, len);
    return cursor + len;
}

#define s_put_literal(cursor, text) s_put ((cursor), (text), sizeof (text) - 1)

static char *
s_put_header (char *cursor, const char *name, size_t name_len, const char *value, size_t value_len)
{
    cursor = s_put (cursor, name, name_len);
    cursor = s_put_literal (cursor, ": ");
    cursor = s_put (cursor, value, value_len);
    return s_put_literal (cursor, "\r\n");
}

static bool
s_dropped_request_header (const h2o_header_t *header)
{
    if (h2o_iovec_is_token (header->name)) {
        const h2o_token_t *token = H2O_STRUCT_FROM_MEMBER (h2o_token_t, buf, header->name);
        return token == H2O_TOKEN_CONNECTION || token == H2O_TOKEN_KEEP_ALIVE || token == H2O_TOKEN_TE
            || token == H2O_TOKEN_UPGRADE || token == H2O_TOKEN_TRANSFER_ENCODING || token == H2O_TOKEN_HTTP2_SETTINGS
            || token == H2O_TOKEN_X_FORWARDED_FOR || token == H2O_TOKEN_CONTENT_LENGTH || token == H2O_TOKEN_HOST
            || token == H2O_TOKEN_EXPECT;
    }
    return h2o_memis (header->name->base, header->name->len, H2O_STRLIT ("proxy-connection"))
        || h2o_memis (header->name->base, header->name->len, H2O_STRLIT ("trailer"))
        || h2o_memis (header->name->base, header->name->len, H2O_STRLIT ("x-request-id"));
}

//  Whether a Connection header, the first at index first (-1: none) or a later one, names
//  name: hop-by-hop, not forwarded.
static bool
s_named_by_connection (const h2o_headers_t *headers, ssize_t first, const h2o_iovec_t *name)
{
    for (ssize_t at = first; at != -1; at = h2o_find_header (headers, H2O_TOKEN_CONNECTION, at))
        if (ocf_connection_names (headers->entries[at].value.base, headers->entries[at].value.len, name->base, name->len))
            return true;
    return false;
}

//  The headers every attempt sends: the client's end-to-end headers, then ours.
static void
s_build_headers (forward_t *self)
{
    h2o_req_t *req = self->req;
    h2o_iovec_t forwarded = ocf_respond_req_header (req, "x-forwarded-for");
    self->request_id = ocf_respond_request_id (req);
    char peer[NI_MAXHOST] = "";
    struct sockaddr_storage address;
    socklen_t address_len = req->conn->callbacks->get_peername (req->conn, (struct sockaddr *) &address);
    if (address_len == 0 || h2o_socket_getnumerichost ((struct sockaddr *) &address, address_len, peer) == SIZE_MAX)
        snprintf (peer, sizeof peer, "unknown");
    size_t size = 160 + forwarded.len + strlen (peer) + self->request_id.len;
    for (size_t i = 0; i < req->headers.size; i++)
        size += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    char *buffer = h2o_mem_alloc_pool (&req->pool, size), *cursor = buffer;
    ssize_t connection = h2o_find_header (&req->headers, H2O_TOKEN_CONNECTION, -1);
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *header = &req->headers.entries[i];
        if (!s_dropped_request_header (header) && !s_named_by_connection (&req->headers, connection, header->name))
            cursor = s_put_header (cursor, header->orig_name ? header->orig_name : header->name->base, header->name->len,
                                   header->value.base, header->value.len);
    }
    cursor = s_put_literal (cursor, "x-forwarded-for: ");
    if (forwarded.len) {
        cursor = s_put (cursor, forwarded.base, forwarded.len);
        cursor = s_put_literal (cursor, ", ");
    }
    cursor = s_put (cursor, peer, strlen (peer));
    cursor = s_put_literal (cursor, "\r\n");
    cursor = s_put_header (cursor, H2O_STRLIT ("x-request-id"), self->request_id.base, self->request_id.len);
    //  Methods that carry a body always say how long it is, even when it is empty.
    bool with_body = req->entity.base || h2o_memis (req->method.base, req->method.len, H2O_STRLIT ("POST"))
                  || h2o_memis (req->method.base, req->method.len, H2O_STRLIT ("PUT"))
                  || h2o_memis (req->method.base, req->method.len, H2O_STRLIT ("PATCH"));
    if (with_body) {
        char digits[24], *start = digits + sizeof digits;
        size_t length = req->entity.len;
        do
            *--start = (char) ('0' + length % 10);
        while (length /= 10);
        cursor = s_put_header (cursor, H2O_STRLIT ("content-length"), start, (size_t) (digits + sizeof digits - start));
    }
    cursor = s_put_literal (cursor, "\r\n");
    self->headers = h2o_iovec_init (buffer, (size_t) (cursor - buffer));
    self->head_request = h2o_memis (req->method.base, req->method.len, H2O_STRLIT ("HEAD"));
}

//  --------------------------------------------------------------------------
//  Endings

static void
s_release (forward_t *self)
{
    if (self->has_target) {
        self->has_target = false;
        self->router->release (self->router_arg, &self->target);
    }
}

static void
s_cancel_upstream (forward_t *self)
{
    if (h2o_timeout_is_linked (&self->liveness))
        h2o_timeout_unlink (&self->liveness);
    ocf_upconn_close (self->conn);
    self->conn = NULL;
    s_release (self);
}

static void
s_on_dispose (void *data)
{
    forward_t *self = data;
    s_cancel_upstream (self);
    //  The request is being disposed of: its struct, and the status it was answered, are
    //  still there while its pool is cleared.
    if (self->router->ended)
        self->router->ended (self->router_arg, self->req->res.status, self->broken, self->first_byte_us);
    h2o_linklist_unlink (&self->link);
    h2o_buffer_dispose (&self->sending);
    h2o_buffer_dispose (&self->waiting);
}

static void
s_on_stop (h2o_generator_t *generator, h2o_req_t *req)
{
    s_cancel_upstream ((forward_t *) generator);
}

//  No response could be relayed: answer with an error of our own.
static void
s_fail (forward_t *self, ocf_up_error_t error, const char *text)
{
    s_cancel_upstream (self);
    const char *where = self->target.node_id ? self->target.node_id : "";
    switch (error) {
        case OCF_UP_TIMEOUT:
            ocf_respond_error (self->req, 504, "upstream_timeout", NULL,
                               "the provider did not answer within %" PRId64 " ms (request %.*s)",
                               self->loop->config->proxyd.first_byte_timeout_ms, (int) self->request_id.len,
                               self->request_id.base);
            break;
        case OCF_UP_FAILED:
            ocf_respond_error (self->req, 502, "upstream_failed", NULL, "the provider failed: %s (request %.*s)", text,
                               (int) self->request_id.len, self->request_id.base);
            break;
        default:
            ocf_respond_error (self->req, 503, "no_provider_reachable", NULL,
                               "no provider could be reached after %u attempt%s: %s%s%s (request %.*s)", self->attempts,
                               self->attempts == 1 ? "" : "s", text, *where ? " at " : "", where,
                               (int) self->request_id.len, self->request_id.base);
            break;
    }
}

//  --------------------------------------------------------------------------
//  Response body

static void
s_count_events (forward_t *self, const char *data, size_t len)
{
    uint64_t events = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n' && (i ? data[i - 1] : self->last_byte) == '\n')
            events++;
    if (len)
        self->last_byte = data[len - 1];
    if (events)
        ocf_metrics_stream_events (self->loop->metrics, events);
}

static void
s_swap (h2o_buffer_t **a, h2o_buffer_t **b)
{
    h2o_buffer_t *held = *a;
    *a = *b;
    *b = held;
}

//  The client's socket (HTTP/1.1: one request at a time on it), -1 if unknown.
static int
s_client_fd (forward_t *self)
{
    h2o_conn_t *conn = self->req->conn;
    h2o_socket_t *sock = conn->callbacks->get_socket ? conn->callbacks->get_socket (conn) : NULL;
    return sock ? h2o_socket_get_fd (sock) : -1;
}

//  The stream cannot go on: end it now. While h2o still writes to a client that does not read,
//  that write would never finish: shutting the socket down fails it, and h2o closes the
//  connection (the client sees a cut stream, as it must).
static void
s_cut (forward_t *self)
{
    self->broken = true;
    if (!self->in_flight)
        s_send (self);
    else
    if (s_client_fd (self) >= 0)
        shutdown (s_client_fd (self), SHUT_RDWR);
}

//  Ends a cut stream once everything before the cut was written whole. h2o 2.2's chunked
//  encoder answers H2O_SEND_STATE_ERROR by writing a broken chunk, "\r\n1\r\n": after chunks
//  that each ended with their own CRLF, clients read an empty chunk-size line (Node:
//  HPE_INVALID_CHUNK_SIZE; curl: "Illegal or missing hexadecimal sequence") rather than an
//  early end. Shutting the client's socket down for writing first ends the stream right after
//  the last whole chunk, without the final zero chunk (clients report an incomplete response);
//  h2o's write of the broken chunk then fails and it closes the connection. Not on HTTP/2
//  (one socket for every stream; there the error is a RST_STREAM).
static void
s_end_cut (forward_t *self)
{
    if (self->req->version < 0x200 && s_client_fd (self) >= 0)
        shutdown (s_client_fd (self), SHUT_WR);
    h2o_iovec_t none = { NULL, 0 };          //  h2o copies the (empty) array: no NULL for memcpy
    h2o_send (self->req, &none, 0, H2O_SEND_STATE_ERROR);
}

//  Sends what `sending` holds. A final send may end the request at once: nothing may touch
//  self after it. A cut stream first sends what is left as usual, and ends once it is written.
static void
s_send (forward_t *self)
{
    bool last = self->eos && !self->waiting->size && !self->conn;
    h2o_iovec_t piece = h2o_iovec_init (self->sending->bytes, self->sending->size);
    if (self->broken && self->sent && !piece.len) {
        s_end_cut (self);
        return;
    }
    if (self->event_stream)
        s_count_events (self, piece.base, piece.len);
    if (last && !self->broken) {
        h2o_send (self->req, &piece, piece.len ? 1 : 0, H2O_SEND_STATE_FINAL);
        return;
    }
    self->in_flight = true;
    self->sent = true;
    h2o_send (self->req, &piece, piece.len ? 1 : 0, H2O_SEND_STATE_IN_PROGRESS);
}

static void
s_on_proceed (h2o_generator_t *generator, h2o_req_t *req)
{
    forward_t *self = (forward_t *) generator;
    self->in_flight = false;
    h2o_buffer_consume (&self->sending, self->sending->size);
    if (self->waiting->size)
        s_swap (&self->sending, &self->waiting);
    else
    if (self->conn && (*ocf_upconn_buffer (self->conn))->size)
        s_swap (&self->sending, ocf_upconn_buffer (self->conn));
    else
    if (!self->eos && !self->broken) {
        ocf_upconn_pause (self->conn, false);
        return;
    }
    ocf_upconn_pause (self->conn, false);
    s_send (self);
}

static void
s_on_body (void *arg, h2o_buffer_t **buffer, bool eos)
{
    forward_t *self = arg;
    if (self->first_byte_us < 0 && (*buffer)->size)
        self->first_byte_us = ocf_time_mono_us () - self->started_us;
    if (eos) {
        self->eos = true;
        self->conn = NULL;           //  recycled by the pool after this call
        s_release (self);
        ocf_metrics_attempt (self->loop->metrics, OCF_ATTEMPT_OK);
    }
    if (!self->in_flight) {
        s_swap (&self->sending, buffer);
        s_send (self);
        return;
    }
    if (eos) {
        if (!self->waiting->size)
            s_swap (&self->waiting, buffer);
        else {
            h2o_iovec_t room = h2o_buffer_reserve (&self->waiting, (*buffer)->size);
            memcpy (room.base, (*buffer)->bytes, (*buffer)->size);
            self->waiting->size += (*buffer)->size;
            h2o_buffer_consume (buffer, (*buffer)->size);
        }
    }
    else
    if ((*buffer)->size > HIGH_WATER)
        ocf_upconn_pause (self->conn, true);     //  the client is slower than the upstream
}

//  --------------------------------------------------------------------------
//  Response head

static bool
s_named (const struct phr_header *header, const char *name)
{
    return header->name_len == strlen (name) && strncasecmp (header->name, name, header->name_len) == 0;
}

//  Hop-by-hop headers (those of HTTP/1.1 and those the response's Connection headers name, the
//  first of which is headers[connection]; none when connection == count), and the ones h2o
//  writes itself.
static bool
s_dropped_response_header (const struct phr_header *headers, size_t count, size_t connection,
                           const struct phr_header *header)
{
    static const char *names[] = { "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                                   "upgrade", "content-length", "date", "server", NULL };
    for (const char **name = names; *name; name++)
        if (s_named (header, *name))
            return true;
    for (size_t i = connection; i < count; i++)
        if (headers[i].name && s_named (&headers[i], "connection")
        &&  ocf_connection_names (headers[i].value, headers[i].value_len, header->name, header->name_len))
            return true;
    return false;
}

//  Tries another target; false when none is left (or the budget is spent).
static bool
s_retry (forward_t *self, ocf_attempt_t outcome)
{
    ocf_target_t next;
    char why[256];
    if (self->attempts >= self->max_attempts || !self->router->next (self->router_arg, &next, why, sizeof why))
        return false;
    ocf_metrics_attempt (self->loop->metrics, outcome);
    ocf_metrics_retry (self->loop->metrics);
    s_release (self);
    self->target = next;
    self->has_target = true;
    self->attempts++;
    s_attempt (self);
    return true;
}

static int
s_on_head (void *arg, int status, h2o_iovec_t reason, const struct phr_header *headers, size_t count, int64_t content_length)
{
    forward_t *self = arg;
    h2o_req_t *req = self->req;
    if (status == 502 || status == 503) {
        ocf_upconn_t *refused = self->conn;
        self->conn = NULL;
        if (s_retry (self, status == 502 ? OCF_ATTEMPT_STATUS_502 : OCF_ATTEMPT_STATUS_503))
            return -1;               //  that response is dropped, another provider was asked
        self->conn = refused;        //  none left: relay it as it is
    }
    if (h2o_timeout_is_linked (&self->liveness))
        h2o_timeout_unlink (&self->liveness);
    ocf_metrics_first_byte (self->loop->metrics, (uint64_t) (ocf_time_mono_us () - self->started_us));
    req->res.status = status;
    req->res.reason = h2o_strdup (&req->pool, reason.base, reason.len).base;
    req->res.content_length = content_length >= 0 ? (size_t) content_length : SIZE_MAX;
    bool named = false, has_id = false;
    size_t connection = 0;
    while (connection < count && !(headers[connection].name && s_named (&headers[connection], "connection")))
        connection++;
    for (size_t i = 0; i < count; i++) {
        const struct phr_header *header = &headers[i];
        if (!header->name || s_dropped_response_header (headers, count, connection, header))
            continue;
        named |= s_named (header, "x-computing-node");
        has_id |= s_named (header, "x-request-id");
        if (s_named (header, "content-type"))
            self->event_stream = header->value_len >= 17 && strncasecmp (header->value, "text/event-stream", 17) == 0;
        h2o_iovec_t name = h2o_strdup (&req->pool, header->name, header->name_len);
        h2o_iovec_t value = h2o_strdup (&req->pool, header->value, header->value_len);
        char *original = h2o_strdup (&req->pool, header->name, header->name_len).base;
        h2o_strtolower (name.base, name.len);
        h2o_add_header_by_str (&req->pool, &req->res.headers, name.base, name.len, 1, original, value.base, value.len);
    }
    if (!named && self->target.node_id)
        h2o_add_header_by_str (&req->pool, &req->res.headers, H2O_STRLIT ("x-computing-node"), 0, "X-Computing-Node",
                               self->target.node_id, strlen (self->target.node_id));
    if (!has_id)
        h2o_add_header_by_str (&req->pool, &req->res.headers, H2O_STRLIT ("x-request-id"), 0, "X-Request-Id",
                               self->request_id.base, self->request_id.len);
    self->started = true;
    h2o_start_response (req, &self->super);
    return 0;
}

static void
s_on_error (void *arg, ocf_up_error_t error, const char *text)
{
    forward_t *self = arg;
    self->conn = NULL;
    if (self->started) {
        //  Bytes reached the client: the stream can only be cut.
        ocf_metrics_attempt (self->loop->metrics, OCF_ATTEMPT_BODY_FAILED);
        ocf_log_info ("request %.*s: %s after %zu bytes", (int) self->request_id.len, self->request_id.base, text,
                      self->req->bytes_sent);
        s_release (self);
        s_cut (self);
        return;
    }
    if (error == OCF_UP_STALE && self->stale_retries < MAX_STALE_RETRIES) {
        self->stale_retries++;
        ocf_metrics_attempt (self->loop->metrics, OCF_ATTEMPT_STALE);
        s_attempt (self);        //  the same target, on another connection
        return;
    }
    ocf_attempt_t outcome = error == OCF_UP_TIMEOUT ? OCF_ATTEMPT_TIMEOUT
                          : error == OCF_UP_FAILED ? OCF_ATTEMPT_FAILED : OCF_ATTEMPT_CONNECT_FAILED;
    ocf_log_info ("request %.*s: attempt %u at %s failed: %s", (int) self->request_id.len, self->request_id.base,
                  self->attempts, self->target.node_id ? self->target.node_id : "upstream", text);
    //  A request that timed out may still be running upstream: it is not sent twice.
    if (error != OCF_UP_TIMEOUT && s_retry (self, outcome))
        return;
    ocf_metrics_attempt (self->loop->metrics, outcome);
    s_fail (self, error, text);
}

static const ocf_upstream_cb_t s_callbacks = { s_on_head, s_on_body, s_on_error };

//  --------------------------------------------------------------------------
//  Attempts

//  While the response has not started, h2o does not read from the client: look every
//  second whether it hung up, to cancel a request nobody waits for.
static void
s_on_liveness (h2o_timeout_entry_t *entry)
{
    forward_t *self = H2O_STRUCT_FROM_MEMBER (forward_t, liveness, entry);
    int fd = s_client_fd (self);
    char byte;
    ssize_t got = fd >= 0 ? recv (fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) : 1;
    //  A TLS client ends with a close_notify record, which stays unread before the end of the
    //  stream: its hang-up shows as the peer's shutdown instead.
    struct pollfd hangup = { .fd = fd, .events = POLLRDHUP };
    if (got > 0 && ocf_loop_fabric_request (self->req) && poll (&hangup, 1, 0) == 1 && (hangup.revents & POLLRDHUP))
        got = 0;
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        ocf_log_info ("request %.*s: the client went away before the response; cancelled upstream",
                      (int) self->request_id.len, self->request_id.base);
        s_cancel_upstream (self);
        ocf_respond_error (self->req, 499, "client_closed_request", NULL, "the client closed the connection");
        return;
    }
    h2o_timeout_link (self->loop->evloop, &self->loop->context.one_sec_timeout, &self->liveness);
}

static void
s_attempt (forward_t *self)
{
    h2o_req_t *req = self->req;
    h2o_iovec_t authority = ocf_pool_authority (self->target.pool);
    char *line = h2o_mem_alloc_pool (&req->pool, req->method.len + self->target.path.len + authority.len + 32), *cursor;
    cursor = s_put (line, req->method.base, req->method.len);
    cursor = s_put_literal (cursor, " ");
    cursor = s_put (cursor, self->target.path.base, self->target.path.len);
    cursor = s_put_literal (cursor, " HTTP/1.1\r\n");
    cursor = s_put_header (cursor, H2O_STRLIT ("host"), authority.base, authority.len);
    self->bufs[0] = h2o_iovec_init (line, (size_t) (cursor - line));
    self->bufs[1] = self->headers;
    self->bufs[2] = req->entity;
    self->buf_count = req->entity.len ? 3 : 2;
    self->conn = ocf_upstream_send (self->target.pool, self->bufs, self->buf_count, self->head_request, &s_callbacks, self);
    if (!self->conn)
        s_on_error (self, OCF_UP_CONNECT_FAILED, "cannot create a socket");
}

void
ocf_forward (ocf_loop_t *loop, h2o_req_t *req, const ocf_router_t *router, void *arg, unsigned max_attempts)
{
    forward_t *self = h2o_mem_alloc_shared (&req->pool, sizeof *self, s_on_dispose);
    memset (self, 0, sizeof *self);
    self->super.proceed = s_on_proceed;
    self->super.stop = s_on_stop;
    self->req = req;
    self->loop = loop;
    self->router = router;
    self->router_arg = arg;
    self->max_attempts = max_attempts ? max_attempts : 1;
    self->started_us = ocf_time_mono_us ();
    self->first_byte_us = -1;
    self->last_byte = '\n';
    h2o_buffer_init (&self->sending, &h2o_socket_buffer_prototype);
    h2o_buffer_init (&self->waiting, &h2o_socket_buffer_prototype);
    h2o_linklist_insert (&loop->forwards, &self->link);
    self->liveness.cb = s_on_liveness;
    h2o_timeout_link (loop->evloop, &loop->context.one_sec_timeout, &self->liveness);
    s_build_headers (self);
    char why[256];
    if (!router->next (arg, &self->target, why, sizeof why)) {
        s_cancel_upstream (self);
        ocf_respond_error (req, 503, "no_provider", NULL, "%s", why);
        return;
    }
    self->has_target = true;
    self->attempts = 1;
    s_attempt (self);
}

void
ocf_forward_abort_all (ocf_loop_t *loop)
{
    h2o_linklist_t *node = loop->forwards.next;
    while (node != &loop->forwards) {
        forward_t *self = H2O_STRUCT_FROM_MEMBER (forward_t, link, node);
        node = node->next;
        if (self->started) {
            s_cancel_upstream (self);
            s_cut (self);
        }
        else
        if (self->has_target || self->conn) {
            s_cancel_upstream (self);
            ocf_respond_error (self->req, 503, "shutting_down", NULL, "proxyd is stopping; retry on another host");
        }
    }
}

/*  ocf_respond: dispatch and response helpers.  */
#include "ocf_respond.h"
#include "ocf_access.h"
#include "ocf_proxyd.h"
#include "ocf_request.h"
#include "ocf_time.h"
#include "ocf_loop.h"
#include "ocf_phr.h"

#include <stdarg.h>

//  --------------------------------------------------------------------------
//  Responses

//  Every answer of proxyd's own names the node that gave it (this one) and the request (the
//  SDKs report it as request_id, errors included).
static void
s_name_answer (h2o_req_t *req)
{
    const char *self_id = ocf_view_self_id (ocf_loop_of (req)->view);
    if (*self_id)
        h2o_add_header_by_str (&req->pool, &req->res.headers, H2O_STRLIT ("x-computing-node"), 0, "X-Computing-Node",
                               self_id, strlen (self_id));
    h2o_iovec_t request_id = ocf_respond_request_id (req);
    h2o_add_header_by_str (&req->pool, &req->res.headers, H2O_STRLIT ("x-request-id"), 0, "X-Request-Id",
                           request_id.base, request_id.len);
}

void
ocf_respond_send (h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    static const struct { int status; const char *reason; } reasons[] = {
        { 200, "OK" }, { 204, "No Content" }, { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
        { 404, "Not Found" }, { 405, "Method Not Allowed" }, { 413, "Payload Too Large" }, { 429, "Too Many Requests" },
        { 431, "Request Header Fields Too Large" }, { 499, "Client Closed Request" }, { 500, "Internal Server Error" },
        { 502, "Bad Gateway" }, { 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
    };
    req->res.status = status;
    req->res.reason = "Error";
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            req->res.reason = reasons[i].reason;
    req->res.content_length = len;
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen (content_type));
    s_name_answer (req);
    h2o_send_inline (req, body, len);
}

void
ocf_respond_json (h2o_req_t *req, int status, json_t *body)
{
    char *text = json_dumps (body, JSON_COMPACT);
    ocf_respond_send (req, status, "application/json", text, strlen (text));
    free (text);
    json_decref (body);
}

static json_t *
s_error_body (int status, const char *code, json_t *extra, const char *message)
{
    //  As OpenAI's API: every client error is an invalid request (an unknown model too), but a
    //  rate limit's type names what ran out.
    const char *type = status == 429 ? "requests" : status < 500 ? "invalid_request_error" : "server_error";
    //  Messages quote request bytes (a path, a model name) that may not be UTF-8.
    json_t *text = json_string (message);
    if (!text) {
        char clean[1024];
        size_t len = 0;
        for (const char *c = message; *c && len + 1 < sizeof clean; c++)
            clean[len++] = (unsigned char) *c >= 0x20 && (unsigned char) *c < 0x7f ? *c : '?';
        clean[len] = '\0';
        text = json_string (clean);
    }
    json_t *error = json_pack ("{s:o, s:s, s:n, s:s}", "message", text, "type", type, "param", "code", code);
    if (extra)
        json_object_update (error, extra);
    json_decref (extra);
    return json_pack ("{s:o}", "error", error);
}

bool
ocf_respond_parse_body (h2o_req_t *req, json_t **body)
{
    *body = NULL;
    if (!req->entity.len)
        return true;
    json_error_t problem;
    *body = json_loadb (req->entity.base, req->entity.len, 0, &problem);
    if (!*body)
        ocf_respond_error (req, 400, "invalid_json", NULL, "the body is not valid JSON: %s at byte %d", problem.text,
                           problem.position);
    return *body != NULL;
}

void
ocf_respond_error (h2o_req_t *req, int status, const char *code, json_t *extra, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    if (status == 503)
        h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT (OCF_RETRY_AFTER));
    ocf_respond_json (req, status, s_error_body (status, code, extra, message));
}

h2o_iovec_t
ocf_respond_request_id (h2o_req_t *req)
{
    h2o_iovec_t id = ocf_respond_req_header (req, "x-request-id");
    if (id.len && id.len <= 200)
        return id;
    static const char hex[] = "0123456789abcdef";
    char *text = h2o_mem_alloc_pool (&req->pool, 32);
    ocf_loop_t *loop = ocf_loop_of (req);
    for (int half = 0; half < 2; half++) {
        uint64_t bits = ocf_chooser_random (&loop->chooser);
        for (int i = 0; i < 16; i++, bits >>= 4)
            text[half * 16 + i] = hex[bits & 15];
    }
    h2o_add_header_by_str (&req->pool, &req->headers, H2O_STRLIT ("x-request-id"), 0, NULL, text, 32);
    return h2o_iovec_init (text, 32);
}

h2o_iovec_t
ocf_respond_req_header (h2o_req_t *req, const char *name)
{
    ssize_t index = h2o_find_header_by_str (&req->headers, name, strlen (name), -1);
    return index >= 0 ? req->headers.entries[index].value : h2o_iovec_init (NULL, 0);
}

//  --------------------------------------------------------------------------
//  h2o's own refusals (413 for a body over max_body, 400 for broken chunked encoding) come
//  as plain text from the fallback path, which only requests that never reached our handler
//  take: give them the same JSON shape and headers as every other error.

typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
} reshaped_t;

//  Every answer, forwarded or not, names the software that gave it, as OpenFabric's
//  "ocf-version" (one that another host's proxyd already named keeps its value).
static void
s_version (h2o_filter_t *filter, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (h2o_find_header_by_str (&req->res.headers, H2O_STRLIT ("ocf-version"), -1) < 0)
        h2o_add_header_by_str (&req->pool, &req->res.headers, H2O_STRLIT ("ocf-version"), 0, "Ocf-Version",
                               H2O_STRLIT (OCF_VERSION));
    h2o_setup_next_ostream (req, slot);
}

static void
s_reshaped_send (h2o_ostream_t *ostream, h2o_req_t *req, h2o_iovec_t *bufs, size_t count, h2o_send_state_t state)
{
    reshaped_t *self = (reshaped_t *) ostream;
    h2o_iovec_t body = self->body;
    self->body = h2o_iovec_init (NULL, 0);
    h2o_ostream_send_next (&self->super, req, &body, body.len ? 1 : 0, state);
}

static void
s_reshape (h2o_filter_t *filter, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (req->res.status >= 400) {
        const char *code = req->res.status == 413 ? "request_too_large" : "invalid_request";
        char message[256];
        snprintf (message, sizeof message, "%s%s", req->res.status == 413 ? "the request body is larger than [proxyd] max_body: "
                                                                          : "", req->res.reason);
        json_t *body = s_error_body (req->res.status, code, NULL, message);
        char *text = json_dumps (body, JSON_COMPACT);
        json_decref (body);
        reshaped_t *reshaped = (reshaped_t *) h2o_add_ostream (req, sizeof *reshaped, slot);
        reshaped->super.do_send = s_reshaped_send;
        bool head = h2o_memis (req->input.method.base, req->input.method.len, H2O_STRLIT ("HEAD"));
        reshaped->body = head ? h2o_iovec_init (NULL, 0) : h2o_strdup (&req->pool, text, strlen (text));
        req->res.content_length = strlen (text);
        free (text);
        memset (&req->res.headers, 0, sizeof req->res.headers);
        h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT ("application/json"));
        s_name_answer (req);
        slot = &reshaped->super.next;
    }
    s_version (filter, req, slot);
}

//  --------------------------------------------------------------------------
//  Dispatch

typedef struct {
    ocf_loop_t *loop;
    h2o_req_t *req;
    int route;
    int64_t started_us;
} accounting_t;

static void
s_on_request_done (void *data)
{
    accounting_t *accounting = data;
    ocf_loop_t *loop = accounting->loop;
    ocf_metrics_request_end (loop->metrics, accounting->route, accounting->req->res.status,
                             (uint64_t) (ocf_time_mono_us () - accounting->started_us));
    ocf_loop_request_end (loop);
}

//  The request line and headers a request may have (docs/http-api.md): above it, 431. h2o
//  itself reads heads up to H2O_MAX_REQLEN (408 KiB) and refuses larger ones with its own
//  400, closing the connection.
#define HEAD_MAX (64 * 1024)

//  What HTTP/1 itself gets wrong, checked on the request as received before any route;
//  true when answered.
static bool
s_refused_head (h2o_req_t *req)
{
    if (req->num_reprocessed != 0 || req->version >= 0x200)
        return false;
    size_t size = req->method.len + req->path.len + req->authority.len;
    for (size_t i = 0; i < req->headers.size; i++)
        size += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    if (size > HEAD_MAX) {
        ocf_respond_error (req, 431, "request_header_fields_too_large", NULL,
                           "the request line and headers are %zu bytes, more than the %d bytes allowed", size, HEAD_MAX);
        return true;
    }
    //  h2o takes Content-Length and Transfer-Encoding out of the headers (Transfer-Encoding
    //  wins), so they are read again from the head as received: until the answer is sent,
    //  it opens the connection's input.
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket (req->conn) : NULL;
    if (req->entity.base && sock) {
        struct phr_header headers[H2O_MAX_HEADERS];
        size_t count = H2O_MAX_HEADERS, method_len, path_len;
        const char *method, *path;
        int minor;
        char error[160];
        if (phr_parse_request (sock->input->bytes, sock->input->size, &method, &method_len, &path, &path_len, &minor,
                               headers, &count, 0) > 0
        &&  !ocf_request_framing_ok (headers, count, error, sizeof error)) {
            req->http1_is_persistent = 0;    //  what follows may be this body's rest: never a request
            ocf_respond_error (req, 400, "invalid_request", NULL, "%s", error);
            return true;
        }
    }
    //  HTTP/1.1 is persistent unless the client says close (RFC 9112 9.3); h2o 2.2 takes any
    //  Connection header without "keep-alive" for a close, "Connection: Upgrade, HTTP2-Settings"
    //  (an h2c upgrade, which proxyd declines) included.
    h2o_iovec_t connection = ocf_respond_req_header (req, "connection");
    if (req->version == 0x101 && !req->http1_is_persistent && !req->conn->ctx->shutdown_requested
    &&  !ocf_connection_names (connection.base, connection.len, H2O_STRLIT ("close")))
        req->http1_is_persistent = 1;
    return false;
}

//  Finds the request's route in the server's table, then runs its handler: the dispatcher
//  knows routes only through the table, which the modules filled at start.
static int
s_on_request (h2o_handler_t *handler, h2o_req_t *req)
{
    ocf_loop_t *loop = ocf_loop_of (req);
    const ocf_routetable_t *routes = ocf_proxyd_routes (loop->server);
    ocf_route_t *route = h2o_mem_alloc_pool (&req->pool, sizeof *route);
    const ocf_route_spec_t *spec = ocf_routetable_match (routes, req->path.base, req->path.len, route);
    accounting_t *accounting = h2o_mem_alloc_shared (&req->pool, sizeof *accounting, s_on_request_done);
    *accounting = (accounting_t) { loop, req, route->index, ocf_time_mono_us () };
    ocf_loop_request_begin (loop);
    ocf_metrics_request_begin (loop->metrics);
    ocf_access_t *access = ocf_proxyd_access (loop->server);
    const char *allow;
    if (ocf_fabric_hop (req))
        ocf_metrics_fabric_request (loop->metrics);   //  counted, whatever ocf_access decides
    if (s_refused_head (req))
        ;                        //  answered: malformed or too large, whatever the route
    else
    if (!spec)
        ocf_respond_error (req, 404, "route_not_found", NULL, "no route %.*s (routes: %s)",
                           (int) (req->path.len > 200 ? 200 : req->path.len), req->path.base, routes->listing);
    else
    if (ocf_access_preflight (access, req))
        ;                        //  answered: a CORS preflight needs neither the method nor a key
    else
    if (!ocf_access_check (access, req, loop->index, route))
        ;                        //  refused: who may not call a route learns nothing more of it
    else
    if (!ocf_route_method_allowed (spec, req->method.base, req->method.len, &allow)) {
        h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen (allow));
        ocf_respond_error (req, 405, "method_not_allowed", NULL, "%.*s is not allowed on %s (allowed: %s)",
                           (int) (req->method.len > 16 ? 16 : req->method.len), req->method.base, spec->name, allow);
    }
    else
        spec->handler (req, route);
    return 0;
}

void
ocf_respond_register (h2o_hostconf_t *host, ocf_access_t *access)
{
    h2o_pathconf_t *path = h2o_config_register_path (host, "/", 0);
    h2o_create_handler (path, sizeof (h2o_handler_t))->on_req = s_on_request;
    ocf_access_register (access, path);
    h2o_create_filter (path, sizeof (h2o_filter_t))->on_setup_ostream = s_version;
    h2o_create_filter (&host->fallback_path, sizeof (h2o_filter_t))->on_setup_ostream = s_reshape;
}

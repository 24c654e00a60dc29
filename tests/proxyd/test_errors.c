/*  Every error status of the API, in OpenAI's JSON shape, from one real host:
    400 bad JSON / missing model, 404 unknown route, service or model (listing what exists),
    405, 413 over max_body, 431 over the header limit, 503 + Retry-After with no ready provider,
    502 when the upstream fails, 504 when it does not answer in time, a malformed request line,
    ambiguous framing (400, connection closed), HTTP/2 declined.  */
#include "fabric.h"
#include "ocf_time.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static fabric_t s_fabric;
static fabric_host_t *A;
static int s_closer_port;

//  An upstream that accepts connections and closes them at once, without a byte.
static void *
s_closer (void *arg)
{
    int listener = (int) (intptr_t) arg;
    while (true) {
        int fd = accept (listener, NULL, NULL);
        if (fd < 0)
            break;
        close (fd);
    }
    return NULL;
}

static void
s_setup (void)
{
    A = fabric_host (&s_fabric, "host-a", "max_body = 4KiB\nfirst_byte_timeout = 500ms\nio_timeout = 1s\nretries = 1\n");
    const char *m1[] = { "--model", "m1", NULL };
    fabric_backend_t *backend = fabric_backend (&s_fabric, "b1", m1);
    fabric_service (A, "loading", backend, "model=m-load", "{\"status\": \"loading\"}");
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t len = sizeof address;
    cr_assert (bind (listener, (struct sockaddr *) &address, len) == 0 && listen (listener, 16) == 0);
    getsockname (listener, (struct sockaddr *) &address, &len);
    s_closer_port = ntohs (address.sin_port);
    pthread_t thread;
    pthread_create (&thread, NULL, s_closer, (void *) (intptr_t) listener);
    pthread_detach (thread);
    fabric_backend_t closer = { "closer", s_closer_port, 0 };
    fabric_service (A, "broken", &closer, "model=x", NULL);
    //  Last: each registration's event carries the whole row, so once proxyd routes m1 it
    //  knows the services registered before it too.
    fabric_service (A, "llm", backend, "model=m1", NULL);
    cr_assert (fabric_wait_model (A, "m1", 1, 5000));
}

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
}

TestSuite (proxyd_errors, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Checks the status and the error's shape; returns the error object (caller decrefs).
static json_t *
s_expect (const char *method, const char *path, const char *const *headers, const char *body, long status, const char *code)
{
    char url[256];
    snprintf (url, sizeof url, "%s%s", A->url, path);
    fabric_response_t response = fabric_http (method, url, headers, body);
    cr_assert_eq (response.status, status, "%s %s: expected %ld, got %ld: %s", method, path, status, response.status,
                  response.body);
    char *type = fabric_header (&response, "content-type");
    cr_assert_str_eq (type, "application/json", "%s %s", method, path);
    free (type);
    json_t *reply = fabric_json (&response);
    json_t *error = json_incref (json_object_get (reply, "error"));
    cr_assert (json_is_string (json_object_get (error, "message")), "%s %s: %s", method, path, response.body);
    cr_assert (json_is_string (json_object_get (error, "type")));
    cr_assert (json_is_null (json_object_get (error, "param")));
    cr_assert_str_eq (json_string_value (json_object_get (error, "code")), code, "%s %s: %s", method, path, response.body);
    json_decref (reply);
    fabric_response_free (&response);
    return error;
}

static void
s_expect_only (const char *method, const char *path, const char *const *headers, const char *body, long status, const char *code)
{
    json_decref (s_expect (method, path, headers, body, status, code));
}

Test (proxyd_errors, bad_requests_are_400)
{
    json_t *error = s_expect ("POST", "/v1/chat/completions", NULL, "{\"model\": \"m1\", \"messages\": [}", 400, "invalid_request");
    cr_assert (strstr (json_string_value (json_object_get (error, "message")), "not valid JSON"));
    cr_assert (strstr (json_string_value (json_object_get (error, "message")), "at byte 29"));
    json_decref (error);
    error = s_expect ("POST", "/v1/chat/completions", NULL, "{\"messages\": []}", 400, "invalid_request");
    cr_assert (strstr (json_string_value (json_object_get (error, "message")), "\"model\""));
    json_decref (error);
    s_expect_only ("POST", "/v1/completions", NULL, "{\"model\": 3}", 400, "invalid_request");
    s_expect_only ("POST", "/v1/embeddings", NULL, "[\"model\"]", 400, "invalid_request");
    s_expect_only ("POST", "/v1/chat/completions", NULL, "", 400, "invalid_request");
    const char *json[] = { "Content-Type: application/json", NULL };
    s_expect_only ("POST", "/v1/service/llm/v1/completions", json, "not json", 400, "invalid_request");
    const char *identity[] = { "X-Ocf-Identity: novalue", NULL };
    s_expect_only ("GET", "/v1/service/llm/x", identity, NULL, 400, "invalid_request");
}

Test (proxyd_errors, unknown_things_are_404_listing_what_exists)
{
    json_t *error = s_expect ("POST", "/v1/chat/completions", NULL, "{\"model\": \"m9\"}", 404, "model_not_found");
    json_t *models = json_object_get (error, "available_models");
    cr_assert_eq (json_array_size (models), 1);
    cr_assert_str_eq (json_string_value (json_array_get (models, 0)), "m1");
    cr_assert (strstr (json_string_value (json_object_get (error, "message")), "m9"));
    json_decref (error);
    error = s_expect ("GET", "/v1/service/nope/x", NULL, NULL, 404, "service_not_found");
    cr_assert_eq (json_array_size (json_object_get (error, "available_services")), 3);
    json_decref (error);
    s_expect_only ("GET", "/v1/_service/nope/x", NULL, NULL, 404, "service_not_found");
    s_expect_only ("GET", "/v2/nothing", NULL, NULL, 404, "route_not_found");
    s_expect_only ("GET", "/v1/models/m9", NULL, NULL, 404, "model_not_found");
}

Test (proxyd_errors, wrong_methods_are_405)
{
    char url[128];
    snprintf (url, sizeof url, "%s/v1/chat/completions", A->url);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 405);
    char *allow = fabric_header (&response, "allow");
    cr_assert_str_eq (allow, "POST");
    free (allow);
    fabric_response_free (&response);
    s_expect_only ("DELETE", "/v1/health", NULL, NULL, 405, "method_not_allowed");
    s_expect_only ("PUT", "/v1/models", NULL, NULL, 405, "method_not_allowed");
    s_expect_only ("TRACE", "/v1/service/llm/x", NULL, NULL, 405, "method_not_allowed");
}

Test (proxyd_errors, bodies_over_max_body_are_413)
{
    char *big = malloc (8192);
    memset (big, 'x', 8191);
    memcpy (big, "{\"model\": \"m1\", \"x\": \"", 22);
    strcpy (big + 8189, "\"}");
    s_expect_only ("POST", "/v1/chat/completions", NULL, big, 413, "request_too_large");
    const char *chunked[] = { "Transfer-Encoding: chunked", NULL };
    s_expect_only ("POST", "/v1/chat/completions", chunked, big, 413, "request_too_large");
    //  h2o's own refusal, reshaped, names the node and the request as proxyd's other answers do.
    char url[128];
    snprintf (url, sizeof url, "%s/v1/chat/completions", A->url);
    for (int i = 0; i < 2; i++) {
        fabric_response_t response = fabric_http ("POST", url, i ? chunked : NULL, big);
        cr_assert_eq (response.status, 413);
        char *node = fabric_header (&response, "x-computing-node"), *id = fabric_header (&response, "x-request-id");
        cr_assert (node && strcmp (node, A->id) == 0, "X-Computing-Node: %s", node ? node : "(none)");
        cr_assert (id && strlen (id) == 32, "X-Request-Id: %s", id ? id : "(none)");
        free (node);
        free (id);
        fabric_response_free (&response);
    }
    big[3000] = '\0';
    strcpy (big + 2998, "\"}");
    fabric_response_t response = fabric_http ("POST", url, chunked, big);
    cr_assert_eq (response.status, 200, "a body under the limit, chunked: %s", response.body);
    fabric_response_free (&response);
    free (big);
}

Test (proxyd_errors, no_ready_provider_is_503)
{
    const char *identity[] = { "X-Ocf-Identity: model=m-load", NULL };
    s_expect_only ("GET", "/v1/service/loading/health", identity, NULL, 503, "no_live_provider");
    char url[128];
    snprintf (url, sizeof url, "%s/v1/service/loading/health", A->url);
    fabric_response_t response = fabric_http ("GET", url, identity, NULL);
    char *retry = fabric_header (&response, "retry-after");
    cr_assert (retry && atoi (retry) > 0);
    free (retry);
    fabric_response_free (&response);
}

Test (proxyd_errors, failing_upstream_is_502_and_slow_one_504)
{
    const char *identity[] = { "X-Ocf-Identity: model=x", NULL };
    json_t *error = s_expect ("GET", "/v1/service/broken/x", identity, NULL, 502, "upstream_failed");
    cr_assert (strstr (json_string_value (json_object_get (error, "message")), "closed the connection"));
    json_decref (error);
    const char *slow[] = { "X-Test-First-Token-Delay-Ms: 3000", NULL };
    int64_t start = ocf_time_wall_us ();
    s_expect_only ("POST", "/v1/chat/completions", slow, "{\"model\": \"m1\", \"stream\": true}", 504, "upstream_timeout");
    int64_t took = ocf_time_wall_us () - start;
    cr_assert (took >= 450000 && took < 2500000, "the 504 came after %lld us (first_byte_timeout is 500 ms)", (long long) took);
}

//  Sends bytes on a new connection, then reads what comes back until proxyd closes it
//  (returns true) or 2 s pass without a byte (false). reply is NUL-terminated; *len its size.
static bool
s_raw (const char *request, size_t request_len, char *reply, size_t size, size_t *len)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) A->port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    cr_assert (connect (fd, (struct sockaddr *) &address, sizeof address) == 0);
    cr_assert_eq (write (fd, request, request_len), (ssize_t) request_len);
    struct timeval wait = { 2, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    *len = 0;
    ssize_t got;
    while (*len < size - 1 && (got = read (fd, reply + *len, size - 1 - *len)) > 0)
        *len += (size_t) got;
    bool closed = *len < size - 1 && got == 0;
    reply[*len] = '\0';
    close (fd);
    return closed;
}

static int
s_count (const char *text, const char *what)
{
    int count = 0;
    for (const char *at = text; (at = strstr (at, what)); at++)
        count++;
    return count;
}

Test (proxyd_errors, malformed_http_is_400)
{
    char reply[512];
    size_t len;
    const char *garbage = "NOT HTTP AT ALL\r\n\r\n";
    s_raw (garbage, strlen (garbage), reply, sizeof reply, &len);
    cr_assert (strncmp (reply, "HTTP/1.1 400 ", 13) == 0, "%s", reply);
}

//  RFC 9112 6.1: a request with both Content-Length and Transfer-Encoding is refused and its
//  connection closed, so what follows its body (read by another server as part of it) is
//  never served as a request of its own: request smuggling.
Test (proxyd_errors, ambiguous_framing_is_400_and_closes)
{
    const char *requests[] = {
        "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1d\r\n{\"model\": \"m1\", \"stream\": 0}\r\n0\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 35\r\n\r\n"
        "0\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 41\r\n\r\n"
        "{}GET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        char reply[8192];
        size_t len;
        bool closed = s_raw (requests[i], strlen (requests[i]), reply, sizeof reply, &len);
        cr_assert (strncmp (reply, "HTTP/1.1 400 ", 13) == 0, "request %zu: %s", i, reply);
        cr_assert (strstr (reply, "\"code\":\"invalid_request\""), "request %zu: %s", i, reply);
        cr_assert (strstr (reply, "Connection: close\r\n"), "request %zu: %s", i, reply);
        cr_assert_eq (s_count (reply, "HTTP/1.1 "), 1, "request %zu: the bytes after it were served:\n%s", i, reply);
        cr_assert (closed, "request %zu: the connection stayed open", i);
    }
    //  One Content-Length, or one chunked body, keeps the connection.
    const char *fine = "POST /v1/health HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nGET /v1/health HTTP/1.1\r\n"
                       "Host: a\r\nConnection: close\r\n\r\n";
    char reply[8192];
    size_t len;
    s_raw (fine, strlen (fine), reply, sizeof reply, &len);
    cr_assert_eq (s_count (reply, "HTTP/1.1 405 "), 1, "%s", reply);
    cr_assert_eq (s_count (reply, "HTTP/1.1 200 "), 1, "%s", reply);
}

Test (proxyd_errors, headers_over_64k_are_431)
{
    size_t size = 100 * 1024;
    char *header = malloc (size + 16);
    memcpy (header, "X-Big: ", 7);
    memset (header + 7, 'a', size);
    header[size + 7] = '\0';
    const char *headers[] = { header, NULL };
    s_expect_only ("GET", "/v1/health", headers, NULL, 431, "request_header_fields_too_large");
    s_expect_only ("POST", "/v1/chat/completions", headers, "{\"model\": \"m1\"}", 431, "request_header_fields_too_large");
    header[7 + 60 * 1024] = '\0';               //  under the limit
    char url[128];
    snprintf (url, sizeof url, "%s/v1/health", A->url);
    fabric_response_t response = fabric_http ("GET", url, headers, NULL);
    cr_assert_eq (response.status, 200);
    fabric_response_free (&response);
    free (header);
}

//  HTTP/1.1 only: an h2c upgrade is answered in HTTP/1.1 and the connection kept; HTTP/2 with
//  prior knowledge is told HTTP_1_1_REQUIRED in HTTP/2 (SETTINGS, then GOAWAY), then closed.
Test (proxyd_errors, http2_is_declined_cleanly)
{
    const char *upgrade = "GET /v1/health HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                          "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
    char requests[1024];
    snprintf (requests, sizeof requests, "%s%s", upgrade, upgrade);
    char reply[8192];
    size_t len;
    bool closed = s_raw (requests, strlen (requests), reply, sizeof reply, &len);
    cr_assert_eq (s_count (reply, "HTTP/1.1 200 OK\r\n"), 2, "%s", reply);
    cr_assert_eq (s_count (reply, "Connection: keep-alive\r\n"), 2, "%s", reply);
    cr_assert (!closed, "the connection was closed after an h2c upgrade request");
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    closed = s_raw (preface, sizeof preface - 1, reply, sizeof reply, &len);
    cr_assert (closed, "the connection stayed open");
    static const char settings[] = "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    cr_assert (len >= 9 + 9 + 8 && memcmp (reply, settings, 9) == 0, "%zu bytes, no SETTINGS first", len);
    const unsigned char *goaway = (const unsigned char *) reply + 9;
    cr_assert_eq (goaway[3], 0x07, "not a GOAWAY frame");
    cr_assert_eq (goaway[9 + 7], 0x0d, "its error is %u, not HTTP_1_1_REQUIRED", goaway[9 + 7]);
}

static bool
s_cut_a_stream (void *arg)
{
    return fabric_metric (arg, "ocf_proxyd_upstream_attempts_total{outcome=\"body_failed\"} ") >= 1;
}

Test (proxyd_errors, a_client_that_stops_reading_is_cut)
{
    //  A fast endless stream to a client that reads nothing: proxyd stops reading upstream once
    //  1 MiB waits (memory stays bounded), then cuts the stream after io_timeout (1 s here).
    int fd = socket (AF_INET, SOCK_STREAM, 0), small = 4096;
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) A->port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    cr_assert (connect (fd, (struct sockaddr *) &address, sizeof address) == 0);
    const char *body = "{\"model\": \"m1\", \"stream\": true}";
    char request[512];
    int len = snprintf (request, sizeof request, "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nX-Test-Tokens: 100000000\r\n"
                        "X-Test-Token-Delay-Ms: 0\r\nContent-Length: %zu\r\n\r\n%s", strlen (body), body);
    cr_assert_eq (write (fd, request, (size_t) len), len);
    cr_assert (ocf_test_wait_for (s_cut_a_stream, A, 15000), "the stream to a client that does not read was never cut");
    long rss = ocf_test_rss_kb (A->proxyd);
    cr_assert (rss > 0 && rss < 64 * 1024, "ocf-proxyd holds %ld kB for a client that does not read", rss);
    //  The client, reading at last, gets what was sent and then the end of the connection.
    struct timeval wait = { 10, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char buffer[65536];
    ssize_t got;
    while ((got = read (fd, buffer, sizeof buffer)) > 0)
        ;
    cr_assert (got == 0 || errno == ECONNRESET, "the connection was not closed (%s)", strerror (errno));
    close (fd);
}

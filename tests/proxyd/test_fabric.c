/*  Three hosts on loopback, each with its real ocf-tabled and ocf-proxyd, test backends behind
    two of them, rows copied between the tables as gossip would:
      A   no backend
      B   llm: b1 (model m1), f1 (model m3, answers every completion with 503)
      C   llm: c1 (models m1, m2), g1 (model m3)
    Requests enter at any host and must reach a provider, stream unbuffered, be retried
    elsewhere when a provider fails, and fail with the right status when none is left.  */
#include "fabric.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static fabric_t s_fabric;
static fabric_host_t *A, *B, *C;
static fabric_backend_t *b1, *c1, *f1, *g1;

static void
s_setup (void)
{
    //  p2c: these tests send one prompt again and again and expect it spread, and served by
    //  the host it enters where that host provides (policy prefix: proxyd_routing).
    A = fabric_host (&s_fabric, "host-a", "policy = p2c\n");
    B = fabric_host (&s_fabric, "host-b", "policy = p2c\n");
    C = fabric_host (&s_fabric, "host-c", "policy = p2c\n");
    const char *m1[] = { "--model", "m1", "--token-delay-ms", "5", NULL };
    const char *m12[] = { "--model", "m1", "--model", "m2", "--token-delay-ms", "5", NULL };
    const char *m3_bad[] = { "--model", "m3", "--fail-status", "503", NULL };
    const char *m3[] = { "--model", "m3", NULL };
    b1 = fabric_backend (&s_fabric, "b1", m1);
    c1 = fabric_backend (&s_fabric, "c1", m12);
    f1 = fabric_backend (&s_fabric, "f1", m3_bad);
    g1 = fabric_backend (&s_fabric, "g1", m3);
    fabric_service (B, "llm", b1, "model=m1", NULL);
    fabric_service (B, "failing", f1, "model=m3", NULL);
    fabric_service (C, "llm", c1, "model=m1,model=m2", NULL);
    fabric_service (C, "failing", g1, "model=m3", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (A, "m1", 2, 5000), "host A does not route m1 to two providers");
    cr_assert (fabric_wait_model (A, "m2", 1, 5000));
}

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
}

TestSuite (proxyd_fabric, .init = s_setup, .fini = s_teardown, .timeout = 90);

static fabric_response_t
s_chat (fabric_host_t *host, const char *model, const char *const *headers)
{
    char url[128], body[256];
    snprintf (url, sizeof url, "%s/v1/chat/completions", host->url);
    snprintf (body, sizeof body, "{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", model);
    return fabric_http ("POST", url, headers, body);
}

//  Who served: the X-Computing-Node header and the backend named in the body agree.
static fabric_host_t *
s_served_by (const fabric_response_t *response)
{
    char *node = fabric_header (response, "x-computing-node");
    cr_assert (node, "no X-Computing-Node in %s", response->headers);
    fabric_host_t *served = NULL;
    for (size_t i = 0; i < s_fabric.host_count; i++)
        if (strcmp (s_fabric.hosts[i].id, node) == 0)
            served = &s_fabric.hosts[i];
    cr_assert (served, "X-Computing-Node %s is no host", node);
    free (node);
    return served;
}

//  The "code" of an OpenAI-shaped error answer (NULL when it is none).
static const char *
s_error_code (json_t *answer)
{
    return json_string_value (json_object_get (json_object_get (answer, "error"), "code"));
}

Test (proxyd_fabric, any_host_reaches_a_provider)
{
    int served_b = 0, served_c = 0;
    for (int i = 0; i < 30; i++) {
        fabric_response_t response = s_chat (A, "m1", NULL);
        cr_assert_eq (response.status, 200, "%s", response.body);
        json_t *body = fabric_json (&response);
        const char *backend = json_string_value (json_object_get (body, "backend"));
        fabric_host_t *served = s_served_by (&response);
        cr_assert (served == B || served == C);
        cr_assert_str_eq (backend, served == B ? "b1" : "c1");
        served_b += served == B;
        served_c += served == C;
        json_decref (body);
        fabric_response_free (&response);
    }
    cr_assert (served_b > 0 && served_c > 0, "B served %d, C %d: the load is not spread", served_b, served_c);
    //  m2 only on C; m1 asked at B is served by B itself.
    for (int i = 0; i < 5; i++) {
        fabric_response_t response = s_chat (A, "m2", NULL);
        cr_assert_eq (response.status, 200);
        cr_assert_eq (s_served_by (&response), C);
        fabric_response_free (&response);
        response = s_chat (B, "m1", NULL);
        cr_assert_eq (s_served_by (&response), B);
        fabric_response_free (&response);
    }
}

Test (proxyd_fabric, passes_methods_paths_and_headers)
{
    char url[160];
    snprintf (url, sizeof url, "%s/v1/service/llm/v1/completions", A->url);
    fabric_response_t response = fabric_http ("POST", url, NULL, "{\"model\": \"m2\", \"prompt\": \"x\"}");
    cr_assert_eq (response.status, 200, "%s", response.body);
    cr_assert (strstr (response.body, "\"text_completion\""));
    cr_assert_eq (s_served_by (&response), C);
    fabric_response_free (&response);
    const char *methods[] = { "GET", "PUT", "PATCH", "DELETE", "POST" };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        snprintf (url, sizeof url, "%s/v1/service/llm/anything/here?q=1", A->url);
        const char *headers[] = { "X-Ocf-Identity: model=m2", "X-Request-Id: req-42", "X-Custom: kept", NULL };
        response = fabric_http (methods[i], url, headers, strcmp (methods[i], "GET") ? "payload" : NULL);
        cr_assert_eq (response.status, 200, "%s: %s", methods[i], response.body);
        json_t *echo = fabric_json (&response);
        cr_assert_str_eq (json_string_value (json_object_get (echo, "method")), methods[i]);
        cr_assert_str_eq (json_string_value (json_object_get (echo, "path")), "/anything/here?q=1");
        json_t *seen = json_object_get (echo, "headers");
        cr_assert_str_eq (json_string_value (json_object_get (seen, "x-request-id")), "req-42");
        cr_assert_str_eq (json_string_value (json_object_get (seen, "x-custom")), "kept");
        //  Two hops (A, then C's proxyd): two addresses.
        cr_assert_str_eq (json_string_value (json_object_get (seen, "x-forwarded-for")), "127.0.0.1, 127.0.0.1");
        cr_assert_null (json_object_get (seen, "connection"));
        cr_assert_eq (json_integer_value (json_object_get (echo, "body_bytes")), strcmp (methods[i], "GET") ? 7 : 0);
        char *id = fabric_header (&response, "x-request-id");
        cr_assert_str_eq (id, "req-42");
        free (id);
        json_decref (echo);
        fabric_response_free (&response);
    }
    //  Headers a Connection header names are hop-by-hop, both ways (RFC 9110 7.6.1): the
    //  client's are not sent on, nor the backend's relayed.
    snprintf (url, sizeof url, "%s/v1/service/llm/hop", A->url);
    const char *hop[] = { "X-Ocf-Identity: model=m2", "Connection: keep-alive, X-Hop-Request", "X-Hop-Request: dropped",
                          "X-Test-Hop-Header: X-Hop-Reply", NULL };
    response = fabric_http ("GET", url, hop, NULL);
    cr_assert_eq (response.status, 200, "%s", response.body);
    json_t *hop_echo = fabric_json (&response);
    json_t *hop_seen = json_object_get (hop_echo, "headers");
    cr_assert_null (json_object_get (hop_seen, "x-hop-request"), "a header named by the client's Connection went on");
    cr_assert_str_eq (json_string_value (json_object_get (hop_seen, "x-test-hop-header")), "X-Hop-Reply");
    char *reply = fabric_header (&response, "x-hop-reply");
    cr_assert_null (reply, "a header named by the backend's Connection was relayed: %s", reply);
    json_decref (hop_echo);
    fabric_response_free (&response);
    //  (The backend does send it: asked directly.)
    snprintf (url, sizeof url, "http://127.0.0.1:%d/hop", c1->port);
    response = fabric_http ("GET", url, hop + 3, NULL);
    reply = fabric_header (&response, "x-hop-reply");
    cr_assert_str_eq (reply, "hop");
    free (reply);
    fabric_response_free (&response);
    //  Without an id from the client, one is made and sent both ways.
    snprintf (url, sizeof url, "%s/v1/service/llm/x", A->url);
    const char *identity[] = { "X-Ocf-Identity: model=m1", NULL };
    response = fabric_http ("GET", url, identity, NULL);
    json_t *echo = fabric_json (&response);
    char *id = fabric_header (&response, "x-request-id");
    cr_assert (id && strlen (id) == 32);
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (echo, "headers"), "x-request-id")), id);
    free (id);
    json_decref (echo);
    fabric_response_free (&response);
}

Test (proxyd_fabric, a_trailing_slash_reaches_the_route_and_not_the_backend)
{
    char url[128];
    snprintf (url, sizeof url, "%s/v1/chat/completions/", A->url);
    fabric_response_t response = fabric_http ("POST", url, NULL, "{\"model\": \"m1\", \"messages\": []}");
    cr_assert_eq (response.status, 200, "%s", response.body);
    json_t *body = fabric_json (&response);
    cr_assert_str_eq (json_string_value (json_object_get (body, "object")), "chat.completion", "%s", response.body);
    json_decref (body);
    fabric_response_free (&response);
}

Test (proxyd_fabric, streams_event_by_event)
{
    char url[128];
    snprintf (url, sizeof url, "%s/v1/chat/completions", A->url);
    const char *headers[] = { "X-Test-Token-Delay-Ms: 100", "X-Test-Tokens: 6", NULL };
    fabric_stream_t stream = fabric_stream (url, "m2", headers);
    cr_assert_eq (stream.status, 200);
    cr_assert (stream.done, "no [DONE]");
    cr_assert_eq (stream.count, 7);
    cr_assert_str_eq (stream.backend, "c1");
    //  No buffering: every event reached the client before the backend sent the next one.
    for (size_t i = 0; i + 1 < stream.count; i++) {
        cr_assert_lt (stream.received_us[i], stream.sent_us[i + 1],
                      "event %zu arrived %lld us after event %zu was sent", i, (long long) (stream.received_us[i] - stream.sent_us[i + 1]), i + 1);
        cr_assert_lt (stream.received_us[i] - stream.sent_us[i], 100000);
    }
}

Test (proxyd_fabric, retries_elsewhere_then_503)
{
    fabric_kill_backend (b1);
    for (int i = 0; i < 20; i++) {
        fabric_response_t response = s_chat (A, "m1", NULL);
        cr_assert_eq (response.status, 200, "request %d: %s", i, response.body);
        cr_assert_eq (s_served_by (&response), C);
        fabric_response_free (&response);
    }
    cr_assert_gt (fabric_metric (A, "ocf_proxyd_upstream_retries_total "), 0);
    cr_assert_gt (fabric_metric (B, "ocf_proxyd_upstream_attempts_total{outcome=\"connect_failed\"} "), 0);
    //  A provider answering 503 before any byte: the request goes to another one.
    for (int i = 0; i < 10; i++) {
        char url[128];
        snprintf (url, sizeof url, "%s/v1/service/failing/v1/chat/completions", A->url);
        fabric_response_t response = fabric_http ("POST", url, NULL, "{\"model\": \"m3\", \"messages\": []}");
        cr_assert_eq (response.status, 200, "%s", response.body);
        cr_assert_eq (s_served_by (&response), C);
        fabric_response_free (&response);
    }
    //  Other statuses are the backend's answer: relayed as they are, never as a 200.
    const char *status500[] = { "X-Test-Status: 500", NULL };
    fabric_response_t response = s_chat (A, "m2", status500);
    cr_assert_eq (response.status, 500);
    fabric_response_free (&response);
    //  No provider left that can be reached.
    fabric_kill_backend (c1);
    response = s_chat (A, "m1", NULL);
    cr_assert_eq (response.status, 503, "%s", response.body);
    char *retry = fabric_header (&response, "retry-after");
    cr_assert (retry && atoi (retry) > 0);
    free (retry);
    json_t *answer = fabric_json (&response);
    cr_assert_str_eq (s_error_code (answer), "no_provider_reachable");
    json_decref (answer);
    fabric_response_free (&response);
    //  No live provider at all: known model, 503 at once.
    fabric_set_status (A, B, "dead");
    fabric_set_status (A, C, "dead");
    cr_assert (fabric_wait_model (A, "m1", 0, 5000));
    response = s_chat (A, "m1", NULL);
    cr_assert_eq (response.status, 503);
    answer = fabric_json (&response);
    cr_assert_str_eq (s_error_code (answer), "no_live_provider");
    json_decref (answer);
    fabric_response_free (&response);
}

Test (proxyd_fabric, p2p_and_table_views)
{
    char url[256], escaped[128];
    fabric_escape (B->id, escaped, sizeof escaped);
    snprintf (url, sizeof url, "%s/v1/p2p/%s/v1/health", A->url, escaped);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200, "%s", response.body);
    json_t *health = fabric_json (&response);
    cr_assert_str_eq (json_string_value (json_object_get (health, "id")), B->id);
    cr_assert_eq (json_integer_value (json_object_get (health, "peers_alive")), 2);
    cr_assert_eq (s_served_by (&response), B);
    json_decref (health);
    fabric_response_free (&response);
    snprintf (url, sizeof url, "%s/v1/p2p/host-c/v1/health", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    health = fabric_json (&response);
    cr_assert_str_eq (json_string_value (json_object_get (health, "id")), C->id);
    json_decref (health);
    fabric_response_free (&response);
    snprintf (url, sizeof url, "%s/v1/p2p/nobody/v1/health", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 404);
    fabric_response_free (&response);
    //  A's own backend route for a service only others offer: 503, so that a proxyd whose view
    //  still lists the service here (just withdrawn) tries another provider.
    snprintf (url, sizeof url, "%s/v1/_service/llm/v1/models", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 503, "%s", response.body);
    cr_assert (strstr (response.body, "\"service_not_here\""), "%s", response.body);
    fabric_response_free (&response);

    snprintf (url, sizeof url, "%s/v1/dnt/table", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    json_t *table = fabric_json (&response);
    cr_assert_eq (json_object_size (table), 3);
    char key[OCF_NODE_ID_LEN + 2];
    snprintf (key, sizeof key, "/%s", C->id);
    json_t *peer = json_object_get (table, key);
    cr_assert_str_eq (json_string_value (json_object_get (peer, "name")), "host-c");
    cr_assert (json_is_true (json_object_get (peer, "connected")));
    json_t *service = json_array_get (json_object_get (peer, "service"), 0);
    char port[16];
    snprintf (port, sizeof port, "%d", c1->port);
    cr_assert_str_eq (json_string_value (json_object_get (service, "port")), port);     //  a string, as OpenFabric's
    cr_assert_eq (json_array_size (json_object_get (service, "identity_group")), 2);
    json_decref (table);
    fabric_response_free (&response);

    const struct { const char *path; const char *key; size_t count; } lists[] = {
        { "/v1/dnt/peers", "peers", 2 }, { "/v1/dnt/peers_status", "peers", 2 }, { "/v1/dnt/bootstraps", "bootstraps", 3 },
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        snprintf (url, sizeof url, "%s%s", A->url, lists[i].path);
        response = fabric_http ("GET", url, NULL, NULL);
        json_t *reply = fabric_json (&response);
        cr_assert_eq (json_array_size (json_object_get (reply, lists[i].key)), lists[i].count, "%s: %s", lists[i].path, response.body);
        json_decref (reply);
        fabric_response_free (&response);
    }
    snprintf (url, sizeof url, "%s/v1/dnt/stats", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    json_t *stats = fabric_json (&response);
    cr_assert_eq (json_integer_value (json_object_get (stats, "connected_peers")), 2);
    json_decref (stats);
    fabric_response_free (&response);

    snprintf (url, sizeof url, "%s/v1/models/m2", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200);
    cr_assert (strstr (response.body, "\"id\":\"m2\""));
    fabric_response_free (&response);
    snprintf (url, sizeof url, "%s/v1/models/m9", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 404);
    fabric_response_free (&response);
}

Test (proxyd_fabric, registers_services_over_http)
{
    char url[160], body[256];
    snprintf (url, sizeof url, "%s/v1/dnt/_node", A->url);
    snprintf (body, sizeof body, "{\"service\": [{\"name\": \"echo\", \"host\": \"127.0.0.1\", \"port\": \"%d\", "
                                 "\"identity_group\": [\"model=e1\"]}]}", g1->port);
    fabric_response_t response = fabric_http ("POST", url, NULL, body);
    cr_assert_eq (response.status, 200, "%s", response.body);
    fabric_response_free (&response);
    const char *bad[] = { "{\"service\": []}", "{\"service\": [{\"name\": \"x\", \"port\": \"eighty\"}]}",
                          "{\"service\": [{\"name\": \"bad name\", \"port\": 80}]}", "not json",
                          "{\"service\": [{\"name\": \"x\", \"port\": 80, \"identity_group\": [\"nokey\"]}]}" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        response = fabric_http ("POST", url, NULL, bad[i]);
        cr_assert_eq (response.status, 400, "%s: %s", bad[i], response.body);
        fabric_response_free (&response);
    }
    fabric_sync (&s_fabric);
    //  Host B now routes echo (model=e1) to A, which serves it from the registered backend.
    snprintf (url, sizeof url, "%s/v1/service/echo/ping", B->url);
    const char *identity[] = { "X-Ocf-Identity: model=e1", NULL };
    bool routed = false;
    for (int i = 0; i < 200 && !routed; i++) {
        response = fabric_http ("GET", url, identity, NULL);
        routed = response.status == 200;
        if (routed)
            cr_assert_eq (s_served_by (&response), A);
        fabric_response_free (&response);
        if (!routed)
            usleep (10000);
    }
    cr_assert (routed, "B never routed echo to A");
    snprintf (url, sizeof url, "%s/v1/dnt/_node", A->url);
    response = fabric_http ("DELETE", url, NULL, NULL);
    cr_assert_eq (response.status, 200, "%s", response.body);
    cr_assert (strstr (response.body, "\"echo\""));
    fabric_response_free (&response);
    snprintf (url, sizeof url, "%s/v1/service/echo/ping", A->url);
    long status = 0;
    for (int i = 0; i < 200 && status != 404; i++) {
        response = fabric_http ("GET", url, identity, NULL);
        status = response.status;
        fabric_response_free (&response);
        if (status != 404)
            usleep (10000);
    }
    cr_assert_eq (status, 404, "echo is still routed after its withdrawal");
}

static int
s_backend_running (fabric_backend_t *backend)
{
    char url[96];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/metrics", backend->port);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    const char *found = strstr (response.body, "vllm:num_requests_running{");
    int running = found ? atoi (strchr (found, '}') + 2) : -1;
    fabric_response_free (&response);
    return running;
}

static bool
s_backend_idle (void *arg)
{
    return s_backend_running (arg) == 0;
}

static bool
s_no_upstream (void *arg)
{
    return fabric_metric (arg, "ocf_proxyd_upstream_connections{state=\"active\"} ") == 0;
}

static void
s_abandon (const char *extra_header)
{
    char command[512];
    snprintf (command, sizeof command, "curl -s -N --max-time 0.5 -H 'X-Test-Token-Delay-Ms: 200' -H 'X-Test-Tokens: 100' %s "
             "-d '{\"model\": \"m2\", \"stream\": true}' %s/v1/chat/completions > /dev/null", extra_header, A->url);
    int status;
    free (ocf_test_run (command, &status));
    cr_assert_eq (status, 28, "curl should have given up (status 28), got %d", status);
}

Test (proxyd_fabric, client_disconnect_cancels_upstream)
{
    //  In the middle of a stream: A and C close their upstream connections, the backend stops.
    s_abandon ("");
    cr_assert (ocf_test_wait_for (s_backend_idle, c1, 3000), "the backend still streams to a client that left");
    cr_assert (ocf_test_wait_for (s_no_upstream, A, 3000));
    cr_assert (ocf_test_wait_for (s_no_upstream, C, 3000));
    //  Before the first byte (a slow first token): h2o does not read from a client while it
    //  waits, so proxyd looks for the hang-up itself and cancels upstream (499 in the metrics).
    s_abandon ("-H 'X-Test-First-Token-Delay-Ms: 20000'");
    cr_assert (ocf_test_wait_for (s_no_upstream, A, 3000), "A still waits upstream for a client that left");
    cr_assert (ocf_test_wait_for (s_no_upstream, C, 3000), "C still waits on the backend for a request nobody wants");
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_requests_total{route=\"chat_completions\",code=\"499\"} "), 1);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_requests_total{route=\"local_service\",code=\"499\"} "), 1);
}

//  Decodes chunked framing. Returns false at the first byte that is not valid framing; else
//  sets *clean when the bytes end exactly after a whole chunk and *final when the zero chunk
//  came. The data goes to body (NUL-terminated, at most size - 1 bytes).
static bool
s_dechunk (const char *raw, size_t len, char *body, size_t size, bool *clean, bool *final)
{
    size_t pos = 0, body_len = 0;
    *clean = true;
    *final = false;
    body[0] = '\0';
    while (pos < len) {
        *clean = false;
        size_t digits = 0, chunk = 0;
        while (pos + digits < len && isxdigit ((unsigned char) raw[pos + digits]))
            chunk = chunk * 16 + (size_t) (isdigit ((unsigned char) raw[pos + digits]) ? raw[pos + digits] - '0'
                                                                                         : tolower (raw[pos + digits]) - 'a' + 10),
            digits++;
        if (pos + digits == len)
            return true;                         //  cut inside a chunk's size
        if (digits == 0 || raw[pos + digits] != '\r')
            return false;
        if (pos + digits + 1 < len && raw[pos + digits + 1] != '\n')
            return false;
        pos += digits + 2;
        if (chunk == 0) {
            *final = true;
            return pos + 2 <= len ? memcmp (raw + pos, "\r\n", 2) == 0 && pos + 2 == len : true;
        }
        if (pos + chunk > len)
            return true;                         //  cut inside a chunk's data
        if (body_len + chunk < size) {
            memcpy (body + body_len, raw + pos, chunk);
            body[body_len += chunk] = '\0';
        }
        pos += chunk;
        if (pos + 2 > len)
            return len == pos || raw[pos] == '\r';
        if (memcmp (raw + pos, "\r\n", 2))
            return false;
        pos += 2;
        *clean = true;
    }
    return true;
}

static size_t
s_count (const char *text, const char *what)
{
    size_t count = 0;
    for (const char *found = text; (found = strstr (found, what)); found += strlen (what))
        count++;
    return count;
}

//  Streams a completion over a raw socket, kills the backend once two events have arrived, and
//  checks the bytes the client got: a 200, chunked, every event sent so far, correctly framed,
//  then the end of the connection without the final zero chunk (a premature end, which clients
//  report as an incomplete response, not as garbage).
static void
s_cut_stream (fabric_host_t *host, const char *path, const char *model, fabric_backend_t *backend)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) host->port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    cr_assert (connect (fd, (struct sockaddr *) &address, sizeof address) == 0);
    struct timeval wait = { 10, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char body[128], request[512];
    snprintf (body, sizeof body, "{\"model\": \"%s\", \"stream\": true, \"messages\": []}", model);
    int len = snprintf (request, sizeof request, "POST %s HTTP/1.1\r\nHost: a\r\nX-Test-Tokens: 100\r\n"
                        "X-Test-Token-Delay-Ms: 150\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        path, strlen (body), body);
    cr_assert_eq (write (fd, request, (size_t) len), len);
    static char raw[65536], data[65536];
    size_t size = 0;
    bool killed = false, clean = false, final = false;
    ssize_t got;
    while ((got = read (fd, raw + size, sizeof raw - 1 - size)) > 0) {
        size += (size_t) got;
        raw[size] = '\0';
        char *end = strstr (raw, "\r\n\r\n");
        if (!killed && end && s_dechunk (end + 4, size - (size_t) (end + 4 - raw), data, sizeof data, &clean, &final)
            && s_count (data, "\n\n") >= 2) {
            fabric_kill_backend (backend);
            killed = true;
        }
    }
    cr_assert (got == 0, "%s: the connection was not closed (%s)", path, strerror (errno));
    close (fd);
    cr_assert (killed, "%s: two events never arrived: %s", path, raw);
    cr_assert (strncmp (raw, "HTTP/1.1 200 ", 13) == 0, "%s: %s", path, raw);
    char *end = strstr (raw, "\r\n\r\n");
    for (char *c = raw; c < end; c++)
        *c = (char) tolower (*c);
    cr_assert (strstr (raw, "\r\ntransfer-encoding: chunked\r\n"), "%s: %s", path, raw);
    const char *chunks = end + 4;
    size_t chunks_len = size - (size_t) (chunks - raw);
    bool valid = s_dechunk (chunks, chunks_len, data, sizeof data, &clean, &final);
    cr_assert (valid, "%s: malformed chunked framing after the cut: \"%s\"", path, chunks);
    cr_assert (clean, "%s: the bytes end inside a chunk: \"%s\"", path, chunks);
    cr_assert (!final, "%s: a cut stream ended with the final zero chunk, as if complete", path);
    cr_assert (strncmp (data, "data: ", 6) == 0, "%s: %s", path, data);
    cr_assert (s_count (data, "\n\n") >= 2 && !strstr (data, "[DONE]"), "%s: %s", path, data);
    cr_assert (strlen (data) >= 2 && strcmp (data + strlen (data) - 2, "\n\n") == 0, "%s: not whole events: %s", path, data);
}

Test (proxyd_fabric, a_backend_dying_mid_stream_cuts_it_cleanly)
{
    //  Routed through another host (A → C → c1, the only provider of m2), then on the providing
    //  host's local route (B → b1).
    s_cut_stream (A, "/v1/chat/completions", "m2", c1);
    s_cut_stream (B, "/v1/_service/llm/v1/chat/completions", "m1", b1);
}

/*  Who may call what (ocf_access), against the real daemons: the admin routes from a client on
    another machine (a network namespace joined to this one by a veth pair: its address is not
    loopback), API keys and their reload on SIGHUP, CORS. The API keys' 401 and 429 through the
    official OpenAI SDK are in node/openai_keys_test.mjs.  */
#include "fabric.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static fabric_t s_fabric;
static ocf_test_netns_t s_remote_client;
static char s_dir[64];           //  the keys files

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/ocf-access-%d", (int) getpid ());
    mkdir (s_dir, 0700);
}

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
    ocf_test_netns_destroy (&s_remote_client);
    char command[256];
    snprintf (command, sizeof command, "rm -rf %s", s_dir);
    cr_assert_eq (system (command), 0);
}

//  The output of a shell command, which must succeed.
static char *
s_run (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static char *
s_run (const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "%s failed: %s", command, output);
    return output;
}

//  A request from the namespace: its status; *body (to free) gets the answer when not NULL.
static int
s_remote (const char *method, fabric_host_t *host, const char *path, const char *header, const char *data, char **body)
{
    char file[128];
    snprintf (file, sizeof file, "%s/answer", s_dir);
    char *code = s_run ("ip netns exec %s curl -s -m 10 -o %s -w '%%{http_code}' -X %s %s%s%s -d '%s' 'http://%s:%d%s'",
                        s_remote_client.name, file, method, header ? "-H '" : "", header ? header : "", header ? "'" : "",
                        data ? data : "", s_remote_client.host_addr, host->port, path);
    int status = atoi (code);
    free (code);
    if (body)
        *body = ocf_test_read_file (file);
    return status;
}

static void
s_assert_error (const char *body, const char *code)
{
    fabric_response_t response = { .body = (char *) body, .body_len = strlen (body) };
    json_t *json = fabric_json (&response);
    cr_assert (json, "not JSON: %s", body);
    json_t *error = json_object_get (json, "error");
    cr_assert_str_eq (json_string_value (json_object_get (error, "code")), code, "%s", body);
    cr_assert (json_is_null (json_object_get (error, "param")), "%s", body);
    cr_assert (json_string_value (json_object_get (error, "message")), "%s", body);
    json_decref (json);
}

#define NODE_BODY "{\"service\": [{\"name\": \"ext\", \"port\": \"9\"}]}"
#define ADMIN_KEY "admin-key-0123456789abcdef"

Test (proxyd_access, admin_routes_refuse_remote_clients, .init = s_setup, .fini = s_teardown, .timeout = 60)
{
    ocf_test_netns_new (&s_remote_client);
    char path[128], extra[256];
    snprintf (path, sizeof path, "%s/admin.key", s_dir);
    FILE *file = fopen (path, "w");
    fprintf (file, "%s\n", ADMIN_KEY);
    fclose (file);
    snprintf (extra, sizeof extra, "admin_key_file = %s\n", path);
    s_fabric.listen_host = "0.0.0.0";
    fabric_host_t *host = fabric_host (&s_fabric, "host-a", extra);
    char *body = NULL;

    //  Reading is open to anyone; changing this node is not.
    cr_assert_eq (s_remote ("GET", host, "/v1/health", NULL, NULL, NULL), 200);
    cr_assert_eq (s_remote ("POST", host, "/v1/dnt/_node", NULL, NODE_BODY, &body), 403);
    s_assert_error (body, "forbidden");
    free (body);
    cr_assert_eq (s_remote ("DELETE", host, "/v1/dnt/_node", NULL, "", NULL), 403);
    cr_assert_eq (s_remote ("POST", host, "/v1/dnt/_node", "Authorization: Bearer not-the-admin-key", NODE_BODY, NULL), 403);
    //  proxyd's own hop through /v1/p2p comes from loopback, but speaks for the remote client.
    char id[128], p2p[300];
    fabric_escape (host->id, id, sizeof id);
    snprintf (p2p, sizeof p2p, "/v1/p2p/%s/v1/dnt/_node", id);
    cr_assert_eq (s_remote ("POST", host, p2p, NULL, NODE_BODY, &body), 403, "%s", body);
    free (body);
    //  The admin key opens it from anywhere.
    cr_assert_eq (s_remote ("POST", host, "/v1/dnt/_node", "Authorization: Bearer " ADMIN_KEY, NODE_BODY, &body), 200,
                  "%s", body);
    free (body);
    //  Draining this host is admin too: nobody else takes its services out of routing. With
    //  the key it gets past the check (no ocf-workerd here to drain: 503, not 403).
    const char *drains[] = { "/v1/admin/drain", "/v1/admin/undrain", NULL };
    for (const char **drain = drains; *drain; drain++) {
        cr_assert_eq (s_remote ("POST", host, *drain, NULL, "{}", &body), 403, "%s: %s", *drain, body);
        s_assert_error (body, "forbidden");
        free (body);
        cr_assert_eq (s_remote ("POST", host, *drain, "Authorization: Bearer not-the-admin-key", "{}", NULL), 403);
        cr_assert_eq (s_remote ("POST", host, *drain, "Authorization: Bearer " ADMIN_KEY, "{}", &body), 503, "%s: %s",
                      *drain, body);
        free (body);
    }
    //  The dashboard's controls call those routes: it offers them to whoever may call them,
    //  and the routes refuse the others whatever a page shows.
    const char *callers[][2] = { { NULL, "false" }, { "Authorization: Bearer not-the-admin-key", "false" },
                                 { "Authorization: Bearer " ADMIN_KEY, "true" } };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq (s_remote ("GET", host, "/v1/dashboard", callers[i][0], NULL, &body), 200, "%s", body);
        char expected[32];
        snprintf (expected, sizeof expected, "\"control\":%s", callers[i][1]);
        cr_assert (strstr (body, expected), "%s: %s", callers[i][0] ? callers[i][0] : "no key", body);
        free (body);
    }

    //  A client on this host needs no key, unless its request was relayed (a proxy in front).
    char url[128];
    snprintf (url, sizeof url, "%s/v1/dnt/_node", host->url);
    fabric_response_t response = fabric_http ("DELETE", url, NULL, NODE_BODY);
    cr_assert_eq (response.status, 200, "%s", response.body);
    fabric_response_free (&response);
    const char *relayed[] = { "X-Forwarded-For: 192.0.2.7", NULL };
    response = fabric_http ("POST", url, relayed, NODE_BODY);
    cr_assert_eq (response.status, 403, "%s", response.body);
    fabric_response_free (&response);
    cr_assert_geq (fabric_metric (host, "ocf_proxyd_auth_rejected_total{reason=\"not_admin\"} "), 5);

    //  This host's backends are for other hosts' proxyds, through the fabric listener.
    cr_assert_eq (s_remote ("GET", host, "/v1/_service/llm/v1/models", NULL, NULL, &body), 403);
    s_assert_error (body, "fabric_only");
    free (body);

    //  Listening beyond this host without API keys is worth one warning.
    char log[400];
    snprintf (log, sizeof log, "%s/ocf-proxyd.log", host->node.root);
    char *text = ocf_test_read_file (log);
    const char *warning = text ? strstr (text, "without API keys") : NULL;
    cr_assert (warning, "%s", text);
    cr_assert_null (strstr (warning + 1, "without API keys"));
    free (text);
}

//  --------------------------------------------------------------------------
//  API keys

#define SK_GOOD "good sha256:4c3fe847ba5369a26bb663f9713c893e7e9407c376d5e33038740063b5a09125\n"
#define SK_LIMITED "limited sha256:703eb1a04b05a6f9b78414ea4c18b2b3a1d9e2d408eff2816eb8ab02132c992a rpm=2\n"
#define SK_SINGLE "single sha256:e2f859a9b74c045da19ce43caa3bc9b00f0f776ae89361435405c75b96e0fb5e streams=1\n"
#define SK_NEW "new sha256:8da9a7efee51ce8615fe40f891bb33ed0da172afab224ae4c3f434dedbdfcfe3\n"

static char s_keys_path[128];

static void
s_write_keys (const char *text)
{
    char temporary[160];
    snprintf (temporary, sizeof temporary, "%s.new", s_keys_path);
    FILE *file = fopen (temporary, "w");
    fputs (text, file);
    fclose (file);
    cr_assert_eq (rename (temporary, s_keys_path), 0);
}

//  The status of a GET with a bearer token (NULL: none) at host.
static long
s_get (fabric_host_t *host, const char *path, const char *token)
{
    char url[256], authorization[128];
    snprintf (url, sizeof url, "%s%s", host->url, path);
    snprintf (authorization, sizeof authorization, "Authorization: Bearer %s", token ? token : "");
    const char *headers[] = { token ? authorization : NULL, NULL };
    fabric_response_t response = fabric_http ("GET", url, headers, NULL);
    long status = response.status;
    fabric_response_free (&response);
    return status;
}

typedef struct {
    fabric_host_t *host;
    const char *token;
    long status;
} expect_t;

static bool
s_answers (void *arg)
{
    expect_t *expect = arg;
    return s_get (expect->host, "/v1/models", expect->token) == expect->status;
}

//  Once host routes the model: its /v1/models, asked with the key, lists it.
static void
s_wait_model (fabric_host_t *host, const char *model)
{
    char url[256];
    snprintf (url, sizeof url, "%s/v1/models", host->url);
    const char *headers[] = { "Authorization: Bearer sk-good", NULL };
    for (int i = 0; i < 100; i++) {
        fabric_response_t response = fabric_http ("GET", url, headers, NULL);
        bool listed = response.status == 200 && strstr (response.body, model);
        fabric_response_free (&response);
        if (listed)
            return;
        usleep (50 * 1000);
    }
    cr_assert_fail ("%s does not route %s", host->name, model);
}

static bool
s_stream_returned (void *arg)
{
    return fabric_metric (arg, "ocf_proxyd_api_key_streams{key=\"single\"} ") == 0;
}

//  The keys are checked by the host the client reaches (a); b, which serves the model, has
//  none and takes a's hop as it comes.
Test (proxyd_access, api_keys, .init = s_setup, .fini = s_teardown, .timeout = 120)
{
    snprintf (s_keys_path, sizeof s_keys_path, "%s/api.keys", s_dir);
    s_write_keys ("# test clients\n" SK_GOOD SK_LIMITED SK_SINGLE);
    char extra[256];
    snprintf (extra, sizeof extra, "api_keys_file = %s\n", s_keys_path);
    fabric_host_t *a = fabric_host (&s_fabric, "host-a", extra);
    fabric_host_t *b = fabric_host (&s_fabric, "host-b", NULL);
    const char *args[] = { "--model", "keyed-model", "--token-delay-ms", "20", NULL };
    fabric_service (b, "llm", fabric_backend (&s_fabric, "keyed-backend", args), "model=keyed-model", NULL);
    fabric_sync (&s_fabric);

    //  No key: 401 in OpenAI's shape, with WWW-Authenticate; monitoring needs none.
    char url[256];
    snprintf (url, sizeof url, "%s/v1/models", a->url);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 401);
    s_assert_error (response.body, "invalid_api_key");
    char *challenge = fabric_header (&response, "www-authenticate");
    cr_assert_str_eq (challenge, "Bearer");
    free (challenge);
    fabric_response_free (&response);
    cr_assert_eq (s_get (a, "/v1/health", NULL), 200);
    cr_assert_eq (s_get (a, "/metrics", NULL), 200);
    s_wait_model (a, "keyed-model");

    char command[512];
    snprintf (command, sizeof command, "cd %s && node openai_keys_test.mjs %s/v1 keyed-model 2>&1", OCF_NODE_TEST_DIR, a->url);
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "the OpenAI SDK keys test failed:\n%s", output);
    free (output);
    cr_assert_eq (fabric_metric (a, "ocf_proxyd_api_key_requests_total{key=\"limited\",outcome=\"ok\"} "), 2);
    cr_assert_eq (fabric_metric (a, "ocf_proxyd_api_key_requests_total{key=\"limited\",outcome=\"rate_limited\"} "), 1);
    cr_assert_eq (fabric_metric (a, "ocf_proxyd_api_key_requests_total{key=\"single\",outcome=\"streams_limited\"} "), 1);
    cr_assert_eq (fabric_metric (a, "ocf_proxyd_api_key_streams{key=\"single\"} "), 0);
    cr_assert_geq (fabric_metric (a, "ocf_proxyd_auth_rejected_total{reason=\"invalid_key\"} "), 2);
    cr_assert_geq (fabric_metric (a, "ocf_proxyd_auth_rejected_total{reason=\"missing_key\"} "), 1);

    //  A client that hangs up in the middle of a stream gives its stream back.
    snprintf (command, sizeof command, "curl -s -N -m 0.5 -H 'Authorization: Bearer sk-single' -H 'X-Test-Token-Delay-Ms: 200' "
              "-d '{\"model\": \"keyed-model\", \"stream\": true, \"max_tokens\": 50, \"messages\": []}' %s/v1/chat/completions",
              a->url);
    output = ocf_test_run (command, &status);
    cr_assert (strstr (output, "data: "), "the stream did not begin: %s", output);
    free (output);
    cr_assert (ocf_test_wait_for (s_stream_returned, a, 5000));
    cr_assert_eq (s_get (a, "/v1/models", "sk-single"), 200);

    //  SIGHUP: the file again. A key removed is refused, a key added works.
    s_write_keys (SK_NEW SK_LIMITED);
    cr_assert_eq (kill (a->proxyd, SIGHUP), 0);
    expect_t added = { a, "sk-new", 200 }, removed = { a, "sk-good", 401 };
    cr_assert (ocf_test_wait_for (s_answers, &added, 5000));
    cr_assert (ocf_test_wait_for (s_answers, &removed, 5000));
    //  The key kept keeps its counters: its minute is still spent.
    cr_assert_eq (s_get (a, "/v1/models", "sk-limited"), 429);
    //  A malformed file changes nothing.
    s_write_keys (SK_NEW "broken line\n");
    cr_assert_eq (kill (a->proxyd, SIGHUP), 0);
    usleep (300 * 1000);
    cr_assert_eq (s_get (a, "/v1/models", "sk-new"), 200);
    cr_assert_eq (s_get (a, "/v1/models", "sk-good"), 401);
    char log[400];
    snprintf (log, sizeof log, "%s/ocf-proxyd.log", a->node.root);
    char *text = ocf_test_read_file (log);
    cr_assert (text && strstr (text, "keeping the API keys in use: [proxyd] api_keys_file: ") && strstr (text, ":2: "),
               "%s", text);
    free (text);
}

//  --------------------------------------------------------------------------
//  CORS

//  An answer's status and its Access-Control-Allow-Origin (origin NULL: none).
static void
s_assert_cors (const char *method, const char *url, const char *const *headers, const char *body, long status,
               const char *origin)
{
    fabric_response_t response = fabric_http (method, url, headers, body);
    cr_assert_eq (response.status, status, "%s", response.body);
    char *allowed = fabric_header (&response, "access-control-allow-origin");
    if (origin)
        cr_assert_str_eq (allowed, origin);
    else
        cr_assert_null (allowed, "%s", allowed);
    free (allowed);
    fabric_response_free (&response);
}

Test (proxyd_access, cors, .init = s_setup, .fini = s_teardown, .timeout = 60)
{
    snprintf (s_keys_path, sizeof s_keys_path, "%s/api.keys", s_dir);
    s_write_keys (SK_GOOD);
    char extra[300];
    snprintf (extra, sizeof extra, "api_keys_file = %s\nallowed_origins = https://app.example, http://localhost:3000\n",
              s_keys_path);
    fabric_host_t *a = fabric_host (&s_fabric, "host-a", extra);
    fabric_host_t *plain = fabric_host (&s_fabric, "host-b", NULL);
    const char *args[] = { "--model", "web-model", NULL };
    fabric_service (a, "llm", fabric_backend (&s_fabric, "web-backend", args), "model=web-model", NULL);
    s_wait_model (a, "web-model");
    char url[256];
    snprintf (url, sizeof url, "%s/v1/chat/completions", a->url);

    //  A preflight from a listed origin: 204, without a key (browsers send none).
    const char *preflight[] = { "Origin: http://localhost:3000", "Access-Control-Request-Method: POST",
                                "Access-Control-Request-Headers: authorization, content-type, x-stainless-os", NULL };
    fabric_response_t response = fabric_http ("OPTIONS", url, preflight, NULL);
    cr_assert_eq (response.status, 204, "%ld %s", response.status, response.body);
    char *origin = fabric_header (&response, "access-control-allow-origin");
    char *headers = fabric_header (&response, "access-control-allow-headers");
    char *methods = fabric_header (&response, "access-control-allow-methods");
    char *age = fabric_header (&response, "access-control-max-age");
    cr_assert_str_eq (origin, "http://localhost:3000");
    cr_assert_str_eq (headers, "authorization, content-type, x-stainless-os");
    cr_assert (methods && strstr (methods, "POST"));
    cr_assert (age && atoi (age) > 0);
    free (origin), free (headers), free (methods), free (age);
    fabric_response_free (&response);

    //  Another origin: 403, nothing that would let a browser through.
    const char *stranger[] = { "Origin: https://evil.example", "Access-Control-Request-Method: POST", NULL };
    response = fabric_http ("OPTIONS", url, stranger, NULL);
    cr_assert_eq (response.status, 403);
    s_assert_error (response.body, "origin_not_allowed");
    cr_assert_null (fabric_header (&response, "access-control-allow-origin"));
    fabric_response_free (&response);
    //  A proxyd on loopback without keys is no reason for a warning.
    char log[400];
    snprintf (log, sizeof log, "%s/ocf-proxyd.log", plain->node.root);
    char *text = ocf_test_read_file (log);
    cr_assert (text && !strstr (text, "without API keys"), "%s", text);
    free (text);
    //  A proxyd without allowed_origins allows none.
    char plain_url[256];
    snprintf (plain_url, sizeof plain_url, "%s/v1/chat/completions", plain->url);
    response = fabric_http ("OPTIONS", plain_url, preflight, NULL);
    cr_assert_eq (response.status, 403);
    fabric_response_free (&response);

    //  Answers to a listed origin carry the headers: a streamed answer from the backend, and
    //  errors (a browser may read why it was refused).
    const char *request[] = { "Origin: https://app.example", "Authorization: Bearer sk-good",
                              "Content-Type: application/json", NULL };
    response = fabric_http ("POST", url, request,
                            "{\"model\": \"web-model\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
    cr_assert_eq (response.status, 200, "%s", response.body);
    origin = fabric_header (&response, "access-control-allow-origin");
    char *vary = fabric_header (&response, "vary");
    cr_assert_str_eq (origin, "https://app.example");
    cr_assert (vary && strstr (vary, "Origin"));
    free (origin), free (vary);
    fabric_response_free (&response);
    s_assert_cors ("POST", url, request, "{\"model\": \"no-such-model\", \"messages\": []}", 404, "https://app.example");
    const char *keyless[] = { "Origin: https://app.example", NULL };
    s_assert_cors ("POST", url, keyless, "{}", 401, "https://app.example");
    //  Not to other origins, nor without one.
    const char *other[] = { "Origin: https://evil.example", "Authorization: Bearer sk-good", NULL };
    s_assert_cors ("POST", url, other, "{\"model\": \"web-model\", \"messages\": []}", 200, NULL);
    s_assert_cors ("POST", url, request + 1, "{\"model\": \"web-model\", \"messages\": []}", 200, NULL);
}

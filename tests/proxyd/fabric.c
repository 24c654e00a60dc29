/*  fabric: loopback hosts and an HTTP client for proxyd's tests.  */
#include "fabric.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  HTTP

typedef struct {
    char *data;
    size_t len;
} buffer_t;

static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    buffer_t *buffer = arg;
    size_t len = size * count;
    buffer->data = realloc (buffer->data, buffer->len + len + 1);
    memcpy (buffer->data + buffer->len, data, len);
    buffer->len += len;
    buffer->data[buffer->len] = '\0';
    return len;
}

static CURL *
s_easy (const char *method, const char *url, struct curl_slist *list, const char *body)
{
    CURL *curl = curl_easy_init ();
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    if (strcmp (method, "HEAD") == 0)
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
    }
    return curl;
}

static struct curl_slist *
s_headers (const char *const *headers)
{
    //  curl asks big bodies to wait for "100 Continue": not what clients usually do.
    struct curl_slist *list = curl_slist_append (NULL, "Expect:");
    for (const char *const *header = headers; header && *header; header++)
        list = curl_slist_append (list, *header);
    return list;
}

fabric_response_t
fabric_http (const char *method, const char *url, const char *const *headers, const char *body)
{
    struct curl_slist *list = s_headers (headers);
    CURL *curl = s_easy (method, url, list, body);
    buffer_t head = { 0 }, content = { 0 };
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &head);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &content);
    fabric_response_t response = { 0 };
    if (curl_easy_perform (curl) == CURLE_OK) {
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &response.status);
        curl_easy_getinfo (curl, CURLINFO_TOTAL_TIME, &response.total_s);
    }
    curl_easy_cleanup (curl);
    curl_slist_free_all (list);
    //  Header names in lower case (values as they are).
    bool in_name = true;
    for (size_t i = 0; i < head.len; i++) {
        if (head.data[i] == '\n')
            in_name = true;
        else
        if (head.data[i] == ':')
            in_name = false;
        else
        if (in_name && head.data[i] >= 'A' && head.data[i] <= 'Z')
            head.data[i] = (char) (head.data[i] - 'A' + 'a');
    }
    response.headers = head.data ? head.data : strdup ("");
    response.body = content.data ? content.data : strdup ("");
    response.body_len = content.len;
    return response;
}

void
fabric_response_free (fabric_response_t *response)
{
    free (response->headers);
    free (response->body);
    memset (response, 0, sizeof *response);
}

char *
fabric_header (const fabric_response_t *response, const char *name)
{
    char pattern[128];
    snprintf (pattern, sizeof pattern, "\n%s: ", name);
    const char *found = strstr (response->headers, pattern);
    if (!found)
        return NULL;
    found += strlen (pattern);
    return strndup (found, strcspn (found, "\r\n"));
}

json_t *
fabric_json (const fabric_response_t *response)
{
    return json_loadb (response->body, response->body_len, 0, NULL);
}

json_t *
fabric_get_json (fabric_host_t *host, const char *path)
{
    char url[256];
    snprintf (url, sizeof url, "%s%s", host->url, path);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200, "GET %s: %ld %s", path, response.status, response.body);
    json_t *json = fabric_json (&response);
    cr_assert (json, "GET %s is not JSON: %s", path, response.body);
    fabric_response_free (&response);
    return json;
}

double
fabric_metric (fabric_host_t *host, const char *sample)
{
    char url[128], line[256];
    snprintf (url, sizeof url, "%s/metrics", host->url);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200);
    snprintf (line, sizeof line, "\n%s", sample);         //  a sample line, not its HELP line
    const char *found = strstr (response.body, line);
    double value = found ? atof (found + strlen (line)) : 0;
    fabric_response_free (&response);
    return value;
}

void
fabric_escape (const char *text, char *out, size_t size)
{
    char *escaped = curl_easy_escape (NULL, text, 0);
    snprintf (out, size, "%s", escaped);
    curl_free (escaped);
}

//  --------------------------------------------------------------------------
//  Streams

typedef struct {
    fabric_stream_t *stream;
    buffer_t pending;
} stream_state_t;

static size_t
s_stream_data (char *data, size_t size, size_t count, void *arg)
{
    stream_state_t *state = arg;
    int64_t now = ocf_time_wall_us ();
    s_collect (data, size, count, &state->pending);
    char *end;
    while ((end = strstr (state->pending.data, "\n\n"))) {
        *end = '\0';
        const char *payload = strncmp (state->pending.data, "data: ", 6) == 0 ? state->pending.data + 6 : state->pending.data;
        fabric_stream_t *stream = state->stream;
        if (strcmp (payload, "[DONE]") == 0)
            stream->done = true;
        else {
            json_t *event = json_loads (payload, 0, NULL);
            if (event && stream->count < 64) {
                stream->sent_us[stream->count] = json_integer_value (json_object_get (event, "x_sent_us"));
                stream->received_us[stream->count] = now;
                json_t *choice = json_array_get (json_object_get (event, "choices"), 0);
                const char *content = json_string_value (json_object_get (json_object_get (choice, "delta"), "content"));
                if (stream->count == 0 && content)
                    snprintf (stream->backend, sizeof stream->backend, "%.*s", (int) strcspn (content, ":"), content);
                stream->count++;
            }
            json_decref (event);
        }
        size_t consumed = (size_t) (end + 2 - state->pending.data);
        memmove (state->pending.data, end + 2, state->pending.len - consumed + 1);
        state->pending.len -= consumed;
    }
    return size * count;
}

fabric_stream_t
fabric_stream (const char *url, const char *model, const char *const *headers)
{
    fabric_stream_t stream = { 0 };
    char body[256];
    snprintf (body, sizeof body, "{\"model\": \"%s\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
              model);
    struct curl_slist *list = s_headers (headers);
    list = curl_slist_append (list, "Content-Type: application/json");
    CURL *curl = s_easy ("POST", url, list, body);
    stream_state_t state = { &stream, { 0 } };
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_stream_data);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &state);
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &stream.status);
    curl_easy_cleanup (curl);
    curl_slist_free_all (list);
    free (state.pending.data);
    return stream;
}

//  --------------------------------------------------------------------------
//  Hosts and backends

static json_t *
s_call (fabric_host_t *host, const char *verb, json_t *body)
{
    bool ok;
    json_t *reply = ocf_test_call (&host->node, "tabled", verb, body, &ok);
    cr_assert (ok, "%s on %s failed: %s", verb, host->name,
               reply ? json_string_value (json_object_get (reply, "error")) : "no reply");
    return reply;
}

void
fabric_start_tabled (fabric_host_t *host)
{
    host->tabled = ocf_test_start (&host->node, "ocf-tabled", NULL, 10000);
    cr_assert_gt (host->tabled, 0, "ocf-tabled of %s did not start (see %s)", host->name, host->node.root);
    json_t *hello = s_call (host, "HELLO", NULL);
    snprintf (host->id, sizeof host->id, "%s", json_string_value (json_object_get (hello, "id")));
    json_decref (hello);
}

void
fabric_start_proxyd (fabric_host_t *host)
{
    host->proxyd = ocf_test_start (&host->node, "ocf-proxyd", NULL, 10000);
    cr_assert_gt (host->proxyd, 0, "ocf-proxyd of %s did not start (see %s/ocf-proxyd.log)", host->name, host->node.root);
}

fabric_host_t *
fabric_host_unstarted (fabric_t *fabric, const char *name, int port, const char *extra)
{
    cr_assert_lt (fabric->host_count, FABRIC_HOSTS);
    fabric_host_t *host = &fabric->hosts[fabric->host_count++];
    snprintf (host->name, sizeof host->name, "%s", name);
    ocf_test_node_init (&host->node, name);
    host->port = port;
    host->fabric_port = ocf_test_free_port ();
    snprintf (host->url, sizeof host->url, "http://127.0.0.1:%d", host->port);
    char config[1024];
    snprintf (config, sizeof config, "[node]\nname = %s\npublic_addr = 127.0.0.1\n[proxyd]\nlisten = %s:%d\n"
              "fabric_listen = 127.0.0.1:%d\n%s\n", name, fabric->listen_host ? fabric->listen_host : "127.0.0.1", host->port,
              host->fabric_port, extra ? extra : "");
    ocf_test_node_config (&host->node, config);
    return host;
}

fabric_host_t *
fabric_host (fabric_t *fabric, const char *name, const char *extra)
{
    fabric_host_t *host = fabric_host_unstarted (fabric, name, ocf_test_free_port (), extra);
    fabric_start_tabled (host);
    fabric_start_proxyd (host);
    return host;
}

static bool
s_backend_up (void *arg)
{
    fabric_backend_t *backend = arg;
    char url[64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/health", backend->port);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    bool up = response.status == 200;
    fabric_response_free (&response);
    return up;
}

fabric_backend_t *
fabric_backend (fabric_t *fabric, const char *name, const char *const *args)
{
    cr_assert_lt (fabric->backend_count, FABRIC_BACKENDS);
    fabric_backend_t *backend = &fabric->backends[fabric->backend_count++];
    snprintf (backend->name, sizeof backend->name, "%s", name);
    backend->port = ocf_test_free_port ();
    char listen[64], log[300];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", backend->port);
    snprintf (log, sizeof log, "/tmp/ocf-test-backend-%s-%d.log", name, backend->port);
    const char *argv[32] = { ocf_test_bin ("ocf-test-backend"), "--listen", listen, "--name", name };
    int argc = 5;
    for (const char *const *arg = args; arg && *arg && argc < 30; arg++)
        argv[argc++] = *arg;
    argv[argc] = NULL;
    backend->pid = ocf_test_exec (argv, log, NULL);
    cr_assert (ocf_test_wait_for (s_backend_up, backend, 5000), "backend %s did not start (see %s)", name, log);
    unlink (log);
    return backend;
}

void
fabric_kill_backend (fabric_backend_t *backend)
{
    ocf_test_stop (backend->pid, SIGKILL, 2000);
    backend->pid = 0;
}

void
fabric_service (fabric_host_t *host, const char *name, fabric_backend_t *backend, const char *groups, const char *extra)
{
    json_t *service = json_pack ("{s:s, s:s, s:i, s:s, s:[]}", "name", name, "host", "127.0.0.1", "port", backend->port,
                                 "status", "ready", "identity_group");
    char *copy = strdup (groups ? groups : ""), *saveptr = NULL;
    for (char *group = strtok_r (copy, ",", &saveptr); group; group = strtok_r (NULL, ",", &saveptr))
        json_array_append_new (json_object_get (service, "identity_group"), json_string (group));
    free (copy);
    if (extra) {
        json_t *more = json_loads (extra, 0, NULL);
        cr_assert (more, "bad extra JSON %s", extra);
        json_object_update (service, more);
        json_decref (more);
    }
    json_decref (s_call (host, "SERVICE.UP", json_pack ("{s:o}", "service", service)));
}

void
fabric_sync (fabric_t *fabric)
{
    for (size_t from = 0; from < fabric->host_count; from++) {
        json_t *list = s_call (&fabric->hosts[from], "LIST", json_pack ("{s:i}", "limit", 10000));
        for (size_t to = 0; to < fabric->host_count; to++)
            if (to != from)
                json_decref (s_call (&fabric->hosts[to], "MERGE", json_pack ("{s:O}", "rows", json_object_get (list, "rows"))));
        json_decref (list);
    }
}

void
fabric_set_status (fabric_host_t *host, fabric_host_t *about, const char *status)
{
    json_t *entry = s_call (host, "GET", json_pack ("{s:s}", "id", about->id));
    json_t *row = json_object_get (entry, "row");
    json_t *member = json_pack ("{s:s, s:O, s:O, s:s}", "id", about->id, "generation", json_object_get (row, "generation"),
                                "incarnation", json_object_get (row, "incarnation"), "status", status);
    json_decref (entry);
    json_decref (s_call (host, "MERGE", json_pack ("{s:[o]}", "members", member)));
}

typedef struct {
    fabric_host_t *host;
    const char *model;
    int providers;
} model_wait_t;

static bool
s_model_served (void *arg)
{
    model_wait_t *wait = arg;
    char url[128];
    snprintf (url, sizeof url, "%s/v1/models", wait->host->url);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    json_t *models = fabric_json (&response);
    fabric_response_free (&response);
    int providers = 0;
    size_t index;
    json_t *model;
    json_array_foreach (json_object_get (models, "data"), index, model)
        if (strcmp (json_string_value (json_object_get (model, "id")), wait->model) == 0)
            providers = (int) json_integer_value (json_object_get (model, "providers"));
    json_decref (models);
    return providers == wait->providers;
}

bool
fabric_wait_model (fabric_host_t *host, const char *model, int providers, int timeout_ms)
{
    model_wait_t wait = { host, model, providers };
    return ocf_test_wait_for (s_model_served, &wait, timeout_ms);
}

void
fabric_stop (fabric_t *fabric)
{
    for (size_t i = 0; i < fabric->backend_count; i++)
        if (fabric->backends[i].pid > 0)
            ocf_test_stop (fabric->backends[i].pid, SIGKILL, 2000);
    for (size_t i = 0; i < fabric->host_count; i++) {
        fabric_host_t *host = &fabric->hosts[i];
        if (host->proxyd > 0) {
            int status = ocf_test_stop (host->proxyd, SIGTERM, 10000);
            if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
                ocf_test_teardown_fail ("ocf-proxyd of %s did not stop cleanly (status %d)", host->name, status);
        }
        if (host->tabled > 0)
            ocf_test_stop (host->tabled, SIGTERM, 5000);
    }
    //  Only once every host stopped: a node's cleanup kills whatever children are left, the
    //  other hosts' daemons included.
    for (size_t i = 0; i < fabric->host_count; i++)
        ocf_test_node_cleanup (&fabric->hosts[i].node);
    memset (fabric, 0, sizeof *fabric);
}

void
fabric_service_status (fabric_host_t *host, const char *node_id, const char *name, char *status, size_t size)
{
    char url[128];
    snprintf (url, sizeof url, "%s/v1/dnt/table", host->url);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    json_t *table = fabric_json (&response);
    fabric_response_free (&response);
    char key[128];
    snprintf (key, sizeof key, "/%s", node_id);
    json_t *service;
    size_t index;
    status[0] = '\0';
    json_array_foreach (json_object_get (json_object_get (table, key), "service"), index, service)
        if (strcmp (json_string_value (json_object_get (service, "name")), name) == 0)
            snprintf (status, size, "%s", json_string_value (json_object_get (service, "status")));
    json_decref (table);
}

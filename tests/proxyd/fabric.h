/*  fabric: several hosts on loopback for proxyd's tests, and an HTTP client (libcurl).
    A host is a real ocf-tabled and a real ocf-proxyd with their own directories and ports;
    its [node] public_addr and [proxyd] listen make its row's addr.proxy point at its own
    proxyd. Until gossipd joins them, fabric_sync copies rows between the hosts' tables
    (LIST on each, MERGE into the others), as gossip would. Backends are ocf-test-backend
    processes. Everything started here dies with the test process.  */
#ifndef FABRIC_H
#define FABRIC_H

#include "ocf_identity.h"
#include "ocf_test.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FABRIC_HOSTS 4
#define FABRIC_BACKENDS 8

typedef struct {
    ocf_test_node_t node;
    char name[32];
    int port;                    //  proxyd's
    int fabric_port;             //  proxyd's fabric listener (mutual TLS)
    char url[64];                //  "http://127.0.0.1:<port>"
    char id[OCF_NODE_ID_LEN + 1];
    pid_t tabled;
    pid_t proxyd;
} fabric_host_t;

typedef struct {
    char name[32];
    int port;
    pid_t pid;
} fabric_backend_t;

typedef struct {
    fabric_host_t hosts[FABRIC_HOSTS];
    size_t host_count;
    fabric_backend_t backends[FABRIC_BACKENDS];
    size_t backend_count;
    const char *listen_host;     //  where the proxyds listen (NULL: 127.0.0.1); url stays loopback
} fabric_t;

//  Starts tabled and proxyd of a new host (extra: more lines for its ocf.conf, may be NULL).
fabric_host_t *fabric_host (fabric_t *fabric, const char *name, const char *extra);
//  A new host, configured (proxyd listening on 127.0.0.1:port) but not started.
fabric_host_t *fabric_host_unstarted (fabric_t *fabric, const char *name, int port, const char *extra);
//  Starts (or restarts) only the host's daemons.
void fabric_start_tabled (fabric_host_t *host);
void fabric_start_proxyd (fabric_host_t *host);
//  Starts an ocf-test-backend on a free port; args: more flags, NULL-terminated (may be NULL).
fabric_backend_t *fabric_backend (fabric_t *fabric, const char *name, const char *const *args);
void fabric_kill_backend (fabric_backend_t *backend);
//  Registers a service on a host through its tabled (SERVICE.UP): "llm", a backend, groups
//  "model=a,model=b" (may be NULL), extra members as JSON text (may be NULL).
void fabric_service (fabric_host_t *host, const char *name, fabric_backend_t *backend, const char *groups, const char *extra);
//  Copies every host's rows to every other host, as gossip would.
void fabric_sync (fabric_t *fabric);
//  Tells a host's tabled that another node has this status (MERGE members).
void fabric_set_status (fabric_host_t *host, fabric_host_t *about, const char *status);
//  Waits until the host's proxyd routes the model (GET /v1/models lists it with n providers).
bool fabric_wait_model (fabric_host_t *host, const char *model, int providers, int timeout_ms);
void fabric_stop (fabric_t *fabric);

typedef struct {
    long status;
    char *headers;               //  raw, lower-cased names
    char *body;
    size_t body_len;
    double total_s;
} fabric_response_t;

//  One request with curl (headers: "Name: value" strings, NULL-terminated; body may be NULL).
fabric_response_t fabric_http (const char *method, const char *url, const char *const *headers, const char *body);
void fabric_response_free (fabric_response_t *response);
//  A header's value (copied; NULL when absent).
char *fabric_header (const fabric_response_t *response, const char *name);
//  The body as JSON (NULL when it is not).
json_t *fabric_json (const fabric_response_t *response);
//  GET path on the host's proxyd, which must answer 200 with JSON: the body (caller decrefs).
json_t *fabric_get_json (fabric_host_t *host, const char *path);
//  The value of a sample of the host's /metrics ("name{labels} "), 0 when absent.
double fabric_metric (fabric_host_t *host, const char *sample);
//  The status of node_id's service name in host's proxyd's view (/v1/dnt/table) into status,
//  "" when the view lists none.
void fabric_service_status (fabric_host_t *host, const char *node_id, const char *name, char *status, size_t size);
//  A node id as a path segment (percent-encoded).
void fabric_escape (const char *text, char *out, size_t size);

typedef struct {
    size_t count;
    int64_t sent_us[64];         //  x_sent_us of each event
    int64_t received_us[64];     //  wall clock when curl handed it over
    char backend[32];            //  who answered (the first token names it)
    long status;
    bool done;                   //  [DONE] arrived
} fabric_stream_t;

//  A streamed chat completion, timing each server-sent event on arrival.
fabric_stream_t fabric_stream (const char *url, const char *model, const char *const *headers);

#endif

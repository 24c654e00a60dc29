/*  ocf_request: what an HTTP request asks proxyd for, decided from its bytes alone.
    Owns the route table (path -> route kind, service, node, forwarded path), the methods each
    route accepts, and the extraction of the routing identity ("model=<id>") from an
    X-Ocf-Identity header or a JSON body, through common/ocf_json: the whole body is validated
    in one pass without building a tree or allocating, so a 16 MiB prompt costs one linear scan.
    Pure functions over (pointer, length) inputs: fuzzed by tests/fuzz/fuzz_request.c.  */
#ifndef OCF_REQUEST_H
#define OCF_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    OCF_ROUTE_NOT_FOUND = 0,
    OCF_ROUTE_DASHBOARD,         //  GET /
    OCF_ROUTE_METRICS,           //  GET /metrics
    OCF_ROUTE_HEALTH,            //  GET /v1/health
    OCF_ROUTE_DNT_TABLE,         //  GET /v1/dnt/table
    OCF_ROUTE_DNT_PEERS,
    OCF_ROUTE_DNT_PEERS_STATUS,
    OCF_ROUTE_DNT_BOOTSTRAPS,
    OCF_ROUTE_DNT_STATS,
    OCF_ROUTE_DNT_NODE,          //  POST / DELETE /v1/dnt/_node
    OCF_ROUTE_SERVICE,           //  * /v1/service/{svc}/{path}
    OCF_ROUTE_LOCAL_SERVICE,     //  * /v1/_service/{svc}/{path}
    OCF_ROUTE_P2P,               //  * /v1/p2p/{node}/{path}
    OCF_ROUTE_CHAT,              //  POST /v1/chat/completions
    OCF_ROUTE_COMPLETIONS,       //  POST /v1/completions
    OCF_ROUTE_EMBEDDINGS,        //  POST /v1/embeddings
    OCF_ROUTE_MODELS,            //  GET /v1/models
    OCF_ROUTE_MODEL,             //  GET /v1/models/{id}
    OCF_ROUTE_COUNT
} ocf_route_kind_t;

#define OCF_NAME_MAX 256         //  node ids and names, model ids after percent-decoding

typedef struct {
    ocf_route_kind_t kind;
    const char *service;         //  the {svc} segment (not terminated), for the service routes
    size_t service_len;
    char node[OCF_NAME_MAX];     //  the {node} segment, percent-decoded (p2p); the model id (MODEL)
    const char *rest;            //  the path forwarded upstream: "/..." with the query, never empty
    size_t rest_len;
    bool rest_slash;             //  rest is a bare query ("?x=1"): forward "/" in front of it
} ocf_route_t;

//  Classifies a request target ("/v1/service/llm/v1/chat/completions?x=1"). Returns the kind
//  (also in route->kind); OCF_ROUTE_NOT_FOUND when no route matches or a segment is malformed.
ocf_route_kind_t ocf_route_parse (const char *path, size_t len, ocf_route_t *route);
//  A short stable name for logs and metrics labels ("service", "chat", ...).
const char *ocf_route_name (ocf_route_kind_t kind);
//  Whether the route accepts the method; *allow gets the Allow header value for a 405.
bool ocf_route_method_allowed (ocf_route_kind_t kind, const char *method, size_t method_len, const char **allow);

typedef enum {
    OCF_IDENTITY_NONE = 0,       //  no identity: any provider of the service will do
    OCF_IDENTITY_OK,             //  identity holds "key=value"
    OCF_IDENTITY_ERROR           //  a 400: error says why
} ocf_identity_result_t;

#define OCF_IDENTITY_MAX 512

//  The identity a request is routed by. header is the X-Ocf-Identity value (NULL when absent)
//  and wins when present ("key=value"). Otherwise the body is read when required (the OpenAI
//  routes: it must be a JSON object with a string "model") or when it looks like JSON (a
//  content type naming json, or a first non-blank byte '{'); key is the member to read.
ocf_identity_result_t ocf_request_identity (const char *header, size_t header_len, const char *content_type,
                                            size_t content_type_len, const char *body, size_t body_len, const char *key,
                                            bool required, char *identity, size_t identity_size, char *error,
                                            size_t error_size);

//  Whether the value of a Connection header (a comma-separated list of header names, RFC 9110
//  7.6.1) names the header called name, case-insensitively. The headers it names are
//  hop-by-hop: a proxy does not forward them.
bool ocf_connection_names (const char *list, size_t list_len, const char *name, size_t name_len);

//  Percent-decodes src into dst (NUL-terminated). Returns -1 on a malformed escape, a NUL byte
//  or when dst is too small.
int ocf_percent_decode (const char *src, size_t len, char *dst, size_t dst_size);

#endif

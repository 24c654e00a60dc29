/*  ocf_request: what an HTTP request asks proxyd for, decided from its bytes alone.
    Owns the route table that modules register into (pattern, methods, who may call it,
    handler) and its matching (path -> route, service, node, forwarded path), and the
    extraction of the routing identity ("model=<id>") from an X-Ocf-Identity header, a
    multipart form field (ocf_multipart) or a JSON body, through common/ocf_json: the whole
    body is validated in one pass without building a tree or allocating, so a 16 MiB prompt
    costs one linear scan. Pure functions over (pointer, length) inputs: fuzzed by
    tests/fuzz/fuzz_request.c.  */
#ifndef OCF_REQUEST_H
#define OCF_REQUEST_H

#include "ocf_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_h2o_req_t h2o_req_t;

//  Who may call a route. The dispatcher checks it before the handler runs (ocf_access).
typedef enum {
    OCF_ACCESS_OPEN = 0,         //  anyone, never an API key: read-only views for monitoring, the dashboard
    OCF_ACCESS_PUBLIC,           //  anyone; a valid API key when [proxyd] api_keys_file is set
    OCF_ACCESS_ADMIN,            //  changes this node: a local client or the admin key
    OCF_ACCESS_FABRIC,           //  another host's hop to this one: a local client or the fabric
    OCF_ACCESS_COUNT
} ocf_access_class_t;

#define OCF_NAME_MAX 256         //  node ids and names, model ids after percent-decoding
#define OCF_ROUTES_MAX 32        //  routes a table holds, index 0 (no route) included

typedef struct _ocf_route_t ocf_route_t;
typedef void (ocf_route_handler_fn) (h2o_req_t *req, ocf_route_t *route);

//  A route as a module registers it, as h2o registers handlers on paths.
//  pattern: a literal path ("/v1/health", matched exactly, a query allowed after it), or a
//  literal prefix then one placeholder: {svc} (a service name, one segment), {node} (one
//  segment, percent-decoded), either followed by /{path} (the rest, forwarded); or {id} last
//  (everything up to the query, percent-decoded: model ids hold '/').
typedef struct {
    const char *name;            //  stable: logs and the metrics' route label
    const char *pattern;
    const char *methods;         //  "GET, HEAD"; NULL: every method that may be forwarded
    ocf_access_class_t access;
    ocf_route_handler_fn *handler;
    int variant;                 //  for the handler, when one serves several routes
    //  Also served to a fabric hop (another host's proxyd, ocf_fabric_hop) when {node} is this
    //  node's own id: the hop carries its client's request, which this node serves again as
    //  /{path} and judges by that route's class (the p2p route).
    bool own_node_hop;
} ocf_route_spec_t;

struct _ocf_route_t {
    int index;                   //  in its table; 0: no route matched
    const ocf_route_spec_t *spec;    //  NULL when none matched
    const char *service;         //  the {svc} or {node} segment as received (not terminated)
    size_t service_len;
    char node[OCF_NAME_MAX];     //  {node} or {id}, percent-decoded
    const char *rest;            //  {path}: "/..." with the query, never empty
    size_t rest_len;
    bool rest_slash;             //  rest is a bare query ("?x=1"): forward "/" in front of it
};

//  The routes of a server: filled at start, read-only afterwards (every loop reads it).
typedef struct {
    ocf_route_spec_t specs[OCF_ROUTES_MAX];  //  [0] stands for "no route" in metrics
    int count;
    char listing[1024];          //  the patterns, for the 404 that lists them
} ocf_routetable_t;

void ocf_routetable_init (ocf_routetable_t *self);
//  Adds routes (the specs are copied; their strings must outlive the table). Aborts when the
//  table is full or a pattern malformed: a programming error, found by any test.
void ocf_routetable_add (ocf_routetable_t *self, const ocf_route_spec_t *specs, size_t count);
//  Classifies a request target ("/v1/service/llm/v1/chat/completions?x=1"). Returns the route's
//  spec (also in route->spec), NULL when no route matches or a segment is malformed.
const ocf_route_spec_t *ocf_routetable_match (const ocf_routetable_t *self, const char *path, size_t len,
                                              ocf_route_t *route);
//  The route's name by index, for metrics ("not_found" for 0).
const char *ocf_routetable_name (const ocf_routetable_t *self, int index);
//  Whether the route accepts the method; *allow gets the Allow header value for a 405.
bool ocf_route_method_allowed (const ocf_route_spec_t *spec, const char *method, size_t method_len, const char **allow);

typedef enum {
    OCF_IDENTITY_NONE = 0,       //  no identity: any provider of the service will do
    OCF_IDENTITY_OK,             //  identity holds "key=value"
    OCF_IDENTITY_ERROR           //  a 400: error says why
} ocf_identity_result_t;

#define OCF_IDENTITY_MAX 512

//  The identity a request is routed by. header is the X-Ocf-Identity value (NULL when absent)
//  and wins when present ("key=value"). Otherwise a multipart/form-data body (an upload) is
//  read for the form field key (ocf_multipart: a malformed body is an error); any other body
//  when required (the OpenAI routes: it must be a JSON object with a string "model") or when
//  it looks like JSON (a content type naming json, or a first non-blank byte '{'); key is the
//  member to read. index (NULL: none): when the body is read as JSON, its index is recorded
//  there too (ocf_json_find_key), so that the prefix key walks the body without validating it
//  again; the caller clears it. index->text is the body exactly when it was read and valid.
ocf_identity_result_t ocf_request_identity (const char *header, size_t header_len, const char *content_type,
                                            size_t content_type_len, const char *body, size_t body_len, const char *key,
                                            bool required, ocf_json_index_t *index, char *identity,
                                            size_t identity_size, char *error, size_t error_size);

//  Whether the value of a Connection header (a comma-separated list of header names, RFC 9110
//  7.6.1) names the header called name, case-insensitively. The headers it names are
//  hop-by-hop: a proxy does not forward them.
bool ocf_connection_names (const char *list, size_t list_len, const char *name, size_t name_len);

//  Whether a request head's headers (as picohttpparser gives them, ocf_phr.h) frame its body
//  unambiguously (RFC 9112 6.1, 6.3): not both Content-Length and Transfer-Encoding, one
//  Transfer-Encoding at most, and every Content-Length the same. A request that fails is
//  answered 400 and its connection closed, since where its body ends (and the next request
//  starts) is unknown: read differently by the next hop, it could smuggle a request.
struct phr_header;
bool ocf_request_framing_ok (const struct phr_header *headers, size_t count, char *error, size_t error_size);

//  The raw value (not percent-decoded) of the parameter name in a query string (what follows
//  the '?'): true with *value and *value_len set (empty for a bare "name"), false when the
//  query does not name it.
bool ocf_query_param (const char *query, size_t len, const char *name, const char **value, size_t *value_len);
//  A decimal number that fits 64 bits, digits only: false for anything else (empty, a sign).
bool ocf_parse_uint (const char *text, size_t len, uint64_t *value);

//  Percent-decodes src into dst (NUL-terminated). Returns -1 on a malformed escape, a NUL byte
//  or when dst is too small.
int ocf_percent_decode (const char *src, size_t len, char *dst, size_t dst_size);

#endif

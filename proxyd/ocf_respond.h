/*  ocf_respond: proxyd's HTTP front: the one h2o handler that dispatches every request to its
    route through the server's route table (ocf_request: the modules registered their
    routes there) once ocf_access let the request through, and the response helpers the
    routes share.
    Every request is counted (in-flight, and by route and status when it ends). Errors are
    JSON in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with the exact
    status; h2o's own early refusals (a body over max_body: 413) are reshaped the same way by
    a filter. Only bytes that are not an HTTP request at all get h2o's plain-text 400.  */
#ifndef OCF_RESPOND_H
#define OCF_RESPOND_H

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

typedef struct _ocf_access_t ocf_access_t;

//  Registers the handler, the access module's CORS filter and the error filter on a host
//  configuration.
void ocf_respond_register (h2o_hostconf_t *host, ocf_access_t *access);

//  A JSON response (body taken).
void ocf_respond_json (h2o_req_t *req, int status, json_t *body);
//  The request's body parsed as JSON into *body (NULL when the body is empty). False when it
//  is not JSON, once the client was answered 400 invalid_json, naming the byte.
bool ocf_respond_parse_body (h2o_req_t *req, json_t **body);
//  A response with a copy of body.
void ocf_respond_send (h2o_req_t *req, int status, const char *content_type, const char *body, size_t len);
//  An error in OpenAI's shape. code: a short machine-readable reason ("model_not_found");
//  extra: members added to the error object (taken; may be NULL). 503 carries Retry-After.
void ocf_respond_error (h2o_req_t *req, int status, const char *code, json_t *extra, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));
//  A request header's value ({NULL, 0} when absent); name in lower case.
h2o_iovec_t ocf_respond_req_header (h2o_req_t *req, const char *name);
//  The request's id: the client's X-Request-Id (up to 200 bytes), or one made here and added
//  to the request's headers, so that every answer and every hop of the request names the same.
h2o_iovec_t ocf_respond_request_id (h2o_req_t *req);
//  The seconds a client is told to wait after a 503.
#define OCF_RETRY_AFTER "2"

#endif

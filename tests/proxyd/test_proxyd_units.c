/*  proxyd's pure modules: routes and identity extraction, provider choice, the routing view,
    Prometheus text (checked by the real promtool), the dashboard's model statistics and event
    log.  */
#include "ocf_apikeys.h"
#include "ocf_choose.h"
#include "ocf_eventlog.h"
#include "ocf_modelstats.h"
#include "ocf_promtext.h"
#include "ocf_proxyd.h"
#include "ocf_request.h"
#include "ocf_json.h"
#include "ocf_multipart.h"
#include "ocf_phr.h"
#include "ocf_test.h"
#include "ocf_view.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Routes

//  The routes proxyd serves, as its modules register them.
static ocf_routetable_t s_routes;

static void
s_routes_init (void)
{
    ocf_proxyd_register_routes (&s_routes);
}

//  The name of the route a path reaches.
static const char *
s_parse (const char *path, ocf_route_t *route)
{
    return ocf_routetable_name (&s_routes, ocf_routetable_match (&s_routes, path, strlen (path), route) ? route->index : 0);
}

//  Whether the route a path reaches accepts the method.
static bool
s_allows (const char *path, const char *method, const char **allow)
{
    ocf_route_t route;
    const ocf_route_spec_t *spec = ocf_routetable_match (&s_routes, path, strlen (path), &route);
    cr_assert (spec, "no route for %s", path);
    return ocf_route_method_allowed (spec, method, strlen (method), allow);
}

//  Who may call the route a path reaches.
static ocf_access_class_t
s_access (const char *path)
{
    ocf_route_t route;
    return ocf_routetable_match (&s_routes, path, strlen (path), &route)->access;
}

Test (proxyd_route, table, .init = s_routes_init)
{
    ocf_route_t route;
    cr_assert_str_eq (s_parse ("/", &route), "dashboard");
    cr_assert_str_eq (s_parse ("/metrics", &route), "metrics");
    cr_assert_str_eq (s_parse ("/v1/health?verbose=1", &route), "health");
    cr_assert_str_eq (s_parse ("/v1/dnt/table", &route), "dnt_table");
    cr_assert_str_eq (s_parse ("/v1/dnt/peers_status", &route), "dnt_peers_status");
    cr_assert_str_eq (s_parse ("/v1/dnt/_node", &route), "dnt_node");
    cr_assert_str_eq (s_parse ("/v1/chat/completions", &route), "chat_completions");
    cr_assert_str_eq (s_parse ("/v1/models", &route), "models");
    cr_assert_str_eq (s_parse ("/v1/models/meta-llama/Llama-3.1-8B", &route), "model");
    cr_assert_str_eq (route.node, "meta-llama/Llama-3.1-8B");
    cr_assert_str_eq (s_parse ("/v1/healthz", &route), "not_found");
    cr_assert_str_eq (s_parse ("/v1/chat/completions/x", &route), "not_found");
    //  One trailing slash is forgiven on literal routes; two are not.
    cr_assert_str_eq (s_parse ("/v1/chat/completions/", &route), "chat_completions");
    cr_assert_str_eq (s_parse ("/v1/models/?x=1", &route), "models");
    cr_assert_str_eq (s_parse ("/v1/chat/completions//", &route), "not_found");
    //  The other routes OpenAI's clients (and vLLM) serve.
    cr_assert_str_eq (s_parse ("/v1/responses", &route), "responses");
    cr_assert_str_eq (s_parse ("/v1/audio/transcriptions", &route), "audio_transcriptions");
    cr_assert_str_eq (s_parse ("/v1/audio/translations/", &route), "audio_translations");
    cr_assert_str_eq (s_parse ("/v1/audio/speech", &route), "audio_speech");
    cr_assert_str_eq (s_parse ("/v1/moderations", &route), "moderations");
    cr_assert_str_eq (s_parse ("/v1/rerank", &route), "rerank");
    cr_assert_str_eq (s_parse ("/v1/score", &route), "score");
    cr_assert_eq (s_access ("/v1/audio/transcriptions"), OCF_ACCESS_PUBLIC);
    cr_assert_str_eq (s_parse ("", &route), "not_found");
}

Test (proxyd_route, forwarded_paths, .init = s_routes_init)
{
    ocf_route_t route;
    cr_assert_str_eq (s_parse ("/v1/service/llm/v1/chat/completions?x=1", &route), "service");
    cr_assert_eq (route.service_len, 3);
    cr_assert (strncmp (route.service, "llm", 3) == 0);
    cr_assert_eq (route.rest_len, strlen ("/v1/chat/completions?x=1"));
    cr_assert (strncmp (route.rest, "/v1/chat/completions?x=1", route.rest_len) == 0);
    cr_assert (!route.rest_slash);
    cr_assert_str_eq (s_parse ("/v1/_service/embed", &route), "local_service");
    cr_assert (route.rest_len == 1 && route.rest[0] == '/');
    cr_assert_str_eq (s_parse ("/v1/_service/embed?q=2", &route), "local_service");
    cr_assert (route.rest_slash);
    cr_assert (strncmp (route.rest, "?q=2", route.rest_len) == 0);
    //  A percent-encoded node segment is decoded.
    cr_assert_str_eq (s_parse ("/v1/p2p/ab%2Fcd%3F%25x/v1/health", &route), "p2p");
    cr_assert_str_eq (route.node, "ab/cd?%x");
    cr_assert (strncmp (route.rest, "/v1/health", route.rest_len) == 0);
    cr_assert_str_eq (s_parse ("/v1/p2p/bad%2/x", &route), "not_found");
    cr_assert_str_eq (s_parse ("/v1/p2p/nul%00/x", &route), "not_found");
    cr_assert_str_eq (s_parse ("/v1/service//x", &route), "not_found");
    cr_assert_str_eq (s_parse ("/v1/service/no$such/x", &route), "not_found");
}

Test (proxyd_route, methods, .init = s_routes_init)
{
    const char *allow;
    cr_assert (s_allows ("/v1/chat/completions", "POST", &allow));
    cr_assert (!s_allows ("/v1/chat/completions", "GET", &allow));
    cr_assert_str_eq (allow, "POST");
    cr_assert (s_allows ("/v1/service/x/y", "PATCH", &allow));
    cr_assert (s_allows ("/v1/p2p/n/y", "DELETE", &allow));
    cr_assert (!s_allows ("/v1/service/x/y", "TRACE", &allow));
    cr_assert (!s_allows ("/v1/service/x/y", "POS", &allow));
    cr_assert (s_allows ("/v1/dnt/_node", "DELETE", &allow));
    cr_assert (!s_allows ("/v1/dnt/_node", "GET", &allow));
}

//  The access column: what changes this node is for admins, the last hop for the fabric, the
//  views monitoring and the dashboard read are open, the rest is public (keys apply).
Test (proxyd_route, access, .init = s_routes_init)
{
    cr_assert_eq (s_access ("/v1/dnt/_node"), OCF_ACCESS_ADMIN);
    cr_assert_eq (s_access ("/v1/_service/llm/v1/models"), OCF_ACCESS_FABRIC);
    cr_assert_eq (s_access ("/v1/chat/completions"), OCF_ACCESS_PUBLIC);
    cr_assert_eq (s_access ("/v1/models/m"), OCF_ACCESS_PUBLIC);
    cr_assert_eq (s_access ("/v1/service/llm/x"), OCF_ACCESS_PUBLIC);
    cr_assert_eq (s_access ("/v1/p2p/n/v1/health"), OCF_ACCESS_PUBLIC);
    cr_assert_eq (s_access ("/v1/health"), OCF_ACCESS_OPEN);
    cr_assert_eq (s_access ("/metrics"), OCF_ACCESS_OPEN);
    cr_assert_eq (s_access ("/"), OCF_ACCESS_OPEN);
    cr_assert (strstr (s_routes.listing, "/v1/dnt/_node, "));
    cr_assert (strstr (s_routes.listing, "/v1/p2p/{node}/{path}"));
}

//  What a fabric hop may call besides the fabric class: the p2p route (for this node's id).
Test (proxyd_route, own_node_hop, .init = s_routes_init)
{
    for (int i = 1; i < s_routes.count; i++)
        cr_assert_eq (s_routes.specs[i].own_node_hop, strcmp (s_routes.specs[i].name, "p2p") == 0, "%s",
                      s_routes.specs[i].name);
}

static void
s_bad_handler (h2o_req_t *req, ocf_route_t *route)
{
}

//  own_node_hop needs a {node}/{path} to serve again: the table refuses it elsewhere.
Test (proxyd_route, own_node_hop_needs_a_node, .init = s_routes_init, .signal = SIGABRT)
{
    static const ocf_route_spec_t spec = { "bad", "/v1/bad/{svc}/{path}", NULL, OCF_ACCESS_PUBLIC, s_bad_handler, 0, true };
    ocf_routetable_add (&s_routes, &spec, 1);
}

static bool
s_names (const char *list, const char *name)
{
    return ocf_connection_names (list, strlen (list), name, strlen (name));
}

//  A request head as picohttpparser gives it: its verdict on the body's framing.
static bool
s_framing (const char *head, char *error)
{
    struct phr_header headers[16];
    size_t count = 16, method_len, path_len;
    const char *method, *path;
    int minor;
    cr_assert_gt (phr_parse_request (head, strlen (head), &method, &method_len, &path, &path_len, &minor, headers, &count, 0),
                  0, "%s", head);
    *error = '\0';
    return ocf_request_framing_ok (headers, count, error, 160);
}

Test (proxyd_route, body_framing)
{
    char error[160];
    cr_assert (s_framing ("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n", error));
    cr_assert (s_framing ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", error));
    cr_assert (s_framing ("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", error));
    cr_assert (s_framing ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", error));
    cr_assert (!s_framing ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTRANSFER-ENCODING: chunked\r\n\r\n", error));
    cr_assert (strstr (error, "both Content-Length and Transfer-Encoding"), "%s", error);
    cr_assert (!s_framing ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", error));
    cr_assert (!s_framing ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\n", error));
    cr_assert (strstr (error, "differ"), "%s", error);
    cr_assert (!s_framing ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", error));
    cr_assert (strstr (error, "more than one Transfer-Encoding"), "%s", error);
}

Test (proxyd_route, connection_lists)
{
    cr_assert (s_names ("X-Hop", "x-hop"));
    cr_assert (s_names ("keep-alive, X-Hop", "X-HOP"));
    cr_assert (s_names (" ,\tx-a ,, x-hop\t ", "x-hop"));
    cr_assert (s_names ("x-a,x-hop", "x-a"));
    cr_assert (!s_names ("x-hop-longer", "x-hop"));
    cr_assert (!s_names ("x-ho", "x-hop"));
    cr_assert (!s_names ("x-h op", "x-hop"));
    cr_assert (!s_names ("", "x-hop"));
    cr_assert (!s_names (" , ,", ""));
}

//  --------------------------------------------------------------------------
//  JSON key extraction

static ocf_json_key_t
s_find (const char *text, char *value, size_t size)
{
    char error[200], again[64] = "";
    ocf_json_key_t found = ocf_json_find_key (text, strlen (text), "model", value, size, NULL, error, sizeof error);
    //  With an index recorded for later walks, the same answer.
    ocf_json_index_t index = { 0 };
    cr_assert_leq (size, sizeof again);
    cr_assert_eq (ocf_json_find_key (text, strlen (text), "model", again, size, &index, error, sizeof error), found);
    cr_assert_str_eq (again, value);
    cr_assert_eq (index.text, found == OCF_JSON_KEY_INVALID ? NULL : text);
    ocf_json_index_clear (&index);
    return found;
}

Test (proxyd_json, finds_the_key)
{
    char value[64];
    cr_assert_eq (s_find ("{\"model\": \"m1\", \"messages\": [{\"role\": \"user\"}]}", value, sizeof value), OCF_JSON_KEY_FOUND);
    cr_assert_str_eq (value, "m1");
    cr_assert_eq (s_find ("  {\"messages\": {\"model\": \"inner\"}, \"model\":\"outer\"} \n", value, sizeof value), OCF_JSON_KEY_FOUND);
    cr_assert_str_eq (value, "outer");
    //  Escapes in names and values; the last member of a name wins.
    cr_assert_eq (s_find ("{\"mod\\u0065l\": \"a\\/b\\u00e9\\ud83d\\ude00\\n\", \"model\": \"last\"}", value, sizeof value), OCF_JSON_KEY_FOUND);
    cr_assert_str_eq (value, "last");
    cr_assert_eq (s_find ("{\"mod\\u0065l\": \"a\\/b\\u00e9\\ud83d\\ude00\\n\"}", value, sizeof value), OCF_JSON_KEY_FOUND);
    cr_assert_str_eq (value, "a/b\xc3\xa9\xf0\x9f\x98\x80\n");
    cr_assert_eq (s_find ("{\"x\": [1, -2.5e+3, true, false, null, \"\xc3\xa9\"]}", value, sizeof value), OCF_JSON_KEY_ABSENT);
    cr_assert_eq (s_find ("{}", value, sizeof value), OCF_JSON_KEY_ABSENT);
}

Test (proxyd_json, refuses_what_is_not_json)
{
    char value[64], error[200];
    const char *bad[] = {
        "", "   ", "{", "{\"model\"}", "{\"model\": }", "{\"model\": \"m\",}", "{\"model\": \"m\"} x", "[1,]", "01",
        "1.", "-", "1e", "tru", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\x01\"", "\"\xc0\xaf\"",
        "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "{'model': 'm'}", "{\"a\":1 \"b\":2}", "nul",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq (ocf_json_find_key (bad[i], strlen (bad[i]), "model", value, sizeof value, NULL, error, sizeof error),
                      OCF_JSON_KEY_INVALID, "accepted: %s", bad[i]);
    cr_assert_eq (ocf_json_find_key ("{\"model\": 1", 11, "model", value, sizeof value, NULL, error, sizeof error), OCF_JSON_KEY_INVALID);
    cr_assert (strstr (error, "at byte 11") != NULL, "error: %s", error);
    char deep[600];
    memset (deep, '[', 300);
    memset (deep + 300, ']', 300);
    cr_assert_eq (ocf_json_find_key (deep, 600, "model", value, sizeof value, NULL, error, sizeof error), OCF_JSON_KEY_INVALID);
    cr_assert (strstr (error, "nested too deeply") != NULL);
    memset (deep, '[', 200);
    memset (deep + 200, ']', 200);
    cr_assert_eq (ocf_json_find_key (deep, 400, "model", value, sizeof value, NULL, error, sizeof error), OCF_JSON_KEY_NOT_OBJECT);
}

Test (proxyd_json, wrong_types_and_sizes)
{
    char value[8];
    cr_assert_eq (s_find ("{\"model\": 7}", value, sizeof value), OCF_JSON_KEY_NOT_STRING);
    cr_assert_eq (s_find ("{\"model\": null}", value, sizeof value), OCF_JSON_KEY_NOT_STRING);
    cr_assert_eq (s_find ("[\"model\"]", value, sizeof value), OCF_JSON_KEY_NOT_OBJECT);
    cr_assert_eq (s_find ("\"model\"", value, sizeof value), OCF_JSON_KEY_NOT_OBJECT);
    cr_assert_eq (s_find ("{\"model\": \"12345678\"}", value, sizeof value), OCF_JSON_KEY_TOO_LONG);
    cr_assert_eq (s_find ("{\"model\": \"a\\u0000b\"}", value, sizeof value), OCF_JSON_KEY_TOO_LONG);
    cr_assert_eq (s_find ("{\"model\": \"1234567\"}", value, sizeof value), OCF_JSON_KEY_FOUND);
}

Test (proxyd_json, identity)
{
    char identity[64], error[256];
    const char *body = "{\"model\": \"m1\"}";
    cr_assert_eq (ocf_request_identity (NULL, 0, NULL, 0, body, strlen (body), "model", true, NULL, identity, sizeof identity,
                                        error, sizeof error), OCF_IDENTITY_OK);
    cr_assert_str_eq (identity, "model=m1");
    //  The header wins over the body.
    cr_assert_eq (ocf_request_identity ("model=m2", 8, NULL, 0, body, strlen (body), "model", true, NULL, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_OK);
    cr_assert_str_eq (identity, "model=m2");
    cr_assert_eq (ocf_request_identity ("m2", 2, NULL, 0, body, strlen (body), "model", true, NULL, identity, sizeof identity,
                                        error, sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "key=value"));
    //  The OpenAI routes need a model; other routes may have none.
    cr_assert_eq (ocf_request_identity (NULL, 0, NULL, 0, "{}", 2, "model", true, NULL, identity, sizeof identity, error,
                                        sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "no \"model\""), "%s", error);
    cr_assert_eq (ocf_request_identity (NULL, 0, NULL, 0, "{}", 2, "model", false, NULL, identity, sizeof identity, error,
                                        sizeof error), OCF_IDENTITY_NONE);
    cr_assert_eq (ocf_request_identity (NULL, 0, "text/plain", 10, "hello", 5, "model", false, NULL, identity, sizeof identity,
                                        error, sizeof error), OCF_IDENTITY_NONE);
    cr_assert_eq (ocf_request_identity (NULL, 0, "application/json", 16, "hello", 5, "model", false, NULL, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "not valid JSON"), "%s", error);
    cr_assert_eq (ocf_request_identity (NULL, 0, NULL, 0, "[1]", 3, "model", true, NULL, identity, sizeof identity, error,
                                        sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "must be a JSON object"));
    cr_assert_eq (ocf_request_identity (NULL, 0, NULL, 0, "{\"model\": [1]}", 14, "model", true, NULL, identity, sizeof identity,
                                        error, sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "must be a string"));
    //  With an index (policy prefix): recorded when the body was read, for the key to walk.
    ocf_json_index_t index = { 0 };
    cr_assert_eq (ocf_request_identity (NULL, 0, NULL, 0, body, strlen (body), "model", true, &index, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_OK);
    cr_assert_str_eq (identity, "model=m1");
    cr_assert_eq (index.text, body);
    ocf_json_index_clear (&index);
    cr_assert_eq (ocf_request_identity ("model=m2", 8, NULL, 0, body, strlen (body), "model", true, &index, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_OK);
    cr_assert_null (index.text);
}

//  --------------------------------------------------------------------------
//  Multipart forms (uploads)

#define FORM_TYPE "multipart/form-data; boundary=----form7MA4"
#define PART(name, content) "------form7MA4\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n" content "\r\n"

static ocf_multipart_result_t
s_field (const char *type, const char *body, char *value, size_t size, char *error)
{
    return ocf_multipart_field (type, strlen (type), body, strlen (body), "model", value, size, error, 256);
}

Test (proxyd_multipart, finds_the_field)
{
    char value[64], error[256];
    const char *body = "------form7MA4\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model.wav\"\r\n"
                       "Content-Type: audio/wav\r\n\r\nRIFF\r\n--form7MA4 name=\"model\"\r\n\r\nx\r\n"
                       PART ("model", "whisper-1") "------form7MA4--\r\n";
    cr_assert_eq (s_field (FORM_TYPE, body, value, sizeof value, error), OCF_MULTIPART_FOUND, "%s", error);
    cr_assert_str_eq (value, "whisper-1");
    //  A quoted boundary, a preamble, padding after a delimiter, an unquoted name, any case.
    body = "preamble\r\n--a b \t\r\ncontent-disposition: FORM-DATA; NAME=model\r\n\r\nm 2\r\n--a b--";
    cr_assert_eq (s_field ("Multipart/Form-Data;boundary=\"a b\"", body, value, sizeof value, error), OCF_MULTIPART_FOUND,
                  "%s", error);
    cr_assert_str_eq (value, "m 2");
    cr_assert_eq (s_field (FORM_TYPE, PART ("file", "x") "------form7MA4--", value, sizeof value, error), OCF_MULTIPART_ABSENT);
    cr_assert_eq (s_field (FORM_TYPE, PART ("model", "0123456789") "------form7MA4--", value, 8, error),
                  OCF_MULTIPART_TOO_LONG);
    cr_assert (ocf_multipart_is_form (FORM_TYPE, strlen (FORM_TYPE)));
    cr_assert (!ocf_multipart_is_form ("multipart/form-datax", 20));
    cr_assert (!ocf_multipart_is_form ("application/json", 16));
}

Test (proxyd_multipart, refuses_malformed_forms)
{
    char value[64], error[256];
    const struct { const char *type, *body, *why; } bad[] = {
        { "multipart/form-data", PART ("model", "m") "------form7MA4--", "boundary" },
        { "multipart/form-data; boundary=", "", "boundary" },
        { "multipart/form-data; boundary=\"unterminated", "", "boundary" },
        { FORM_TYPE, "no delimiter at all", "no boundary line" },
        { FORM_TYPE, PART ("model", "m"), "ends before its boundary" },
        { FORM_TYPE, PART ("model", "m") "------form7MA4", "closing boundary" },
        { FORM_TYPE, "------form7MA4\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm", "ends before its boundary" },
        { FORM_TYPE, "------form7MA4\r\nContent-Disposition: form-data; name=\"model\"\r\nm\r\n------form7MA4--",
          "end of its headers" },
        { FORM_TYPE, "------form7MA4\r\n\r\nm\r\n------form7MA4--", "Content-Disposition" },
        { FORM_TYPE, "------form7MA4\r\nContent-Disposition: attachment; name=model\r\n\r\nm\r\n------form7MA4--",
          "Content-Disposition" },
        { FORM_TYPE, "------form7MA4\r\nno colon\r\n\r\nm\r\n------form7MA4--", "malformed" },
        { FORM_TYPE, "------form7MA4\r\nContent-Disposition: form-data; name=\"mo\r\n\r\nm\r\n------form7MA4--",
          "malformed" },
        { FORM_TYPE, "------form7MA4x\r\n", "CRLF" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        *error = '\0';
        cr_assert_eq (s_field (bad[i].type, bad[i].body, value, sizeof value, error), OCF_MULTIPART_INVALID, "case %zu", i);
        cr_assert (strstr (error, bad[i].why), "case %zu: %s", i, error);
    }
    //  A part's headers are bounded.
    char *big = malloc (20000);
    int len = snprintf (big, 20000, "------form7MA4\r\nContent-Disposition: form-data; name=model\r\nX: ");
    memset (big + len, 'a', 10000);
    strcpy (big + len + 10000, "\r\n\r\nm\r\n------form7MA4--");
    cr_assert_eq (s_field (FORM_TYPE, big, value, sizeof value, error), OCF_MULTIPART_INVALID);
    cr_assert (strstr (error, "8192 bytes"), "%s", error);
    free (big);
}

Test (proxyd_multipart, identity_of_an_upload)
{
    char identity[64], error[256];
    const char *body = PART ("model", "whisper-1") "------form7MA4--";
    cr_assert_eq (ocf_request_identity (NULL, 0, FORM_TYPE, strlen (FORM_TYPE), body, strlen (body), "model", true, NULL, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_OK, "%s", error);
    cr_assert_str_eq (identity, "model=whisper-1");
    body = PART ("file", "x") "------form7MA4--";
    cr_assert_eq (ocf_request_identity (NULL, 0, FORM_TYPE, strlen (FORM_TYPE), body, strlen (body), "model", true, NULL, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "no field \"model\""), "%s", error);
    cr_assert_eq (ocf_request_identity (NULL, 0, FORM_TYPE, strlen (FORM_TYPE), body, strlen (body), "model", false, NULL, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_NONE);
    body = PART ("model", "") "------form7MA4--";
    cr_assert_eq (ocf_request_identity (NULL, 0, FORM_TYPE, strlen (FORM_TYPE), body, strlen (body), "model", false, NULL, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "empty"), "%s", error);
    //  A broken form is refused whether the route needs a model or not.
    cr_assert_eq (ocf_request_identity (NULL, 0, FORM_TYPE, strlen (FORM_TYPE), "junk", 4, "model", false, NULL, identity,
                                        sizeof identity, error, sizeof error), OCF_IDENTITY_ERROR);
    cr_assert (strstr (error, "not valid multipart/form-data"), "%s", error);
}

//  --------------------------------------------------------------------------
//  Provider choice

Test (proxyd_choose, p2c_prefers_this_host_with_capacity)
{
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_P2C, 42);
    ocf_candidate_t candidates[] = { { false, false, 0, 0, 0, -1, 0 }, { true, false, 5, 8, 0, -1, 0 }, { false, false, 0, 0, 0, -1, 0 } };
    for (int i = 0; i < 100; i++)
        cr_assert_eq (ocf_choose (&chooser, candidates, 3, 0), 1);
    candidates[1].load = 8;      //  full: the others now
    for (int i = 0; i < 100; i++)
        cr_assert_neq (ocf_choose (&chooser, candidates, 3, 0), 1);
    candidates[1].capacity = 0;  //  no declared limit: never full
    cr_assert_eq (ocf_choose (&chooser, candidates, 3, 0), 1);
}

Test (proxyd_choose, local_first_even_when_busy)
{
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_LOCAL_FIRST, 7);
    ocf_candidate_t candidates[] = { { false, false, 0, 0, 0, -1, 0 }, { true, false, 50, 8, 0, -1, 0 } };
    cr_assert_eq (ocf_choose (&chooser, candidates, 2, 0), 1);
    candidates[1].excluded = true;
    cr_assert_eq (ocf_choose (&chooser, candidates, 2, 0), 0);
}

Test (proxyd_choose, p2c_picks_the_less_loaded_of_two)
{
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_P2C, 1);
    ocf_candidate_t two[] = { { false, false, 9, 0, 0, -1, 0 }, { false, false, 3, 0, 0, -1, 0 } };
    for (int i = 0; i < 100; i++)
        cr_assert_eq (ocf_choose (&chooser, two, 2, 0), 1);
    //  Among many, the most loaded is never chosen and the least loaded most often.
    ocf_candidate_t many[8];
    for (int i = 0; i < 8; i++)
        many[i] = (ocf_candidate_t) { false, false, i, 0, 0, -1, 0 };
    int counts[8] = { 0 };
    for (int i = 0; i < 8000; i++)
        counts[ocf_choose (&chooser, many, 8, 0)]++;
    cr_assert_eq (counts[7], 0);
    for (int i = 1; i < 7; i++)
        cr_assert_gt (counts[i - 1], counts[i], "load %d chosen %d times, load %d %d times", i - 1, counts[i - 1], i, counts[i]);
    //  Full providers only when nothing else is left.
    ocf_candidate_t full[] = { { false, false, 8, 8, 0, -1, 0 }, { false, false, 20, 0, 0, -1, 0 } };
    for (int i = 0; i < 50; i++)
        cr_assert_eq (ocf_choose (&chooser, full, 2, 0), 1);
    full[1].excluded = true;
    cr_assert_eq (ocf_choose (&chooser, full, 2, 0), 0);
    full[0].excluded = true;
    cr_assert_eq (ocf_choose (&chooser, full, 2, 0), -1);
    cr_assert_eq (ocf_choose (&chooser, full, 0, 0), -1);
}

Test (proxyd_choose, round_robin_and_random)
{
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_ROUND_ROBIN, 3);
    ocf_candidate_t candidates[] = { { true, false, 0, 0, 0, -1, 0 }, { false, true, 0, 0, 0, -1, 0 }, { false, false, 0, 0, 0, -1, 0 }, { false, false, 9, 1, 0, -1, 0 } };
    int sequence[6];
    for (int i = 0; i < 6; i++)
        sequence[i] = ocf_choose (&chooser, candidates, 4, 0);
    int expected[] = { 0, 2, 3, 0, 2, 3 };
    cr_assert_arr_eq (sequence, expected, sizeof expected);
    ocf_chooser_init (&chooser, OCF_POLICY_RANDOM, 3);
    int counts[4] = { 0 };
    for (int i = 0; i < 3000; i++)
        counts[ocf_choose (&chooser, candidates, 4, 0)]++;
    cr_assert_eq (counts[1], 0);
    for (int i = 0; i < 4; i++)
        if (i != 1)
            cr_assert (counts[i] > 800 && counts[i] < 1200, "candidate %d: %d", i, counts[i]);
    cr_assert_eq (ocf_policy_parse ("local_first"), OCF_POLICY_LOCAL_FIRST);
    cr_assert_eq (ocf_policy_parse ("fastest"), -1);
}

Test (proxyd_choose, p2c_breaks_ties_by_distance)
{
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_P2C, 5);
    //  Two drawn, equally loaded: the nearer; an unmeasured one after any measured.
    ocf_candidate_t two[] = { { false, false, 2, 0, 0, 40, 0 }, { false, false, 2, 0, 0, 1.5, 0 } };
    for (int i = 0; i < 100; i++)
        cr_assert_eq (ocf_choose (&chooser, two, 2, 0), 1);
    two[1].rtt_ms = -1;
    for (int i = 0; i < 100; i++)
        cr_assert_eq (ocf_choose (&chooser, two, 2, 0), 0);
    //  Load first: the far one when it is less loaded.
    two[1].rtt_ms = 1.5;
    two[1].load = 3;
    for (int i = 0; i < 100; i++)
        cr_assert_eq (ocf_choose (&chooser, two, 2, 0), 0);
}

//  prefix: only the providers within near_ms of the nearest, keyed or not; the far ones when
//  every near one is full or tried; all of them when nobody is measured.
Test (proxyd_choose, prefix_keeps_to_near_providers)
{
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_PREFIX, 11);
    cr_assert_eq (chooser.near_ms, 20);
    ocf_candidate_t candidates[] = {
        { false, false, 0, 4, ocf_choose_id_hash ("near-1"), 1, 0 },
        { false, false, 0, 4, ocf_choose_id_hash ("far"), 41, 0 },
        { false, false, 0, 4, ocf_choose_id_hash ("near-2"), 2.5, 0 },
    };
    int counts[3] = { 0 };
    for (uint64_t key = 0; key < 3000; key++)
        counts[ocf_choose (&chooser, candidates, 3, key)]++;       //  key 0: no key
    cr_assert_eq (counts[1], 0);
    cr_assert (counts[0] > 1200 && counts[2] > 1200, "near ones: %d and %d", counts[0], counts[2]);
    cr_assert_eq (ocf_choose (&chooser, candidates, 3, 77), ocf_choose (&chooser, candidates, 3, 77));
    //  The near ones full, or one full and the other already tried: the far one.
    candidates[0].load = candidates[2].load = 4;
    for (uint64_t key = 0; key < 100; key++)
        cr_assert_eq (ocf_choose (&chooser, candidates, 3, key), 1);
    candidates[2].load = 0;
    candidates[2].excluded = true;
    for (uint64_t key = 0; key < 100; key++)
        cr_assert_eq (ocf_choose (&chooser, candidates, 3, key), 1);
    //  Distance weighed at the margin: 39.5 ms farther than the nearest is near with 40 ms.
    candidates[0].load = 0;
    candidates[2].excluded = false;
    chooser.near_ms = 40;
    memset (counts, 0, sizeof counts);
    for (uint64_t key = 1; key < 3000; key++)
        counts[ocf_choose (&chooser, candidates, 3, key)]++;
    cr_assert (counts[1] > 700, "far one within 40 ms: %d", counts[1]);
    //  near_ms 0: distance does not count.
    chooser.near_ms = 0;
    memset (counts, 0, sizeof counts);
    for (uint64_t key = 1; key < 3000; key++)
        counts[ocf_choose (&chooser, candidates, 3, key)]++;
    cr_assert (counts[1] > 700, "far one without a distance limit: %d", counts[1]);
    //  A provider not measured yet counts as near (a host that just joined): it takes its keys.
    chooser.near_ms = 20;
    candidates[1].rtt_ms = -1;
    memset (counts, 0, sizeof counts);
    for (uint64_t key = 1; key < 3000; key++)
        counts[ocf_choose (&chooser, candidates, 3, key)]++;
    cr_assert (counts[1] > 700, "not measured yet: %d", counts[1]);
    //  This host (0 ms) and a peer not measured yet: both take keys (as on a fabric whose
    //  gossipds measure nothing); the same with a measured peer far away left out.
    ocf_candidate_t pair[] = { { true, false, 0, 0, ocf_choose_id_hash ("me"), 0, 0 },
                               { false, false, 0, 0, ocf_choose_id_hash ("peer"), -1, 0 },
                               { false, false, 0, 0, ocf_choose_id_hash ("distant"), 60, 0 } };
    int pair_counts[3] = { 0 };
    for (uint64_t key = 1; key < 3000; key++)
        pair_counts[ocf_choose (&chooser, pair, 3, key)]++;
    cr_assert (pair_counts[0] > 1200 && pair_counts[1] > 1200 && pair_counts[2] == 0, "%d %d %d", pair_counts[0],
               pair_counts[1], pair_counts[2]);
    //  This host (rtt 0) first without a key, as before.
    ocf_candidate_t with_self[] = { { false, false, 0, 0, 1, 0.2, 0 }, { true, false, 3, 8, 2, 0, 0 } };
    cr_assert_eq (ocf_choose (&chooser, with_self, 2, 0), 1);
}

//  --------------------------------------------------------------------------
//  Routing view

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbba"

static int
s_row (ocf_view_t *view, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char text[2048];
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    json_t *row = json_loads (text, 0, NULL);
    cr_assert (row, "bad test row %s", text);
    char error[200];
    int rc = ocf_view_apply_row (view, row, error, sizeof error);
    json_decref (row);
    return rc;
}

#define ROW(id, gen, ver, status, port, inflight, groups) \
    "{\"id\":\"" id "\",\"name\":\"n-%c\",\"generation\":" #gen ",\"version\":" #ver ",\"incarnation\":0," \
    "\"status\":\"" status "\",\"addr\":{\"proxy\":\"http://127.0.0.1:" #port "\"},\"services\":[{\"name\":\"llm\"," \
    "\"identity_group\":[" groups "],\"port\":9000,\"load\":{\"inflight\":" #inflight ",\"max_inflight\":4}}]}"

Test (proxyd_view, rows_merge_by_version)
{
    ocf_view_t *view = ocf_view_new ();
    ocf_view_set_self (view, ID_A);
    cr_assert_eq (s_row (view, ROW (ID_A, 5, 2, "alive", 8001, 0, "\"model=m1\""), 'a'), 1);
    cr_assert_eq (s_row (view, ROW (ID_B, 5, 2, "alive", 8002, 1, "\"model=m1\",\"model=m2\""), 'b'), 1);
    cr_assert_eq (s_row (view, ROW (ID_B, 5, 1, "alive", 8009, 0, ""), 'b'), 0);     //  older version
    cr_assert_eq (s_row (view, ROW (ID_B, 4, 9, "alive", 8009, 0, ""), 'b'), 0);     //  older generation
    const ocf_provider_t *providers;
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m1", &providers), 2);
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m2", &providers), 1);
    cr_assert_str_eq (providers[0].node->id, ID_B);
    cr_assert_eq (providers[0].node->proxy_port, 8002);
    cr_assert_str_eq (providers[0].node->proxy_host, "127.0.0.1");
    cr_assert_eq (providers[0].service->inflight, 1);
    cr_assert_eq (providers[0].service->max_inflight, 4);
    cr_assert_eq (ocf_view_providers (view, "llm", 3, NULL, &providers), 2);
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m3", &providers), 0);
    cr_assert_eq (ocf_view_providers (view, "embed", 5, NULL, &providers), 0);
    cr_assert_str_eq (ocf_view_self (view)->id, ID_A);
    cr_assert_eq (ocf_view_find (view, "n-b"), ocf_view_lookup (view, ID_B));
    //  A load report keeps the index: the same service object, updated in place.
    ocf_view_providers (view, "llm", 3, "model=m2", &providers);
    ocf_view_service_t *before = providers[0].service;
    cr_assert_eq (s_row (view, ROW (ID_B, 5, 3, "alive", 8002, 3, "\"model=m1\",\"model=m2\""), 'b'), 1);
    ocf_view_providers (view, "llm", 3, "model=m2", &providers);
    cr_assert_eq (providers[0].service, before);
    cr_assert_eq (before->inflight, 3);
    //  What this loop sent it lately (policy prefix's bound) outlives a change of its shape.
    before->recent = 42.5;
    cr_assert_eq (s_row (view, ROW (ID_B, 5, 4, "alive", 8002, 3, "\"model=m2\""), 'b'), 1);
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m1", &providers), 1);
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m2", &providers), 1);
    cr_assert_float_eq (providers[0].service->recent, 42.5, 1e-9);
    cr_assert_eq (s_row (view, ROW (ID_B, 5, 5, "alive", 8002, 3, "\"model=m1\",\"model=m2\""), 'b'), 1);
    json_t *models = ocf_view_group_values (view, "llm", "model", true);
    cr_assert_eq (json_array_size (models), 2);
    cr_assert_str_eq (json_string_value (json_array_get (models, 1)), "m2");
    json_decref (models);
    ocf_view_destroy (&view);
}

//  Round-trip times: from tabled's row (rtt_ms) and its "rtt" events; unknown until then.
Test (proxyd_view, round_trip_times)
{
    ocf_view_t *view = ocf_view_new ();
    ocf_view_set_self (view, ID_A);
    cr_assert_eq (s_row (view, ROW (ID_A, 5, 2, "alive", 8001, 0, "\"model=m1\""), 'a'), 1);
    cr_assert_eq (ocf_view_lookup (view, ID_A)->rtt_ms, -1);
    json_t *row = json_loads ("{\"id\":\"" ID_B "\",\"generation\":1,\"version\":1,\"rtt_ms\":12.5}", 0, NULL);
    char error[200];
    cr_assert_eq (ocf_view_apply_row (view, row, error, sizeof error), 1);
    json_decref (row);
    cr_assert_float_eq (ocf_view_lookup (view, ID_B)->rtt_ms, 12.5, 1e-9);
    json_t *rtt = json_loads ("{\"" ID_B "\": 40.25, \"" ID_A "\": \"x\", \"unknown\": 3}", 0, NULL);
    cr_assert_eq (ocf_view_apply_rtt (view, rtt, error, sizeof error), 1);
    json_decref (rtt);
    cr_assert_float_eq (ocf_view_lookup (view, ID_B)->rtt_ms, 40.25, 1e-9);
    cr_assert_eq (ocf_view_lookup (view, ID_A)->rtt_ms, -1);
    rtt = json_string ("fast");
    cr_assert_eq (ocf_view_apply_rtt (view, rtt, error, sizeof error), -1);
    cr_assert (strstr (error, "round-trip"), "%s", error);
    json_decref (rtt);
    ocf_view_destroy (&view);
}

Test (proxyd_view, a_draining_service_is_no_provider_but_still_served_at_the_last_hop)
{
    ocf_view_t *view = ocf_view_new ();
    ocf_view_set_self (view, ID_A);
    s_row (view, ROW (ID_A, 5, 1, "alive", 8001, 0, "\"model=m1\""), 'a');
    s_row (view, ROW (ID_B, 5, 1, "alive", 8002, 0, "\"model=m1\""), 'b');
    const ocf_provider_t *providers;
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m1", &providers), 2);
    //  ocf-workerd's DRAIN on A: the same service, status "draining".
    s_row (view, "{\"id\":\"" ID_A "\",\"name\":\"a\",\"generation\":5,\"version\":2,\"status\":\"alive\","
                 "\"addr\":{\"proxy\":\"http://127.0.0.1:8001\"},\"services\":[{\"name\":\"llm\",\"status\":\"draining\","
                 "\"identity_group\":[\"model=m1\"],\"host\":\"127.0.0.1\",\"port\":9001}]}");
    //  Every route chooses among the providers: by model, by service, any identity.
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m1", &providers), 1);
    cr_assert_str_eq (providers[0].node->id, ID_B);
    cr_assert_eq (ocf_view_providers (view, "llm", 3, NULL, &providers), 1);
    cr_assert_str_eq (providers[0].node->id, ID_B);
    json_t *models = ocf_view_group_values (view, "llm", "model", true);
    cr_assert_eq (json_array_size (models), 1, "B still serves m1");
    json_decref (models);
    //  A request another host chose before it had the change still reaches the backend.
    ocf_view_service_t *service = ocf_view_node_service (ocf_view_self (view), "llm", 3);
    cr_assert_not_null (service);
    cr_assert_eq (service->port, 9001);
    cr_assert_not (service->ready);
    ocf_view_destroy (&view);
}

Test (proxyd_view, liveness_readiness_and_removal)
{
    ocf_view_t *view = ocf_view_new ();
    s_row (view, ROW (ID_A, 5, 1, "alive", 8001, 0, "\"model=m1\""), 'a');
    s_row (view, ROW (ID_B, 5, 1, "alive", 8002, 0, "\"model=m1\""), 'b');
    char error[200];
    json_t *dead = json_pack ("{s:s, s:i, s:i, s:s}", "id", ID_B, "generation", 5, "incarnation", 0, "status", "dead");
    cr_assert_eq (ocf_view_apply_member (view, dead, error, sizeof error), 1);
    cr_assert_eq (ocf_view_apply_member (view, dead, error, sizeof error), 0);          //  idempotent
    json_decref (dead);
    const ocf_provider_t *providers;
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m1", &providers), 1);
    cr_assert (ocf_view_knows (view, "llm", 3, "model=m1"));
    //  A refutation (higher incarnation) brings it back.
    json_t *alive = json_pack ("{s:s, s:i, s:i, s:s}", "id", ID_B, "generation", 5, "incarnation", 1, "status", "alive");
    cr_assert_eq (ocf_view_apply_member (view, alive, error, sizeof error), 1);
    json_decref (alive);
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m1", &providers), 2);
    //  Not ready: known, but no provider.
    s_row (view, "{\"id\":\"" ID_A "\",\"name\":\"a\",\"generation\":5,\"version\":2,\"status\":\"alive\","
                 "\"addr\":{\"proxy\":\"http://127.0.0.1:8001\"},\"services\":[{\"name\":\"llm\",\"status\":\"loading\","
                 "\"identity_group\":[\"model=m9\"],\"port\":1}]}");
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m9", &providers), 0);
    cr_assert (ocf_view_knows (view, "llm", 3, "model=m9"));
    cr_assert (!ocf_view_knows (view, "llm", 3, "model=zz"));
    json_t *tombstone = json_pack ("{s:s, s:i}", "id", ID_B, "generation", 4);
    cr_assert_eq (ocf_view_apply_tombstone (view, tombstone, error, sizeof error), 0);  //  an older generation
    json_object_set_new (tombstone, "generation", json_integer (5));
    cr_assert_eq (ocf_view_apply_tombstone (view, tombstone, error, sizeof error), 1);
    json_decref (tombstone);
    cr_assert_null (ocf_view_lookup (view, ID_B));
    cr_assert_eq (ocf_view_providers (view, "llm", 3, "model=m1", &providers), 0);
    //  A reload keeps only what it saw.
    s_row (view, ROW (ID_B, 6, 1, "alive", 8002, 0, "\"model=m1\""), 'b');
    ocf_view_reload_begin (view);
    s_row (view, ROW (ID_B, 6, 1, "alive", 8002, 0, "\"model=m1\""), 'b');
    ocf_view_reload_end (view);
    cr_assert_eq (ocf_view_size (view), 1);
    cr_assert_null (ocf_view_lookup (view, ID_A));
    cr_assert_eq (s_row (view, "{\"id\": \"short\"}"), -1);
    ocf_view_destroy (&view);
}

//  --------------------------------------------------------------------------
//  Prometheus text

Test (proxyd_promtext, names)
{
    char name[128];
    cr_assert_float_eq (ocf_promtext_name ("uptime_ms", name, sizeof name), 0.001, 1e-12);
    cr_assert_str_eq (name, "uptime_seconds");
    cr_assert_float_eq (ocf_promtext_name ("memoryUsedMB", name, sizeof name), 1048576.0, 1e-6);
    cr_assert_str_eq (name, "memory_used_bytes");
    ocf_promtext_name ("events_total", name, sizeof name);
    cr_assert_str_eq (name, "events_total_value");
    ocf_promtext_name ("peer count", name, sizeof name);
    cr_assert_str_eq (name, "peer_count_value");
    ocf_promtext_name ("rows", name, sizeof name);
    cr_assert_str_eq (name, "rows");
    ocf_promtext_name ("--", name, sizeof name);
    cr_assert_str_eq (name, "value");
}

Test (proxyd_promtext, any_stats_shape_passes_promtool)
{
    const char *stats_text =
        "{\"v\":1,\"id\":\"x\\\"y\",\"generation\":7,\"uptime_ms\":1500,\"healthy\":true,\"ratio\":0.25,"
        "\"counters\":{\"requests\":5,\"badRequests\":1,\"events_total\":3},"
        "\"peers\":{\"p1\":{\"rtt_ms\":3,\"state\":\"alive\",\"phi\":0.5},\"p2\":{\"rtt_ms\":9,\"state\":\"suspect\"}},"
        "\"services\":[{\"name\":\"llm\",\"inflight\":2},{\"name\":\"emb\",\"inflight\":0}],"
        "\"gpus\":[{\"util\":90},{\"util\":10}],\"loads\":[1,2],\"nested\":{\"deep\":{\"deeper\":{\"x\":1}}}}";
    json_t *stats = json_loads (stats_text, 0, NULL);
    cr_assert (stats);
    ocf_promtext_t *page = ocf_promtext_new ();
    ocf_promtext_stats (page, "gossipd", stats);
    ocf_promtext_stats (page, "tabled", stats);
    json_decref (stats);
    size_t len;
    char *text = ocf_promtext_render (page, &len);
    ocf_promtext_destroy (&page);
    cr_assert (strstr (text, "ocf_gossipd_uptime_seconds 1.5\n"), "%s", text);
    cr_assert (strstr (text, "ocf_gossipd_counters{key=\"requests\"} 5\n"));
    cr_assert (strstr (text, "ocf_gossipd_peers_rtt_seconds{key=\"p1\",state=\"alive\"} 0.003\n"));
    cr_assert (strstr (text, "ocf_gossipd_services_inflight{name=\"llm\"} 2\n"));
    cr_assert (strstr (text, "ocf_gossipd_gpus_util{index=\"1\"} 10\n"));
    cr_assert (strstr (text, "ocf_gossipd_info{id=\"x\\\"y\"} 1\n"));
    cr_assert (strstr (text, "# TYPE ocf_tabled_generation gauge\n"));
    char path[] = "/tmp/ocf-promtext-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (write (fd, text, len) == (ssize_t) len);
    close (fd);
    free (text);
    char command[200];
    snprintf (command, sizeof command, "promtool check metrics < %s 2>&1", path);
    int status;
    char *output = ocf_test_run (command, &status);
    unlink (path);
    cr_assert_eq (status, 0, "promtool: %s", output);
    free (output);
}

//  --------------------------------------------------------------------------
//  API keys

#define HASH_A "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"   //  "foo"
#define HASH_B "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"   //  "bar"

static char s_error[512];

static ocf_apikeys_t *
s_keys (const char *text)
{
    s_error[0] = '\0';
    return ocf_apikeys_parse (text, strlen (text), "keys", s_error, sizeof s_error);
}

Test (proxyd_apikeys, decode)
{
    ocf_apikeys_t *keys = s_keys ("# clients\n\nalice " HASH_A " rpm=10  # her app\n\tbob\t" HASH_B " streams=2 rpm=5\r\n");
    cr_assert (keys, "%s", s_error);
    cr_assert_eq (ocf_apikeys_count (keys), 2);
    cr_assert_str_eq (ocf_apikey_name (ocf_apikeys_find (keys, "foo", 3)), "alice");
    cr_assert_str_eq (ocf_apikey_name (ocf_apikeys_find (keys, "bar", 3)), "bob");
    cr_assert_null (ocf_apikeys_find (keys, "baz", 3));
    cr_assert_null (ocf_apikeys_find (keys, "fo", 2));
    ocf_apikeys_unref (&keys);
    cr_assert_null (keys);
    keys = s_keys ("");
    cr_assert (keys);
    cr_assert_eq (ocf_apikeys_count (keys), 0);
    ocf_apikeys_unref (&keys);
}

Test (proxyd_apikeys, malformed_lines_name_file_and_line)
{
    static const struct { const char *text, *error; } cases[] = {
        { "alice\n", "keys:1: the second field" },
        { "\nalice sha256:abc\n", "keys:2: the second field" },
        { "alice " HASH_A "x\n", "keys:1: the second field" },
        { "al ice " HASH_A "\n", "keys:1: the second field" },
        { "alice/x " HASH_A "\n", "keys:1: the name" },
        { "alice sha256:zc26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\n", "keys:1: the hash" },
        { "alice " HASH_A " rpm=0\n", "keys:1: a limit" },
        { "alice " HASH_A " rpm=1000001\n", "keys:1: a limit" },
        { "alice " HASH_A " burst=3\n", "keys:1: a limit" },
        { "alice " HASH_A " rpm=1 streams=1 rpm=2\n", "keys:1: too many fields" },
        { "alice " HASH_A "\nbob " HASH_A "\n", "keys:2: the same key (hash) as line 1" },
        { "alice " HASH_A "\n#\nalice " HASH_B "\n", "keys:3: the same name as line 1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_null (s_keys (cases[i].text), "accepted: %s", cases[i].text);
        cr_assert (strncmp (s_error, cases[i].error, strlen (cases[i].error)) == 0, "%s: %s", cases[i].text, s_error);
    }
    char nul[] = "alice " HASH_A "\0\n";
    cr_assert_null (ocf_apikeys_parse (nul, sizeof nul - 1, "keys", s_error, sizeof s_error));
    cr_assert_str_eq (s_error, "keys:1: a NUL byte");
}

Test (proxyd_apikeys, limits)
{
    ocf_apikeys_t *keys = s_keys ("a " HASH_A " rpm=3\nb " HASH_B " streams=2\n");
    ocf_apikey_t *a = ocf_apikeys_find (keys, "foo", 3), *b = ocf_apikeys_find (keys, "bar", 3);
    int retry = 0;
    int64_t now = 1000000000;
    //  rpm=3: three at once, then one every 20 s.
    for (int i = 0; i < 3; i++)
        cr_assert_eq (ocf_apikey_admit (a, now, &retry), OCF_APIKEY_OK);
    cr_assert_eq (ocf_apikey_admit (a, now, &retry), OCF_APIKEY_RATE_LIMITED);
    cr_assert_eq (retry, 20);
    cr_assert_eq (ocf_apikey_admit (a, now + 19000000, &retry), OCF_APIKEY_RATE_LIMITED);
    cr_assert_eq (retry, 1);
    cr_assert_eq (ocf_apikey_admit (a, now + 20000000, &retry), OCF_APIKEY_OK);
    //  streams=2: a third waits until one ends.
    cr_assert_eq (ocf_apikey_admit (b, now, &retry), OCF_APIKEY_OK);
    cr_assert_eq (ocf_apikey_admit (b, now, &retry), OCF_APIKEY_OK);
    cr_assert_eq (ocf_apikey_admit (b, now, &retry), OCF_APIKEY_STREAMS_LIMITED);
    ocf_apikey_release (b);
    cr_assert_eq (ocf_apikey_admit (b, now, &retry), OCF_APIKEY_OK);
    //  A reload keeps the counters of the keys it keeps: b still has two in flight.
    ocf_apikeys_t *next = s_keys ("b " HASH_B " streams=3\nc " HASH_A "\n");
    ocf_apikeys_inherit (next, keys);
    ocf_apikeys_unref (&keys);
    b = ocf_apikeys_find (next, "bar", 3);
    cr_assert_eq (ocf_apikey_admit (b, now, &retry), OCF_APIKEY_OK);
    cr_assert_eq (ocf_apikey_admit (b, now, &retry), OCF_APIKEY_STREAMS_LIMITED);
    for (int i = 0; i < 3; i++)
        ocf_apikey_release (b);
    //  c took a's hash, not its name: a fresh key without limits.
    for (int i = 0; i < 10; i++)
        cr_assert_eq (ocf_apikey_admit (ocf_apikeys_find (next, "foo", 3), now, &retry), OCF_APIKEY_OK);
    ocf_apikeys_unref (&next);
}

//  --------------------------------------------------------------------------
//  The dashboard's model statistics and event log

Test (proxyd_modelstats, a_minute_of_requests)
{
    ocf_modelstats_t *stats = ocf_modelstats_new ();
    int64_t now = 1000000;
    int slot = ocf_modelstats_begin (stats, "m", now);
    cr_assert_eq (ocf_modelstats_begin (stats, "m", now), slot);
    //  98 requests with a first byte after 10 ms, one after 1 s, one failed with none.
    for (int i = 0; i < 98; i++) {
        ocf_modelstats_begin (stats, "m", now);
        ocf_modelstats_end (stats, slot, now, 200, false, 10000);
    }
    ocf_modelstats_end (stats, slot, now, 200, false, 1000000);
    ocf_modelstats_end (stats, slot, now + 500, 502, false, -1);
    int other = ocf_modelstats_begin (stats, "other", now);
    json_t *json = ocf_modelstats_json (stats, now + 1000);
    json_t *m = json_object_get (json, "m");
    cr_assert_eq (json_integer_value (json_object_get (m, "requests")), 100);
    cr_assert_eq (json_integer_value (json_object_get (m, "inflight")), 0);
    cr_assert_float_eq (json_real_value (json_object_get (m, "error_rate")), 0.01, 1e-9);
    cr_assert_float_eq (json_real_value (json_object_get (m, "requests_per_s")), 100.0 / 60, 0.01);
    //  A percentile is its bucket's bound: within 25 % above the truth.
    double p50 = json_real_value (json_object_get (m, "ttft_p50_ms")), p99 = json_real_value (json_object_get (m, "ttft_p99_ms"));
    cr_assert (p50 >= 10 && p50 <= 12.5, "p50 %g", p50);
    cr_assert (p99 >= 1000 && p99 <= 1250, "p99 %g: the 99th of 99 samples is 1 s", p99);
    cr_assert_eq (json_integer_value (json_object_get (json_object_get (json, "other"), "inflight")), 1);
    cr_assert (json_is_null (json_object_get (json_object_get (json, "other"), "ttft_p50_ms")));
    json_decref (json);
    //  A minute later, only the request still in flight is left.
    json = ocf_modelstats_json (stats, now + 61000);
    cr_assert_eq (json_integer_value (json_object_get (json_object_get (json, "m"), "requests")), 0);
    cr_assert (json_is_null (json_object_get (json_object_get (json, "m"), "error_rate")));
    json_decref (json);
    ocf_modelstats_end (stats, other, now + 62000, 0, false, -1);
    //  The table is bounded: models past it are not counted.
    char name[16];
    for (int i = 0; i < OCF_MODELSTATS_MODELS; i++) {
        snprintf (name, sizeof name, "x%d", i);
        int extra = ocf_modelstats_begin (stats, name, now);
        cr_assert_eq (extra < 0, i >= OCF_MODELSTATS_MODELS - 2, "%s: slot %d", name, extra);
        ocf_modelstats_end (stats, extra, now, 200, false, -1);
    }
    ocf_modelstats_destroy (&stats);
}

static ocf_eventlog_node_t
s_snapshot (bool present, int status, const char *services)
{
    ocf_eventlog_node_t node = { .present = present, .status = status };
    snprintf (node.name, sizeof node.name, "n");
    for (const char *at = services; at && *at; at += 2) {
        snprintf (node.services[node.service_count].name, OCF_EVENTLOG_NAME, "%c", at[0]);
        node.services[node.service_count++].ready = at[1] == '+';
    }
    return node;
}

Test (proxyd_eventlog, changes_and_their_order)
{
    ocf_eventlog_t *log = ocf_eventlog_new ();
    ocf_eventlog_node_t absent = s_snapshot (false, 0, NULL), alive = s_snapshot (true, 0, "a+b+");
    ocf_eventlog_node_t suspect = s_snapshot (true, 1, "a+b+"), changed = s_snapshot (true, 1, "a-c+");
    ocf_eventlog_compare (log, 1, "id", &absent, &alive);
    ocf_eventlog_compare (log, 2, "id", &alive, &suspect);
    ocf_eventlog_compare (log, 3, "id", &suspect, &changed);
    ocf_eventlog_compare (log, 4, "id", &changed, &changed);
    ocf_eventlog_compare (log, 5, "id", &changed, &absent);
    const char *expected[] = { "joined", "service_up", "service_up", "suspect", "service_draining", "service_up",
                               "service_down", "removed" };
    size_t count = sizeof expected / sizeof expected[0];
    cr_assert_eq (ocf_eventlog_last (log), count);
    json_t *events = ocf_eventlog_json (log, 0);
    cr_assert_eq (json_array_size (events), count);
    for (size_t i = 0; i < count; i++)
        cr_assert_str_eq (json_string_value (json_object_get (json_array_get (events, i), "kind")), expected[i], "%zu", i);
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (events, 6), "service")), "b");
    json_decref (events);
    events = ocf_eventlog_json (log, count - 1);
    cr_assert_eq (json_array_size (events), 1);
    json_decref (events);
    //  Bounded: the oldest go.
    ocf_eventlog_node_t bare = s_snapshot (true, 0, NULL);
    for (int i = 0; i < OCF_EVENTLOG_SIZE; i++)
        ocf_eventlog_compare (log, 6, "id", &absent, &bare);
    events = ocf_eventlog_json (log, 0);
    cr_assert_eq (json_array_size (events), OCF_EVENTLOG_SIZE);
    cr_assert_eq (json_integer_value (json_object_get (json_array_get (events, 0), "seq")), (json_int_t) count + 1);
    json_decref (events);
    ocf_eventlog_destroy (&log);
}

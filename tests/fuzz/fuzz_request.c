/*  Fuzz target: what proxyd reads from a request before routing it (proxyd/ocf_request.c):
    the routing identity from a JSON body or an X-Ocf-Identity header, the route from the
    path, the header names a Connection header lists, whether a request head frames its
    body unambiguously, and a query's parameters and numbers (?since= of /v1/dashboard). The JSON scanner is checked against jansson, a full parser: both must
    agree on whether the input is JSON and on the value of "model".  */
#include "ocf_proxyd.h"
#include "ocf_request.h"
#include "ocf_json.h"
#include "ocf_phr.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static void
s_compare_with_jansson (const char *text, size_t size)
{
    char value[512], error[256], indexed[512];
    ocf_json_key_t found = ocf_json_find_key (text, size, "model", value, sizeof value, NULL, error, sizeof error);
    if (found == OCF_JSON_KEY_INVALID && !*error)
        abort ();                //  every refusal says why
    //  Recording the index (for the prefix key's walk) changes nothing of the answer.
    ocf_json_index_t index = { 0 };
    if (ocf_json_find_key (text, size, "model", indexed, sizeof indexed, &index, error, sizeof error) != found
    ||  strcmp (indexed, value) != 0 || (index.text != NULL) != (found != OCF_JSON_KEY_INVALID))
        abort ();
    ocf_json_index_clear (&index);
    //  jansson takes a NUL byte for the end of the input: no common ground there.
    if (memchr (text, '\0', size))
        return;
    json_error_t problem;
    json_t *root = json_loadb (text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &problem);
    if (!root) {
        //  jansson also refuses numbers it cannot represent and \u0000 in object keys, which
        //  are valid JSON.
        if (found != OCF_JSON_KEY_INVALID && !strstr (problem.text, "too big") && !strstr (problem.text, "overflow")
        &&  !strstr (problem.text, "NUL byte in object key"))
            abort ();
        return;
    }
    if (found == OCF_JSON_KEY_INVALID && !strstr (error, "nested too deeply"))
        abort ();
    if (found != OCF_JSON_KEY_INVALID) {
        json_t *model = json_object_get (root, "model");
        if (!json_is_object (root))
            found == OCF_JSON_KEY_NOT_OBJECT ? (void) 0 : abort ();
        else
        if (!model)
            found == OCF_JSON_KEY_ABSENT ? (void) 0 : abort ();
        else
        if (!json_is_string (model))
            found == OCF_JSON_KEY_NOT_STRING ? (void) 0 : abort ();
        else {
            size_t len = json_string_length (model);
            bool fits = len < sizeof value && !memchr (json_string_value (model), '\0', len);
            if (fits ? found != OCF_JSON_KEY_FOUND || strlen (value) != len || memcmp (value, json_string_value (model), len)
                     : found != OCF_JSON_KEY_TOO_LONG)
                abort ();
        }
    }
    json_decref (root);
}

//  The input as "LIST\nNAME": a name found in the list is in it, whole, and not empty.
static void
s_check_connection_list (const char *text, size_t size)
{
    const char *newline = memchr (text, '\n', size);
    if (!newline)
        return;
    size_t list_len = (size_t) (newline - text), name_len = size - list_len - 1;
    const char *name = newline + 1;
    if (!ocf_connection_names (text, list_len, name, name_len))
        return;
    if (name_len == 0 || name_len > list_len)
        abort ();
    bool inside = false;
    for (size_t at = 0; at + name_len <= list_len && !inside; at++)
        inside = strncasecmp (text + at, name, name_len) == 0
              && (at == 0 || strchr (" \t,", text[at - 1]))
              && (at + name_len == list_len || strchr (" \t,", text[at + name_len]));
    if (!inside)
        abort ();
}

//  The input as a request head: refused framing says why; accepted framing has one way to
//  find the body's end.
static void
s_check_framing (const char *text, size_t size)
{
    struct phr_header headers[100];
    size_t count = 100, method_len, path_len;
    const char *method, *path;
    int minor;
    if (phr_parse_request (text, size, &method, &method_len, &path, &path_len, &minor, headers, &count, 0) <= 0)
        return;
    char error[160] = "";
    bool ok = ocf_request_framing_ok (headers, count, error, sizeof error);
    int lengths = 0, encodings = 0;
    for (size_t i = 0; i < count; i++) {
        lengths += headers[i].name && headers[i].name_len == 14 && strncasecmp (headers[i].name, "content-length", 14) == 0;
        encodings += headers[i].name && headers[i].name_len == 17 && strncasecmp (headers[i].name, "transfer-encoding", 17) == 0;
    }
    if (ok ? (encodings > 1 || (encodings && lengths)) : !*error)
        abort ();
}

//  The input as a query: a parameter found is whole, "since=VALUE" or a bare "since" at its
//  start or after a '&', within the query; a number read back prints as its digits (leading
//  zeros aside).
static void
s_check_query (const char *text, size_t size)
{
    const char *value;
    size_t len;
    if (ocf_query_param (text, size, "since", &value, &len)) {
        size_t at = (size_t) (value - text);
        bool bare = at >= 5 && memcmp (value - 5, "since", 5) == 0 && len == 0
                 && (at == size || text[at] == '&');
        size_t name_at = bare ? at - 5 : at - 6;
        bool named = bare || (at >= 6 && memcmp (value - 6, "since=", 6) == 0);
        if (!named || at + len > size || (name_at > 0 && text[name_at - 1] != '&')
        ||  memchr (value, '&', len) || (at + len < size && text[at + len] != '&'))
            abort ();
    }
    uint64_t number;
    if (ocf_parse_uint (text, size, &number)) {
        size_t zeros = 0;
        while (zeros + 1 < size && text[zeros] == '0')
            zeros++;
        char printed[24];
        int printed_len = snprintf (printed, sizeof printed, "%" PRIu64, number);
        if ((size_t) printed_len != size - zeros || memcmp (printed, text + zeros, size - zeros) != 0)
            abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    s_check_query (text, size);
    s_compare_with_jansson (text, size);
    s_check_connection_list (text, size);
    s_check_framing (text, size);
    static ocf_routetable_t routes;
    if (!routes.count)
        ocf_proxyd_register_routes (&routes);
    ocf_route_t route;
    if (ocf_routetable_match (&routes, text, size, &route) != route.spec || (route.spec != NULL) != (route.index > 0))
        abort ();
    if (route.rest && (route.rest_len == 0 || route.rest_len > size + 1))
        abort ();
    char identity[OCF_IDENTITY_MAX], error[512];
    for (int required = 0; required < 2; required++) {
        ocf_identity_result_t result = ocf_request_identity (NULL, 0, "application/json", 16, text, size, "model", required, NULL,
                                                             identity, sizeof identity, error, sizeof error);
        if ((result == OCF_IDENTITY_OK && strncmp (identity, "model=", 6) != 0) || (result == OCF_IDENTITY_ERROR && !*error))
            abort ();
    }
    if (ocf_request_identity (text, size, NULL, 0, NULL, 0, "model", true, NULL, identity, sizeof identity, error, sizeof error)
        == OCF_IDENTITY_OK && (!strchr (identity, '=') || strlen (identity) != size))
        abort ();
    return 0;
}

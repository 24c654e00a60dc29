/*  ocf_request: routes and identity extraction.  */
#include "ocf_request.h"
#include "ocf_json.h"
#include "ocf_multipart.h"
#include "ocf_phr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  --------------------------------------------------------------------------
//  Routes

#define FORWARD_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

bool
ocf_route_method_allowed (const ocf_route_spec_t *spec, const char *method, size_t method_len, const char **allow)
{
    const char *list = spec->methods ? spec->methods : FORWARD_METHODS;
    *allow = list;
    //  The lists are ", "-separated upper-case tokens: match a whole token.
    for (const char *item = list; *item;) {
        size_t item_len = strcspn (item, ",");
        if (item_len == method_len && memcmp (item, method, method_len) == 0)
            return true;
        item += item_len;
        while (*item == ',' || *item == ' ')
            item++;
    }
    return false;
}

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool
ocf_query_param (const char *query, size_t len, const char *name, const char **value, size_t *value_len)
{
    size_t name_len = strlen (name);
    for (size_t at = 0; at < len;) {
        const char *end = memchr (query + at, '&', len - at);
        size_t item = end ? (size_t) (end - query) - at : len - at;
        if (item >= name_len && memcmp (query + at, name, name_len) == 0
        &&  (item == name_len || query[at + name_len] == '=')) {
            *value = query + at + (item == name_len ? name_len : name_len + 1);
            *value_len = item == name_len ? 0 : item - name_len - 1;
            return true;
        }
        at += item + 1;
    }
    return false;
}

bool
ocf_parse_uint (const char *text, size_t len, uint64_t *value)
{
    *value = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned digit = (unsigned) (text[i] - '0');
        if (digit > 9 || *value > (UINT64_MAX - digit) / 10)
            return false;
        *value = *value * 10 + digit;
    }
    return len > 0;
}

int
ocf_percent_decode (const char *src, size_t len, char *dst, size_t dst_size)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char) src[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int high = s_hex (src[i + 1]), low = s_hex (src[i + 2]);
            if (high < 0 || low < 0)
                return -1;
            c = high * 16 + low;
            i += 2;
        }
        if (c == 0 || out + 1 >= dst_size)
            return -1;
        dst[out++] = (char) c;
    }
    if (out >= dst_size)
        return -1;
    dst[out] = '\0';
    return 0;
}

static bool
s_service_name_valid (const char *name, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

//  The placeholders a pattern may hold (see ocf_request.h).
static const char *s_placeholders[] = { "{svc}/{path}", "{node}/{path}", "{id}" };
enum { PLACE_SERVICE, PLACE_NODE, PLACE_ID, PLACE_NONE };

//  Which placeholder ends the pattern, and where it starts (*literal_len).
static int
s_placeholder (const char *pattern, size_t *literal_len)
{
    const char *brace = strchr (pattern, '{');
    *literal_len = brace ? (size_t) (brace - pattern) : strlen (pattern);
    for (int i = 0; brace && i < PLACE_NONE; i++)
        if (strcmp (brace, s_placeholders[i]) == 0)
            return i;
    return brace ? -1 : PLACE_NONE;
}

void
ocf_routetable_init (ocf_routetable_t *self)
{
    memset (self, 0, sizeof *self);
    self->specs[0] = (ocf_route_spec_t) { .name = "not_found", .pattern = "", .methods = "" };
    self->count = 1;
}

static void
s_add (ocf_routetable_t *self, const ocf_route_spec_t *spec)
{
    size_t literal_len;
    int place = *spec->pattern == '/' ? s_placeholder (spec->pattern, &literal_len) : -1;
    //  A hop to this node's own id needs the {node}/{path} to serve again.
    if (self->count >= OCF_ROUTES_MAX || !spec->handler || place < 0 || (spec->own_node_hop && place != PLACE_NODE)) {
        fprintf (stderr, "ocf_routetable_add: cannot add route %s (%s)\n", spec->name, spec->pattern);
        abort ();
    }
    self->specs[self->count++] = *spec;
    size_t used = strlen (self->listing);
    snprintf (self->listing + used, sizeof self->listing - used, "%s%s", used ? ", " : "", spec->pattern);
}

void
ocf_routetable_add (ocf_routetable_t *self, const ocf_route_spec_t *specs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        s_add (self, &specs[i]);
}

const char *
ocf_routetable_name (const ocf_routetable_t *self, int index)
{
    return index >= 0 && index < self->count ? self->specs[index].name : "unknown";
}

//  Matches one pattern; fills route on success.
static bool
s_match (const char *pattern, const char *path, size_t len, ocf_route_t *route)
{
    size_t literal_len;
    int place = s_placeholder (pattern, &literal_len);
    if (len < literal_len || memcmp (path, pattern, literal_len) != 0)
        return false;
    const char *start = path + literal_len, *end = path + len;
    //  A literal route takes one trailing slash too ("/v1/chat/completions/"), as clients
    //  that join a base URL and a path sometimes send.
    if (place == PLACE_NONE)
        return start == end || *start == '?' || (*start == '/' && (start + 1 == end || start[1] == '?'));
    const char *cursor = start;
    while (cursor < end && *cursor != '?' && (place == PLACE_ID || *cursor != '/'))
        cursor++;
    size_t segment_len = (size_t) (cursor - start);
    if (segment_len == 0)
        return false;
    if (place == PLACE_SERVICE ? !s_service_name_valid (start, segment_len)
                               : ocf_percent_decode (start, segment_len, route->node, sizeof route->node) != 0)
        return false;
    route->service = start;
    route->service_len = segment_len;
    if (place == PLACE_ID)
        return true;
    //  "/v1/service/llm" and "/v1/service/llm?x" forward to "/" and "/?x".
    size_t rest_len = (size_t) (end - cursor);
    route->rest = rest_len ? cursor : "/";
    route->rest_len = rest_len ? rest_len : 1;
    route->rest_slash = rest_len && *cursor == '?';
    return true;
}

const ocf_route_spec_t *
ocf_routetable_match (const ocf_routetable_t *self, const char *path, size_t len, ocf_route_t *route)
{
    for (int i = 1; i < self->count; i++) {
        memset (route, 0, sizeof *route);
        if (s_match (self->specs[i].pattern, path, len, route)) {
            route->index = i;
            return route->spec = &self->specs[i];
        }
    }
    memset (route, 0, sizeof *route);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Identity

static bool
s_looks_like_json (const char *content_type, size_t content_type_len, const char *body, size_t body_len)
{
    for (size_t i = 0; content_type && i + 4 <= content_type_len; i++)
        if (strncasecmp (content_type + i, "json", 4) == 0)
            return true;
    for (size_t i = 0; i < body_len; i++) {
        char c = body[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return c == '{';
    }
    return false;
}

//  An upload (audio): the identity is a field of the form.
static ocf_identity_result_t
s_form_identity (const char *content_type, size_t content_type_len, const char *body, size_t body_len, const char *key,
                 bool required, char *identity, size_t identity_size, char *error, size_t error_size)
{
    size_t key_len = strlen (key);
    char detail[200];
    switch (ocf_multipart_field (content_type, content_type_len, body, body_len, key, identity + key_len + 1,
                                 identity_size - key_len - 1, detail, sizeof detail)) {
        case OCF_MULTIPART_FOUND:
            if (identity[key_len + 1] == '\0') {
                snprintf (error, error_size, "the form field \"%s\" is empty", key);
                return OCF_IDENTITY_ERROR;
            }
            memcpy (identity, key, key_len);
            identity[key_len] = '=';
            return OCF_IDENTITY_OK;
        case OCF_MULTIPART_ABSENT:
            if (!required)
                return OCF_IDENTITY_NONE;
            snprintf (error, error_size, "the form has no field \"%s\" (the model to use)", key);
            return OCF_IDENTITY_ERROR;
        case OCF_MULTIPART_TOO_LONG:
            snprintf (error, error_size, "the form field \"%s\" is longer than %zu bytes or contains a NUL", key,
                      identity_size - key_len - 2);
            return OCF_IDENTITY_ERROR;
        case OCF_MULTIPART_INVALID:
        default:
            snprintf (error, error_size, "the request body is not valid multipart/form-data: %s", detail);
            return OCF_IDENTITY_ERROR;
    }
}

ocf_identity_result_t
ocf_request_identity (const char *header, size_t header_len, const char *content_type, size_t content_type_len,
                      const char *body, size_t body_len, const char *key, bool required, ocf_json_index_t *index,
                      char *identity, size_t identity_size, char *error, size_t error_size)
{
    identity[0] = '\0';
    if (header) {
        const char *equals = memchr (header, '=', header_len);
        if (!equals || equals == header || equals + 1 == header + header_len) {
            snprintf (error, error_size, "X-Ocf-Identity must be key=value, such as model=llama-3-8b");
            return OCF_IDENTITY_ERROR;
        }
        if (header_len >= identity_size || memchr (header, '\0', header_len)) {
            snprintf (error, error_size, "X-Ocf-Identity is longer than %zu bytes", identity_size - 1);
            return OCF_IDENTITY_ERROR;
        }
        memcpy (identity, header, header_len);
        identity[header_len] = '\0';
        return OCF_IDENTITY_OK;
    }
    size_t key_len = strlen (key);
    if (key_len + 2 >= identity_size) {
        snprintf (error, error_size, "identity key too long");
        return OCF_IDENTITY_ERROR;
    }
    if (ocf_multipart_is_form (content_type, content_type_len))
        return s_form_identity (content_type, content_type_len, body, body_len, key, required, identity, identity_size,
                                error, error_size);
    if (!required && !s_looks_like_json (content_type, content_type_len, body, body_len))
        return OCF_IDENTITY_NONE;
    char detail[160];
    ocf_json_key_t found = ocf_json_find_key (body, body_len, key, identity + key_len + 1, identity_size - key_len - 1,
                                              index, detail, sizeof detail);
    switch (found) {
        case OCF_JSON_KEY_FOUND:
            memcpy (identity, key, key_len);
            identity[key_len] = '=';
            return OCF_IDENTITY_OK;
        case OCF_JSON_KEY_ABSENT:
            if (!required)
                return OCF_IDENTITY_NONE;
            snprintf (error, error_size, "the request body has no \"%s\" (the model to use)", key);
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_KEY_NOT_STRING:
            snprintf (error, error_size, "\"%s\" must be a string", key);
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_KEY_NOT_OBJECT:
            snprintf (error, error_size, "the request body must be a JSON object");
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_KEY_TOO_LONG:
            snprintf (error, error_size, "\"%s\" is longer than %zu bytes or contains a NUL", key, identity_size - key_len - 2);
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_KEY_INVALID:
        default:
            snprintf (error, error_size, "the request body is not valid JSON: %s", detail);
            return OCF_IDENTITY_ERROR;
    }
}

bool
ocf_connection_names (const char *list, size_t list_len, const char *name, size_t name_len)
{
    size_t at = 0;
    while (at < list_len) {
        while (at < list_len && (list[at] == ' ' || list[at] == '\t' || list[at] == ','))
            at++;
        size_t start = at;
        while (at < list_len && list[at] != ',')
            at++;
        size_t end = at;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end > start && end - start == name_len && strncasecmp (list + start, name, name_len) == 0)
            return true;
    }
    return false;
}

bool
ocf_request_framing_ok (const struct phr_header *headers, size_t count, char *error, size_t error_size)
{
    const struct phr_header *length = NULL;
    size_t encodings = 0;
    for (size_t i = 0; i < count; i++) {
        const struct phr_header *header = &headers[i];
        if (!header->name)
            continue;            //  a folded line's continuation
        if (header->name_len == 17 && strncasecmp (header->name, "transfer-encoding", 17) == 0)
            encodings++;
        else
        if (header->name_len == 14 && strncasecmp (header->name, "content-length", 14) == 0) {
            bool differs = length && (length->value_len != header->value_len
                                   || memcmp (length->value, header->value, header->value_len) != 0);
            if (differs) {
                snprintf (error, error_size, "the request has Content-Length headers that differ");
                return false;
            }
            length = header;
        }
    }
    if (encodings && length) {
        snprintf (error, error_size, "the request has both Content-Length and Transfer-Encoding (RFC 9112 6.1): "
                  "where its body ends is ambiguous");
        return false;
    }
    if (encodings > 1) {
        snprintf (error, error_size, "the request has more than one Transfer-Encoding header");
        return false;
    }
    return true;
}

/*  ocf_request: routes and identity extraction.  */
#include "ocf_request.h"
#include "ocf_json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

//  --------------------------------------------------------------------------
//  Routes

static const struct {
    const char *name;
    const char *allow;           //  NULL: every method that may be forwarded
} s_routes[OCF_ROUTE_COUNT] = {
    [OCF_ROUTE_NOT_FOUND] = { "not_found", "" },
    [OCF_ROUTE_DASHBOARD] = { "dashboard", "GET, HEAD" },
    [OCF_ROUTE_METRICS] = { "metrics", "GET, HEAD" },
    [OCF_ROUTE_HEALTH] = { "health", "GET, HEAD" },
    [OCF_ROUTE_DNT_TABLE] = { "dnt_table", "GET, HEAD" },
    [OCF_ROUTE_DNT_PEERS] = { "dnt_peers", "GET, HEAD" },
    [OCF_ROUTE_DNT_PEERS_STATUS] = { "dnt_peers_status", "GET, HEAD" },
    [OCF_ROUTE_DNT_BOOTSTRAPS] = { "dnt_bootstraps", "GET, HEAD" },
    [OCF_ROUTE_DNT_STATS] = { "dnt_stats", "GET, HEAD" },
    [OCF_ROUTE_DNT_NODE] = { "dnt_node", "POST, DELETE" },
    [OCF_ROUTE_SERVICE] = { "service", NULL },
    [OCF_ROUTE_LOCAL_SERVICE] = { "local_service", NULL },
    [OCF_ROUTE_P2P] = { "p2p", NULL },
    [OCF_ROUTE_CHAT] = { "chat_completions", "POST" },
    [OCF_ROUTE_COMPLETIONS] = { "completions", "POST" },
    [OCF_ROUTE_EMBEDDINGS] = { "embeddings", "POST" },
    [OCF_ROUTE_MODELS] = { "models", "GET, HEAD" },
    [OCF_ROUTE_MODEL] = { "model", "GET, HEAD" },
};

#define FORWARD_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

const char *
ocf_route_name (ocf_route_kind_t kind)
{
    return kind < OCF_ROUTE_COUNT ? s_routes[kind].name : "unknown";
}

bool
ocf_route_method_allowed (ocf_route_kind_t kind, const char *method, size_t method_len, const char **allow)
{
    const char *list = kind < OCF_ROUTE_COUNT && s_routes[kind].allow ? s_routes[kind].allow : FORWARD_METHODS;
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

//  Matches "/prefix" exactly, or followed by the query string.
static bool
s_exact (const char *path, size_t len, const char *route)
{
    size_t route_len = strlen (route);
    return len >= route_len && memcmp (path, route, route_len) == 0 && (len == route_len || path[route_len] == '?');
}

//  For "/prefix/{segment}{rest}": splits the segment; rest becomes "/..." (or "/" + query).
static bool
s_segment (const char *path, size_t len, const char *prefix, const char **segment, size_t *segment_len,
           const char **rest, size_t *rest_len)
{
    size_t prefix_len = strlen (prefix);
    if (len <= prefix_len || memcmp (path, prefix, prefix_len) != 0)
        return false;
    const char *start = path + prefix_len, *end = path + len, *cursor = start;
    while (cursor < end && *cursor != '/' && *cursor != '?')
        cursor++;
    if (cursor == start)
        return false;
    *segment = start;
    *segment_len = (size_t) (cursor - start);
    *rest = cursor;
    *rest_len = (size_t) (end - cursor);
    return true;
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

ocf_route_kind_t
ocf_route_parse (const char *path, size_t len, ocf_route_t *route)
{
    static const struct {
        const char *path;
        ocf_route_kind_t kind;
    } exact[] = {
        { "/", OCF_ROUTE_DASHBOARD }, { "/metrics", OCF_ROUTE_METRICS }, { "/v1/health", OCF_ROUTE_HEALTH },
        { "/v1/dnt/table", OCF_ROUTE_DNT_TABLE }, { "/v1/dnt/peers", OCF_ROUTE_DNT_PEERS },
        { "/v1/dnt/peers_status", OCF_ROUTE_DNT_PEERS_STATUS }, { "/v1/dnt/bootstraps", OCF_ROUTE_DNT_BOOTSTRAPS },
        { "/v1/dnt/stats", OCF_ROUTE_DNT_STATS }, { "/v1/dnt/_node", OCF_ROUTE_DNT_NODE },
        { "/v1/chat/completions", OCF_ROUTE_CHAT }, { "/v1/completions", OCF_ROUTE_COMPLETIONS },
        { "/v1/embeddings", OCF_ROUTE_EMBEDDINGS }, { "/v1/models", OCF_ROUTE_MODELS },
    };
    static const struct {
        const char *prefix;
        ocf_route_kind_t kind;
    } prefixed[] = {
        { "/v1/service/", OCF_ROUTE_SERVICE }, { "/v1/_service/", OCF_ROUTE_LOCAL_SERVICE }, { "/v1/p2p/", OCF_ROUTE_P2P },
    };
    memset (route, 0, sizeof *route);
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (s_exact (path, len, exact[i].path))
            return route->kind = exact[i].kind;
    for (size_t i = 0; i < sizeof prefixed / sizeof prefixed[0]; i++) {
        const char *segment, *rest;
        size_t segment_len, rest_len;
        if (!s_segment (path, len, prefixed[i].prefix, &segment, &segment_len, &rest, &rest_len))
            continue;
        if (prefixed[i].kind == OCF_ROUTE_P2P) {
            if (ocf_percent_decode (segment, segment_len, route->node, sizeof route->node) != 0)
                return OCF_ROUTE_NOT_FOUND;
        }
        else
        if (!s_service_name_valid (segment, segment_len))
            return OCF_ROUTE_NOT_FOUND;
        route->service = segment;
        route->service_len = segment_len;
        //  "/v1/service/llm" and "/v1/service/llm?x" forward to "/" and "/?x".
        route->rest = rest_len ? rest : "/";
        route->rest_len = rest_len ? rest_len : 1;
        route->rest_slash = rest_len && *rest == '?';
        return route->kind = prefixed[i].kind;
    }
    static const char models[] = "/v1/models/";
    if (len > sizeof models - 1 && memcmp (path, models, sizeof models - 1) == 0) {
        const char *id = path + sizeof models - 1, *query = memchr (id, '?', (size_t) (path + len - id));
        size_t id_len = (size_t) ((query ? query : path + len) - id);
        if (id_len && ocf_percent_decode (id, id_len, route->node, sizeof route->node) == 0)
            return route->kind = OCF_ROUTE_MODEL;
    }
    return route->kind = OCF_ROUTE_NOT_FOUND;
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

ocf_identity_result_t
ocf_request_identity (const char *header, size_t header_len, const char *content_type, size_t content_type_len,
                      const char *body, size_t body_len, const char *key, bool required, char *identity,
                      size_t identity_size, char *error, size_t error_size)
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
    if (!required && !s_looks_like_json (content_type, content_type_len, body, body_len))
        return OCF_IDENTITY_NONE;
    size_t key_len = strlen (key);
    if (key_len + 2 >= identity_size) {
        snprintf (error, error_size, "identity key too long");
        return OCF_IDENTITY_ERROR;
    }
    char detail[160];
    ocf_json_key_t found = ocf_json_find_key (body, body_len, key, identity + key_len + 1, identity_size - key_len - 1,
                                              detail, sizeof detail);
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

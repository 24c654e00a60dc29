/*  ocf_request: routes and identity extraction.  */
#include "ocf_request.h"

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
//  JSON scanning

#define JSON_MAX_DEPTH 256

typedef struct {
    const unsigned char *cursor;
    const unsigned char *start;
    const unsigned char *end;
    char *error;
    size_t error_size;
    bool failed;
} scanner_t;

static bool
s_fail (scanner_t *s, const char *what)
{
    if (!s->failed) {
        s->failed = true;
        if (s->cursor >= s->end)
            snprintf (s->error, s->error_size, "invalid JSON at byte %zu (end of body): %s", (size_t) (s->cursor - s->start), what);
        else
            snprintf (s->error, s->error_size, "invalid JSON at byte %zu: %s", (size_t) (s->cursor - s->start), what);
    }
    return false;
}

static void
s_blank (scanner_t *s)
{
    while (s->cursor < s->end && (*s->cursor == ' ' || *s->cursor == '\t' || *s->cursor == '\n' || *s->cursor == '\r'))
        s->cursor++;
}

static bool
s_literal (scanner_t *s, const char *word)
{
    size_t len = strlen (word);
    if ((size_t) (s->end - s->cursor) < len || memcmp (s->cursor, word, len) != 0)
        return s_fail (s, "unexpected character");
    s->cursor += len;
    return true;
}

static bool
s_digits (scanner_t *s)
{
    if (s->cursor >= s->end || *s->cursor < '0' || *s->cursor > '9')
        return s_fail (s, "expected a digit");
    while (s->cursor < s->end && *s->cursor >= '0' && *s->cursor <= '9')
        s->cursor++;
    return true;
}

static bool
s_number (scanner_t *s)
{
    if (*s->cursor == '-')
        s->cursor++;
    if (s->cursor < s->end && *s->cursor == '0')
        s->cursor++;
    else
    if (!s_digits (s))
        return false;
    if (s->cursor < s->end && *s->cursor == '.') {
        s->cursor++;
        if (!s_digits (s))
            return false;
    }
    if (s->cursor < s->end && (*s->cursor == 'e' || *s->cursor == 'E')) {
        s->cursor++;
        if (s->cursor < s->end && (*s->cursor == '+' || *s->cursor == '-'))
            s->cursor++;
        if (!s_digits (s))
            return false;
    }
    return true;
}

typedef struct {
    char *data;                  //  NULL: validate only
    size_t size;
    size_t len;
    bool overflow;               //  did not fit, or held a NUL
} sink_t;

static void
s_put (sink_t *sink, const unsigned char *bytes, size_t len)
{
    if (!sink || !sink->data || sink->overflow)
        return;
    if (sink->len + len >= sink->size) {
        sink->overflow = true;
        return;
    }
    memcpy (sink->data + sink->len, bytes, len);
    sink->len += len;
}

static bool
s_hex4 (scanner_t *s, unsigned *value)
{
    if (s->end - s->cursor < 4)
        return s_fail (s, "truncated \\u escape");
    *value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = s_hex ((char) s->cursor[i]);
        if (digit < 0)
            return s_fail (s, "bad \\u escape");
        *value = *value * 16 + (unsigned) digit;
    }
    s->cursor += 4;
    return true;
}

//  One UTF-8 sequence starting at the cursor (a byte >= 0x80): strict (no overlongs, no
//  surrogates, nothing above U+10FFFF).
static bool
s_utf8 (scanner_t *s)
{
    const unsigned char *p = s->cursor;
    size_t left = (size_t) (s->end - p);
    unsigned char c = p[0];
    size_t need;
    unsigned char low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else
    if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            low = 0xA0;
        if (c == 0xED)
            high = 0x9F;
    }
    else
    if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            low = 0x90;
        if (c == 0xF4)
            high = 0x8F;
    }
    else
        return s_fail (s, "invalid UTF-8");
    if (left < need + 1)
        return s_fail (s, "truncated UTF-8 sequence");
    if (p[1] < low || p[1] > high)
        return s_fail (s, "invalid UTF-8");
    for (size_t i = 2; i <= need; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return s_fail (s, "invalid UTF-8");
    s->cursor += need + 1;
    return true;
}

static void
s_put_codepoint (sink_t *sink, unsigned cp)
{
    unsigned char out[4];
    size_t len;
    if (cp == 0) {
        if (sink)
            sink->overflow = true;  //  a NUL cannot be part of a C string identity
        return;
    }
    if (cp < 0x80) {
        out[0] = (unsigned char) cp;
        len = 1;
    }
    else
    if (cp < 0x800) {
        out[0] = (unsigned char) (0xC0 | (cp >> 6));
        out[1] = (unsigned char) (0x80 | (cp & 0x3F));
        len = 2;
    }
    else
    if (cp < 0x10000) {
        out[0] = (unsigned char) (0xE0 | (cp >> 12));
        out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char) (0x80 | (cp & 0x3F));
        len = 3;
    }
    else {
        out[0] = (unsigned char) (0xF0 | (cp >> 18));
        out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
        out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
        out[3] = (unsigned char) (0x80 | (cp & 0x3F));
        len = 4;
    }
    s_put (sink, out, len);
}

//  A string (the cursor is on the opening quote); its unescaped bytes go to sink.
static bool
s_string (scanner_t *s, sink_t *sink)
{
    s->cursor++;
    while (true) {
        //  Copy runs of plain bytes at once: most of a prompt is plain text.
        const unsigned char *run = s->cursor;
        while (s->cursor < s->end && *s->cursor != '"' && *s->cursor != '\\' && *s->cursor >= 0x20 && *s->cursor < 0x80)
            s->cursor++;
        s_put (sink, run, (size_t) (s->cursor - run));
        if (s->cursor >= s->end)
            return s_fail (s, "unterminated string");
        unsigned char c = *s->cursor;
        if (c == '"') {
            s->cursor++;
            return true;
        }
        if (c < 0x20)
            return s_fail (s, "control character in string");
        if (c >= 0x80) {
            const unsigned char *sequence = s->cursor;
            if (!s_utf8 (s))
                return false;
            s_put (sink, sequence, (size_t) (s->cursor - sequence));
            continue;
        }
        //  A backslash escape.
        s->cursor++;
        if (s->cursor >= s->end)
            return s_fail (s, "unterminated escape");
        c = *s->cursor++;
        static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
        const char *which = c ? strchr (plain, c) : NULL;
        if (which) {
            unsigned char byte = (unsigned char) decoded[which - plain];
            s_put (sink, &byte, 1);
            continue;
        }
        if (c != 'u') {
            s->cursor--;
            return s_fail (s, "bad escape");
        }
        unsigned cp;
        if (!s_hex4 (s, &cp))
            return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return s_fail (s, "lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned low;
            if (s->end - s->cursor < 2 || s->cursor[0] != '\\' || s->cursor[1] != 'u')
                return s_fail (s, "lone high surrogate in \\u escape");
            s->cursor += 2;
            if (!s_hex4 (s, &low))
                return false;
            if (low < 0xDC00 || low > 0xDFFF)
                return s_fail (s, "bad surrogate pair in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        s_put_codepoint (sink, cp);
    }
}

static bool s_value (scanner_t *s, int depth);

static bool
s_container (scanner_t *s, int depth, bool object)
{
    if (depth >= JSON_MAX_DEPTH)
        return s_fail (s, "nested too deeply");
    char close = object ? '}' : ']';
    s->cursor++;
    s_blank (s);
    if (s->cursor < s->end && *s->cursor == close) {
        s->cursor++;
        return true;
    }
    while (true) {
        if (object) {
            if (s->cursor >= s->end || *s->cursor != '"')
                return s_fail (s, "expected a member name");
            if (!s_string (s, NULL))
                return false;
            s_blank (s);
            if (s->cursor >= s->end || *s->cursor != ':')
                return s_fail (s, "expected ':'");
            s->cursor++;
        }
        if (!s_value (s, depth + 1))
            return false;
        s_blank (s);
        if (s->cursor < s->end && *s->cursor == ',') {
            s->cursor++;
            s_blank (s);
            continue;
        }
        if (s->cursor < s->end && *s->cursor == close) {
            s->cursor++;
            return true;
        }
        return s_fail (s, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool
s_value (scanner_t *s, int depth)
{
    s_blank (s);
    if (s->cursor >= s->end)
        return s_fail (s, "expected a value");
    switch (*s->cursor) {
        case '{': return s_container (s, depth, true);
        case '[': return s_container (s, depth, false);
        case '"': return s_string (s, NULL);
        case 't': return s_literal (s, "true");
        case 'f': return s_literal (s, "false");
        case 'n': return s_literal (s, "null");
        default:
            if (*s->cursor == '-' || (*s->cursor >= '0' && *s->cursor <= '9'))
                return s_number (s);
            return s_fail (s, "unexpected character");
    }
}

ocf_json_key_t
ocf_json_find_key (const char *text, size_t len, const char *key, char *value, size_t value_size,
                   char *error, size_t error_size)
{
    scanner_t s = { (const unsigned char *) text, (const unsigned char *) text, (const unsigned char *) text + len,
                    error, error_size, false };
    if (error_size)
        error[0] = '\0';
    if (value_size)
        value[0] = '\0';
    s_blank (&s);
    if (s.cursor >= s.end) {
        snprintf (error, error_size, "invalid JSON: the body is empty");
        return OCF_JSON_INVALID;
    }
    ocf_json_key_t result = OCF_JSON_ABSENT;
    if (*s.cursor != '{') {
        if (!s_value (&s, 0))
            return OCF_JSON_INVALID;
        result = OCF_JSON_NOT_OBJECT;
    }
    else {
        //  The top-level object is walked here, so that its member names can be compared.
        size_t key_len = strlen (key);
        char name[128];
        s.cursor++;
        s_blank (&s);
        bool empty = s.cursor < s.end && *s.cursor == '}';
        if (empty)
            s.cursor++;
        while (!empty) {
            if (s.cursor >= s.end || *s.cursor != '"') {
                s_fail (&s, "expected a member name");
                return OCF_JSON_INVALID;
            }
            sink_t name_sink = { name, sizeof name, 0, false };
            if (!s_string (&s, &name_sink))
                return OCF_JSON_INVALID;
            bool match = !name_sink.overflow && name_sink.len == key_len && memcmp (name, key, key_len) == 0;
            s_blank (&s);
            if (s.cursor >= s.end || *s.cursor != ':') {
                s_fail (&s, "expected ':'");
                return OCF_JSON_INVALID;
            }
            s.cursor++;
            s_blank (&s);
            if (match && s.cursor < s.end && *s.cursor == '"') {
                //  The last member of that name wins, as in most JSON parsers.
                sink_t value_sink = { value, value_size, 0, false };
                if (!s_string (&s, &value_sink))
                    return OCF_JSON_INVALID;
                if (value_sink.overflow || value_size == 0) {
                    result = OCF_JSON_TOO_LONG;
                    if (value_size)
                        value[0] = '\0';
                }
                else {
                    value[value_sink.len] = '\0';
                    result = OCF_JSON_FOUND;
                }
            }
            else {
                if (match)
                    result = OCF_JSON_NOT_STRING;
                if (!s_value (&s, 1))
                    return OCF_JSON_INVALID;
            }
            s_blank (&s);
            if (s.cursor < s.end && *s.cursor == ',') {
                s.cursor++;
                s_blank (&s);
                continue;
            }
            if (s.cursor < s.end && *s.cursor == '}') {
                s.cursor++;
                break;
            }
            s_fail (&s, "expected ',' or '}'");
            return OCF_JSON_INVALID;
        }
    }
    s_blank (&s);
    if (s.cursor < s.end) {
        s_fail (&s, "unexpected data after the JSON value");
        return OCF_JSON_INVALID;
    }
    if (result != OCF_JSON_FOUND && value_size)
        value[0] = '\0';
    return result;
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
        case OCF_JSON_FOUND:
            memcpy (identity, key, key_len);
            identity[key_len] = '=';
            return OCF_IDENTITY_OK;
        case OCF_JSON_ABSENT:
            if (!required)
                return OCF_IDENTITY_NONE;
            snprintf (error, error_size, "the request body has no \"%s\" (the model to use)", key);
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_NOT_STRING:
            snprintf (error, error_size, "\"%s\" must be a string", key);
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_NOT_OBJECT:
            snprintf (error, error_size, "the request body must be a JSON object");
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_TOO_LONG:
            snprintf (error, error_size, "\"%s\" is longer than %zu bytes or contains a NUL", key, identity_size - key_len - 2);
            return OCF_IDENTITY_ERROR;
        case OCF_JSON_INVALID:
        default:
            snprintf (error, error_size, "the request body is not valid JSON: %s", detail);
            return OCF_IDENTITY_ERROR;
    }
}

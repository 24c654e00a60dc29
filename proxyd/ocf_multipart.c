/*  ocf_multipart: one field of a multipart/form-data body.  */
#include "ocf_multipart.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PARAM_MAX 256            //  a parameter value we compare (a field's name); longer ones match nothing

static bool
s_is_space (char c)
{
    return c == ' ' || c == '\t';
}

static bool
s_is_token (char c)
{
    return c > 0x20 && c < 0x7f && !strchr ("()<>@,;:\\\"/[]?={}", c);
}

static bool
s_starts (const char *text, size_t len, const char *prefix)
{
    size_t prefix_len = strlen (prefix);
    return len >= prefix_len && strncasecmp (text, prefix, prefix_len) == 0;
}

//  A parameter list, "; name=value; name="quoted"" (RFC 9110 5.6.6), one parameter at a time:
//  the cursor at the ';' (or at the end). Fills name and the value, unquoted, into value
//  (a value too long for it is flagged). Returns false at the end, and sets *bad on bad syntax.
typedef struct {
    const char *name;
    size_t name_len;
    char value[PARAM_MAX];
    size_t value_len;
    bool long_value;
} param_t;

static bool
s_next_param (const char **cursor, const char *end, param_t *param, bool *bad)
{
    const char *at = *cursor;
    while (at < end && s_is_space (*at))
        at++;
    if (at == end)
        return false;
    if (*at++ != ';') {
        *bad = true;
        return false;
    }
    while (at < end && s_is_space (*at))
        at++;
    param->name = at;
    while (at < end && s_is_token (*at) && *at != '=')
        at++;
    param->name_len = (size_t) (at - param->name);
    while (at < end && s_is_space (*at))
        at++;
    if (param->name_len == 0 || at == end || *at++ != '=') {
        *bad = true;
        return false;
    }
    while (at < end && s_is_space (*at))
        at++;
    param->value_len = 0;
    param->long_value = false;
    if (at < end && *at == '"') {
        for (at++; at < end && *at != '"'; at++) {
            if (*at == '\\' && ++at == end)
                break;
            if (param->value_len + 1 < sizeof param->value)
                param->value[param->value_len++] = *at;
            else
                param->long_value = true;
        }
        if (at == end) {
            *bad = true;         //  an unterminated quoted string
            return false;
        }
        at++;
    }
    else {
        for (; at < end && s_is_token (*at); at++)
            if (param->value_len + 1 < sizeof param->value)
                param->value[param->value_len++] = *at;
            else
                param->long_value = true;
        if (param->value_len == 0 && !param->long_value) {
            *bad = true;
            return false;
        }
    }
    param->value[param->value_len] = '\0';
    *cursor = at;
    return true;
}

bool
ocf_multipart_is_form (const char *content_type, size_t content_type_len)
{
    static const char type[] = "multipart/form-data";
    if (!content_type || !s_starts (content_type, content_type_len, type))
        return false;
    size_t rest = content_type_len - (sizeof type - 1);
    return rest == 0 || s_is_space (content_type[sizeof type - 1]) || content_type[sizeof type - 1] == ';';
}

static ocf_multipart_result_t s_invalid (char *error, size_t error_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static ocf_multipart_result_t
s_invalid (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return OCF_MULTIPART_INVALID;
}

//  The boundary parameter of the Content-Type, into boundary (NUL-terminated).
static bool
s_boundary (const char *content_type, size_t len, char *boundary, size_t *boundary_len)
{
    const char *cursor = content_type + strlen ("multipart/form-data"), *end = content_type + len;
    param_t param;
    bool bad = false;
    while (s_next_param (&cursor, end, &param, &bad))
        if (param.name_len == 8 && strncasecmp (param.name, "boundary", 8) == 0) {
            //  1 to 70 characters, not ending with a space (RFC 2046 5.1.1)
            if (param.long_value || param.value_len == 0 || param.value_len > OCF_MULTIPART_BOUNDARY_MAX
            ||  param.value[param.value_len - 1] == ' ')
                return false;
            memcpy (boundary, param.value, param.value_len + 1);
            *boundary_len = param.value_len;
            return true;
        }
    return false;
}

//  A part's header block (lines "Name: value\r\n", the empty line excluded): its field name.
//  Returns 1 with the name in param, 0 for a part without a form-data disposition, -1 when
//  malformed.
static int
s_part_name (const char *headers, size_t len, param_t *name)
{
    int found = 0;
    const char *line = headers, *end = headers + len;
    while (line < end) {
        const char *eol = memmem (line, (size_t) (end - line), "\r\n", 2);
        if (!eol)
            return -1;
        const char *colon = memchr (line, ':', (size_t) (eol - line));
        if (!colon || colon == line)
            return -1;
        for (const char *c = line; c < colon; c++)
            if (!s_is_token (*c))
                return -1;
        if ((size_t) (colon - line) == strlen ("content-disposition")
        &&  strncasecmp (line, "content-disposition", (size_t) (colon - line)) == 0) {
            const char *value = colon + 1;
            while (value < eol && s_is_space (*value))
                value++;
            if (!s_starts (value, (size_t) (eol - value), "form-data"))
                return -1;
            const char *cursor = value + strlen ("form-data");
            param_t param;
            bool bad = false;
            while (s_next_param (&cursor, eol, &param, &bad))
                if (param.name_len == 4 && strncasecmp (param.name, "name", 4) == 0) {
                    *name = param;
                    found = 1;
                }
            if (bad)
                return -1;
        }
        line = eol + 2;
    }
    return found;
}

ocf_multipart_result_t
ocf_multipart_field (const char *content_type, size_t content_type_len, const char *body, size_t body_len,
                     const char *name, char *value, size_t value_size, char *error, size_t error_size)
{
    value[0] = '\0';
    char delimiter[OCF_MULTIPART_BOUNDARY_MAX + 5] = "\r\n--";
    size_t boundary_len;
    if (!ocf_multipart_is_form (content_type, content_type_len)
    ||  !s_boundary (content_type, content_type_len, delimiter + 4, &boundary_len))
        return s_invalid (error, error_size, "the Content-Type of a multipart/form-data body needs a boundary of 1 to %d "
                          "characters", OCF_MULTIPART_BOUNDARY_MAX);
    size_t delimiter_len = boundary_len + 4;
    const char *end = body + body_len;
    //  The first delimiter opens the body or ends a preamble; it has no CRLF of its own.
    const char *at;
    if (body_len >= delimiter_len - 2 && memcmp (body, delimiter + 2, delimiter_len - 2) == 0)
        at = body + delimiter_len - 2;
    else {
        at = body_len ? memmem (body, body_len, delimiter, delimiter_len) : NULL;
        if (!at)
            return s_invalid (error, error_size, "the multipart body has no boundary line (--%s)", delimiter + 4);
        at += delimiter_len;
    }
    ocf_multipart_result_t result = OCF_MULTIPART_ABSENT;
    size_t name_len = strlen (name);
    for (int part = 1;; part++) {
        //  After a delimiter: "--" closes the body (an epilogue may follow), else padding, CRLF.
        if (end - at >= 2 && at[0] == '-' && at[1] == '-')
            return result;
        while (at < end && s_is_space (*at))
            at++;
        if (end - at < 2 || at[0] != '\r' || at[1] != '\n')
            return s_invalid (error, error_size, "multipart part %d: its boundary line does not end with CRLF, or the "
                              "body ends before the closing boundary (--%s--)", part, delimiter + 4);
        at += 2;
        //  The header block ends with an empty line; none at all is an empty line at once.
        const char *headers = at, *content;
        if (end - at >= 2 && at[0] == '\r' && at[1] == '\n')
            content = at + 2;
        else {
            size_t window = (size_t) (end - at) < OCF_MULTIPART_HEADERS_MAX ? (size_t) (end - at) : OCF_MULTIPART_HEADERS_MAX;
            const char *blank = memmem (at, window, "\r\n\r\n", 4);
            if (!blank)
                return s_invalid (error, error_size, "multipart part %d: no end of its headers within %d bytes", part,
                                  OCF_MULTIPART_HEADERS_MAX);
            content = blank + 4;
        }
        param_t field;
        int named = s_part_name (headers, (size_t) (content - 2 - headers), &field);
        if (named <= 0)
            return s_invalid (error, error_size, "multipart part %d: its headers are malformed or lack "
                              "Content-Disposition: form-data; name=...", part);
        const char *close = memmem (content, (size_t) (end - content), delimiter, delimiter_len);
        if (!close)
            return s_invalid (error, error_size, "multipart part %d: the body ends before its boundary (--%s)", part,
                              delimiter + 4);
        size_t content_len = (size_t) (close - content);
        if (result == OCF_MULTIPART_ABSENT && !field.long_value && field.value_len == name_len
        &&  memcmp (field.value, name, name_len) == 0) {
            if (content_len >= value_size || memchr (content, '\0', content_len))
                result = OCF_MULTIPART_TOO_LONG;
            else {
                memcpy (value, content, content_len);
                value[content_len] = '\0';
                result = OCF_MULTIPART_FOUND;
            }
        }
        at = close + delimiter_len;
    }
}

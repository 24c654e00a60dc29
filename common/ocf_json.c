/*  ocf_json: strict in-place JSON scanner.  */
#include "ocf_json.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *start;
    const char *p;
    const char *end;
    const char *problem;
    ocf_json_index_t *index;     //  NULL: not recording
} scanner_t;

static bool
s_fail (scanner_t *scanner, const char *problem)
{
    if (!scanner->problem)
        scanner->problem = problem;
    return false;
}

static void
s_skip_space (scanner_t *scanner)
{
    while (scanner->p < scanner->end
       && (*scanner->p == ' ' || *scanner->p == '\t' || *scanner->p == '\n' || *scanner->p == '\r'))
        scanner->p++;
}

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static long
s_hex4 (const char *p)
{
    long value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = s_hex (p[i]);
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

//  One UTF-8 sequence starting at p (first byte >= 0x80); returns its length or 0.
static int
s_utf8_sequence (const unsigned char *p, const unsigned char *end)
{
    int len;
    unsigned min;
    unsigned code;
    if (*p >= 0xC2 && *p <= 0xDF) { len = 2; code = *p & 0x1F; min = 0x80; }
    else if (*p >= 0xE0 && *p <= 0xEF) { len = 3; code = *p & 0x0F; min = 0x800; }
    else if (*p >= 0xF0 && *p <= 0xF4) { len = 4; code = *p & 0x07; min = 0x10000; }
    else return 0;
    if (end - p < len)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (p[i] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return len;
}

//  Whether none of 8 bytes needs a look of its own: no quote, backslash, control character or
//  byte of a multi-byte sequence (SWAR: each test sets the high bit of a byte it finds; a
//  borrow only starts at such a byte, so it may flag more above it, never hide one). Strings
//  are most of a request body: a prompt is read 8 bytes a step instead of one.
static bool
s_plain8 (const char *p)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t x;
    memcpy (&x, p, 8);
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    return ((((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | x) & highs) == 0;
}

static bool
s_string (scanner_t *scanner)
{
    scanner->p++;                                        //  the opening quote
    while (scanner->p < scanner->end) {
        while (scanner->end - scanner->p >= 8 && s_plain8 (scanner->p))
            scanner->p += 8;
        if (scanner->p >= scanner->end)
            break;
        unsigned char c = (unsigned char) *scanner->p;
        if (c == '"') {
            scanner->p++;
            return true;
        }
        if (c < 0x20)
            return s_fail (scanner, "control character in a string");
        if (c == '\\') {
            if (scanner->end - scanner->p < 2)
                break;
            char escape = scanner->p[1];
            if (escape == 'u') {
                if (scanner->end - scanner->p < 6)
                    break;
                long code = s_hex4 (scanner->p + 2);
                if (code < 0)
                    return s_fail (scanner, "bad \\u escape");
                scanner->p += 6;
                if (code >= 0xD800 && code <= 0xDBFF) {
                    long low = scanner->end - scanner->p >= 6 && scanner->p[0] == '\\' && scanner->p[1] == 'u'
                             ? s_hex4 (scanner->p + 2) : -1;
                    if (low < 0xDC00 || low > 0xDFFF)
                        return s_fail (scanner, "unpaired surrogate in a \\u escape");
                    scanner->p += 6;
                }
                else
                if (code >= 0xDC00 && code <= 0xDFFF)
                    return s_fail (scanner, "unpaired surrogate in a \\u escape");
                continue;
            }
            if (!strchr ("\"\\/bfnrt", escape) || !escape)
                return s_fail (scanner, "bad escape in a string");
            scanner->p += 2;
            continue;
        }
        if (c >= 0x80) {
            int len = s_utf8_sequence ((const unsigned char *) scanner->p, (const unsigned char *) scanner->end);
            if (!len)
                return s_fail (scanner, "invalid UTF-8 in a string");
            scanner->p += len;
            continue;
        }
        scanner->p++;
    }
    return s_fail (scanner, "unterminated string");
}

static bool
s_digits (scanner_t *scanner)
{
    const char *start = scanner->p;
    while (scanner->p < scanner->end && *scanner->p >= '0' && *scanner->p <= '9')
        scanner->p++;
    return scanner->p > start;
}

static bool
s_number (scanner_t *scanner)
{
    if (*scanner->p == '-')
        scanner->p++;
    if (scanner->p < scanner->end && *scanner->p == '0')
        scanner->p++;
    else
    if (!s_digits (scanner))
        return s_fail (scanner, "bad number");
    if (scanner->p < scanner->end && *scanner->p == '.') {
        scanner->p++;
        if (!s_digits (scanner))
            return s_fail (scanner, "bad number: digits expected after '.'");
    }
    if (scanner->p < scanner->end && (*scanner->p == 'e' || *scanner->p == 'E')) {
        scanner->p++;
        if (scanner->p < scanner->end && (*scanner->p == '+' || *scanner->p == '-'))
            scanner->p++;
        if (!s_digits (scanner))
            return s_fail (scanner, "bad number: digits expected in the exponent");
    }
    return true;
}

static bool
s_literal (scanner_t *scanner, const char *word)
{
    size_t len = strlen (word);
    if ((size_t) (scanner->end - scanner->p) < len || memcmp (scanner->p, word, len) != 0)
        return s_fail (scanner, "unexpected character");
    scanner->p += len;
    return true;
}

static bool s_value (scanner_t *scanner, int depth);

//  Reserves the index slot of the container opening at scanner->p (slots are taken in order
//  of opening, so starts stay sorted); SIZE_MAX when memory ran out, and the index is dropped.
static size_t
s_index_open (scanner_t *scanner)
{
    ocf_json_index_t *index = scanner->index;
    if (index->count == index->size) {
        //  First guess from the length (a ~1 KB row holds about 14 containers): one allocation
        //  for most documents instead of a series of reallocations.
        size_t len = (size_t) (scanner->end - scanner->start);
        size_t size = index->size ? index->size * 2 : len / 64 > 16 ? len / 64 : 16;
        //  The one allocation allowed to fail (ocf_alloc): the index only saves work, and
        //  validation goes on without it.
        ocf_json_extent_t *extents = realloc (index->extents, size * sizeof *extents);
        if (!extents) {
            ocf_json_index_clear (index);
            scanner->index = NULL;
            return SIZE_MAX;
        }
        index->extents = extents;
        index->size = size;
    }
    index->extents[index->count].start = (uint32_t) (scanner->p - scanner->start);
    return index->count++;
}

static bool
s_index_close (scanner_t *scanner, size_t slot)
{
    if (scanner->index)
        scanner->index->extents[slot].end = (uint32_t) (scanner->p - scanner->start);
    return true;
}

static bool
s_container (scanner_t *scanner, int depth, char close)
{
    if (depth >= OCF_JSON_MAX_DEPTH)
        return s_fail (scanner, "nested too deeply");
    size_t slot = scanner->index ? s_index_open (scanner) : 0;
    scanner->p++;
    s_skip_space (scanner);
    if (scanner->p < scanner->end && *scanner->p == close) {
        scanner->p++;
        return s_index_close (scanner, slot);
    }
    while (true) {
        if (close == '}') {
            if (scanner->p >= scanner->end || *scanner->p != '"')
                return s_fail (scanner, "object key expected");
            if (!s_string (scanner))
                return false;
            s_skip_space (scanner);
            if (scanner->p >= scanner->end || *scanner->p != ':')
                return s_fail (scanner, "':' expected after an object key");
            scanner->p++;
        }
        if (!s_value (scanner, depth + 1))
            return false;
        s_skip_space (scanner);
        if (scanner->p < scanner->end && *scanner->p == ',') {
            scanner->p++;
            s_skip_space (scanner);
            continue;
        }
        if (scanner->p < scanner->end && *scanner->p == close) {
            scanner->p++;
            return s_index_close (scanner, slot);
        }
        return s_fail (scanner, close == '}' ? "',' or '}' expected in an object" : "',' or ']' expected in an array");
    }
}

static bool
s_value (scanner_t *scanner, int depth)
{
    s_skip_space (scanner);
    if (scanner->p >= scanner->end)
        return s_fail (scanner, "value expected");
    switch (*scanner->p) {
        case '{': return s_container (scanner, depth, '}');
        case '[': return s_container (scanner, depth, ']');
        case '"': return s_string (scanner);
        case 't': return s_literal (scanner, "true");
        case 'f': return s_literal (scanner, "false");
        case 'n': return s_literal (scanner, "null");
        default:
            if (*scanner->p == '-' || (*scanner->p >= '0' && *scanner->p <= '9'))
                return s_number (scanner);
            return s_fail (scanner, "unexpected character");
    }
}

int
ocf_json_validate (const char *text, size_t len, ocf_json_index_t *index, char *error, size_t error_size)
{
    //  Offsets are 32-bit: a document of 4 GiB or more is walked without an index.
    if (index) {
        ocf_json_index_clear (index);
        index->text = text;
    }
    scanner_t scanner = { text, text, text + len, NULL, len < UINT32_MAX ? index : NULL };
    if (s_value (&scanner, 0)) {
        s_skip_space (&scanner);
        if (scanner.p == scanner.end)
            return 0;
        s_fail (&scanner, "extra text after the value");
    }
    if (index)
        ocf_json_index_clear (index);
    snprintf (error, error_size, "%s at byte %zu", scanner.problem, (size_t) (scanner.p - text));
    return -1;
}

void
ocf_json_index_clear (ocf_json_index_t *index)
{
    free (index->extents);
    *index = (ocf_json_index_t) { NULL, NULL, 0, 0 };
}

ocf_json_type_t
ocf_json_type (ocf_json_span_t value)
{
    if (value.len == 0)
        return OCF_JSON_INVALID;
    switch (*value.start) {
        case '{': return OCF_JSON_OBJECT;
        case '[': return OCF_JSON_ARRAY;
        case '"': return OCF_JSON_STRING;
        case 't': return OCF_JSON_TRUE;
        case 'f': return OCF_JSON_FALSE;
        case 'n': return OCF_JSON_NULL;
        default: return OCF_JSON_NUMBER;
    }
}

//  --------------------------------------------------------------------------
//  Walking validated text: no checks needed beyond finding the ends of values.

static const char *
s_skip_ws (const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

//  Validated text is one value between whitespace: trimming both ends finds it without
//  reading it (a MERGE body can be a megabyte; a second read was ~7 % of a merge).
ocf_json_span_t
ocf_json_root (const char *text, size_t len, const ocf_json_index_t *index)
{
    const char *end = text + len;
    const char *start = s_skip_ws (text, end);
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    //  An index is only good for the text it was made from.
    bool indexed = index && index->text == text && index->count;
    return (ocf_json_span_t) { start, (size_t) (end - start), indexed ? index : NULL };
}

//  The end of the container starting at p, from the index; NULL when p is not in it.
static const char *
s_indexed_end (const ocf_json_index_t *index, const char *p)
{
    uint32_t offset = (uint32_t) (p - index->text);
    size_t low = 0, high = index->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (index->extents[middle].start < offset)
            low = middle + 1;
        else
            high = middle;
    }
    return low < index->count && index->extents[low].start == offset ? index->text + index->extents[low].end : NULL;
}

//  The end of the value starting at p (validated text), looked up for a container when the
//  document has an index.
static const char *
s_value_end (const char *p, const char *end, const ocf_json_index_t *index)
{
    const char *found;
    if (index && (*p == '{' || *p == '[') && (found = s_indexed_end (index, p)))
        return found;
    if (*p == '"') {
        //  The next quote not escaped: an odd run of backslashes before it escapes it.
        for (const char *quote = p + 1; (quote = memchr (quote, '"', (size_t) (end - quote))); quote++) {
            size_t backslashes = 0;
            while (quote - backslashes > p + 1 && quote[-1 - (ptrdiff_t) backslashes] == '\\')
                backslashes++;
            if (backslashes % 2 == 0)
                return quote + 1;
        }
        return end;
    }
    if (*p == '{' || *p == '[') {
        //  Only quotes and brackets matter inside a container: skip everything else fast.
        static const bool special[256] = { ['"'] = true, ['{'] = true, ['}'] = true, ['['] = true, [']'] = true };
        int depth = 0;
        for (; p < end; p++) {
            if (!special[(unsigned char) *p])
                continue;
            if (*p == '"') {
                p = s_value_end (p, end, NULL) - 1;
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else
            if (--depth == 0)
                return p + 1;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
        p++;
    return p;
}

ocf_json_iter_t
ocf_json_iter (ocf_json_span_t container)
{
    if (container.len < 2)
        return (ocf_json_iter_t) { NULL, NULL, NULL };
    return (ocf_json_iter_t) { container.start + 1, container.start + container.len - 1, container.index };
}

static bool
s_next (ocf_json_iter_t *iter, ocf_json_span_t *key, ocf_json_span_t *value)
{
    if (!iter->cursor)
        return false;
    const char *p = s_skip_ws (iter->cursor, iter->end);
    if (p < iter->end && *p == ',')
        p = s_skip_ws (p + 1, iter->end);
    if (p >= iter->end)
        return false;
    if (key) {
        const char *key_end = s_value_end (p, iter->end, NULL);
        *key = (ocf_json_span_t) { p, (size_t) (key_end - p), NULL };
        p = s_skip_ws (key_end, iter->end);
        p = s_skip_ws (p + 1, iter->end);            //  the ':'
    }
    const char *value_end = s_value_end (p, iter->end, iter->index);
    *value = (ocf_json_span_t) { p, (size_t) (value_end - p), iter->index };
    iter->cursor = value_end;
    return true;
}

bool
ocf_json_object_next (ocf_json_iter_t *iter, ocf_json_span_t *key, ocf_json_span_t *value)
{
    return s_next (iter, key, value);
}

bool
ocf_json_array_next (ocf_json_iter_t *iter, ocf_json_span_t *value)
{
    return s_next (iter, NULL, value);
}

size_t
ocf_json_count (ocf_json_span_t container)
{
    ocf_json_iter_t iter = ocf_json_iter (container);
    ocf_json_span_t key, value;
    size_t count = 0;
    bool object = ocf_json_type (container) == OCF_JSON_OBJECT;
    while (s_next (&iter, object ? &key : NULL, &value))
        count++;
    return count;
}

ocf_json_span_t
ocf_json_member (ocf_json_span_t object, const char *key)
{
    ocf_json_iter_t iter = ocf_json_iter (object);
    ocf_json_span_t name, value;
    while (ocf_json_object_next (&iter, &name, &value))
        if (ocf_json_string_is (name, key))
            return value;
    return (ocf_json_span_t) { NULL, 0, NULL };
}

//  --------------------------------------------------------------------------
//  Strings and numbers

//  Decodes the next character of a string body into out (up to 4 bytes); returns how many
//  bytes of out it wrote and advances *p.
static int
s_decode_char (const char **p, char *out)
{
    const char *c = *p;
    if (*c != '\\') {
        out[0] = *c;
        *p = c + 1;
        return 1;
    }
    char escape = c[1];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *found = strchr (from, escape);
    if (escape != 'u' && found) {
        out[0] = to[found - from];
        *p = c + 2;
        return 1;
    }
    long code = s_hex4 (c + 2);
    *p = c + 6;
    if (code >= 0xD800 && code <= 0xDBFF) {
        long low = s_hex4 (c + 8);
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        *p = c + 12;
    }
    if (code < 0x80) {
        out[0] = (char) code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char) (0xC0 | (code >> 6));
        out[1] = (char) (0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (char) (0xE0 | (code >> 12));
        out[1] = (char) (0x80 | ((code >> 6) & 0x3F));
        out[2] = (char) (0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (char) (0xF0 | (code >> 18));
    out[1] = (char) (0x80 | ((code >> 12) & 0x3F));
    out[2] = (char) (0x80 | ((code >> 6) & 0x3F));
    out[3] = (char) (0x80 | (code & 0x3F));
    return 4;
}

bool
ocf_json_string_is (ocf_json_span_t string, const char *text)
{
    if (ocf_json_type (string) != OCF_JSON_STRING)
        return false;
    const char *p = string.start + 1, *end = string.start + string.len - 1;
    //  Fast path: no escapes.
    if (!memchr (p, '\\', (size_t) (end - p)))
        return strlen (text) == (size_t) (end - p) && memcmp (p, text, (size_t) (end - p)) == 0;
    while (p < end) {
        char decoded[4];
        int len = s_decode_char (&p, decoded);
        if (decoded[0] == '\0' || strlen (text) < (size_t) len || memcmp (text, decoded, (size_t) len) != 0)
            return false;
        text += len;
    }
    return *text == '\0';
}

long
ocf_json_string_copy (ocf_json_span_t string, char *out, size_t out_size)
{
    if (ocf_json_type (string) != OCF_JSON_STRING || out_size == 0)
        return -1;
    const char *p = string.start + 1, *end = string.start + string.len - 1;
    size_t raw = (size_t) (end - p);
    //  Fast path: no escapes, the bytes are the string (validated: no raw NUL in them).
    if (!memchr (p, '\\', raw)) {
        if (raw >= out_size)
            return -1;
        memcpy (out, p, raw);
        out[raw] = '\0';
        return (long) raw;
    }
    size_t len = 0;
    while (p < end) {
        char decoded[4];
        int n = s_decode_char (&p, decoded);
        if (len + (size_t) n >= out_size || decoded[0] == '\0')
            return -1;
        memcpy (out + len, decoded, (size_t) n);
        len += (size_t) n;
    }
    out[len] = '\0';
    return (long) len;
}

size_t
ocf_json_string_length (ocf_json_span_t string)
{
    if (ocf_json_type (string) != OCF_JSON_STRING)
        return 0;
    const char *p = string.start + 1, *end = string.start + string.len - 1;
    if (!memchr (p, '\\', (size_t) (end - p)))
        return (size_t) (end - p);
    size_t len = 0;
    while (p < end) {
        char decoded[4];
        len += (size_t) s_decode_char (&p, decoded);
    }
    return len;
}

bool
ocf_json_strings_equal (ocf_json_span_t a, ocf_json_span_t b)
{
    if (a.len == b.len && memcmp (a.start, b.start, a.len) == 0)
        return true;
    if (!memchr (a.start, '\\', a.len) && !memchr (b.start, '\\', b.len))
        return false;
    char decoded_a[1024], decoded_b[1024];
    long len_a = ocf_json_string_copy (a, decoded_a, sizeof decoded_a);
    long len_b = ocf_json_string_copy (b, decoded_b, sizeof decoded_b);
    return len_a >= 0 && len_a == len_b && memcmp (decoded_a, decoded_b, (size_t) len_a) == 0;
}

int
ocf_json_integer (ocf_json_span_t number, int64_t *value)
{
    if (ocf_json_type (number) != OCF_JSON_NUMBER || number.len > 20)
        return -1;
    char text[24];
    memcpy (text, number.start, number.len);
    text[number.len] = '\0';
    if (strpbrk (text, ".eE"))
        return -1;
    char *end;
    errno = 0;
    long long parsed = strtoll (text, &end, 10);
    if (errno || *end)
        return -1;
    *value = parsed;
    return 0;
}

ocf_json_key_t
ocf_json_find_key (const char *text, size_t len, const char *key, char *value, size_t value_size,
                   ocf_json_index_t *index, char *error, size_t error_size)
{
    if (value_size)
        value[0] = '\0';
    if (error_size)
        error[0] = '\0';
    if (ocf_json_validate (text, len, index, error, error_size) != 0)
        return OCF_JSON_KEY_INVALID;
    ocf_json_span_t root = ocf_json_root (text, len, index);
    if (ocf_json_type (root) != OCF_JSON_OBJECT)
        return OCF_JSON_KEY_NOT_OBJECT;
    //  The last member of that name wins, as in most JSON parsers.
    ocf_json_span_t name, member, found = { NULL, 0, NULL };
    ocf_json_iter_t iter = ocf_json_iter (root);
    while (ocf_json_object_next (&iter, &name, &member))
        if (ocf_json_string_is (name, key))
            found = member;
    if (!found.len)
        return OCF_JSON_KEY_ABSENT;
    if (ocf_json_type (found) != OCF_JSON_STRING)
        return OCF_JSON_KEY_NOT_STRING;
    if (ocf_json_string_copy (found, value, value_size) < 0) {
        if (value_size)
            value[0] = '\0';
        return OCF_JSON_KEY_TOO_LONG;
    }
    return OCF_JSON_KEY_FOUND;
}

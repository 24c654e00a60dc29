/*  ocf_json: a strict JSON scanner that allocates nothing, for hot paths.
    jansson builds a tree for every document, which costs more than everything else a merge
    does (measured: 41 MB/s to parse, as much again to free). This scanner validates a
    document in place (RFC 8259 grammar, UTF-8, no raw NUL byte, bounded depth) and then walks it by
    spans: object members and array elements as slices of the original text, so a record
    can be checked and stored without being rebuilt. Everything else keeps using jansson.  */
#ifndef OCF_JSON_H
#define OCF_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCF_JSON_MAX_DEPTH 256

typedef enum {
    OCF_JSON_INVALID, OCF_JSON_OBJECT, OCF_JSON_ARRAY, OCF_JSON_STRING, OCF_JSON_NUMBER,
    OCF_JSON_TRUE, OCF_JSON_FALSE, OCF_JSON_NULL
} ocf_json_type_t;

//  Where each object and array of a document ends, recorded while validating it: walks then
//  step over a nested value by a lookup instead of reading it again. Without it a MERGE body
//  is read five times over (the message's members, the merge's, the rows, each row's members,
//  the nested objects checked); with it, once. It takes 8 bytes per container: at most ~2.7
//  times the document's size (a document of nothing but "{}," pairs), ~1/10 of it for rows.
typedef struct {
    uint32_t start;              //  offset of a '{' or '['
    uint32_t end;                //  offset just past the matching '}' or ']'
} ocf_json_extent_t;

typedef struct {
    const char *text;
    ocf_json_extent_t *extents;  //  in order of start
    size_t count, size;
} ocf_json_index_t;

//  A slice of validated text holding one value (strings include their quotes), with the
//  index of its document when there is one.
typedef struct {
    const char *start;
    size_t len;
    const ocf_json_index_t *index;
} ocf_json_span_t;

//  Walks the members of an object or the elements of an array.
typedef struct {
    const char *cursor;
    const char *end;
    const ocf_json_index_t *index;
} ocf_json_iter_t;

//  Checks that text holds exactly one JSON value (whitespace around it allowed). Returns 0,
//  or -1 with a message naming the byte offset of the problem. With index (NULL: none),
//  also records where its containers end; ocf_json_index_clear frees what it holds.
int ocf_json_validate (const char *text, size_t len, ocf_json_index_t *index, char *error, size_t error_size);
void ocf_json_index_clear (ocf_json_index_t *index);
//  The span of the single value in validated text (whitespace trimmed), walked with the
//  document's index when given.
ocf_json_span_t ocf_json_root (const char *text, size_t len, const ocf_json_index_t *index);
ocf_json_type_t ocf_json_type (ocf_json_span_t value);

//  Iteration over a validated object or array span.
ocf_json_iter_t ocf_json_iter (ocf_json_span_t container);
bool ocf_json_object_next (ocf_json_iter_t *iter, ocf_json_span_t *key, ocf_json_span_t *value);
bool ocf_json_array_next (ocf_json_iter_t *iter, ocf_json_span_t *value);
//  Members of an object (or elements of an array) without walking them one by one.
size_t ocf_json_count (ocf_json_span_t container);
//  The value of the first member with this key, or a span of length 0.
ocf_json_span_t ocf_json_member (ocf_json_span_t object, const char *key);

//  True when a string span decodes to exactly text (escapes decoded).
bool ocf_json_string_is (ocf_json_span_t string, const char *text);
bool ocf_json_strings_equal (ocf_json_span_t a, ocf_json_span_t b);
//  Decodes a string span into out (NUL-terminated, UTF-8). Returns the decoded length, or
//  -1 when it does not fit or holds a NUL (\u0000 is valid JSON, never a valid C string).
long ocf_json_string_copy (ocf_json_span_t string, char *out, size_t out_size);
//  Decoded length of a string span.
size_t ocf_json_string_length (ocf_json_span_t string);
//  Reads an integer (no fraction or exponent) within int64. Returns 0 or -1.
int ocf_json_integer (ocf_json_span_t number, int64_t *value);

typedef enum {
    OCF_JSON_KEY_FOUND = 0,      //  the key's string value was copied
    OCF_JSON_KEY_ABSENT,         //  a valid object without the key
    OCF_JSON_KEY_NOT_STRING,     //  the key is there but its value is not a string
    OCF_JSON_KEY_NOT_OBJECT,     //  valid JSON whose top level is not an object
    OCF_JSON_KEY_INVALID,        //  not JSON (error says what and where)
    OCF_JSON_KEY_TOO_LONG        //  the value does not fit
} ocf_json_key_t;

//  Validates text as one JSON value and, when it is an object, copies the string value of its
//  last top-level member named key (decoded, NUL-terminated) into value: one linear pass over
//  a request body of any size. A value holding \u0000 does not fit. With index (NULL: none,
//  and nothing is allocated), the validation also records the document's index, as
//  ocf_json_validate does, so that a caller walking the same text again (proxyd's prefix key)
//  neither validates it a second time nor reads through its containers; the caller clears it.
ocf_json_key_t ocf_json_find_key (const char *text, size_t len, const char *key, char *value, size_t value_size,
                                  ocf_json_index_t *index, char *error, size_t error_size);

#endif

/*  ocf_multipart: one field of a multipart/form-data body (RFC 7578), read in place.
    Owns the decoding of the boundary from the Content-Type and the walk over the parts
    (headers, Content-Disposition's name, content), so that proxyd routes an upload
    (/v1/audio/transcriptions) by its "model" field without copying or allocating: a 16 MiB
    audio file costs one linear scan. The whole body is checked up to its closing delimiter,
    so a truncated or malformed upload is refused before it is forwarded. Pure, bounded,
    fuzzed by tests/fuzz/fuzz_multipart.c.  */
#ifndef OCF_MULTIPART_H
#define OCF_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    OCF_MULTIPART_FOUND = 0,     //  value holds the field's content, NUL-terminated
    OCF_MULTIPART_ABSENT,        //  a well-formed body without that field
    OCF_MULTIPART_TOO_LONG,      //  the field is longer than value_size - 1 or holds a NUL
    OCF_MULTIPART_INVALID        //  not a well-formed multipart/form-data body: error says why
} ocf_multipart_result_t;

#define OCF_MULTIPART_BOUNDARY_MAX 70    //  RFC 2046 5.1.1
#define OCF_MULTIPART_HEADERS_MAX 8192   //  a part's header block

//  Whether a Content-Type value names multipart/form-data (parameters aside).
bool ocf_multipart_is_form (const char *content_type, size_t content_type_len);

//  Reads the first field called name from body, whose Content-Type value is content_type.
ocf_multipart_result_t ocf_multipart_field (const char *content_type, size_t content_type_len, const char *body,
                                            size_t body_len, const char *name, char *value, size_t value_size,
                                            char *error, size_t error_size);

#endif

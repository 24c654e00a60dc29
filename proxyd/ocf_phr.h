/*  ocf_phr: the HTTP/1.x parser that libh2o itself uses (picohttpparser), declared here.
    libh2o-evloop exports these functions but Debian does not install their header; the
    declarations below follow picohttpparser's documented API (the version bundled with h2o
    2.2). CMake checks at configure time that the library exports them.  */
#ifndef OCF_PHR_H
#define OCF_PHR_H

#include <stddef.h>
#include <sys/types.h>

struct phr_header {
    const char *name;            //  NULL for the continuation of a folded header
    size_t name_len;
    const char *value;
    size_t value_len;
};

//  Returns the length of the request head, -2 when incomplete, -1 when malformed (more than
//  *num_headers headers included).
int phr_parse_request (const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                       size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                       size_t last_len);

//  Returns the length of the response head, -2 when incomplete, -1 when malformed.
int phr_parse_response (const char *buf, size_t len, int *minor_version, int *status, const char **msg,
                        size_t *msg_len, struct phr_header *headers, size_t *num_headers, size_t last_len);

//  Zero-filled before the first use.
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};

//  Decodes in place: *bufsz becomes the number of decoded bytes. Returns -2 while more input is
//  needed, -1 on malformed input, and at the end the number of bytes left after it.
ssize_t phr_decode_chunked (struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#endif

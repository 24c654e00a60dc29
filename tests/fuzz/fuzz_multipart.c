/*  Fuzz target: the multipart/form-data field reader (proxyd/ocf_multipart.c), which reads
    the model of an upload from untrusted bytes. The input is "CONTENT-TYPE\nBODY". A field
    found is a slice of the body, whole, that the body names; every refusal says why. Then the
    input's bytes go into a well-formed form as the model field, after a file part holding
    them too: the reader must find them exactly, as long as they fit and hold no boundary.  */
#include "ocf_multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOUNDARY "fuzzBoundary7MA4YWxkTrZu0gW"

static void
s_check_any (const char *text, size_t size)
{
    const char *newline = memchr (text, '\n', size);
    if (!newline)
        return;
    const char *body = newline + 1;
    size_t body_len = size - (size_t) (body - text);
    char value[64], error[256] = "";
    ocf_multipart_result_t result = ocf_multipart_field (text, (size_t) (newline - text), body, body_len, "model", value,
                                                         sizeof value, error, sizeof error);
    if (result == OCF_MULTIPART_INVALID && !*error)
        abort ();
    if (result == OCF_MULTIPART_FOUND) {
        size_t len = strlen (value);
        if (len >= sizeof value || (len && !memmem (body, body_len, value, len)))
            abort ();
    }
}

static void
s_check_round_trip (const char *text, size_t size)
{
    if (size > 400 || memchr (text, '\0', size) || memmem (text, size, "--" BOUNDARY, strlen ("--" BOUNDARY)))
        return;
    char body[2048];
    int len = snprintf (body, sizeof body,
                        "preamble\r\n--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                        "Content-Type: audio/wav\r\n\r\n%.*s\r\n--" BOUNDARY "\r\nContent-Disposition: form-data; name=model\r\n"
                        "\r\n%.*s\r\n--" BOUNDARY "--\r\n", (int) size, text, (int) size, text);
    const char *type = "multipart/form-data; boundary=\"" BOUNDARY "\"";
    char value[512], error[256];
    ocf_multipart_result_t result = ocf_multipart_field (type, strlen (type), body, (size_t) len, "model", value, sizeof value,
                                                         error, sizeof error);
    if (result != OCF_MULTIPART_FOUND || strlen (value) != size || memcmp (value, text, size) != 0)
        abort ();
    //  Cut anywhere before its closing boundary, the same form is refused.
    if (ocf_multipart_field (type, strlen (type), body, (size_t) len - 4 - size % 8, "model", value, sizeof value, error,
                             sizeof error) != OCF_MULTIPART_INVALID)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_check_any ((const char *) data, size);
    s_check_round_trip ((const char *) data, size);
    return 0;
}

/*  Fuzz target: the node.key parser (common/ocf_identity.c, ocf_identity_parse).
    Input: the file's bytes. Whatever parses must name the key its seed makes: the parser
    checks that itself, so a second parse of the same text must agree.  */
#include "ocf_identity.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t seed[32], again[32];
    char error[256];
    int rc = ocf_identity_parse ((const char *) data, size, seed, error, sizeof error);
    if (rc == 0 && (ocf_identity_parse ((const char *) data, size, again, error, sizeof error) != 0
                    || memcmp (seed, again, sizeof seed) != 0))
        abort ();
    if (rc != 0 && !memchr (error, '\0', sizeof error))
        abort ();
    return 0;
}

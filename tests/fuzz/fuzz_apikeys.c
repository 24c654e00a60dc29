/*  Fuzz target: the API keys file decoder (proxyd/ocf_apikeys.c), the file's bytes in.
    A refusal must say where ("fuzz:LINE: why"); a set it accepts decodes the same again, takes
    over the counters of the first and renders as Prometheus text.  */
#include "ocf_apikeys.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error[512] = "";
    ocf_apikeys_t *keys = ocf_apikeys_parse ((const char *) data, size, "fuzz", error, sizeof error);
    if (!keys) {
        if (strncmp (error, "fuzz:", 5) != 0)
            abort ();
        return 0;
    }
    ocf_apikeys_find (keys, (const char *) data, size);
    ocf_apikeys_t *again = ocf_apikeys_parse ((const char *) data, size, "fuzz", error, sizeof error);
    if (!again || ocf_apikeys_count (again) != ocf_apikeys_count (keys))
        abort ();
    ocf_apikeys_inherit (again, keys);
    ocf_apikeys_unref (&keys);
    ocf_promtext_t *page = ocf_promtext_new ();
    ocf_apikeys_render (again, page);
    ocf_promtext_destroy (&page);
    ocf_apikeys_unref (&again);
    return 0;
}

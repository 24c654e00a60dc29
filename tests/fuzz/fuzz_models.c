/*  Fuzz target: the /v1/models reply parser (workerd/ocf_models.c), a response body in.  */
#include "ocf_models.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error[512];
    json_t *models = ocf_models_parse ((const char *) data, size, 8, error, sizeof error);
    //  Accepted ids are sorted, unique, bounded, and fit an identity group.
    for (size_t i = 0; i < json_array_size (models); i++) {
        const char *id = json_string_value (json_array_get (models, i));
        if (!id || !*id || strlen (id) > OCF_MODEL_ID_MAX || json_array_size (models) > 8
        ||  (i && strcmp (json_string_value (json_array_get (models, i - 1)), id) >= 0))
            __builtin_trap ();
    }
    json_decref (models);
    return 0;
}

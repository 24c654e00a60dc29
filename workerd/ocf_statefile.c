/*  ocf_statefile: one strict JSON object per file under state_dir/backends.  */
#include "ocf_statefile.h"

#include <stdio.h>

json_t *
ocf_statefile_parse (const char *text, size_t size, size_t max, char *error, size_t error_size)
{
    if (size > max) {
        snprintf (error, error_size, "larger than %zu bytes", max);
        return NULL;
    }
    json_error_t problem;
    json_t *root = json_loadb (text, size, JSON_REJECT_DUPLICATES, &problem);
    if (!root)
        snprintf (error, error_size, "not JSON: %s (line %d)", problem.text, problem.line);
    else
    if (!json_is_object (root)) {
        snprintf (error, error_size, "not a JSON object");
        json_decref (root);
        root = NULL;
    }
    return root;
}

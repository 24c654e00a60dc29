/*  ocf_models: /v1/models reply parser.  */
#include "ocf_models.h"
#include "ocf_alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
s_id_usable (const char *id, size_t len)
{
    if (len == 0 || len > OCF_MODEL_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) id[i] < 0x20 || id[i] == 0x7f)
            return false;
    return true;
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(const char * const *) a, *(const char * const *) b);
}

json_t *
ocf_models_parse (const char *body, size_t size, size_t max_models, char *error, size_t error_size)
{
    error[0] = '\0';
    json_error_t json_error;
    json_t *root = json_loadb (body, size, 0, &json_error);
    if (!root) {
        snprintf (error, error_size, "not JSON: %s at byte %d", json_error.text, json_error.position);
        return NULL;
    }
    json_t *data = json_object_get (root, "data");
    if (!json_is_array (data)) {
        snprintf (error, error_size, "expected an object with a \"data\" array of models");
        json_decref (root);
        return NULL;
    }
    size_t count = json_array_size (data), kept = 0, skipped = 0;
    const char **ids = ocf_calloc (count + 1, sizeof *ids);
    for (size_t i = 0; i < count; i++) {
        json_t *id = json_object_get (json_array_get (data, i), "id");
        if (!json_is_string (id)) {
            snprintf (error, error_size, "data[%zu] has no string \"id\"", i);
            free (ids);
            json_decref (root);
            return NULL;
        }
        if (s_id_usable (json_string_value (id), json_string_length (id)))
            ids[kept++] = json_string_value (id);
        else
            skipped++;
    }
    qsort (ids, kept, sizeof *ids, s_compare);
    json_t *models = json_array ();
    size_t dropped = 0;
    for (size_t i = 0; i < kept; i++) {
        if (i > 0 && strcmp (ids[i], ids[i - 1]) == 0)
            continue;
        if (json_array_size (models) == max_models) {
            dropped++;
            continue;
        }
        json_array_append_new (models, json_string (ids[i]));
    }
    if (skipped)
        snprintf (error, error_size, "%zu model id%s left out (empty, over %d bytes or with control characters)",
                  skipped, skipped == 1 ? "" : "s", OCF_MODEL_ID_MAX);
    else
    if (dropped)
        snprintf (error, error_size, "%zu model%s left out: at most %zu per service", dropped, dropped == 1 ? "" : "s",
                  max_models);
    free (ids);
    json_decref (root);
    return models;
}

/*  ocf_models: the model list of an OpenAI-compatible backend (GET /v1/models), turned into
    the identity groups the service is registered with (one "model=<id>" per model).
    Sans-I/O: a reply body in, a sorted array of unique ids out, so that comparing two lists
    tells whether the backend's models changed.  */
#ifndef OCF_MODELS_H
#define OCF_MODELS_H

#include <jansson.h>
#include <stddef.h>

#define OCF_MODEL_ID_MAX 250     //  "model=" + id fits tabled's 256-byte identity groups

//  Returns the ids (JSON strings, sorted, unique), at most max_models of them. Returns NULL
//  with the problem in error when the body is not {"data": [{"id": "..."}, ...]}. Ids that
//  cannot be identity groups (empty, too long, control characters) are left out; then, and
//  when the list is cut at max_models, error holds a warning although the call succeeded.
json_t *ocf_models_parse (const char *body, size_t size, size_t max_models, char *error, size_t error_size);

#endif

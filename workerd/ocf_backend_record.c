/*  ocf_backend_record: encoder and strict decoder of backend records.  */
#include "ocf_backend_record.h"
#include "ocf_models.h"
#include "ocf_statefile.h"

#include <stdlib.h>
#include <string.h>

#define VERSION 1
#define MAX_MODELS 256
#define MAX_SPEC_VALUE 65536

static const char *s_spec_keys[] = { "command", "env", "gpus", "workdir", NULL };

json_t *
ocf_backend_record_spec (const ocf_service_config_t *config)
{
    return json_pack ("{s:s, s:s, s:s, s:s}", "command", config->command ? config->command : "", "env", config->env,
                      "gpus", config->gpus, "workdir", config->workdir);
}

char *
ocf_backend_record_encode (const char *service, pid_t pid, uint64_t start_time, int64_t port, json_t *spec,
                           json_t *state)
{
    json_t *record = json_pack ("{s:i, s:s, s:i, s:I, s:O, s:O, s:O}", "version", VERSION, "service", service,
                                "pid", (int) pid, "start_time", (json_int_t) start_time, "spec", spec,
                                "registered", json_object_get (state, "registered"),
                                "models", json_object_get (state, "models"));
    if (port > 0)
        json_object_set_new (record, "port", json_integer (port));
    char *text = json_dumps (record, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (record);
    return text;
}

static bool
s_printable (const char *text, size_t max)
{
    size_t len = strlen (text);
    if (len == 0 || len > max)
        return false;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

static int
s_fail (char *error, size_t error_size, const char *problem)
{
    snprintf (error, error_size, "%s", problem);
    return -1;
}

static int
s_check_spec (json_t *spec, char *error, size_t error_size)
{
    if (!json_is_object (spec))
        return s_fail (error, error_size, "\"spec\" must be an object");
    size_t known = 0;
    for (const char **key = s_spec_keys; *key; key++, known++) {
        json_t *value = json_object_get (spec, *key);
        if (!json_is_string (value) || json_string_length (value) > MAX_SPEC_VALUE
        ||  strlen (json_string_value (value)) != json_string_length (value)) {
            snprintf (error, error_size, "\"spec\".\"%s\" must be a string of at most %d bytes without NUL", *key,
                      MAX_SPEC_VALUE);
            return -1;
        }
    }
    if (json_object_size (spec) != known)
        return s_fail (error, error_size, "\"spec\" has keys other than command, env, gpus, workdir");
    if (json_string_length (json_object_get (spec, "command")) == 0)
        return s_fail (error, error_size, "\"spec\".\"command\" is empty");
    return 0;
}

static int
s_check_models (json_t *models, char *error, size_t error_size)
{
    if (json_is_null (models))
        return 0;
    if (!json_is_array (models) || json_array_size (models) > MAX_MODELS) {
        snprintf (error, error_size, "\"models\" must be null or an array of at most %d ids", MAX_MODELS);
        return -1;
    }
    for (size_t i = 0; i < json_array_size (models); i++) {
        json_t *id = json_array_get (models, i);
        if (!json_is_string (id) || !s_printable (json_string_value (id), OCF_MODEL_ID_MAX)
        ||  strlen (json_string_value (id)) != json_string_length (id)) {
            snprintf (error, error_size, "\"models\"[%zu] must be a model id (1 to %d printable bytes)", i,
                      OCF_MODEL_ID_MAX);
            return -1;
        }
        //  Sorted and unique, as ocf_models makes them: the list is compared as a whole.
        if (i && strcmp (json_string_value (json_array_get (models, i - 1)), json_string_value (id)) >= 0)
            return s_fail (error, error_size, "\"models\" must be sorted and unique");
    }
    return 0;
}

int
ocf_backend_record_decode (const char *text, size_t size, ocf_backend_record_t *record, char *error,
                           size_t error_size)
{
    memset (record, 0, sizeof *record);
    json_t *root = ocf_statefile_parse (text, size, OCF_BACKEND_RECORD_MAX, error, error_size);
    if (!root)
        return -1;
    int rc = -1;
    json_t *service = json_object_get (root, "service"), *pid = json_object_get (root, "pid");
    json_t *start_time = json_object_get (root, "start_time"), *registered = json_object_get (root, "registered");
    json_t *models = json_object_get (root, "models"), *port = json_object_get (root, "port");
    if (json_integer_value (json_object_get (root, "version")) != VERSION || !json_is_integer (json_object_get (root, "version")))
        snprintf (error, error_size, "\"version\" must be %d", VERSION);
    else
    if (json_object_size (root) != (port ? 8 : 7))
        s_fail (error, error_size, "keys must be exactly version, service, pid, start_time, spec, registered, models "
                "and an optional port");
    else
    if (port && (!json_is_integer (port) || json_integer_value (port) < 1 || json_integer_value (port) > 65535))
        s_fail (error, error_size, "\"port\" must be an integer from 1 to 65535");
    else
    if (!json_is_string (service) || !s_printable (json_string_value (service), OCF_SERVICE_NAME_MAX)
    ||  strlen (json_string_value (service)) != json_string_length (service))
        snprintf (error, error_size, "\"service\" must be a service name (1 to %d printable bytes)", OCF_SERVICE_NAME_MAX);
    else
    if (!json_is_integer (pid) || json_integer_value (pid) <= 1 || json_integer_value (pid) >= OCF_STATEFILE_PID_MAX)
        snprintf (error, error_size, "\"pid\" must be an integer from 2 to %d", OCF_STATEFILE_PID_MAX - 1);
    else
    if (!json_is_integer (start_time) || json_integer_value (start_time) < 0)
        s_fail (error, error_size, "\"start_time\" must be a non-negative integer");
    else
    if (!json_is_boolean (registered))
        s_fail (error, error_size, "\"registered\" must be true or false");
    else
    if (s_check_spec (json_object_get (root, "spec"), error, error_size) == 0
    &&  s_check_models (models, error, error_size) == 0) {
        snprintf (record->service, sizeof record->service, "%s", json_string_value (service));
        record->pid = (pid_t) json_integer_value (pid);
        record->start_time = (uint64_t) json_integer_value (start_time);
        record->port = port ? json_integer_value (port) : 0;
        record->spec = json_incref (json_object_get (root, "spec"));
        record->registered = json_is_true (registered);
        record->models = json_is_null (models) ? NULL : json_incref (models);
        rc = 0;
    }
    json_decref (root);
    return rc;
}

void
ocf_backend_record_clear (ocf_backend_record_t *record)
{
    json_decref (record->spec);
    json_decref (record->models);
    record->spec = record->models = NULL;
}

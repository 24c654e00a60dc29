/*  ocf_launch: spec and started files of backend units.  */
#include "ocf_launch.h"
#include "ocf_alloc.h"
#include "ocf_statefile.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 4096

static json_t *
s_strings (char *const *list)
{
    json_t *array = json_array ();
    for (size_t i = 0; list && list[i]; i++)
        json_array_append_new (array, json_string (list[i]));
    return array;
}

char *
ocf_launch_spec_encode (char *const *argv, char *const *env, const char *workdir, uint64_t nonce)
{
    json_t *spec = json_pack ("{s:o, s:o, s:s, s:I}", "argv", s_strings (argv), "env", s_strings (env), "workdir",
                              workdir ? workdir : "", "nonce", (json_int_t) (nonce & INT64_MAX));
    char *text = json_dumps (spec, JSON_COMPACT);
    json_decref (spec);
    return text;
}

char *
ocf_launch_started_encode (pid_t pid, uint64_t start_time, uint64_t nonce)
{
    json_t *started = json_pack ("{s:i, s:I, s:I}", "pid", (int) pid, "start_time", (json_int_t) start_time, "nonce",
                                 (json_int_t) (nonce & INT64_MAX));
    char *text = json_dumps (started, JSON_COMPACT);
    json_decref (started);
    return text;
}

//  An array of strings without NUL (env: each KEY=VALUE with a non-empty KEY) as a
//  NULL-terminated list, or NULL.
static char **
s_list (json_t *array, bool pairs, const char *name, char *error, size_t error_size)
{
    if (!json_is_array (array) || json_array_size (array) > MAX_WORDS) {
        snprintf (error, error_size, "\"%s\" must be an array of at most %d strings", name, MAX_WORDS);
        return NULL;
    }
    char **list = ocf_calloc (json_array_size (array) + 1, sizeof *list);
    for (size_t i = 0; i < json_array_size (array); i++) {
        json_t *item = json_array_get (array, i);
        const char *value = json_string_value (item);
        if (!value || strlen (value) != json_string_length (item) || (pairs && (!strchr (value, '=') || *value == '='))) {
            snprintf (error, error_size, "\"%s\"[%zu] must be %s", name, i,
                      pairs ? "a KEY=VALUE string" : "a string without NUL");
            for (size_t j = 0; j < i; j++)
                free (list[j]);
            free (list);
            return NULL;
        }
        list[i] = ocf_strdup (value);
    }
    return list;
}

static void
s_free_list (char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free (list[i]);
    free (list);
}

int
ocf_launch_spec_decode (const char *text, size_t size, ocf_launch_spec_t *spec, char *error, size_t error_size)
{
    memset (spec, 0, sizeof *spec);
    json_t *root = ocf_statefile_parse (text, size, OCF_LAUNCH_FILE_MAX, error, error_size);
    if (!root)
        return -1;
    json_t *workdir = json_object_get (root, "workdir"), *nonce = json_object_get (root, "nonce");
    int rc = -1;
    if (json_object_size (root) != 4)
        snprintf (error, error_size, "keys must be exactly argv, env, workdir, nonce");
    else
    if (!json_is_string (workdir) || strlen (json_string_value (workdir)) != json_string_length (workdir))
        snprintf (error, error_size, "\"workdir\" must be a string without NUL");
    else
    if (!json_is_integer (nonce) || json_integer_value (nonce) < 0)
        snprintf (error, error_size, "\"nonce\" must be a non-negative integer");
    else
    if ((spec->argv = s_list (json_object_get (root, "argv"), false, "argv", error, error_size))
    &&  (spec->env = s_list (json_object_get (root, "env"), true, "env", error, error_size))) {
        if (!spec->argv[0] || !*spec->argv[0])
            snprintf (error, error_size, "\"argv\" must start with a program");
        else {
            spec->workdir = ocf_strdup (json_string_value (workdir));
            spec->nonce = (uint64_t) json_integer_value (nonce);
            rc = 0;
        }
    }
    json_decref (root);
    if (rc != 0)
        ocf_launch_spec_clear (spec);
    return rc;
}

void
ocf_launch_spec_clear (ocf_launch_spec_t *spec)
{
    s_free_list (spec->argv);
    s_free_list (spec->env);
    free (spec->workdir);
    memset (spec, 0, sizeof *spec);
}

int
ocf_launch_started_decode (const char *text, size_t size, pid_t *pid, uint64_t *start_time, uint64_t *nonce,
                           char *error, size_t error_size)
{
    json_t *root = ocf_statefile_parse (text, size, OCF_LAUNCH_FILE_MAX, error, error_size);
    if (!root)
        return -1;
    json_t *p = json_object_get (root, "pid"), *t = json_object_get (root, "start_time"), *n = json_object_get (root, "nonce");
    int rc = -1;
    if (json_object_size (root) != 3)
        snprintf (error, error_size, "keys must be exactly pid, start_time, nonce");
    else
    if (!json_is_integer (p) || json_integer_value (p) <= 1 || json_integer_value (p) >= OCF_STATEFILE_PID_MAX)
        snprintf (error, error_size, "\"pid\" must be an integer from 2 to %d", OCF_STATEFILE_PID_MAX - 1);
    else
    if (!json_is_integer (t) || json_integer_value (t) < 0)
        snprintf (error, error_size, "\"start_time\" must be a non-negative integer");
    else
    if (!json_is_integer (n) || json_integer_value (n) < 0)
        snprintf (error, error_size, "\"nonce\" must be a non-negative integer");
    else {
        *pid = (pid_t) json_integer_value (p);
        *start_time = (uint64_t) json_integer_value (t);
        *nonce = (uint64_t) json_integer_value (n);
        rc = 0;
    }
    json_decref (root);
    return rc;
}

/*  ocf_slurm: Slurm job labels.  */
#include "ocf_slurm.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

//  Variable, then an older or step-level spelling used when the first is absent.
static const char *s_variables[][2] = {
    { "SLURM_JOB_ID", "SLURM_JOBID" },
    { "SLURM_JOB_NAME", NULL },
    { "SLURM_JOB_PARTITION", NULL },
    { "SLURM_JOB_NODELIST", "SLURM_NODELIST" },
    { "SLURM_JOB_NUM_NODES", "SLURM_NNODES" },
    { "SLURM_JOB_ACCOUNT", NULL },
    { "SLURM_JOB_USER", NULL },
    { "SLURM_JOB_QOS", NULL },
    { "SLURM_JOB_GPUS", NULL },
    { "SLURM_CLUSTER_NAME", NULL },
    { "SLURM_NODEID", NULL },
    { "SLURM_ARRAY_JOB_ID", NULL },
    { "SLURM_ARRAY_TASK_ID", NULL },
};
#define VARIABLE_COUNT (sizeof s_variables / sizeof s_variables[0])

static const char *
s_getenv (char *const *envp, const char *name)
{
    size_t len = strlen (name);
    for (char *const *entry = envp; entry && *entry; entry++)
        if (strncmp (*entry, name, len) == 0 && (*entry)[len] == '=')
            return *entry + len + 1;
    return NULL;
}

static bool
s_value_ok (const char *value)
{
    if (strlen (value) > OCF_SLURM_VALUE_MAX)
        return false;
    for (const char *c = value; *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

json_t *
ocf_slurm_labels (char *const *envp, char *skipped, size_t skipped_size)
{
    json_t *labels = json_object ();
    skipped[0] = '\0';
    for (size_t i = 0; i < VARIABLE_COUNT; i++) {
        const char *name = s_variables[i][0];
        const char *value = s_getenv (envp, name);
        if (!value && s_variables[i][1])
            value = s_getenv (envp, name = s_variables[i][1]);
        if (!value || !*value)
            continue;
        //  JSON wants UTF-8: a value that is not is left out like an overlong one.
        json_t *text = s_value_ok (value) ? json_string (value) : NULL;
        if (!text) {
            size_t used = strlen (skipped);
            snprintf (skipped + used, skipped_size - used, "%s%s", used ? ", " : "", name);
            continue;
        }
        char key[64];
        size_t len = strlen (s_variables[i][0]);
        for (size_t c = 0; c <= len; c++)
            key[c] = (char) tolower ((unsigned char) s_variables[i][0][c]);
        json_object_set_new (labels, key, text);
    }
    return labels;
}

json_t *
ocf_slurm_merge (json_t *current, json_t *slurm)
{
    json_t *merged = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (current, key, value)
        if (strncmp (key, OCF_SLURM_PREFIX, strlen (OCF_SLURM_PREFIX)) != 0)
            json_object_set (merged, key, value);
    json_object_update (merged, slurm);
    return merged;
}

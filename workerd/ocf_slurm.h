/*  ocf_slurm: labels from the Slurm job workerd runs in.
    When workerd is started inside a Slurm allocation (an sbatch script on a GPU cluster), the
    job's variables (SLURM_JOB_ID, SLURM_JOB_NAME, SLURM_JOB_PARTITION, SLURM_JOB_NODELIST, ...)
    become labels "slurm_job_id", ... in this node's record, so people can tell which job a
    host belongs to. workerd owns the "slurm_" label prefix: merging drops slurm_ labels the
    current environment no longer has (a previous job's) and keeps every other label.  */
#ifndef OCF_SLURM_H
#define OCF_SLURM_H

#include <jansson.h>

#define OCF_SLURM_PREFIX "slurm_"
#define OCF_SLURM_VALUE_MAX 256

//  The labels for an environment (NULL-terminated "NAME=value" strings). Values longer than
//  OCF_SLURM_VALUE_MAX, with control characters or not UTF-8 are left out (named in skipped,
//  a caller's buffer, which is otherwise set to "").
json_t *ocf_slurm_labels (char *const *envp, char *skipped, size_t skipped_size);
//  The labels to store: current (may be NULL) without its stale slurm_ labels, plus slurm.
json_t *ocf_slurm_merge (json_t *current, json_t *slurm);

#endif

/*  ocf_statedir: what [node] state_dir holds, and the directory itself.
    state_dir keeps what a host must not lose or share across restarts: node.key (its
    identity, common/ocf_identity), table.db (tabled's SQLite table, with its -wal and -shm
    files beside it), known_seeds (gossipd's keys of plain seeds, pinned on first use) and
    drained (the services workerd keeps drained until UNDRAIN, across its restarts) and
    backends/ (workerd: per launched service NAME, NAME.json records the running backend so
    that a restarted workerd adopts it, and NAME.log holds its output, workerd/ocf_logtail).
    Every daemon builds these paths here, and the directory is created and kept private
    (0750: the secret key and the table are this node's alone) in one place.  */
#ifndef OCF_STATEDIR_H
#define OCF_STATEDIR_H

#include <stddef.h>
#include <sys/types.h>

typedef enum {
    OCF_STATE_NODE_KEY,          //  node.key
    OCF_STATE_TABLE_DB,          //  table.db
    OCF_STATE_KNOWN_SEEDS,       //  known_seeds
    OCF_STATE_DRAINED,           //  drained
    OCF_STATE_BACKENDS           //  backends (a directory)
} ocf_state_file_t;

//  Writes the path of a file of state_dir to buffer and returns buffer.
const char *ocf_statedir_path (const char *state_dir, ocf_state_file_t file, char *buffer, size_t size);
//  state_dir/backends/<service><suffix> (".json", ".log").
const char *ocf_statedir_backend_path (const char *state_dir, const char *service, const char *suffix, char *buffer,
                                       size_t size);

//  Creates state_dir (and its parents) with mode 0750 when missing, and takes group write
//  and every right of others away from one that has them (made 1777 by hand, say), with a
//  notice in the log. Returns 0, or -1 with the reason in error.
int ocf_statedir_prepare (const char *state_dir, char *error, size_t error_size);

//  The text of a state file, at most max + 1 bytes (one more than a sound file holds, so
//  that its decoder tells it is too large); NULL with errno set when it cannot be read.
//  Caller frees.
char *ocf_statedir_read (const char *path, size_t max, size_t *size);
//  Writes text to path whole or not at all (a temporary file, mode 0640, renamed over it): a
//  reader (a unit starting, the next workerd) finds the old file or the new one, never half.
//  Returns 0, or -1 with errno set.
int ocf_statedir_write (const char *path, const char *text);

//  Creates a directory and its parents when missing (state_dir, run_dir).
int ocf_mkdirs (const char *path, mode_t mode);

#endif

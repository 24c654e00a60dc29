/*  ocf_verify: row signatures checked on several cores at once.
    An Ed25519 verification costs ~55 us here, about three times what the rest of merging a
    1 KB row costs (~19 us: measured with the CPU time counted here, see ocf_verify_stats), so
    a MERGE of many new rows spends most of its time verifying. The rows of one request are
    spread over a few threads and the caller, which all take the next unchecked rows (a few at
    a time, the last ones singly) until none is left; the caller returns when every row has
    its verdict. Small requests are checked by the caller alone (waking threads costs more
    than it saves). A MERGE merges each row as soon as its verdict is in
    (ocf_verify_start/wait/finish), so that merging and verifying overlap instead of
    following each other, and has its first rows checked while it parses the others.  */
#ifndef OCF_VERIFY_H
#define OCF_VERIFY_H

#include "ocf_record.h"

typedef struct _ocf_verify_t ocf_verify_t;

//  threads: helper threads besides the caller (0: the caller checks everything).
ocf_verify_t *ocf_verify_new (int threads);
void ocf_verify_destroy (ocf_verify_t **self_p);
//  Sets the sig_state of each row (OCF_SIG_GOOD or OCF_SIG_BAD), in steps, for a caller
//  that works on rows as their verdicts come: start wakes the
//  threads and returns; wait returns once rows[index] has its verdict (the caller checks
//  untaken rows meanwhile); finish returns once every row has one and no thread touches them.
//  The rows must stay until finish returns.
void ocf_verify_start (ocf_verify_t *self, ocf_row_in_t **rows, size_t count);
void ocf_verify_wait (ocf_verify_t *self, size_t index);
void ocf_verify_finish (ocf_verify_t *self);
//  Rows verified so far, and the CPU time their verifications took (all threads, the
//  caller's included): what signatures cost this host, apart from the rest of merging.
void ocf_verify_stats (ocf_verify_t *self, uint64_t *verified, uint64_t *cpu_us);

#endif

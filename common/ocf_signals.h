/*  ocf_signals: signals as readable events in the daemon's event loop.
    Blocks the given signals and delivers them through a signalfd, so SIGTERM, SIGINT and
    SIGCHLD become ordinary poll events instead of async handlers. Child processes must call
    ocf_signals_reset_for_child() before exec so they start with a clean mask.  */
#ifndef OCF_SIGNALS_H
#define OCF_SIGNALS_H

typedef struct _ocf_signals_t ocf_signals_t;

//  Takes a list of signal numbers ending with 0. Also ignores SIGPIPE.
ocf_signals_t *ocf_signals_new (const int *signals);
void ocf_signals_destroy (ocf_signals_t **self_p);
//  The fd to poll for readability.
int ocf_signals_fd (ocf_signals_t *self);
//  Returns the next pending signal number, or 0 when none is pending.
int ocf_signals_next (ocf_signals_t *self);
//  Unblocks every signal and restores default dispositions (for a forked child).
void ocf_signals_reset_for_child (void);

#endif

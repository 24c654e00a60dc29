/*  ocf_signals: signalfd wrapper.  */
#include "ocf_signals.h"
#include "ocf_alloc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct _ocf_signals_t {
    int fd;
    sigset_t mask;
};

ocf_signals_t *
ocf_signals_new (const int *signals)
{
    ocf_signals_t *self = ocf_calloc (1, sizeof *self);
    sigemptyset (&self->mask);
    for (const int *sig = signals; *sig; sig++)
        sigaddset (&self->mask, *sig);
    signal (SIGPIPE, SIG_IGN);
    //  Block in every thread (libzmq's threads are started later and inherit the mask).
    if (pthread_sigmask (SIG_BLOCK, &self->mask, NULL) != 0
    ||  (self->fd = signalfd (-1, &self->mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        free (self);
        return NULL;
    }
    return self;
}

void
ocf_signals_destroy (ocf_signals_t **self_p)
{
    if (*self_p) {
        close ((*self_p)->fd);
        free (*self_p);
        *self_p = NULL;
    }
}

int
ocf_signals_fd (ocf_signals_t *self)
{
    return self->fd;
}

int
ocf_signals_next (ocf_signals_t *self)
{
    struct signalfd_siginfo info;
    ssize_t got;
    do
        got = read (self->fd, &info, sizeof info);
    while (got < 0 && errno == EINTR);
    return got == (ssize_t) sizeof info ? (int) info.ssi_signo : 0;
}

void
ocf_signals_reset_for_child (void)
{
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal (sig, SIG_DFL);
}

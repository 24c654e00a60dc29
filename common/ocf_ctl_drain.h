/*  ocf_ctl_drain: `ocfctl drain` and `ocfctl undrain`, ocf-workerd's DRAIN and UNDRAIN for
    people: this host's services (or one) taken out of routing, waiting by default until
    nothing is in flight, and put back; what each service's drain then is, in columns.  */
#ifndef OCF_CTL_DRAIN_H
#define OCF_CTL_DRAIN_H

#include "ocf_ctl.h"

#include <stdbool.h>

typedef struct {
    bool undrain;
    const char *service;         //  NULL: every service of this host
    bool wait;                   //  drain: reply once drained (the default)
    bool stop;                   //  drain: stop the drained backends too
} ocf_ctl_drain_t;

//  Sends the verb to workerd and prints each service's drain state (or the reply as JSON).
//  The exit status of ocfctl: OCF_CTL_OK, or as ocf_ctl_call.
int ocf_ctl_drain (const ocf_ctl_t *ctl, const ocf_ctl_drain_t *drain, bool json);

#endif

/*  ocf_ctl_events: `ocfctl events -f`: follows ocf-tabled's event stream (tabled.events) and
    prints each change as it is committed, one line per event for people (time, seq, topic,
    source, node name, status, what changed) or one JSON object per line for scripts, until
    Ctrl-C. `seen` events (fresh last_alive times) change nothing in the table: not shown. tabled keeps no history of events: what it prints starts with the table it loads
    first, which also names the nodes that a status or tombstone event gives only the id of.  */
#ifndef OCF_CTL_EVENTS_H
#define OCF_CTL_EVENTS_H

#include "ocf_ctl.h"

#include <stdbool.h>

//  Returns an exit status: OK after Ctrl-C (SIGINT or SIGTERM), UNREACHABLE when tabled's
//  sockets do not answer.
int ocf_ctl_events_follow (const ocf_ctl_t *ctl, bool json);

#endif

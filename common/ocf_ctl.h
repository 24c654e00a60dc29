/*  ocf_ctl: what ocfctl's commands share: where this host's daemons listen (run_dir), how long
    to wait, the exit statuses, a call to a daemon's API that says what went wrong on stderr,
    and the whole node table read from ocf-tabled page by page.  */
#ifndef OCF_CTL_H
#define OCF_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

//  ocfctl's exit statuses (docs/ocfctl.1).
enum {
    OCF_CTL_OK = 0,
    OCF_CTL_REFUSED = 1,         //  the daemon answered ERR
    OCF_CTL_USAGE = 2,           //  bad arguments or configuration
    OCF_CTL_UNREACHABLE = 3      //  no reply: the daemon is not running, or another run_dir
};

typedef struct {
    const char *run_dir;
    int timeout_ms;              //  how long a reply may take; -1: as long as it takes
} ocf_ctl_t;

//  "ipc://<run_dir>/<daemon>.<kind>" (kind: "api" or "events").
void ocf_ctl_endpoint (const ocf_ctl_t *ctl, const char *daemon, const char *kind, char *endpoint, size_t size);
//  Sends verb + body (taken; NULL means {}) to the daemon. Returns an exit status: OK with
//  *reply set, REFUSED with *reply the ERR body, UNREACHABLE with *reply NULL. Says on stderr
//  what failed.
int ocf_ctl_call (const ocf_ctl_t *ctl, const char *daemon, const char *verb, json_t *body, json_t **reply);
//  Every row of tabled's table (live: alive and suspect only) into *rows, by id, and where
//  the table they show stands in tabled's events into *boot and *seq (both may be NULL).
//  Returns an exit status.
int ocf_ctl_rows (const ocf_ctl_t *ctl, bool live, json_t **rows, json_int_t *boot, json_int_t *seq);

#endif

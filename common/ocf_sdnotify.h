/*  ocf_sdnotify: the daemon's side of systemd's notify protocol, written by hand.
    Sends READY=1, WATCHDOG=1, STATUS=..., STOPPING=1 as datagrams to $NOTIFY_SOCKET; does
    nothing when the variable is unset (a daemon started by hand or by a test).  */
#ifndef OCF_SDNOTIFY_H
#define OCF_SDNOTIFY_H

#include <stdint.h>

//  Sends one notification ("READY=1\nSTATUS=serving") without ever blocking. Returns 0, or -1
//  when it could not be sent (also when the reader's queue is full), and 0 when there is no
//  notify socket to send to.
int ocf_sdnotify (const char *state);
int ocf_sdnotify_status (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
//  How often to send WATCHDOG=1 (half of $WATCHDOG_USEC), in ms; 0 when no watchdog is set.
int64_t ocf_sdnotify_watchdog_interval_ms (void);

#endif

/*  ocf_daemon: what every daemon does before its own work starts.
    Parses the common command line (-c FILE, --set section.key=value, --check-config,
    --print-config, --help-config, --version, --help), loads and checks the configuration,
    sets up logging and ZeroMQ. Exits the process for the informational flags and for a
    configuration with errors (every error is printed, each naming file, line and key).  */
#ifndef OCF_DAEMON_H
#define OCF_DAEMON_H

#include "ocf_config.h"
#include "ocf_lock.h"

#include <czmq.h>

ocf_config_t *ocf_daemon_start (int argc, char **argv, const char *program, const char *summary);
//  A daemon's own check of what its keys name (files that must be readable and well-formed):
//  0, or -1 with error set.
typedef int (ocf_daemon_check_fn) (ocf_config_t *config, char *error, size_t error_size);
//  ocf_daemon_start, with the daemon's check run after the configuration's own, so that
//  --check-config reports its errors too and a start with them fails the same way.
ocf_config_t *ocf_daemon_start_checked (int argc, char **argv, const char *program, const char *summary,
                                        ocf_daemon_check_fn *check);
//  The configuration read again from the same file with the same overrides (SIGHUP), or
//  NULL when it has errors, each logged with the file, line and key ("keeping the
//  configuration in use"). Caller owns it.
ocf_config_t *ocf_daemon_reload (void);
//  "ipc://<run_dir>/<name>" into buffer.
const char *ocf_daemon_endpoint (ocf_config_t *config, const char *name, char *buffer, size_t size);
//  Creates run_dir (0755) and state_dir (0750) when missing, then takes run_dir/<name>.lock,
//  so that a second instance cannot steal this one's sockets. Logs why and returns NULL when
//  either fails; destroy the lock last, after the sockets are closed.
ocf_lock_t *ocf_daemon_claim (ocf_config_t *config, const char *name);
//  When systemd set a watchdog ($WATCHDOG_USEC), adds a loop timer sending WATCHDOG=1 at half
//  its period: a stuck loop then stops pinging and systemd restarts the daemon.
void ocf_daemon_watchdog (zloop_t *loop);

#endif

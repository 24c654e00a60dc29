/*  ocf_proxyd: the proxy server as a whole: its loops and what they share, and its control.
    Shared, read-mostly: the configuration, h2o's global configuration, the route table, the
    metrics, the per-service load counters, the per-model statistics and the event log of the
    dashboard. Control, on loop 0's loop (the main thread): signals (through a signalfd), readiness (READY=1 once every loop listens and has
    loaded its view, or found tabled unreachable), the systemd watchdog, load reports to
    tabled (SERVICE.LOAD, at most once per load_report_interval and only on change), and
    proxyd's own local API, run_dir/proxyd.api (HELLO, STATS).
    SIGHUP: the API keys file is read again (ocf_access).
    SIGTERM or SIGINT: every loop stops accepting (STOPPING=1 once none listens) and finishes
    what is in flight (up to stop_timeout), and ocf_proxyd_run returns 0.  */
#ifndef OCF_PROXYD_H
#define OCF_PROXYD_H

#include "ocf_access.h"
#include "ocf_config.h"
#include "ocf_eventlog.h"
#include "ocf_load.h"
#include "ocf_metrics.h"
#include "ocf_modelstats.h"
#include "ocf_tls.h"

#include <h2o.h>
#include <stddef.h>

typedef struct _ocf_proxyd_t ocf_proxyd_t;

//  Fills a route table with every route proxyd serves, in the order the 404 lists them.
void ocf_proxyd_register_routes (ocf_routetable_t *routes);
//  Blocks the signals it handles (call before any thread starts), binds the listeners and
//  proxyd.api. Returns NULL with error set when something cannot be set up.
ocf_proxyd_t *ocf_proxyd_new (ocf_config_t *config, char *error, size_t error_size);
void ocf_proxyd_destroy (ocf_proxyd_t **self_p);
//  Serves until SIGTERM or SIGINT; returns the exit status.
int ocf_proxyd_run (ocf_proxyd_t *self);

//  For the loops.
ocf_config_t *ocf_proxyd_config (ocf_proxyd_t *self);
ocf_metrics_t *ocf_proxyd_metrics (ocf_proxyd_t *self);
ocf_load_t *ocf_proxyd_load (ocf_proxyd_t *self);
//  The same per local backend address ("host:port"): ocf-workerd drains the old backend of a
//  model swap while the new one, of the same service, takes the new requests.
ocf_load_t *ocf_proxyd_backends (ocf_proxyd_t *self);
ocf_modelstats_t *ocf_proxyd_modelstats (ocf_proxyd_t *self);
ocf_eventlog_t *ocf_proxyd_eventlog (ocf_proxyd_t *self);
h2o_globalconf_t *ocf_proxyd_globalconf (ocf_proxyd_t *self);
const ocf_routetable_t *ocf_proxyd_routes (ocf_proxyd_t *self);
ocf_access_t *ocf_proxyd_access (ocf_proxyd_t *self);
ocf_tls_t *ocf_proxyd_tls (ocf_proxyd_t *self);
int64_t ocf_proxyd_uptime_ms (ocf_proxyd_t *self);
//  A loop's view is loaded (or tabled found unreachable). Any thread.
void ocf_proxyd_loop_settled (ocf_proxyd_t *self);
//  A loop closed its listeners after a stop. Any thread.
void ocf_proxyd_loop_unlistened (ocf_proxyd_t *self);

#endif

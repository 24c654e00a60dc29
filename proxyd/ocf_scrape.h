/*  ocf_scrape: GET /metrics, one Prometheus page for the four daemons of this host.
    proxyd's own families (ocf_metrics), its routing view and in-flight load per service,
    then the STATS reply of ocf-tabled, ocf-gossipd and ocf-workerd, asked for in parallel
    over their local APIs with a short deadline and rendered generically (ocf_promtext).
    ocf_daemon_up{daemon} says which answered: a daemon that is down (its socket absent, or
    no reply in time) is reported as such and never fails the page.  */
#ifndef OCF_SCRAPE_H
#define OCF_SCRAPE_H

#include "ocf_loop.h"

#include <h2o.h>

//  Registers GET /metrics.
void ocf_scrape_routes (ocf_routetable_t *routes);

#endif

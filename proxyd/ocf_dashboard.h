/*  ocf_dashboard: GET /, a live view of the network for people: hosts, their GPUs and
    services, refreshed from /v1/dnt/table every few seconds. One static page (HTML, CSS and
    JavaScript, no external resources) compiled into the binary from dashboard.html.  */
#ifndef OCF_DASHBOARD_H
#define OCF_DASHBOARD_H

#include "ocf_request.h"

//  Registers GET /.
void ocf_dashboard_routes (ocf_routetable_t *routes);

#endif

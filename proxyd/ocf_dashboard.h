/*  ocf_dashboard: the dashboard, GET /: a live view of the network for people, one static page
    (HTML, CSS and JavaScript, no external resources) compiled into the binary from
    dashboard.html, and the one compact JSON document it polls every second,
    GET /v1/dashboard: the nodes as this host's routing view holds them (status, GPUs,
    services), the models with their providers and this proxyd's last minute of requests
    (ocf_modelstats), the last changes of the network (ocf_eventlog; ?since=SEQ: only newer
    ones) and whether the caller may drain and undrain this host (ocf_access_admin).  */
#ifndef OCF_DASHBOARD_H
#define OCF_DASHBOARD_H

#include "ocf_request.h"

//  Registers GET / and GET /v1/dashboard.
void ocf_dashboard_routes (ocf_routetable_t *routes);

#endif

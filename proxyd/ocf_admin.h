/*  ocf_admin: routes that change this host's part in the network, for its operators (access
    class admin: a local client, or the admin key). POST /v1/admin/drain and
    /v1/admin/undrain hand {"service"?, "stop"?} to ocf-workerd's DRAIN and UNDRAIN (its
    local API) and answer with its reply: the drain starts at once, the answer does not wait
    for its end (STATS of workerd, /metrics and /v1/dnt/table show its progress).  */
#ifndef OCF_ADMIN_H
#define OCF_ADMIN_H

#include "ocf_loop.h"

void ocf_admin_routes (ocf_routetable_t *routes);

#endif

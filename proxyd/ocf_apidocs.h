/*  ocf_apidocs: the API's description, served by the API itself: /openapi.yaml (OpenAPI 3,
    written in YAML's JSON form; a test keeps it and the route table in step) and /docs, a
    static page that renders it for people (no external resources). Both are compiled in.  */
#ifndef OCF_APIDOCS_H
#define OCF_APIDOCS_H

#include "ocf_request.h"

void ocf_apidocs_routes (ocf_routetable_t *routes);

#endif

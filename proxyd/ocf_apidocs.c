/*  ocf_apidocs: /openapi.yaml and /docs.  */
#include "ocf_apidocs.h"
#include "ocf_respond.h"

//  Generated at build time from openapi.yaml and apidocs.html (see embed.cmake).
extern const char ocf_openapi_yaml[];
extern const size_t ocf_openapi_yaml_len;
extern const char ocf_apidocs_html[];
extern const size_t ocf_apidocs_html_len;

enum { SPEC, PAGE };

static void
s_serve (h2o_req_t *req, ocf_route_t *route)
{
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT ("no-cache"));
    if (route->spec->variant == SPEC)
        ocf_respond_send (req, 200, "application/yaml", ocf_openapi_yaml, ocf_openapi_yaml_len);
    else
        ocf_respond_send (req, 200, "text/html; charset=utf-8", ocf_apidocs_html, ocf_apidocs_html_len);
}

void
ocf_apidocs_routes (ocf_routetable_t *routes)
{
    //  Open, as the dashboard: the description of the API names no client and no key.
    static const ocf_route_spec_t specs[] = {
        { "openapi", "/openapi.yaml", "GET, HEAD", OCF_ACCESS_OPEN, s_serve, SPEC, false },
        { "docs", "/docs", "GET, HEAD", OCF_ACCESS_OPEN, s_serve, PAGE, false },
    };
    ocf_routetable_add (routes, specs, sizeof specs / sizeof specs[0]);
}

/*  ocf_dashboard: the embedded page.  */
#include "ocf_dashboard.h"
#include "ocf_respond.h"

//  Generated at build time from dashboard.html (see embed.cmake).
extern const char ocf_dashboard_html[];
extern const size_t ocf_dashboard_html_len;

static void
s_serve (h2o_req_t *req, ocf_route_t *route)
{
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT ("no-cache"));
    ocf_respond_send (req, 200, "text/html; charset=utf-8", ocf_dashboard_html, ocf_dashboard_html_len);
}

void
ocf_dashboard_routes (ocf_routetable_t *routes)
{
    //  Open, as the views it reads (/v1/dnt/table): people look at it without a key.
    static const ocf_route_spec_t spec = { "dashboard", "/", "GET, HEAD", OCF_ACCESS_OPEN, s_serve, 0, false };
    ocf_routetable_add (routes, &spec, 1);
}

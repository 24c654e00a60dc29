/*  ocf_admin: drain and undrain through ocf-workerd.  */
#include "ocf_admin.h"
#include "ocf_respond.h"

enum { ADMIN_DRAIN, ADMIN_UNDRAIN };

typedef struct {
    h2o_req_t *req;
    ocf_zcall_t *call;           //  NULL once answered
} admin_call_t;

static void
s_dispose (void *data)
{
    admin_call_t *call = data;
    if (call->call)
        ocf_zcall_cancel (call->call);
}

static void
s_on_reply (void *arg, ocf_zreply_t status, json_t *body, const char *error)
{
    admin_call_t *call = arg;
    call->call = NULL;
    if (status == OCF_ZREPLY_OK) {
        json_t *reply = json_deep_copy (body);
        json_object_del (reply, "v");
        ocf_respond_json (call->req, 200, reply);
    }
    else
    if (status == OCF_ZREPLY_ERR)
        ocf_respond_error (call->req, 400, "refused", NULL, "ocf-workerd refused: %s", error);
    else
        ocf_respond_error (call->req, 503, "workerd_unavailable", NULL, "ocf-workerd did not answer: %s", error);
}

static void
s_serve (h2o_req_t *req, ocf_route_t *route)
{
    ocf_loop_t *loop = ocf_loop_of (req);
    json_t *body;
    if (!ocf_respond_parse_body (req, &body))
        return;
    if (!body)
        body = json_object ();
    if (!json_is_object (body)) {
        json_decref (body);
        ocf_respond_error (req, 400, "invalid_request", NULL, "the body must be an object: {\"service\": NAME} or empty");
        return;
    }
    admin_call_t *call = h2o_mem_alloc_shared (&req->pool, sizeof *call, s_dispose);
    call->req = req;
    //  workerd checks the members: it says which one is wrong.
    call->call = ocf_zclient_call (ocf_loop_scrape (loop, OCF_SCRAPE_WORKERD),
                                   route->spec->variant == ADMIN_DRAIN ? "DRAIN" : "UNDRAIN", body, s_on_reply, call);
}

void
ocf_admin_routes (ocf_routetable_t *routes)
{
    static const ocf_route_spec_t specs[] = {
        { "admin_drain", "/v1/admin/drain", "POST", OCF_ACCESS_ADMIN, s_serve, ADMIN_DRAIN, false },
        { "admin_undrain", "/v1/admin/undrain", "POST", OCF_ACCESS_ADMIN, s_serve, ADMIN_UNDRAIN, false },
    };
    ocf_routetable_add (routes, specs, sizeof specs / sizeof specs[0]);
}

/*  ocf_ctl: ocfctl's calls to the local daemons.  */
#include "ocf_ctl.h"
#include "ocf_client.h"

#include <stdio.h>

//  LIST's largest page (docs/protocol.md): fewest round trips for a whole table.
#define OCF_CTL_PAGE 10000

void
ocf_ctl_endpoint (const ocf_ctl_t *ctl, const char *daemon, const char *kind, char *endpoint, size_t size)
{
    snprintf (endpoint, size, "ipc://%s/%s.%s", ctl->run_dir, daemon, kind);
}

int
ocf_ctl_call (const ocf_ctl_t *ctl, const char *daemon, const char *verb, json_t *body, json_t **reply)
{
    char endpoint[4200], error[1024];
    ocf_ctl_endpoint (ctl, daemon, "api", endpoint, sizeof endpoint);
    ocf_client_t *client = ocf_client_new (endpoint);
    int rc = ocf_client_call (client, verb, body, ctl->timeout_ms, reply, error, sizeof error);
    ocf_client_destroy (&client);
    if (rc == 0)
        return OCF_CTL_OK;
    fprintf (stderr, "ocfctl: %s\n", error);
    return *reply ? OCF_CTL_REFUSED : OCF_CTL_UNREACHABLE;
}

int
ocf_ctl_rows (const ocf_ctl_t *ctl, bool live, json_t **rows, json_int_t *boot, json_int_t *seq)
{
    *rows = json_array ();
    json_t *after = NULL;               //  LIST's "next": where the next page starts
    int status = OCF_CTL_OK;
    bool first = true;
    while (status == OCF_CTL_OK && (first || after)) {
        json_t *body = json_pack ("{s:b,s:i}", "live", live, "limit", OCF_CTL_PAGE), *page;
        if (after)
            json_object_set (body, "after", after);
        status = ocf_ctl_call (ctl, "tabled", "LIST", body, &page);
        if (status != OCF_CTL_OK) {
            json_decref (page);
            break;
        }
        //  Where the first page stands: events after it are news to what the pages show.
        if (first && seq)
            *seq = json_integer_value (json_object_get (page, "seq"));
        if (first && boot)
            *boot = json_integer_value (json_object_get (page, "boot"));
        first = false;
        json_array_extend (*rows, json_object_get (page, "rows"));
        json_decref (after);
        after = json_is_string (json_object_get (page, "next")) ? json_incref (json_object_get (page, "next")) : NULL;
        json_decref (page);
    }
    json_decref (after);
    if (status != OCF_CTL_OK) {
        json_decref (*rows);
        *rows = NULL;
    }
    return status;
}

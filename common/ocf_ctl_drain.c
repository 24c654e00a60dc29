/*  ocf_ctl_drain: workerd's drains, from a terminal.  */
#include "ocf_ctl_drain.h"
#include "ocf_columns.h"

#include <stdio.h>

#define OCF_CTL_HELLO_MS 5000

int
ocf_ctl_drain (const ocf_ctl_t *ctl, const ocf_ctl_drain_t *drain, bool json)
{
    json_t *body = json_object ();
    if (drain->service)
        json_object_set_new (body, "service", json_string (drain->service));
    if (!drain->undrain) {
        json_object_set_new (body, "wait", json_boolean (drain->wait));
        json_object_set_new (body, "stop", json_boolean (drain->stop));
    }
    //  The drain may wait as long as the requests in flight take (no timeout by default):
    //  first a HELLO with a timeout, so that a workerd that is not there is said at once.
    ocf_ctl_t hello = { .run_dir = ctl->run_dir, .timeout_ms = ctl->timeout_ms < 0 ? OCF_CTL_HELLO_MS : ctl->timeout_ms };
    json_t *reply;
    int status = ocf_ctl_call (&hello, "workerd", "HELLO", json_object (), &reply);
    json_decref (reply);
    if (status != OCF_CTL_OK) {
        json_decref (body);
        return status;
    }
    status = ocf_ctl_call (ctl, "workerd", drain->undrain ? "UNDRAIN" : "DRAIN", body, &reply);
    if (!reply)
        return status;
    json_object_del (reply, "v");
    if (json) {
        json_dumpf (reply, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("\n");
    }
    else
    if (status == OCF_CTL_OK) {         //  (an error is on stderr already)
        //  {"services": {"llm": {"drain": "drained", "running": true}}}: one line a service.
        json_t *lines = json_array (), *state;
        const char *name;
        json_object_foreach (json_object_get (reply, "services"), name, state) {
            json_t *line = json_deep_copy (state);
            json_object_set_new (line, "service", json_string (name));
            json_t *drain_state = json_object_get (state, "drain");
            json_object_set_new (line, "drain", json_string (json_is_string (drain_state) ? json_string_value (drain_state) : "none"));
            json_t *running = json_object_get (state, "running");
            json_object_set_new (line, "running", json_string (json_is_true (running) ? "yes" : json_is_false (running) ? "no" : "-"));
            json_array_append_new (lines, line);
        }
        static const ocf_column_t columns[] = {
            { "SERVICE", "service" }, { "DRAIN", "drain" }, { "BACKEND RUNNING", "running" }, { NULL, NULL }
        };
        ocf_columns_print (stdout, columns, lines);
        json_decref (lines);
    }
    json_decref (reply);
    return status;
}

/*  ocf_ctl_events: tabled's events, followed.  */
#include "ocf_ctl_events.h"
#include "ocf_alloc.h"
#include "ocf_columns.h"

#include <czmq.h>
#include <time.h>

//  Connects the SUB socket to tabled.events and waits until the connection is made, so that
//  no change committed after the table is loaded can be missed (a SUB drops what comes
//  before). The monitor is in place before the connect: a handshake over ipc can finish in
//  the I/O thread before a monitor added after it would hear of it.
static bool
s_connect (zsock_t *events, const char *endpoint, int timeout_ms)
{
    const char *monitor_endpoint = "inproc://ocfctl-events-monitor";
    if (zmq_socket_monitor (zsock_resolve (events), monitor_endpoint, ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
        return false;
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    zsock_connect (monitor, "%s", monitor_endpoint);
    zsock_connect (events, "%s", endpoint);
    zsock_set_rcvtimeo (monitor, timeout_ms);
    zmsg_t *event = zmsg_recv (monitor);
    bool connected = event != NULL;
    zmsg_destroy (&event);
    zmq_socket_monitor (zsock_resolve (events), NULL, 0);
    zsock_destroy (&monitor);
    return connected;
}

static const char *
s_text (json_t *object, const char *key)
{
    const char *text = json_string_value (json_object_get (object, key));
    return text ? text : "-";
}

static void
s_time (char *text, size_t size)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r (&now.tv_sec, &utc);
    size_t len = strftime (text, size, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf (text + len, size - len, ".%03ldZ", now.tv_nsec / 1000000);
}

//  One event for people: what changed, on which node (named from the table when the event
//  carries only the id).
static void
s_print (zhashx_t *names, const char *topic, json_t *body)
{
    json_t *row = json_object_get (body, "row"), *member = json_object_get (body, "member");
    json_t *tombstone = json_object_get (body, "tombstone");
    json_t *subject = row ? row : member ? member : tombstone;
    const char *id = s_text (subject, "id");
    if (row && json_is_string (json_object_get (row, "name")))
        zhashx_update (names, id, (void *) s_text (row, "name"));
    const char *name = zhashx_lookup (names, id);
    char detail[512], when[40];
    json_int_t generation = json_integer_value (json_object_get (subject, "generation"));
    if (row) {
        json_t *services = json_array (), *service;
        size_t index;
        json_array_foreach (json_object_get (row, "services"), index, service)
            json_array_append_new (services, json_sprintf ("%s(%s)", s_text (service, "name"), s_text (service, "status")));
        char *cell = ocf_columns_cell (services);
        json_decref (services);
        snprintf (detail, sizeof detail, "generation %" JSON_INTEGER_FORMAT " version %" JSON_INTEGER_FORMAT " services %s",
                  generation, json_integer_value (json_object_get (row, "version")), cell);
        free (cell);
    }
    else
    if (member)
        snprintf (detail, sizeof detail, "generation %" JSON_INTEGER_FORMAT " incarnation %" JSON_INTEGER_FORMAT,
                  generation, json_integer_value (json_object_get (member, "incarnation")));
    else
        snprintf (detail, sizeof detail, "generation %" JSON_INTEGER_FORMAT, generation);
    s_time (when, sizeof when);
    printf ("%s  %-6" JSON_INTEGER_FORMAT "  %-9s  %-7s  %-20s  %-7s  %s\n", when,
            json_integer_value (json_object_get (body, "seq")), topic, s_text (body, "source"), name ? name : id,
            s_text (subject, tombstone ? "reason" : "status"), detail);
}

static void *
s_duplicate (const void *text)
{
    return ocf_strdup (text);
}

static void
s_free (void **text_p)
{
    free (*text_p);
    *text_p = NULL;
}

//  The ids and names of the table's nodes; where the table stands into *boot and *seq.
static int
s_load_names (const ocf_ctl_t *ctl, zhashx_t *names, json_int_t *boot, json_int_t *seq)
{
    json_t *rows, *row;
    int status = ocf_ctl_rows (ctl, false, &rows, boot, seq);
    size_t index;
    json_array_foreach (rows, index, row)
        if (json_is_string (json_object_get (row, "name")))
            zhashx_update (names, s_text (row, "id"), (void *) s_text (row, "name"));
    json_decref (rows);
    return status;
}

int
ocf_ctl_events_follow (const ocf_ctl_t *ctl, bool json)
{
    char endpoint[4200];
    ocf_ctl_endpoint (ctl, "tabled", "events", endpoint, sizeof endpoint);
    zsock_t *events = zsock_new (ZMQ_SUB);
    zsock_set_subscribe (events, "");
    zhashx_t *names = zhashx_new ();
    zhashx_set_duplicator (names, s_duplicate);
    zhashx_set_destructor (names, s_free);
    json_int_t seq = 0, boot = 0;
    int status = OCF_CTL_UNREACHABLE;
    if (!s_connect (events, endpoint, ctl->timeout_ms))
        fprintf (stderr, "ocfctl: no connection to %s within %d ms\n", endpoint, ctl->timeout_ms);
    else
        status = s_load_names (ctl, names, &boot, &seq);
    if (status == OCF_CTL_OK) {
        fprintf (stderr, "ocfctl: following %s from seq %" JSON_INTEGER_FORMAT " (Ctrl-C stops)\n", endpoint, seq);
        if (!json)
            printf ("%-24s  %-6s  %-9s  %-7s  %-20s  %-7s  %s\n", "TIME", "SEQ", "TOPIC", "SOURCE", "NAME", "STATUS", "CHANGE");
        fflush (stdout);
    }
    while (status == OCF_CTL_OK && !zsys_interrupted) {
        zmsg_t *message = zmsg_recv (events);
        if (!message)
            break;                      //  interrupted
        char *topic = zmsg_popstr (message), *text = zmsg_popstr (message);
        json_t *body = text ? json_loads (text, 0, NULL) : NULL;
        json_int_t event_seq = json_integer_value (json_object_get (body, "seq"));
        json_int_t event_boot = json_integer_value (json_object_get (body, "boot"));
        bool restarted = event_boot != boot;
        if (!json_is_object (body))
            fprintf (stderr, "ocfctl: an event that is not JSON, skipped\n");
        else
        if (restarted)
            fprintf (stderr, "ocfctl: tabled restarted (boot %" JSON_INTEGER_FORMAT ")\n", event_boot);
        else
        if (event_seq > seq + 1)
            fprintf (stderr, "ocfctl: %" JSON_INTEGER_FORMAT " events were lost\n", event_seq - seq - 1);
        //  What the loaded table already shows is not news, and a `seen` event (fresh
        //  last_alive times, many a second) is no change of the table.
        bool news = json_is_object (body) && (restarted || event_seq > seq);
        if (news && topic && strcmp (topic, "seen") != 0) {
            if (json) {
                json_object_set_new (body, "topic", json_string (topic));
                json_object_del (body, "v");
                json_dumpf (body, stdout, JSON_COMPACT | JSON_SORT_KEYS);
                printf ("\n");
            }
            else
                s_print (names, topic, body);
            fflush (stdout);
        }
        if (news) {
            seq = event_seq;
            boot = event_boot;
        }
        json_decref (body);
        free (topic);
        free (text);
        zmsg_destroy (&message);
    }
    zhashx_destroy (&names);
    zsock_destroy (&events);
    return status;
}

/*  ocf-tabled: keeps the replicated node table of this host.
    The runner: sockets, the event loop, signals and systemd notifications around ocf_tabled.
    Requests on run_dir/tabled.api (ROUTER) are drained in batches: each batch is applied,
    committed to SQLite once, and only then answered and announced on run_dir/tabled.events
    (PUB), so a reply always means the change is on disk.  */
#include "ocf_daemon.h"
#include "ocf_identity.h"
#include "ocf_lock.h"
#include "ocf_log.h"
#include "ocf_sdnotify.h"
#include "ocf_signals.h"
#include "ocf_tabled.h"
#include "ocf_time.h"

#include <czmq.h>
#include <inttypes.h>

typedef struct {
    ocf_config_t *config;
    ocf_tabled_t *tabled;
    zsock_t *api;
    zsock_t *events;
    ocf_signals_t *signals;
    zlistx_t *replies;           //  zmsg_t replies of the batch being applied
} server_t;

static void
s_handle_one (server_t *server, zmsg_t *request)
{
    zmsg_t *reply = ocf_msg_take_envelope (request);
    ocf_msg_t msg;
    char error[512];
    int rc = -1;
    if (zmsg_size (request) != 2)
        snprintf (error, sizeof error, "expected 2 frames (verb, JSON body), got %zu", zmsg_size (request));
    else {
        zframe_t *verb = zmsg_first (request), *body = zmsg_next (request);
        rc = ocf_msg_scan (&msg, zframe_data (verb), zframe_size (verb), zframe_data (body), zframe_size (body),
                           (size_t) server->config->tabled.max_message, error, sizeof error);
    }
    if (rc == 0) {
        ocf_tabled_handle (server->tabled, &msg, reply);
        ocf_msg_clear (&msg);
    }
    else {
        ocf_tabled_count_bad_request (server->tabled);
        ocf_log_warning ("rejected a request: %s", error);
        ocf_msg_append (reply, "ERR", json_pack ("{s:s}", "error", error));
    }
    zlistx_add_end (server->replies, reply);
}

//  Replaces the status and body of a reply with an error, keeping its envelope.
static void
s_fail_reply (zmsg_t *reply, json_t *error)
{
    zframe_t *body = zmsg_last (reply);
    zmsg_remove (reply, body);
    zframe_destroy (&body);
    zframe_t *verb = zmsg_last (reply);
    zmsg_remove (reply, verb);
    zframe_destroy (&verb);
    ocf_msg_append (reply, "ERR", json_incref (error));
}

static void
s_finish_batch (server_t *server)
{
    if (ocf_tabled_commit (server->tabled) != 0) {
        json_t *error = ocf_tabled_batch_error (server->tabled);
        for (zmsg_t *reply = zlistx_first (server->replies); reply; reply = zlistx_next (server->replies))
            s_fail_reply (reply, error);
        json_decref (error);
    }
    zmsg_t *reply;
    while ((reply = zlistx_detach (server->replies, NULL)))
        //  The socket never blocks (SNDTIMEO 0): a client gone or too slow loses its reply.
        if (zmsg_send (&reply, server->api) != 0)
            zmsg_destroy (&reply);
    zmsg_t *event;
    while ((event = ocf_tabled_pop_event (server->tabled)))
        if (zmsg_send (&event, server->events) != 0)
            zmsg_destroy (&event);
}

static int
s_on_api (zloop_t *loop, zsock_t *sock, void *arg)
{
    server_t *server = arg;
    //  Drain what is queued (up to batch_max) and commit it as one transaction: under load
    //  many requests share one commit, idle a request is committed alone at once.
    for (int64_t count = 0; count < server->config->tabled.batch_max && (zsock_events (sock) & ZMQ_POLLIN); count++) {
        zmsg_t *request = zmsg_recv_nowait (sock);
        if (!request)
            break;
        s_handle_one (server, request);
        zmsg_destroy (&request);
    }
    s_finish_batch (server);
    return 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    server_t *server = arg;
    ocf_tabled_tick (server->tabled);
    s_finish_batch (server);
    return 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    server_t *server = arg;
    int signal_number;
    while ((signal_number = ocf_signals_next (server->signals)))
        if (signal_number == SIGTERM || signal_number == SIGINT) {
            ocf_log_info ("received %s, stopping", strsignal (signal_number));
            return -1;              //  ends zloop_start
        }
    return 0;
}

int
main (int argc, char **argv)
{
    ocf_config_t *config = ocf_daemon_start (argc, argv, "ocf-tabled",
                                             "Keeps this host's replicated node table (SQLite, local ZeroMQ API).");
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP, 0 };
    server_t server = { .config = config, .signals = ocf_signals_new (signals) };
    char error[1024], endpoint[4200];
    int status = 1;
    ocf_identity_t *identity = NULL;
    ocf_lock_t *lock = ocf_daemon_claim (config, "tabled");
    if (!lock)
        goto done;
    identity = ocf_identity_load (config->node.state_dir, error, sizeof error);
    if (!identity) {
        ocf_log_error ("%s", error);
        goto unlock;
    }
    server.tabled = ocf_tabled_new (config, identity, error, sizeof error);
    if (!server.tabled) {
        ocf_log_error ("%s", error);
        goto unlock;
    }
    server.replies = zlistx_new ();
    zlistx_set_destructor (server.replies, (zlistx_destructor_fn *) zmsg_destroy);
    server.api = zsock_new (ZMQ_ROUTER);
    server.events = zsock_new (ZMQ_PUB);
    zsock_set_sndtimeo (server.api, 0);
    zsock_set_router_mandatory (server.api, 1);
    zsock_set_sndhwm (server.api, 10000);
    zsock_set_rcvhwm (server.api, 10000);
    zsock_set_sndhwm (server.events, 100000);
    zsock_set_sndtimeo (server.events, 0);
    //  Requests above max_message get an ERR; far larger ones are cut off by ZeroMQ itself.
    zsock_set_maxmsgsize (server.api, (int) (config->tabled.max_message * 4 > INT32_MAX ? INT32_MAX : config->tabled.max_message * 4));
    if (zsock_bind (server.api, "%s", ocf_daemon_endpoint (config, "tabled.api", endpoint, sizeof endpoint)) != 0
    ||  zsock_bind (server.events, "%s", ocf_daemon_endpoint (config, "tabled.events", endpoint, sizeof endpoint)) != 0) {
        ocf_log_error ("cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        goto stop;
    }
    zloop_t *loop = zloop_new ();
    zloop_reader (loop, server.api, s_on_api, &server);
    zmq_pollitem_t signal_item = { NULL, ocf_signals_fd (server.signals), ZMQ_POLLIN, 0 };
    zloop_poller (loop, &signal_item, s_on_signal, &server);
    zloop_timer (loop, 1000, 0, s_on_tick, &server);
    ocf_daemon_watchdog (loop);
    ocf_table_t *table = ocf_tabled_table (server.tabled);
    ocf_log_info ("ready: %zu rows, %zu tombstones; API on %s/tabled.api", ocf_table_record_count (table),
                  ocf_table_tombstone_count (table), config->node.run_dir);
    ocf_sdnotify_status ("serving %zu rows, generation %" PRIu64, ocf_table_record_count (table),
                         ocf_tabled_generation (server.tabled));
    ocf_sdnotify ("READY=1");
    zloop_start (loop);
    ocf_sdnotify ("STOPPING=1");
    zloop_destroy (&loop);
    status = 0;
stop:
    zsock_destroy (&server.api);
    zsock_destroy (&server.events);
    zlistx_destroy (&server.replies);
    ocf_tabled_destroy (&server.tabled);
    ocf_log_info ("stopped");
unlock:
    ocf_identity_destroy (&identity);
    ocf_lock_destroy (&lock);
done:
    ocf_signals_destroy (&server.signals);
    ocf_config_destroy (&config);
    return status;
}

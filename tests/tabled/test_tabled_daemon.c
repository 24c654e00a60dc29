/*  The real ocf-tabled over its real ipc sockets, with a real SQLite file and the sqlite3
    CLI: registration, queries, merges, events, bad input, crash safety, one instance per
    run_dir, restarts.  */
#include "ocf_msg.h"
#include "ocf_record.h"
#include "ocf_statedir.h"
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <sys/wait.h>

static ocf_test_node_t s_node;
static pid_t s_pid;

static void
s_setup (void)
{
    zsys_init ();
    ocf_test_node_init (&s_node, "tabled");
    ocf_test_node_config (&s_node, "[node]\nname = host-a\n[tabled]\nmax_message = 64KiB\n");
    s_pid = ocf_test_start (&s_node, "ocf-tabled", NULL, 5000);
    cr_assert_gt (s_pid, 0, "ocf-tabled did not report READY=1");
}

static void
s_teardown (void)
{
    ocf_test_stop (s_pid, SIGTERM, 5000);
    ocf_test_node_cleanup (&s_node);
}

TestSuite (tabled_daemon, .init = s_setup, .fini = s_teardown, .timeout = 120);

static json_t *
s_call_ok (const char *verb, json_t *body)
{
    bool ok;
    json_t *reply = ocf_test_call (&s_node, "tabled", verb, body, &ok);
    cr_assert_not_null (reply, "%s: no reply", verb);
    cr_assert (ok, "%s: %s", verb, json_string_value (json_object_get (reply, "error")));
    return reply;
}

static char *
s_call_error (const char *verb, json_t *body)
{
    bool ok;
    json_t *reply = ocf_test_call (&s_node, "tabled", verb, body, &ok);
    cr_assert_not_null (reply, "%s: no reply", verb);
    cr_assert (!ok, "%s: expected ERR", verb);
    char *error = strdup (json_string_value (json_object_get (reply, "error")));
    json_decref (reply);
    return error;
}

static const char *
s_self_id (void)
{
    static char id[64];
    json_t *hello = s_call_ok ("HELLO", NULL);
    snprintf (id, sizeof id, "%s", json_string_value (json_object_get (hello, "id")));
    json_decref (hello);
    return id;
}

static void
s_sign (json_t *row, ocf_identity_t *identity)
{
    char error[256];
    cr_assert_eq (ocf_record_sign_row_json (row, identity, error, sizeof error), 0, "%s", error);
}

//  A row of another node, with a real key as its id, signed by it. The key goes to
//  identity_p when given (to sign later versions), else it is dropped.
static json_t *
s_foreign_row_of (char *id_out, int generation, int version, ocf_identity_t **identity_p)
{
    ocf_identity_t *identity = ocf_identity_new_ephemeral ();
    strcpy (id_out, ocf_identity_id (identity));
    json_t *row = json_pack ("{s:s, s:s, s:i, s:i, s:{s:s}, s:[{s:s, s:[s], s:i}]}", "id", id_out, "name", "host-b",
                             "generation", generation, "version", version, "addr", "proxy", "http://10.0.0.2:8092",
                             "services", "name", "llm", "identity_group", "model=m2", "port", 8000);
    s_sign (row, identity);
    if (identity_p)
        *identity_p = identity;
    else
        ocf_identity_destroy (&identity);
    return row;
}

static json_t *
s_foreign_row (char *id_out, int generation, int version)
{
    return s_foreign_row_of (id_out, generation, version, NULL);
}

static char *
s_sqlite (const char *query)
{
    char command[1024], db[512];
    ocf_statedir_path (s_node.state_dir, OCF_STATE_TABLE_DB, db, sizeof db);
    snprintf (command, sizeof command, "sqlite3 -readonly %s \"%s\" 2>&1", db, query);
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "sqlite3 failed: %s", output);
    return output;
}

Test (tabled_daemon, registers_and_answers_queries)
{
    const char *self = s_self_id ();
    json_t *reply = s_call_ok ("SERVICE.UP", json_pack ("{s:{s:s, s:[s, s], s:i, s:s}}", "service", "name", "llm",
                                                        "identity_group", "model=m1", "model=m3", "port", 8000, "status", "ready"));
    cr_assert (json_is_true (json_object_get (reply, "changed")));
    json_int_t version = json_integer_value (json_object_get (reply, "version"));
    json_decref (reply);
    //  Registering the same service again is idempotent: no new version.
    reply = s_call_ok ("SERVICE.UP", json_pack ("{s:{s:s, s:[s, s], s:i, s:s}}", "service", "name", "llm",
                                                "identity_group", "model=m1", "model=m3", "port", 8000, "status", "ready"));
    cr_assert (json_is_false (json_object_get (reply, "changed")));
    cr_assert_eq (json_integer_value (json_object_get (reply, "version")), version);
    json_decref (reply);

    reply = s_call_ok ("PROVIDERS", json_pack ("{s:s, s:s}", "service", "llm", "identity", "model=m3"));
    json_t *providers = json_object_get (reply, "providers");
    cr_assert_eq (json_array_size (providers), 1);
    json_t *provider = json_array_get (providers, 0);
    cr_assert_str_eq (json_string_value (json_object_get (provider, "id")), self);
    cr_assert (json_is_true (json_object_get (provider, "self")));
    cr_assert_eq (json_integer_value (json_object_get (json_object_get (provider, "service"), "port")), 8000);
    json_decref (reply);
    reply = s_call_ok ("PROVIDERS", json_pack ("{s:s, s:s}", "service", "llm", "identity", "model=absent"));
    cr_assert_eq (json_array_size (json_object_get (reply, "providers")), 0);
    json_decref (reply);

    reply = s_call_ok ("GET", json_pack ("{s:s}", "id", self));
    json_t *row = json_object_get (reply, "row");
    cr_assert_str_eq (json_string_value (json_object_get (row, "name")), "host-a");
    cr_assert_str_eq (json_string_value (json_object_get (row, "status")), "alive");
    json_decref (reply);

    char *services = s_sqlite ("select service, identity_group, port from services order by identity_group");
    cr_assert_str_eq (services, "llm|model=m1|8000\nllm|model=m3|8000\n");
    free (services);

    reply = s_call_ok ("SERVICE.DOWN", json_pack ("{s:s}", "name", "llm"));
    json_decref (reply);
    reply = s_call_ok ("PROVIDERS", json_pack ("{s:s}", "service", "llm"));
    cr_assert_eq (json_array_size (json_object_get (reply, "providers")), 0);
    json_decref (reply);
}

Test (tabled_daemon, merges_rows_tombstones_and_memberships)
{
    char id[64];
    ocf_identity_t *identity;
    json_t *row = s_foreign_row_of (id, 10, 2, &identity);
    json_t *reply = s_call_ok ("MERGE", json_pack ("{s:[O]}", "rows", row));
    cr_assert_eq (json_integer_value (json_object_get (reply, "applied")), 1);
    json_decref (reply);
    reply = s_call_ok ("MERGE", json_pack ("{s:[O]}", "rows", row));
    cr_assert_eq (json_integer_value (json_object_get (reply, "stale")), 1, "a duplicate changes nothing");
    json_decref (reply);
    reply = s_call_ok ("LIST", json_pack ("{s:b}", "live", 1));
    cr_assert_eq (json_array_size (json_object_get (reply, "rows")), 2);
    json_decref (reply);

    reply = s_call_ok ("MERGE", json_pack ("{s:[{s:s, s:i, s:i, s:s}]}", "members", "id", id, "generation", 10,
                                           "incarnation", 0, "status", "dead"));
    json_decref (reply);
    char *dead = s_sqlite ("select status from nodes where record is not null and status = 'dead'");
    cr_assert_str_eq (dead, "dead\n");
    free (dead);

    json_t *tombstone = json_pack ("{s:s, s:i, s:s, s:i}", "id", id, "generation", 10, "reason", "left", "declared_at", 1000);
    char error[256];
    cr_assert_eq (ocf_record_sign_tombstone_json (tombstone, identity, error, sizeof error), 0, "%s", error);
    reply = s_call_ok ("MERGE", json_pack ("{s:[o]}", "tombstones", tombstone));
    json_decref (reply);
    reply = s_call_ok ("GET", json_pack ("{s:s}", "id", id));
    cr_assert (json_is_null (json_object_get (reply, "row")));
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (reply, "tombstone"), "reason")), "left");
    json_decref (reply);
    //  The old row cannot come back; a new generation can.
    reply = s_call_ok ("MERGE", json_pack ("{s:[O]}", "rows", row));
    cr_assert_eq (json_integer_value (json_object_get (reply, "applied")), 0);
    json_decref (reply);
    json_object_set_new (row, "generation", json_integer (11));
    s_sign (row, identity);
    reply = s_call_ok ("MERGE", json_pack ("{s:[O]}", "rows", row));
    cr_assert_eq (json_integer_value (json_object_get (reply, "applied")), 1);
    json_decref (reply);
    char *tombstones = s_sqlite ("select generation, reason from tombstones");
    cr_assert_str_eq (tombstones, "10|left\n");
    free (tombstones);
    json_decref (row);
    ocf_identity_destroy (&identity);
}

static json_int_t
s_counter (const char *name)
{
    json_t *stats = s_call_ok ("STATS", NULL);
    json_int_t value = json_integer_value (json_object_get (json_object_get (stats, "counters"), name));
    json_decref (stats);
    return value;
}

Test (tabled_daemon, refuses_forged_rows_and_reaps_of_live_nodes_counting_and_logging_them)
{
    char id[64], other[64];
    ocf_identity_t *identity, *forger;
    json_t *row = s_foreign_row_of (id, 7, 1, &identity);
    json_decref (s_foreign_row_of (other, 1, 1, &forger));
    //  Signed by another key, then altered after signing: both refused, neither stored.
    json_t *forged = json_deep_copy (row);
    s_sign (forged, forger);
    json_t *altered = json_deep_copy (row);
    json_object_set_new (altered, "version", json_integer (2));
    json_t *reply = s_call_ok ("MERGE", json_pack ("{s:s, s:[o, o]}", "from", other, "rows", forged, altered));
    cr_assert_eq (json_integer_value (json_object_get (reply, "refused")), 2);
    cr_assert_eq (json_integer_value (json_object_get (reply, "applied")), 0);
    json_decref (reply);
    cr_assert_eq (s_counter ("rows_refused_signature"), 2);
    reply = s_call_ok ("GET", json_pack ("{s:s}", "id", id));
    cr_assert (json_is_null (json_object_get (reply, "row")));
    json_decref (reply);
    char log_path[400];
    snprintf (log_path, sizeof log_path, "%s/ocf-tabled.log", s_node.root);
    char *log = ocf_test_read_file (log_path);
    char expected[200];
    snprintf (expected, sizeof expected, "MERGE from %s: refused the signed item of %s", other, id);
    cr_assert (log && strstr (log, expected), "the log does not name the relay: %s", log);
    free (log);

    //  The genuine row is taken; a reap of it is not while it is alive here.
    reply = s_call_ok ("MERGE", json_pack ("{s:[O]}", "rows", row));
    cr_assert_eq (json_integer_value (json_object_get (reply, "applied")), 1);
    json_decref (reply);
    reply = s_call_ok ("MERGE", json_pack ("{s:[{s:s, s:i, s:s, s:i}]}", "tombstones", "id", id, "generation", 7,
                                           "reason", "reaped", "declared_at", 5));
    cr_assert_eq (json_integer_value (json_object_get (reply, "refused")), 1);
    json_decref (reply);
    cr_assert_eq (s_counter ("tombstones_refused_live"), 1);
    reply = s_call_ok ("GET", json_pack ("{s:s}", "id", id));
    cr_assert (!json_is_null (json_object_get (reply, "row")));
    json_decref (reply);
    json_decref (row);
    ocf_identity_destroy (&identity);
    ocf_identity_destroy (&forger);
}

//  Enough rows for the verify threads, the first ones checked while the rest are parsed:
//  forged rows among them, early and late, are refused and the others taken; copies already
//  held are not verified again; a bad item anywhere changes nothing, the early rows included.
Test (tabled_daemon, a_large_merge_takes_its_good_rows_refuses_its_forged_ones_and_verifies_only_what_applies)
{
    enum { ROWS = 40 };
    static const int forged_at[] = { 3, 10, 25 };
    char ids[ROWS][64], other[64];
    ocf_identity_t *forger;
    json_decref (s_foreign_row_of (other, 1, 1, &forger));
    json_t *rows = json_array ();
    for (int i = 0; i < ROWS; i++)
        json_array_append_new (rows, s_foreign_row (ids[i], 1, 1));
    s_sign (json_array_get (rows, forged_at[0]), forger);
    s_sign (json_array_get (rows, forged_at[2]), forger);
    json_object_set_new (json_array_get (rows, forged_at[1]), "version", json_integer (2));     //  altered after signing
    json_t *reply = s_call_ok ("MERGE", json_pack ("{s:s, s:O}", "from", other, "rows", rows));
    cr_assert_eq (json_integer_value (json_object_get (reply, "applied")), ROWS - 3);
    cr_assert_eq (json_integer_value (json_object_get (reply, "refused")), 3);
    json_decref (reply);
    cr_assert_eq (s_counter ("rows_refused_signature"), 3);
    cr_assert_eq (s_counter ("rows_verified"), ROWS);
    cr_assert_gt (s_counter ("verify_cpu_us"), 0);
    for (int i = 0, f = 0; i < ROWS; i++) {
        bool forged = f < 3 && i == forged_at[f];
        f += forged;
        reply = s_call_ok ("GET", json_pack ("{s:s}", "id", ids[i]));
        cr_assert (json_is_null (json_object_get (reply, "row")) == forged, "row %d", i);
        json_decref (reply);
    }

    //  Again: the copies held are stale and cost no verification; the forged rows, still
    //  new here, are checked and refused again.
    reply = s_call_ok ("MERGE", json_pack ("{s:O}", "rows", rows));
    cr_assert_eq (json_integer_value (json_object_get (reply, "stale")), ROWS - 3);
    cr_assert_eq (json_integer_value (json_object_get (reply, "refused")), 3);
    json_decref (reply);
    cr_assert_eq (s_counter ("rows_verified"), ROWS + 3);
    json_decref (rows);

    //  New rows, one malformed among the first (checked while the rest are parsed) or the
    //  last: an ERR naming it, and none of the rows is taken.
    json_t *digest = s_call_ok ("DIGEST", NULL);
    char *root = strdup (json_string_value (json_object_get (digest, "root")));
    json_decref (digest);
    static const int malformed_at[] = { 5, ROWS - 1 };
    for (size_t m = 0; m < sizeof malformed_at / sizeof malformed_at[0]; m++) {
        rows = json_array ();
        for (int i = 0; i < ROWS; i++)
            json_array_append_new (rows, i == malformed_at[m] ? json_pack ("{s:s, s:i}", "id", ids[0], "generation", 1)
                                                              : s_foreign_row (ids[i], 1, 1));
        char *error = s_call_error ("MERGE", json_pack ("{s:o}", "rows", rows));
        char expected[64];
        snprintf (expected, sizeof expected, "MERGE: rows[%d]: \"version\" is missing", malformed_at[m]);
        cr_assert (strstr (error, expected), "%s", error);
        free (error);
        digest = s_call_ok ("DIGEST", NULL);
        cr_assert_str_eq (json_string_value (json_object_get (digest, "root")), root);
        json_decref (digest);
        reply = s_call_ok ("GET", json_pack ("{s:s}", "id", ids[ROWS - 2]));
        cr_assert (json_is_null (json_object_get (reply, "row")));
        json_decref (reply);
    }
    free (root);
    ocf_identity_destroy (&forger);
}

Test (tabled_daemon, bad_input_is_answered_with_err_and_changes_nothing)
{
    json_t *digest = s_call_ok ("DIGEST", NULL);
    char *root = strdup (json_string_value (json_object_get (digest, "root")));
    json_decref (digest);

    char *error = s_call_error ("NO.SUCH.VERB", NULL);
    cr_assert (strstr (error, "unknown verb NO.SUCH.VERB (known: HELLO SELF.SET SELF.RENEW SERVICE.UP SERVICE.DOWN "
                              "SERVICE.LOAD MERGE LEAVE SEEN RTT GET LIST PROVIDERS SNAPSHOT DIGEST DELTA STATS)"), "%s", error);
    free (error);
    char id[64];
    json_t *good = s_foreign_row (id, 3, 1);
    json_t *bad = json_pack ("{s:s, s:i}", "id", id, "generation", 3);
    error = s_call_error ("MERGE", json_pack ("{s:[o, o]}", "rows", good, bad));
    cr_assert (strstr (error, "MERGE: rows[1]: \"version\" is missing"), "%s", error);
    free (error);
    error = s_call_error ("SERVICE.UP", json_pack ("{s:{s:s}}", "service", "name", "no spaces allowed"));
    cr_assert (strstr (error, "SERVICE.UP: service \"name\""), "%s", error);
    free (error);
    error = s_call_error ("SELF.SET", json_pack ("{s:i}", "generation", 99));
    cr_assert (strstr (error, "\"generation\" cannot be set"), "%s", error);
    free (error);

    //  Frames that are not even a message, over a raw socket.
    char endpoint[400];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/tabled.api", s_node.run_dir);
    zsock_t *raw = zsock_new_dealer (endpoint);
    zsock_set_rcvtimeo (raw, 5000);
    static const char *cases[][3] = {
        { "GET", NULL, "expected 2 frames" },
        { "GET", "{\"v\":1", "not valid JSON" },
        { "GET", "{\"id\":1}", "lacks the protocol version" },
        { "bad verb!", "{\"v\":1}", "malformed verb" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i][1])
            zstr_sendx (raw, cases[i][0], cases[i][1], NULL);
        else
            zstr_send (raw, cases[i][0]);
        zmsg_t *reply = zmsg_recv (raw);
        cr_assert_not_null (reply, "case %zu: no reply", i);
        char *verb = zmsg_popstr (reply), *body = zmsg_popstr (reply);
        cr_assert_str_eq (verb, "ERR");
        cr_assert (strstr (body, cases[i][2]), "case %zu: %s", i, body);
        free (verb);
        free (body);
        zmsg_destroy (&reply);
    }
    //  A body over [tabled] max_message (64 KiB here).
    char *big = malloc (100000);
    memset (big, ' ', 99999);
    memcpy (big, "{\"v\":1}", 7);
    big[99999] = '\0';
    zstr_sendx (raw, "LIST", big, NULL);
    free (big);
    zmsg_t *reply = zmsg_recv (raw);
    char *verb = zmsg_popstr (reply), *body = zmsg_popstr (reply);
    cr_assert_str_eq (verb, "ERR");
    cr_assert (strstr (body, "exceeds the limit of 65536"), "%s", body);
    free (verb);
    free (body);
    zmsg_destroy (&reply);
    zsock_destroy (&raw);

    digest = s_call_ok ("DIGEST", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (digest, "root")), root, "bad input changed the table");
    json_decref (digest);
    free (root);
    //  And the daemon still serves.
    json_decref (s_call_ok ("HELLO", NULL));
}

//  Receives events until one with this topic arrives (or the timeout); returns its body.
static json_t *
s_next_event (zsock_t *sub, const char *topic, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        zsock_set_rcvtimeo (sub, (int) (deadline - zclock_mono ()) + 1);
        zmsg_t *zmsg = zmsg_recv (sub);
        if (!zmsg)
            break;
        ocf_msg_t msg;
        char error[256];
        cr_assert_eq (ocf_msg_decode_zmsg (&msg, zmsg, 1 << 20, error, sizeof error), 0, "bad event: %s", error);
        zmsg_destroy (&zmsg);
        if (strcmp (msg.verb, topic) == 0)
            return msg.body;
        ocf_msg_clear (&msg);
    }
    return NULL;
}

//  RTT: this host's round-trip times, in rows (rtt_ms, like last_alive), the rtt table and
//  its peer_rtt view, kept across a restart; never in what gossip sends (SNAPSHOT).
Test (tabled_daemon, records_round_trip_times_as_local_observations)
{
    char id[64];
    ocf_identity_t *identity;
    json_decref (s_call_ok ("MERGE", json_pack ("{s:[o]}", "rows", s_foreign_row_of (id, 3, 1, &identity))));
    json_t *reply = s_call_ok ("RTT", json_pack ("{s:{s:f, s:f}}", "rtt", id, 12.5,
                                                 "unknown-node-is-skipped", 3.0));
    cr_assert_eq (json_integer_value (json_object_get (reply, "updated")), 1);
    json_decref (reply);
    char *error = s_call_error ("RTT", json_pack ("{s:{s:f}}", "rtt", id, -1.0));
    cr_assert (strstr (error, "RTT: the time of"), "%s", error);
    free (error);
    error = s_call_error ("RTT", json_pack ("{s:{s:s}}", "rtt", id, "fast"));
    cr_assert (strstr (error, "must be a number of ms"), "%s", error);
    free (error);
    error = s_call_error ("RTT", json_pack ("{s:[]}", "rtt"));
    cr_assert (strstr (error, "\"rtt\" must be an object"), "%s", error);
    free (error);

    char *rows = s_sqlite ("select name, rtt_ms, updated_at is not null from peer_rtt");
    cr_assert_str_eq (rows, "host-b|12.5|1\n");
    free (rows);
    int status = ocf_test_stop (s_pid, SIGTERM, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    s_pid = ocf_test_start (&s_node, "ocf-tabled", NULL, 5000);
    cr_assert_gt (s_pid, 0);
    reply = s_call_ok ("GET", json_pack ("{s:s}", "id", id));
    cr_assert_float_eq (json_number_value (json_object_get (json_object_get (reply, "row"), "rtt_ms")), 12.5, 1e-9,
                        "kept across a restart");
    json_decref (reply);
    reply = s_call_ok ("SNAPSHOT", NULL);
    json_t *row;
    size_t index;
    json_array_foreach (json_object_get (reply, "rows"), index, row)
        cr_assert_null (json_object_get (row, "rtt_ms"), "a snapshot carries no local observation");
    json_decref (reply);
    //  A node that goes takes its time with it.
    json_t *tombstone = json_pack ("{s:s, s:i, s:s, s:i}", "id", id, "generation", 3, "reason", "left", "declared_at", 1000);
    char sign_error[256];
    cr_assert_eq (ocf_record_sign_tombstone_json (tombstone, identity, sign_error, sizeof sign_error), 0, "%s", sign_error);
    ocf_identity_destroy (&identity);
    json_decref (s_call_ok ("MERGE", json_pack ("{s:[o]}", "tombstones", tombstone)));
    rows = s_sqlite ("select count(*) from rtt");
    cr_assert_str_eq (rows, "0\n");
    free (rows);
}

Test (tabled_daemon, publishes_committed_changes_to_subscribers)
{
    char endpoint[400];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/tabled.events", s_node.run_dir);
    zsock_t *sub = zsock_new_sub (endpoint, "");
    //  A subscription takes a moment to reach the publisher: poke until the first event.
    json_t *event = NULL;
    for (int attempt = 0; attempt < 200 && !event; attempt++) {
        char probe[16];
        snprintf (probe, sizeof probe, "%d", attempt);
        json_decref (s_call_ok ("SELF.SET", json_pack ("{s:{s:s}}", "labels", "probe", probe)));
        event = s_next_event (sub, "row", 50);
    }
    cr_assert_not_null (event, "no event reached the subscriber");
    json_int_t seq = json_integer_value (json_object_get (event, "seq"));
    json_int_t boot = json_integer_value (json_object_get (event, "boot"));
    cr_assert_str_eq (json_string_value (json_object_get (event, "source")), "self");
    json_decref (event);
    while ((event = s_next_event (sub, "row", 100)) != NULL) {   //  the rest of the probes
        seq = json_integer_value (json_object_get (event, "seq"));
        json_decref (event);
    }

    json_decref (s_call_ok ("SERVICE.UP", json_pack ("{s:{s:s, s:i}}", "service", "name", "embed", "port", 9000)));
    event = s_next_event (sub, "row", 5000);
    cr_assert_not_null (event);
    cr_assert_eq (json_integer_value (json_object_get (event, "seq")), seq + 1, "sequence numbers have no gaps");
    cr_assert_eq (json_integer_value (json_object_get (event, "boot")), boot);
    json_t *services = json_object_get (json_object_get (event, "row"), "services");
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (services, 0), "name")), "embed");
    json_decref (event);

    char id[64];
    json_t *row = s_foreign_row (id, 4, 1);
    json_decref (s_call_ok ("MERGE", json_pack ("{s:[o]}", "rows", row)));
    event = s_next_event (sub, "row", 5000);
    cr_assert_str_eq (json_string_value (json_object_get (event, "source")), "merge");
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (event, "row"), "id")), id);
    seq = json_integer_value (json_object_get (event, "seq"));
    json_decref (event);
    //  Heard from (gossipd's SEEN): the fresh last_alive reaches followers at once, in order.
    int64_t before = zclock_time ();
    json_t *seen = s_call_ok ("SEEN", json_pack ("{s:[s, s]}", "ids", id, "unknown-node"));
    cr_assert_eq (json_integer_value (json_object_get (seen, "updated")), 1);
    json_decref (seen);
    event = s_next_event (sub, "seen", 5000);
    cr_assert_not_null (event, "no seen event");
    cr_assert_eq (json_integer_value (json_object_get (event, "seq")), seq + 1);
    cr_assert_eq (json_object_size (json_object_get (event, "seen")), 1);
    cr_assert_geq (json_integer_value (json_object_get (json_object_get (event, "seen"), id)), before);
    json_decref (event);
    json_decref (s_call_ok ("MERGE", json_pack ("{s:[{s:s, s:i, s:i, s:s}]}", "members", "id", id,
                                                "generation", 4, "incarnation", 2, "status", "suspect")));
    event = s_next_event (sub, "status", 5000);
    cr_assert_not_null (event);
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (event, "member"), "status")), "suspect");
    json_decref (event);
    //  Reaped: only a node this host does not believe alive (or suspect) can be.
    json_decref (s_call_ok ("MERGE", json_pack ("{s:[{s:s, s:i, s:i, s:s}]}", "members", "id", id,
                                                "generation", 4, "incarnation", 2, "status", "dead")));
    json_decref (s_next_event (sub, "status", 5000));
    json_decref (s_call_ok ("MERGE", json_pack ("{s:[{s:s, s:i, s:s, s:i}]}", "tombstones", "id", id,
                                                "generation", 4, "reason", "reaped", "declared_at", 5)));
    event = s_next_event (sub, "tombstone", 5000);
    cr_assert_not_null (event);
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (event, "tombstone"), "id")), id);
    json_decref (event);
    zsock_destroy (&sub);
}

//  A refusal's code (docs/protocol.md), NULL when it has none.
static char *
s_call_refusal (const char *verb, json_t *body, char **code)
{
    bool ok;
    json_t *reply = ocf_test_call (&s_node, "tabled", verb, body, &ok);
    cr_assert (reply && !ok, "%s: expected ERR", verb);
    const char *text = json_string_value (json_object_get (reply, "code"));
    *code = text ? strdup (text) : NULL;
    char *error = strdup (json_string_value (json_object_get (reply, "error")));
    json_decref (reply);
    return error;
}

static json_int_t
s_hello_version (void)
{
    json_t *hello = s_call_ok ("HELLO", NULL);
    json_int_t version = json_integer_value (json_object_get (hello, "version"));
    json_decref (hello);
    return version;
}

Test (tabled_daemon, a_service_belongs_to_the_owner_that_registered_it)
{
    json_t *reply = s_call_ok ("SERVICE.UP", json_pack ("{s:{s:s, s:i, s:s}}", "service", "name", "llm", "port", 8000,
                                                         "owner", "ocf-workerd"));
    json_int_t version = json_integer_value (json_object_get (reply, "version"));
    json_decref (reply);
    cr_assert_eq (s_hello_version (), version, "HELLO names the record's version");
    char *code, *error = s_call_refusal ("SERVICE.UP", json_pack ("{s:{s:s, s:i, s:s}}", "service", "name", "llm",
                                                                   "port", 9, "owner", "ocf-proxyd"), &code);
    cr_assert_str_eq (code, "not_yours");
    cr_assert (strstr (error, "belongs to ocf-workerd"), "%s", error);
    free (code);
    free (error);
    error = s_call_refusal ("SERVICE.DOWN", json_pack ("{s:s, s:s}", "name", "llm", "owner", "ocf-proxyd"), &code);
    cr_assert_str_eq (code, "not_yours");
    free (code);
    free (error);
    cr_assert_eq (s_hello_version (), version, "a refusal changes nothing");
    error = s_call_refusal ("SERVICE.UP", json_pack ("{s:{s:s, s:i, s:i}}", "service", "name", "x", "port", 1, "owner", 7), &code);
    cr_assert (strstr (error, "\"owner\" must be a short string"), "%s", error);
    cr_assert_null (code, "a bad request has no code");
    free (error);
    //  The owner may; a request naming no owner (an operator's ocfctl) may too.
    json_decref (s_call_ok ("SERVICE.UP", json_pack ("{s:{s:s, s:i, s:s}}", "service", "name", "llm", "port", 8001,
                                                      "owner", "ocf-workerd")));
    json_decref (s_call_ok ("SERVICE.DOWN", json_pack ("{s:s}", "name", "llm")));
    cr_assert_eq (s_hello_version (), version + 2);
    //  A name nobody holds now is anyone's.
    json_decref (s_call_ok ("SERVICE.UP", json_pack ("{s:{s:s, s:i, s:s}}", "service", "name", "llm", "port", 9,
                                                      "owner", "ocf-proxyd")));
}

Test (tabled_daemon, refutes_suspicion_of_itself_and_starts_a_new_generation_after_leave)
{
    json_t *hello = s_call_ok ("HELLO", NULL);
    const char *self = json_string_value (json_object_get (hello, "id"));
    json_int_t generation = json_integer_value (json_object_get (hello, "generation"));
    json_decref (s_call_ok ("MERGE", json_pack ("{s:[{s:s, s:I, s:i, s:s}]}", "members", "id", self,
                                                "generation", generation, "incarnation", 3, "status", "suspect")));
    json_t *reply = s_call_ok ("GET", json_pack ("{s:s}", "id", self));
    json_t *row = json_object_get (reply, "row");
    cr_assert_str_eq (json_string_value (json_object_get (row, "status")), "alive");
    cr_assert_eq (json_integer_value (json_object_get (row, "incarnation")), 4, "refuted with a higher incarnation");
    json_decref (reply);

    reply = s_call_ok ("LEAVE", NULL);
    json_t *tombstone = json_object_get (reply, "tombstone");
    cr_assert_eq (json_integer_value (json_object_get (tombstone, "generation")), generation);
    cr_assert_gt (json_integer_value (json_object_get (reply, "generation")), generation);
    json_decref (reply);
    reply = s_call_ok ("GET", json_pack ("{s:s}", "id", self));
    cr_assert_gt (json_integer_value (json_object_get (json_object_get (reply, "row"), "generation")), generation);
    json_decref (reply);
    json_decref (hello);
}

Test (tabled_daemon, a_second_instance_is_refused)
{
    pid_t second = ocf_test_spawn (&s_node, "ocf-tabled", NULL);
    int status = ocf_test_stop (second, 0, 5000);   //  signal 0: just wait for it to exit
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "a second ocf-tabled kept running");
    char path[400];
    snprintf (path, sizeof path, "%s/ocf-tabled.log", s_node.root);
    char *log = ocf_test_read_file (path);
    cr_assert (strstr (log, "refusing to start: another instance holds"), "%s", log);
    free (log);
    json_decref (s_call_ok ("HELLO", NULL));        //  the first one still owns the socket
}

Test (tabled_daemon, restart_keeps_the_table_and_bumps_the_generation)
{
    json_t *hello = s_call_ok ("HELLO", NULL);
    json_int_t generation = json_integer_value (json_object_get (hello, "generation"));
    char self[64];
    snprintf (self, sizeof self, "%s", json_string_value (json_object_get (hello, "id")));
    json_decref (hello);
    json_decref (s_call_ok ("SERVICE.UP", json_pack ("{s:{s:s, s:i}}", "service", "name", "llm", "port", 8000)));
    int status = ocf_test_stop (s_pid, SIGTERM, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "SIGTERM is a clean exit");
    int64_t started = ocf_test_now_us ();
    s_pid = ocf_test_start (&s_node, "ocf-tabled", NULL, 5000);
    cr_assert_gt (s_pid, 0);
    cr_log_info ("restart to READY=1: %.1f ms", (ocf_test_now_us () - started) / 1000.0);
    hello = s_call_ok ("HELLO", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "id")), self, "same node key");
    cr_assert_gt (json_integer_value (json_object_get (hello, "generation")), generation);
    json_decref (hello);
    json_t *reply = s_call_ok ("PROVIDERS", json_pack ("{s:s}", "service", "llm"));
    cr_assert_eq (json_array_size (json_object_get (reply, "providers")), 1, "own services survive a restart");
    json_decref (reply);
}

Test (tabled_daemon, kill_9_during_a_write_burst_loses_nothing_acknowledged)
{
    char endpoint[400];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/tabled.api", s_node.run_dir);
    zsock_t *client = zsock_new_dealer (endpoint);
    enum { TOTAL = 20000 };
    static char ids[TOTAL][OCF_ID_SIZE];
    //  Pipeline merges of distinct rows; replies come back in request order.
    int sent = 0, acked = 0;
    int64_t kill_after = 3000;              //  acknowledgements before the kill
    bool killed = false;
    zpoller_t *poller = zpoller_new (client, NULL);
    while (acked < TOTAL) {
        while (sent < TOTAL && sent - acked < 200 && !killed) {
            json_t *row = s_foreign_row (ids[sent], 1, 1);
            zmsg_t *msg = zmsg_new ();
            ocf_msg_append (msg, "MERGE", json_pack ("{s:[o]}", "rows", row));
            zmsg_send (&msg, client);
            sent++;
        }
        if (!zpoller_wait (poller, killed ? 200 : 5000))
            break;
        zmsg_t *reply = zmsg_recv (client);
        cr_assert (zframe_streq (zmsg_first (reply), "OK"));
        zmsg_destroy (&reply);
        if (++acked == kill_after) {
            kill (s_pid, SIGKILL);
            killed = true;
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&client);
    waitpid (s_pid, NULL, 0);
    cr_log_info ("%d sent, %d acknowledged before and around kill -9", sent, acked);
    s_pid = ocf_test_start (&s_node, "ocf-tabled", NULL, 5000);
    cr_assert_gt (s_pid, 0);
    for (int i = 0; i < acked; i++) {
        json_t *reply = s_call_ok ("GET", json_pack ("{s:s}", "id", ids[i]));
        cr_assert (!json_is_null (json_object_get (reply, "row")), "acknowledged row %d of %d lost", i, acked);
        json_decref (reply);
    }
    char *check = s_sqlite ("pragma integrity_check");
    cr_assert_str_eq (check, "ok\n");
    free (check);
}

Test (tabled_daemon, sqlite3_reads_the_views_while_tabled_writes)
{
    //  A writer in a child process keeps merging rows while sqlite3 reads the views.
    pid_t writer = fork ();
    if (writer == 0) {
        for (int i = 0; i < 2000; i++) {
            char id[64];
            json_t *row = s_foreign_row (id, 1, 1);
            bool ok;
            json_decref (ocf_test_call (&s_node, "tabled", "MERGE", json_pack ("{s:[o]}", "rows", row), &ok));
            if (!ok)
                _exit (1);
        }
        _exit (0);
    }
    long previous = 0;
    int reads = 0;
    while (waitpid (writer, NULL, WNOHANG) == 0 || reads == 0) {
        char *count = s_sqlite ("select count(*) from live_nodes; select count(*) from services; select count(*) from gpus;"
                                "select count(*) from tombstones;");
        long live = atol (count);
        cr_assert_geq (live, previous, "readers see committed states only, never going back");
        previous = live;
        free (count);
        reads++;
    }
    cr_log_info ("%d consistent reads while writing", reads);
    char *final = s_sqlite ("select count(*) from live_nodes");
    cr_assert_eq (atol (final), 2001, "2000 rows merged + this node");
    free (final);
}

Test (tabled_daemon, stops_cleanly_on_sigterm_with_stopping_notification)
{
    cr_assert_eq (kill (s_pid, SIGTERM), 0);
    cr_assert (ocf_test_wait_notify (&s_node, "STOPPING=1", 5000));
    int status = ocf_test_stop (s_pid, 0, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    s_pid = ocf_test_start (&s_node, "ocf-tabled", NULL, 5000);      //  for the teardown
}

Test (tabled_daemon, configuration_errors_name_the_key_and_stop_start_up)
{
    char command[1024];
    snprintf (command, sizeof command, "%s -c /dev/null --set tabled.reap_after=soon --check-config 2>&1",
              ocf_test_bin ("ocf-tabled"));
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 1);
    cr_assert (strstr (output, "[tabled] reap_after: 'soon' is not a duration"), "%s", output);
    free (output);
    snprintf (command, sizeof command, "%s -c /nonexistent/ocf.conf 2>&1", ocf_test_bin ("ocf-tabled"));
    output = ocf_test_run (command, &status);
    cr_assert_eq (status, 78, "EX_CONFIG");
    cr_assert (strstr (output, "/nonexistent/ocf.conf: cannot read"), "%s", output);
    free (output);
}

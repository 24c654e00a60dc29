/*  The table follower (common/ocf_follower.c), driven with synthetic replies, events and time:
    loads over several pages, events during a load, gaps, restarts of tabled, outages.  */
#include "ocf_follower.h"

#include <criterion/criterion.h>
#include <string.h>

#define PAGE 2
#define RETRY_MS 500
#define HELLO_MS 1000

//  What the follower asked for and told.
typedef struct {
    char verb[16];               //  the last request sent
    json_t *body;
    int sent;
    int hellos, load_begins, loaded, stale;
    char rows[16][8];            //  ids of the rows of the current load
    int row_count;
    uint64_t events[32];         //  seqs of the events delivered
    int event_count;
} probe_t;

static void
s_send (void *arg, const char *verb, json_t *body)
{
    probe_t *probe = arg;
    snprintf (probe->verb, sizeof probe->verb, "%s", verb);
    json_decref (probe->body);
    probe->body = body;
    probe->sent++;
}

static void s_hello (void *arg, json_t *hello) { ((probe_t *) arg)->hellos++; }
static void s_loaded (void *arg) { ((probe_t *) arg)->loaded++; }
static void s_stale (void *arg, const char *error) { ((probe_t *) arg)->stale++; }

static void
s_load_begin (void *arg, json_t *page)
{
    probe_t *probe = arg;
    probe->load_begins++;
    probe->row_count = 0;
    cr_assert_str_eq (json_string_value (json_object_get (page, "self")), "me");
}

static void
s_row (void *arg, json_t *row)
{
    probe_t *probe = arg;
    snprintf (probe->rows[probe->row_count++], sizeof probe->rows[0], "%s", json_string_value (json_object_get (row, "id")));
}

static void
s_event (void *arg, const char *topic, json_t *body)
{
    probe_t *probe = arg;
    cr_assert_str_eq (topic, "row");
    probe->events[probe->event_count++] = (uint64_t) json_integer_value (json_object_get (body, "seq"));
}

static probe_t probe;
static ocf_follower_t *follower;

static void
s_setup_with (size_t max_buffered, int64_t hello_ms)
{
    //  A test with options of its own replaces the suite's follower.
    ocf_follower_destroy (&follower);
    json_decref (probe.body);
    memset (&probe, 0, sizeof probe);
    ocf_follower_config_t config = { .retry_ms = RETRY_MS, .hello_ms = hello_ms, .page_rows = PAGE,
                                     .max_buffered = max_buffered, .view_name = "test view" };
    ocf_follower_handler_t handler = { .arg = &probe, .send = s_send, .hello = s_hello, .load_begin = s_load_begin,
                                       .row = s_row, .loaded = s_loaded, .event = s_event, .stale = s_stale };
    follower = ocf_follower_new (&config, &handler);
}

static void s_setup (void) { s_setup_with (100, 0); }

static void
s_teardown (void)
{
    ocf_follower_destroy (&follower);
    json_decref (probe.body);
}

static void
s_reply (int64_t now, json_t *body)
{
    ocf_follower_reply (follower, now, true, body);
    json_decref (body);
}

static void
s_reply_hello (int64_t now, uint64_t boot, uint64_t seq)
{
    cr_assert_str_eq (probe.verb, "HELLO");
    s_reply (now, json_pack ("{s:s, s:I, s:I}", "id", "me", "boot", (json_int_t) boot, "seq", (json_int_t) seq));
}

//  A LIST page of the given ids; next is the last id unless it is the last page.
static void
s_reply_page (int64_t now, uint64_t boot, uint64_t seq, const char *after, const char *a, const char *b, bool last)
{
    cr_assert_str_eq (probe.verb, "LIST");
    cr_assert_eq (json_integer_value (json_object_get (probe.body, "limit")), PAGE);
    const char *expected_after = json_string_value (json_object_get (probe.body, "after"));
    if (after)
        cr_assert_str_eq (expected_after, after);
    else
        cr_assert_null (expected_after);
    json_t *rows = json_array ();
    json_array_append_new (rows, json_pack ("{s:s}", "id", a));
    if (b)
        json_array_append_new (rows, json_pack ("{s:s}", "id", b));
    s_reply (now, json_pack ("{s:o, s:o, s:s, s:I, s:I}", "rows", rows, "next", last ? json_null () : json_string (b ? b : a),
                             "self", "me", "boot", (json_int_t) boot, "seq", (json_int_t) seq));
}

static void
s_event_at (int64_t now, uint64_t boot, uint64_t seq)
{
    json_t *body = json_pack ("{s:i, s:I, s:I, s:s, s:{s:s}}", "v", 1, "seq", (json_int_t) seq, "boot", (json_int_t) boot,
                              "source", "merge", "row", "id", "x");
    ocf_follower_event (follower, now, "row", body);
    json_decref (body);
}

//  HELLO, then a load of one page (a, b) at boot 7, seq 10.
static void
s_follow (void)
{
    ocf_follower_tick (follower, 0);
    s_reply_hello (0, 7, 10);
    s_reply_page (0, 7, 10, NULL, "a", "b", true);
    cr_assert (ocf_follower_following (follower));
}

TestSuite (follower, .init = s_setup, .fini = s_teardown);

Test (follower, first_load_takes_several_pages)
{
    cr_assert_not (ocf_follower_following (follower));
    cr_assert_eq (probe.sent, 0, "nothing before the first tick");
    ocf_follower_tick (follower, 0);
    cr_assert_eq (probe.sent, 1);
    s_reply_hello (1, 7, 10);
    cr_assert_eq (probe.hellos, 1);
    s_reply_page (2, 7, 10, NULL, "a", "b", false);
    cr_assert_eq (probe.load_begins, 1);
    cr_assert_eq (probe.loaded, 0);
    s_reply_page (3, 7, 11, "b", "c", "d", false);
    s_reply_page (4, 7, 12, "d", "e", NULL, true);
    cr_assert_eq (probe.loaded, 1);
    cr_assert_eq (probe.row_count, 5);
    cr_assert_str_eq (probe.rows[4], "e");
    cr_assert (ocf_follower_following (follower));
    const ocf_follower_stats_t *stats = ocf_follower_stats (follower);
    cr_assert_eq (stats->boot, 7);
    cr_assert_eq (stats->seq, 10, "events after the first page's seq are still to come");
    cr_assert_eq (stats->loads, 1);
    cr_assert_eq (stats->reloads, 0);
    cr_assert_eq (probe.sent, 4);
    cr_assert_eq (probe.stale, 0);
}

Test (follower, events_during_a_load_follow_it_in_order)
{
    ocf_follower_tick (follower, 0);
    s_reply_hello (0, 7, 10);
    s_event_at (0, 7, 9);        //  before the LIST: in it
    s_reply_page (1, 7, 10, NULL, "a", "b", false);
    s_event_at (1, 7, 10);       //  in the first page
    s_event_at (1, 7, 11);
    s_event_at (2, 7, 12);
    cr_assert_eq (probe.event_count, 0, "nothing is applied during the load");
    s_reply_page (3, 7, 12, "b", "c", NULL, true);
    cr_assert_eq (probe.event_count, 2);
    cr_assert_eq (probe.events[0], 11);
    cr_assert_eq (probe.events[1], 12);
    cr_assert_eq (ocf_follower_stats (follower)->seq, 12);
    cr_assert_eq (ocf_follower_stats (follower)->reloads, 0);
    cr_assert (ocf_follower_following (follower));
    s_event_at (4, 7, 13);
    cr_assert_eq (probe.event_count, 3);
}

Test (follower, duplicate_and_old_events_are_dropped)
{
    s_follow ();
    s_event_at (1, 7, 11);
    s_event_at (1, 7, 11);
    s_event_at (1, 7, 8);
    s_event_at (1, 7, 12);
    cr_assert_eq (probe.event_count, 2);
    cr_assert_eq (probe.events[1], 12);
    cr_assert_eq (ocf_follower_stats (follower)->events, 2);
    cr_assert (ocf_follower_following (follower));
    cr_assert_eq (probe.sent, 2, "no reload");
}

Test (follower, a_gap_in_seq_reloads)
{
    s_follow ();
    s_event_at (1, 7, 11);
    s_event_at (1, 7, 13);       //  12 was lost
    cr_assert_eq (probe.event_count, 1);
    cr_assert_not (ocf_follower_following (follower));
    cr_assert_str_eq (probe.verb, "LIST", "a gap reloads without a HELLO");
    cr_assert_eq (ocf_follower_stats (follower)->reloads, 1);
    s_event_at (2, 7, 14);
    s_reply_page (3, 7, 14, NULL, "a", "b", true);
    cr_assert_eq (ocf_follower_stats (follower)->seq, 14);
    cr_assert_eq (probe.event_count, 1, "14 is in the load");
    cr_assert_eq (probe.load_begins, 2);
}

Test (follower, a_gap_during_the_load_reloads_after_it)
{
    ocf_follower_tick (follower, 0);
    s_reply_hello (0, 7, 10);
    s_reply_page (1, 7, 10, NULL, "a", "b", false);
    s_event_at (1, 7, 12);       //  11 was lost (the subscription was late)
    s_reply_page (2, 7, 12, "b", "c", NULL, true);
    cr_assert_eq (probe.loaded, 1);
    cr_assert_str_eq (probe.verb, "LIST");
    cr_assert_not (ocf_follower_following (follower));
    cr_assert_eq (ocf_follower_stats (follower)->reloads, 1);
}

Test (follower, a_full_buffer_during_the_load_reloads_after_it)
{
    s_setup_with (2, 0);
    ocf_follower_tick (follower, 0);
    s_reply_hello (0, 7, 10);
    s_reply_page (1, 7, 10, NULL, "a", "b", false);
    for (uint64_t seq = 11; seq <= 13; seq++)
        s_event_at (1, 7, seq);
    s_reply_page (2, 7, 13, "b", "c", NULL, true);
    cr_assert_eq (probe.event_count, 2, "what was kept is applied");
    cr_assert_str_eq (probe.verb, "LIST");
    cr_assert_eq (ocf_follower_stats (follower)->reloads, 1);
    s_reply_page (3, 7, 13, NULL, "a", "b", true);
    cr_assert (ocf_follower_following (follower));
    cr_assert_eq (ocf_follower_stats (follower)->seq, 13);
}

Test (follower, a_restart_of_tabled_says_hello_and_reloads)
{
    s_follow ();
    s_event_at (1, 7, 11);
    s_event_at (2, 9, 1);        //  tabled restarted: boot 9
    cr_assert_not (ocf_follower_following (follower));
    cr_assert_str_eq (probe.verb, "HELLO");
    cr_assert_eq (ocf_follower_stats (follower)->reloads, 1);
    s_event_at (2, 9, 2);        //  before the LIST: dropped, it is in the load
    s_reply_hello (3, 9, 2);
    cr_assert_eq (probe.hellos, 2);
    s_reply_page (4, 9, 2, NULL, "a", "b", true);
    cr_assert (ocf_follower_following (follower));
    cr_assert_eq (ocf_follower_stats (follower)->boot, 9);
    cr_assert_eq (ocf_follower_stats (follower)->seq, 2);
    s_event_at (5, 9, 3);
    cr_assert_eq (probe.event_count, 2);
    cr_assert_eq (probe.events[1], 3);
}

Test (follower, a_restart_in_the_middle_of_a_load_starts_it_again)
{
    ocf_follower_tick (follower, 0);
    s_reply_hello (0, 7, 10);
    s_reply_page (1, 7, 10, NULL, "a", "b", false);
    s_reply_page (2, 9, 0, "b", "c", NULL, true);
    cr_assert_eq (probe.loaded, 0);
    cr_assert_str_eq (probe.verb, "HELLO");
    s_reply_hello (3, 9, 0);
    s_reply_page (4, 9, 0, NULL, "a", "b", true);
    cr_assert_eq (probe.loaded, 1);
    cr_assert_eq (ocf_follower_stats (follower)->boot, 9);
}

Test (follower, hellos_notice_a_silent_restart_and_lost_events)
{
    s_setup_with (100, HELLO_MS);
    s_follow ();
    int sent = probe.sent;
    ocf_follower_tick (follower, HELLO_MS - 1);
    cr_assert_eq (probe.sent, sent);
    ocf_follower_tick (follower, HELLO_MS);
    cr_assert_eq (probe.sent, sent + 1);
    s_reply_hello (HELLO_MS, 7, 12);     //  two events on their way
    s_event_at (HELLO_MS, 7, 11);
    s_event_at (HELLO_MS, 7, 12);
    ocf_follower_tick (follower, 2 * HELLO_MS);
    s_reply_hello (2 * HELLO_MS, 7, 14);
    cr_assert (ocf_follower_following (follower), "reached what the previous HELLO said");
    ocf_follower_tick (follower, 3 * HELLO_MS);
    s_reply_hello (3 * HELLO_MS, 7, 14);
    cr_assert_str_eq (probe.verb, "LIST", "13 and 14 never came");
    cr_assert_eq (ocf_follower_stats (follower)->reloads, 1);
    s_reply_page (3 * HELLO_MS, 7, 14, NULL, "a", "b", true);
    ocf_follower_tick (follower, 4 * HELLO_MS);
    s_reply_hello (4 * HELLO_MS, 8, 0);  //  restarted, published nothing yet
    cr_assert_str_eq (probe.verb, "HELLO");
    cr_assert_not (ocf_follower_following (follower));
    cr_assert_eq (ocf_follower_stats (follower)->reloads, 2);
}

Test (follower, no_answer_retries_after_a_while)
{
    ocf_follower_tick (follower, 0);
    ocf_follower_lost (follower, 2000, "HELLO: no reply within 2000 ms");
    cr_assert_eq (probe.stale, 1, "the first try failing is news");
    ocf_follower_tick (follower, 2000 + RETRY_MS - 1);
    cr_assert_eq (probe.sent, 1);
    ocf_follower_tick (follower, 2000 + RETRY_MS);
    cr_assert_eq (probe.sent, 2);
    ocf_follower_lost (follower, 4500, "HELLO: no reply within 2000 ms");
    cr_assert_eq (probe.stale, 1, "once per outage");
    ocf_follower_tick (follower, 5000);
    s_reply_hello (5000, 7, 10);
    s_reply_page (5000, 7, 10, NULL, "a", "b", true);
    cr_assert (ocf_follower_following (follower));
    //  The owner replaced its connection (one of its own requests went unanswered).
    ocf_follower_lost (follower, 6000, "DIGEST: no reply");
    cr_assert_not (ocf_follower_following (follower));
    cr_assert_eq (probe.stale, 2);
    s_event_at (6100, 7, 11);
    cr_assert_eq (probe.event_count, 0, "not following: the next load covers it");
    ocf_follower_tick (follower, 6000 + RETRY_MS);
    cr_assert_str_eq (probe.verb, "HELLO");
    cr_assert_eq (probe.hellos, 1);
    s_reply_hello (6600, 7, 11);
    cr_assert_eq (probe.hellos, 2);
    cr_assert_str_eq (probe.verb, "LIST");
}

Test (follower, a_refused_list_retries_and_a_late_reply_is_ignored)
{
    ocf_follower_tick (follower, 0);
    s_reply_hello (0, 7, 10);
    json_t *error = json_pack ("{s:s}", "error", "LIST: busy");
    ocf_follower_reply (follower, 1, false, error);
    json_decref (error);
    cr_assert_eq (probe.stale, 1);
    cr_assert_eq (ocf_follower_stats (follower)->refused, 1);
    cr_assert_not (ocf_follower_following (follower));
    //  Nothing is out now: a stray reply changes nothing.
    s_reply (2, json_pack ("{s:[], s:n, s:I, s:I}", "rows", "next", "boot", (json_int_t) 7, "seq", (json_int_t) 10));
    cr_assert_eq (probe.loaded, 0);
    ocf_follower_tick (follower, 1 + RETRY_MS);
    cr_assert_str_eq (probe.verb, "HELLO");
}

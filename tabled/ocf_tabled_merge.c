/*  ocf_tabled_merge: what other hosts report, through gossipd. MERGE checks every row,
    membership and tombstone in place on the request text before applying any, verifies the
    signatures of the rows that would apply (ocf_verify, on several cores), counts and logs
    refusals (at most one line a second); SEEN records last_alive, flushed to table.db by
    the tick; RTT records this host's round-trip times to its peers (the rtt table).  */
#include "ocf_tabled_internal.h"
#include "ocf_alloc.h"
#include "ocf_time.h"

#include <inttypes.h>


typedef enum { KIND_ROW, KIND_MEMBER, KIND_TOMBSTONE } merge_kind_t;

//  One array of a MERGE ("rows", "members" or "tombstones"), checked in place item by item.
//  Its items are allocated at once: the verify threads hold pointers to rows while the rest
//  are parsed.
typedef struct {
    const char *key;
    merge_kind_t kind;
    char *items;
    size_t size;                 //  of an item
    size_t count;                //  items in the array
    size_t parsed;               //  items parsed so far
    ocf_json_iter_t iter;
} merge_array_t;

//  Checks that the array is one (or absent) and makes room for its items. Returns -1 with
//  error set.
static int
s_array_open (merge_array_t *array, ocf_json_span_t span, const char *key, merge_kind_t kind, char *error,
              size_t error_size)
{
    *array = (merge_array_t) { .key = key, .kind = kind,
                               .size = kind == KIND_ROW ? sizeof (ocf_row_in_t)
                                     : kind == KIND_MEMBER ? sizeof (ocf_member_in_t) : sizeof (ocf_tombstone_in_t) };
    if (!span.len)
        return 0;
    if (ocf_json_type (span) != OCF_JSON_ARRAY) {
        snprintf (error, error_size, "\"%s\" must be an array", key);
        return -1;
    }
    ocf_json_span_t item;
    array->iter = ocf_json_iter (span);
    while (ocf_json_array_next (&array->iter, &item))
        array->count++;
    array->iter = ocf_json_iter (span);
    array->items = ocf_malloc ((array->count ? array->count : 1) * array->size);
    return 0;
}

//  Checks the array's next items, until `until` are parsed in all. Returns -1 with error set.
static int
s_array_parse (ocf_tabled_t *self, merge_array_t *array, size_t until, char *error, size_t error_size)
{
    ocf_json_span_t item;
    while (array->parsed < until && ocf_json_array_next (&array->iter, &item)) {
        char problem[512];
        void *slot = array->items + array->parsed * array->size;
        int rc = array->kind == KIND_ROW ? ocf_record_parse_row_span (item, (size_t) self->config->tabled.max_record, slot,
                                                                      problem, sizeof problem)
               : array->kind == KIND_MEMBER ? ocf_record_parse_member_span (item, slot, problem, sizeof problem)
               : ocf_record_parse_tombstone_span (item, slot, problem, sizeof problem);
        if (rc != 0) {
            snprintf (error, error_size, "%s[%zu]: %s", array->key, array->parsed, problem);
            return -1;
        }
        array->parsed++;
    }
    return 0;
}

//  What one MERGE did, and who relayed it (its "from", when gossipd names the peer).
typedef struct {
    size_t applied, stale, refused, own_ignored;
    char from[OCF_ID_SIZE + 16];
} merge_result_t;

//  Refusals are logged at most once a second, the ones in between counted into the next line:
//  a relay sending forged rows must not flood the journal.
static void
s_log_refusal (ocf_tabled_t *self, const merge_result_t *result, const char *what, const char *id, const char *why)
{
    uint64_t unlogged;
    if (ocf_loglimit_pass (&self->refusal_log, ocf_time_mono_ms (), &unlogged))
        ocf_log_warning ("MERGE from %s: refused the %s of %s: %s (and %" PRIu64 " refusal(s) not logged since the last such line)",
                         result->from, what, id, why, unlogged);
}

static void
s_merge_counted (ocf_tabled_t *self, const char *id, int mask, merge_result_t *result)
{
    if (mask) {
        result->applied++;
        ocf_tabled_changed (self, id, mask);
    }
    else
    if (strcmp (ocf_table_last_refusal (self->table), "signature") == 0) {
        result->refused++;
        self->stats.refused_signature++;
        s_log_refusal (self, result, "signed item", id, "missing or bad signature");
    }
    else
        result->stale++;
}

//  A reaped tombstone cannot carry the owner's signature: any host declares it. It is taken
//  only when it removes nothing this host believes alive (the node is dead or gone here, or
//  the tombstone covers only generations it has left). Refused ones come back with
//  anti-entropy and are taken once this host sees the node dead too, or once the node, told
//  of the tombstone, has started a new generation. A tombstone of this node itself is always
//  taken: tabled answers it with a new generation, which is what lets everyone converge.
static bool
s_reaped_admissible (ocf_tabled_t *self, const ocf_tombstone_in_t *tombstone)
{
    if (tombstone->reason != OCF_REASON_REAPED || strcmp (tombstone->id, self->id) == 0)
        return true;
    ocf_entry_t *entry = ocf_table_lookup (self->table, tombstone->id);
    bool covers_record = entry && entry->has_record && entry->generation <= tombstone->generation;
    return !covers_record || !ocf_entry_live (entry) || entry->member.generation > entry->generation;
}

//  Rows of a MERGE whose signatures are checked while the rest are parsed, when it has at
//  least twice as many: the verify threads start on them at once instead of idling until
//  every row is parsed. An eighth of the rows, at least EARLY_ROWS: parsing a row costs about
//  a tenth of verifying one, so a thread is busy until the parsing ends.
#define EARLY_ROWS 16

//  Hands the verify threads the rows of [from, to) that would apply (into unchecked) and
//  returns how many.
static size_t
s_verify_start (ocf_tabled_t *self, ocf_row_in_t *rows, size_t from, size_t to, ocf_row_in_t **unchecked)
{
    size_t count = 0;
    for (size_t i = from; i < to; i++)
        if (strcmp (rows[i].id, self->id) != 0 && ocf_table_row_applies (self->table, &rows[i]))
            unchecked[count++] = &rows[i];
    ocf_verify_start (self->verify, unchecked, count);
    return count;
}

//  MERGE works on the request text: rows are checked in place and stored as they came,
//  without building a JSON tree (the costliest part of a merge otherwise).
void
ocf_tabled_on_merge (ocf_tabled_t *self, ocf_json_span_t body, zmsg_t *reply)
{
    ocf_json_span_t spans[3] = { { 0 } }, key, value;
    ocf_json_iter_t iter = ocf_json_iter (body);
    while (ocf_json_object_next (&iter, &key, &value))
        for (int kind = KIND_ROW; kind <= KIND_TOMBSTONE; kind++)
            if (ocf_json_string_is (key, (const char *[]) { "rows", "members", "tombstones" }[kind]))
                spans[kind] = value;
    merge_array_t arrays[3] = { { 0 } };
    char error[600];
    //  Everything is checked before anything is applied: a bad item changes nothing.
    int rc = -1;
    if (!spans[KIND_ROW].len && !spans[KIND_MEMBER].len && !spans[KIND_TOMBSTONE].len)
        snprintf (error, sizeof error, "needs \"rows\", \"members\" or \"tombstones\"");
    else
    if (s_array_open (&arrays[KIND_ROW], spans[KIND_ROW], "rows", KIND_ROW, error, sizeof error) == 0
    &&  s_array_open (&arrays[KIND_MEMBER], spans[KIND_MEMBER], "members", KIND_MEMBER, error, sizeof error) == 0
    &&  s_array_open (&arrays[KIND_TOMBSTONE], spans[KIND_TOMBSTONE], "tombstones", KIND_TOMBSTONE, error,
                      sizeof error) == 0)
        rc = 0;
    ocf_row_in_t *rows = (ocf_row_in_t *) arrays[KIND_ROW].items;
    ocf_member_in_t *members = (ocf_member_in_t *) arrays[KIND_MEMBER].items;
    ocf_tombstone_in_t *tombstones = (ocf_tombstone_in_t *) arrays[KIND_TOMBSTONE].items;
    size_t row_count = arrays[KIND_ROW].count, member_count = arrays[KIND_MEMBER].count;
    size_t tombstone_count = arrays[KIND_TOMBSTONE].count;
    //  The signatures of the rows that would apply are checked on the verify threads: the
    //  first ones' while this thread parses the others, then the others' while it
    //  merges, each row once it has its verdict (this thread checks rows itself rather than
    //  wait for one). Nothing changes the table until every item is parsed, so what would
    //  apply is the same whenever it is asked. The rest are never checked.
    ocf_row_in_t **unchecked = ocf_malloc ((row_count + 1) * sizeof *unchecked);
    size_t early = row_count >= 2 * EARLY_ROWS ? (row_count / 8 > EARLY_ROWS ? row_count / 8 : EARLY_ROWS) : 0;
    bool early_started = false;
    if (rc == 0 && early) {
        if (s_array_parse (self, &arrays[KIND_ROW], early, error, sizeof error) != 0)
            rc = -1;
        else {
            s_verify_start (self, rows, 0, early, unchecked);
            early_started = true;
        }
    }
    if (rc == 0
    &&  (s_array_parse (self, &arrays[KIND_ROW], row_count, error, sizeof error) != 0
    ||   s_array_parse (self, &arrays[KIND_MEMBER], member_count, error, sizeof error) != 0
    ||   s_array_parse (self, &arrays[KIND_TOMBSTONE], tombstone_count, error, sizeof error) != 0))
        rc = -1;
    if (early_started)
        ocf_verify_finish (self->verify);
    merge_result_t result = { 0 };
    char from[OCF_ID_SIZE + 1];
    ocf_json_span_t from_span = ocf_json_member (body, "from");
    snprintf (result.from, sizeof result.from, "%s",
              ocf_json_type (from_span) == OCF_JSON_STRING && ocf_json_string_copy (from_span, from, sizeof from) > 0
              && ocf_identity_id_valid (from) ? from
              : "an unnamed relay");
    bool touches_self = false;
    int64_t now = ocf_time_wall_ms ();
    if (rc == 0) {
        size_t next_unchecked = 0;
        size_t unchecked_count = s_verify_start (self, rows, early, row_count, unchecked);
        for (size_t i = 0; i < row_count; i++) {
            if (next_unchecked < unchecked_count && unchecked[next_unchecked] == &rows[i])
                ocf_verify_wait (self->verify, next_unchecked++);
            //  Only this node writes its own record; a copy from elsewhere is at best an echo.
            //  The membership it carries is anyone's to report, though (a node declared dead
            //  during a partition learns it from a row): that part is merged, and defended.
            if (strcmp (rows[i].id, self->id) == 0) {
                result.own_ignored++;
                if (rows[i].has_member) {
                    ocf_member_in_t member = { .member = rows[i].member };
                    memcpy (member.id, rows[i].id, OCF_ID_SIZE);
                    touches_self = true;
                    s_merge_counted (self, member.id, ocf_table_merge_member (self->table, &member, now, NULL), &result);
                }
                continue;
            }
            s_merge_counted (self, rows[i].id, ocf_table_merge_row (self->table, &rows[i], now, NULL), &result);
        }
        ocf_verify_finish (self->verify);
        for (size_t i = 0; i < member_count; i++) {
            touches_self |= strcmp (members[i].id, self->id) == 0;
            s_merge_counted (self, members[i].id, ocf_table_merge_member (self->table, &members[i], now, NULL), &result);
        }
        for (size_t i = 0; i < tombstone_count; i++) {
            if (!s_reaped_admissible (self, &tombstones[i])) {
                result.refused++;
                self->stats.refused_reaped++;
                s_log_refusal (self, &result, "reaped tombstone", tombstones[i].id, "the node is alive here");
                continue;
            }
            touches_self |= strcmp (tombstones[i].id, self->id) == 0;
            s_merge_counted (self, tombstones[i].id, ocf_table_merge_tombstone (self->table, &tombstones[i], now, NULL), &result);
        }
        if (touches_self)
            ocf_tabled_own_defend (self);
        self->stats.applied += result.applied;
        self->stats.stale += result.stale;
        ocf_tabled_reply_ok (reply, json_pack ("{s:I, s:I, s:I, s:I}", "applied", (json_int_t) result.applied,
                                               "stale", (json_int_t) result.stale, "refused", (json_int_t) result.refused,
                                               "ignored", (json_int_t) result.own_ignored));
    }
    else
        ocf_tabled_reply_error (self, reply, "MERGE: %s", error);
    free (unchecked);
    for (size_t i = 0; i < arrays[KIND_ROW].parsed; i++)
        ocf_row_in_clear (&rows[i]);
    free (rows);
    free (members);
    free (tombstones);
}

void
ocf_tabled_on_seen (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *ids = json_object_get (body, "ids");
    if (!json_is_array (ids)) {
        ocf_tabled_reply_error (self, reply, "SEEN: \"ids\" must be an array of node ids");
        return;
    }
    int64_t now = ocf_time_wall_ms ();
    size_t index;
    json_t *id, *seen = json_object ();
    json_array_foreach (ids, index, id) {
        ocf_entry_t *entry = json_is_string (id) ? ocf_table_lookup (self->table, json_string_value (id)) : NULL;
        if (entry) {
            ocf_table_seen (self->table, entry->id, now);
            zhashx_update (self->seen_dirty, entry->id, self);     //  a set: any non-NULL item
            json_object_set_new (seen, entry->id, json_integer (entry->last_alive));
        }
    }
    size_t updated = json_object_size (seen);
    //  Followers (proxyd's views) learn the fresh times at once; the disk at the next flush.
    if (updated)
        ocf_tabled_seen_event (self, seen);
    else
        json_decref (seen);
    ocf_tabled_reply_ok (reply, json_pack ("{s:I}", "updated", (json_int_t) updated));
}

void
ocf_tabled_flush_seen (ocf_tabled_t *self)
{
    if (zhashx_size (self->seen_dirty) == 0 || ocf_store_begin (self->store) != 0)
        return;
    for (void *item = zhashx_first (self->seen_dirty); item; item = zhashx_next (self->seen_dirty)) {
        const char *id = zhashx_cursor (self->seen_dirty);
        ocf_entry_t *entry = ocf_table_lookup (self->table, id);
        if (entry)
            ocf_store_save_last_alive (self->store, id, entry->last_alive);
    }
    zhashx_purge (self->seen_dirty);
}

//  {"rtt": {id: ms}}: gossipd's round-trip times that changed. Written inside the
//  batch (a few a minute), published as an "rtt" event; ids not in the table are skipped.
#define RTT_MAX_MS 3600000.0

void
ocf_tabled_on_rtt (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *times = json_object_get (body, "rtt"), *value;
    const char *id;
    if (!json_is_object (times)) {
        ocf_tabled_reply_error (self, reply, "RTT: \"rtt\" must be an object of node ids and round-trip times in ms");
        return;
    }
    json_object_foreach (times, id, value) {
        double ms = json_number_value (value);
        if (!json_is_number (value) || !(ms >= 0 && ms <= RTT_MAX_MS)) {
            ocf_tabled_reply_error (self, reply, "RTT: the time of %.64s must be a number of ms from 0 to %.0f", id,
                                    RTT_MAX_MS);
            return;
        }
    }
    int64_t now = ocf_time_wall_ms ();
    json_t *updated = json_object ();
    json_object_foreach (times, id, value) {
        ocf_entry_t *entry = ocf_table_lookup (self->table, id);
        if (!entry)
            continue;
        entry->has_rtt = true;
        entry->rtt_ms = json_number_value (value);
        if (!self->batch_failed && ocf_store_save_rtt (self->store, entry->id, entry->rtt_ms, now) != 0) {
            self->batch_failed = true;
            snprintf (self->batch_error, sizeof self->batch_error, "writing table.db failed: %s",
                      ocf_store_error (self->store));
        }
        json_object_set_new (updated, entry->id, json_real (entry->rtt_ms));
    }
    size_t count = json_object_size (updated);
    if (count)
        ocf_tabled_rtt_event (self, updated);
    else
        json_decref (updated);
    ocf_tabled_reply_ok (reply, json_pack ("{s:I}", "updated", (json_int_t) count));
}

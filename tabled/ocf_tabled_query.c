/*  ocf_tabled_query: the verbs that only read. GET, LIST (pages by id), PROVIDERS, STATS,
    and for gossipd's anti-entropy and snapshots DIGEST, DELTA, SNAPSHOT. Replies with rows
    are spliced from the record texts in table.db rather than built as JSON trees.  */
#include "ocf_tabled_internal.h"
#include "ocf_alloc.h"
#include "ocf_strbuf.h"
#include "ocf_time.h"

#include <inttypes.h>

#define LIST_DEFAULT_LIMIT 1000
#define LIST_MAX_LIMIT 10000
#define SNAPSHOT_DEFAULT_LIMIT 500
#define DELTA_MAX_IDS 4096

//  Starts [OK]{"v":1, ... for replies spliced from stored JSON.
static void
s_raw_begin (ocf_strbuf_t *buf)
{
    ocf_strbuf_printf (buf, "{\"v\":%d", OCF_PROTOCOL_VERSION);
}

static void
s_raw_send (zmsg_t *reply, ocf_strbuf_t *buf)
{
    ocf_strbuf_puts (buf, "}");
    ocf_msg_append_raw (reply, "OK", buf->data, buf->len);
    ocf_strbuf_free (buf);
}

static void
s_append_json (ocf_strbuf_t *buf, json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    ocf_strbuf_puts (buf, text);
    free (text);
}

//  The row JSON of an entry, its record text read from table.db. NULL without a record.
static char *
s_row_text (ocf_tabled_t *self, const ocf_entry_t *entry, bool with_local)
{
    if (!entry->has_record)
        return NULL;
    size_t len;
    char *record = ocf_store_record (self->store, entry->id, &len);
    if (!record)
        return NULL;
    char *row = ocf_row_json (record, len, entry->generation, &entry->member, with_local ? entry : NULL, entry->sig);
    free (record);
    return row;
}

//  The record of an entry as JSON (read from table.db), or NULL.
json_t *
ocf_tabled_record_json (ocf_tabled_t *self, const char *id)
{
    size_t len;
    char *record = ocf_store_record (self->store, id, &len);
    json_t *parsed = record ? json_loadb (record, len, 0, NULL) : NULL;
    free (record);
    return parsed;
}

//  --------------------------------------------------------------------------
//  Request helpers

static int
s_limit (json_t *body, const char *key, int fallback, int max)
{
    json_t *value = json_object_get (body, key);
    if (!json_is_integer (value))
        return fallback;
    json_int_t limit = json_integer_value (value);
    return limit < 1 ? 1 : limit > max ? max : (int) limit;
}

static int
s_compare_ids (const void *a, const void *b)
{
    return strcmp ((*(ocf_entry_t * const *) a)->id, (*(ocf_entry_t * const *) b)->id);
}

typedef struct {
    ocf_entry_t **items;
    size_t count;
    bool live_only;
    bool records_only;
} collect_t;

static bool
s_collect_visit (ocf_entry_t *entry, void *arg)
{
    collect_t *collect = arg;
    if (collect->records_only && !entry->has_record)
        return true;
    if (collect->live_only && !ocf_entry_live (entry))
        return true;
    collect->items[collect->count++] = entry;
    return true;
}

//  Entries sorted by id, starting after the given id (pagination cursor).
static size_t
s_collect_sorted (ocf_tabled_t *self, collect_t *collect, const char *after)
{
    collect->items = ocf_malloc ((ocf_table_size (self->table) + 1) * sizeof (ocf_entry_t *));
    collect->count = 0;
    ocf_table_foreach (self->table, s_collect_visit, collect);
    qsort (collect->items, collect->count, sizeof (ocf_entry_t *), s_compare_ids);
    size_t start = 0;
    if (after)
        while (start < collect->count && strcmp (collect->items[start]->id, after) <= 0)
            start++;
    return start;
}

//  Appends "rows":[...],"members":[...],"tombstones":[...] for the given entries.
static void
s_append_entries (ocf_tabled_t *self, ocf_strbuf_t *buf, ocf_entry_t **entries, size_t count, bool with_local)
{
    ocf_strbuf_puts (buf, ",\"rows\":[");
    for (size_t i = 0; i < count; i++) {
        char *row = s_row_text (self, entries[i], with_local);
        if (row) {
            ocf_strbuf_puts (buf, row);
            ocf_strbuf_puts (buf, ",");
            free (row);
        }
    }
    ocf_strbuf_trim_comma (buf);
    ocf_strbuf_puts (buf, "],\"members\":[");
    for (size_t i = 0; i < count; i++)
        if (!entries[i]->has_record && entries[i]->has_member) {
            json_t *member = ocf_entry_member_json (entries[i]);
            s_append_json (buf, member);
            json_decref (member);
            ocf_strbuf_puts (buf, ",");
        }
    ocf_strbuf_trim_comma (buf);
    ocf_strbuf_puts (buf, "],\"tombstones\":[");
    for (size_t i = 0; i < count; i++)
        if (entries[i]->has_tombstone) {
            json_t *tombstone = ocf_entry_tombstone_json (entries[i]);
            s_append_json (buf, tombstone);
            json_decref (tombstone);
            ocf_strbuf_puts (buf, ",");
        }
    ocf_strbuf_trim_comma (buf);
    ocf_strbuf_puts (buf, "]");
}

//  --------------------------------------------------------------------------
//  Verbs

void
ocf_tabled_on_get (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    const char *id = json_string_value (json_object_get (body, "id"));
    if (!id) {
        ocf_tabled_reply_error (self, reply, "GET: \"id\" is missing");
        return;
    }
    ocf_entry_t *entry = ocf_table_lookup (self->table, id);
    ocf_strbuf_t buf = { 0 };
    s_raw_begin (&buf);
    char *row = entry ? s_row_text (self, entry, true) : NULL;
    ocf_strbuf_puts (&buf, ",\"row\":");
    ocf_strbuf_puts (&buf, row ? row : "null");
    free (row);
    json_t *member = entry ? ocf_entry_member_json (entry) : NULL;
    json_t *tombstone = entry ? ocf_entry_tombstone_json (entry) : NULL;
    ocf_strbuf_puts (&buf, ",\"member\":");
    s_append_json (&buf, member ? member : json_null ());
    ocf_strbuf_puts (&buf, ",\"tombstone\":");
    s_append_json (&buf, tombstone ? tombstone : json_null ());
    json_decref (member);
    json_decref (tombstone);
    s_raw_send (reply, &buf);
}

void
ocf_tabled_on_list (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    collect_t collect = { .records_only = true, .live_only = json_is_true (json_object_get (body, "live")) };
    int limit = s_limit (body, "limit", LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT);
    size_t start = s_collect_sorted (self, &collect, json_string_value (json_object_get (body, "after")));
    size_t end = start + (size_t) limit < collect.count ? start + (size_t) limit : collect.count;
    ocf_strbuf_t buf = { 0 };
    s_raw_begin (&buf);
    ocf_strbuf_puts (&buf, ",\"rows\":[");
    for (size_t i = start; i < end; i++) {
        char *row = s_row_text (self, collect.items[i], true);
        if (row) {
            ocf_strbuf_puts (&buf, row);
            ocf_strbuf_puts (&buf, ",");
            free (row);
        }
    }
    ocf_strbuf_trim_comma (&buf);
    ocf_strbuf_puts (&buf, "]");
    if (end < collect.count)
        ocf_strbuf_printf (&buf, ",\"next\":\"%s\"", collect.items[end - 1]->id);
    else
        ocf_strbuf_puts (&buf, ",\"next\":null");
    ocf_strbuf_printf (&buf, ",\"self\":\"%s\",\"boot\":%" PRIu64 ",\"seq\":%" PRIu64, self->id, self->boot, self->seq);
    free (collect.items);
    s_raw_send (reply, &buf);
}

void
ocf_tabled_on_snapshot (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    collect_t collect = { 0 };
    int limit = s_limit (body, "limit", SNAPSHOT_DEFAULT_LIMIT, LIST_MAX_LIMIT);
    size_t start = s_collect_sorted (self, &collect, json_string_value (json_object_get (body, "after")));
    size_t end = start + (size_t) limit < collect.count ? start + (size_t) limit : collect.count;
    ocf_strbuf_t buf = { 0 };
    s_raw_begin (&buf);
    s_append_entries (self, &buf, collect.items + start, end - start, false);
    if (end < collect.count)
        ocf_strbuf_printf (&buf, ",\"next\":\"%s\"", collect.items[end - 1]->id);
    else
        ocf_strbuf_puts (&buf, ",\"next\":null");
    ocf_strbuf_printf (&buf, ",\"root\":\"%016" PRIx64 "\",\"entries\":%zu", ocf_table_root (self->table), collect.count);
    free (collect.items);
    s_raw_send (reply, &buf);
}

void
ocf_tabled_on_delta (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *ids = json_object_get (body, "ids");
    if (!json_is_array (ids) || json_array_size (ids) > DELTA_MAX_IDS) {
        ocf_tabled_reply_error (self, reply, "DELTA: \"ids\" must be an array of at most %d node ids", DELTA_MAX_IDS);
        return;
    }
    ocf_entry_t **entries = ocf_calloc (json_array_size (ids) + 1, sizeof *entries);
    size_t count = 0, index;
    json_t *id;
    json_array_foreach (ids, index, id) {
        ocf_entry_t *entry = json_is_string (id) ? ocf_table_lookup (self->table, json_string_value (id)) : NULL;
        if (entry)
            entries[count++] = entry;
    }
    ocf_strbuf_t buf = { 0 };
    s_raw_begin (&buf);
    s_append_entries (self, &buf, entries, count, false);
    free (entries);
    s_raw_send (reply, &buf);
}

void
ocf_tabled_on_digest (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *buckets = json_object_get (body, "bucket");
    if (buckets && (!json_is_array (buckets) || json_array_size (buckets) > OCF_BUCKETS)) {
        ocf_tabled_reply_error (self, reply, "DIGEST: \"bucket\" must be an array of at most 256 bucket numbers");
        return;
    }
    ocf_strbuf_t buf = { 0 };
    s_raw_begin (&buf);
    ocf_strbuf_printf (&buf, ",\"root\":\"%016" PRIx64 "\",\"entries\":%zu,\"rows\":%zu,\"tombstones\":%zu",
                       ocf_table_root (self->table), ocf_table_size (self->table), ocf_table_record_count (self->table),
                       ocf_table_tombstone_count (self->table));
    if (json_is_true (json_object_get (body, "buckets"))) {
        ocf_strbuf_puts (&buf, ",\"buckets\":\"");
        for (unsigned b = 0; b < OCF_BUCKETS; b++)
            ocf_strbuf_printf (&buf, "%016" PRIx64, ocf_table_bucket_hash (self->table, b));
        ocf_strbuf_puts (&buf, "\"");
    }
    if (buckets) {
        //  Per entry: [id, generation, version, status generation, incarnation, status,
        //  tombstone generation, hash]; 0 where the entry lacks that part.
        ocf_strbuf_puts (&buf, ",\"digests\":[");
        size_t index;
        json_t *bucket;
        json_array_foreach (buckets, index, bucket) {
            if (!json_is_integer (bucket) || json_integer_value (bucket) < 0 || json_integer_value (bucket) >= OCF_BUCKETS)
                continue;
            for (ocf_entry_t *entry = ocf_table_bucket_first (self->table, (unsigned) json_integer_value (bucket));
                 entry; entry = entry->bucket_next)
                ocf_strbuf_printf (&buf, "[\"%s\",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%d,%" PRIu64 ",\"%016" PRIx64 "\"],",
                                   entry->id, entry->has_record ? entry->generation : 0, entry->has_record ? entry->version : 0,
                                   entry->has_member ? entry->member.generation : 0,
                                   entry->has_member ? entry->member.incarnation : 0,
                                   entry->has_member ? (int) entry->member.status : -1,
                                   entry->has_tombstone ? entry->tomb_generation : 0, entry->hash);
        }
        ocf_strbuf_trim_comma (&buf);
        ocf_strbuf_puts (&buf, "]");
    }
    s_raw_send (reply, &buf);
}

static bool
s_service_matches (const ocf_service_index_t *service, const char *name, const char *identity, bool ready_only)
{
    if (strcmp (service->name, name) != 0 || (ready_only && !service->ready))
        return false;
    if (!identity)
        return true;
    for (size_t g = 0; g < service->group_count; g++)
        if (strcmp (service->groups[g], identity) == 0)
            return true;
    return false;
}

typedef struct {
    ocf_tabled_t *self;
    const char *service;
    const char *identity;
    bool ready_only;
    json_t *providers;
} providers_t;

static bool
s_providers_visit (ocf_entry_t *entry, void *arg)
{
    providers_t *query = arg;
    if (!ocf_entry_live (entry))
        return true;
    json_t *record = NULL;
    if (!entry->services_indexed) {
        record = ocf_tabled_record_json (query->self, entry->id);
        ocf_table_index_services (entry, record);
    }
    for (size_t i = 0; i < entry->service_count; i++) {
        if (!s_service_matches (&entry->services[i], query->service, query->identity, query->ready_only))
            continue;
        if (!record)
            record = ocf_tabled_record_json (query->self, entry->id);
        json_t *service = json_array_get (json_object_get (record, "services"), i);
        json_array_append_new (query->providers, json_pack ("{s:s, s:s?, s:O?, s:s, s:b, s:O}",
            "id", entry->id, "name", entry->name,
            "proxy", json_object_get (json_object_get (record, "addr"), "proxy"),
            "status", ocf_status_name (entry->member.status),
            "self", strcmp (entry->id, query->self->id) == 0,
            "service", service));
    }
    json_decref (record);
    return true;
}

void
ocf_tabled_on_providers (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    providers_t query = { self, json_string_value (json_object_get (body, "service")),
                          json_string_value (json_object_get (body, "identity")),
                          !json_is_false (json_object_get (body, "ready")), json_array () };
    if (!ocf_record_service_name_valid (query.service)) {
        json_decref (query.providers);
        ocf_tabled_reply_error (self, reply, "PROVIDERS: \"service\" must be a service name");
        return;
    }
    ocf_table_foreach (self->table, s_providers_visit, &query);
    ocf_tabled_reply_ok (reply, json_pack ("{s:o}", "providers", query.providers));
}

typedef struct {
    size_t live, suspect, dead;
} census_t;

static bool
s_census_visit (ocf_entry_t *entry, void *arg)
{
    census_t *census = arg;
    if (entry->has_record && entry->has_member) {
        census->live += ocf_entry_live (entry);
        census->suspect += entry->member.status == OCF_STATUS_SUSPECT;
        census->dead += entry->member.status == OCF_STATUS_DEAD;
    }
    return true;
}

void
ocf_tabled_on_stats (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    census_t census = { 0 };
    ocf_table_foreach (self->table, s_census_visit, &census);
    json_t *stats = json_pack ("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "id", self->id, "generation", (json_int_t) self->generation,
        "uptime_ms", (json_int_t) (ocf_time_mono_ms () - self->started_mono),
        "rows", (json_int_t) ocf_table_record_count (self->table),
        "tombstones", (json_int_t) ocf_table_tombstone_count (self->table),
        "live", (json_int_t) census.live, "suspect", (json_int_t) census.suspect, "dead", (json_int_t) census.dead,
        "event_seq", (json_int_t) self->seq);
    uint64_t verified, verify_cpu_us;
    ocf_verify_stats (self->verify, &verified, &verify_cpu_us);
    json_t *counters = json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "requests", (json_int_t) self->stats.requests, "bad_requests", (json_int_t) self->stats.bad_requests,
        "errors", (json_int_t) self->stats.errors, "row_writes", (json_int_t) self->stats.writes,
        "commits", (json_int_t) self->stats.commits, "commit_failures", (json_int_t) self->stats.commit_failures,
        "merge_applied", (json_int_t) self->stats.applied, "merge_stale", (json_int_t) self->stats.stale,
        "events", (json_int_t) self->stats.events, "reaped", (json_int_t) self->stats.reaped,
        "compacted", (json_int_t) self->stats.compacted, "refutations", (json_int_t) self->stats.refutations,
        "rows_refused_signature", (json_int_t) self->stats.refused_signature,
        "tombstones_refused_live", (json_int_t) self->stats.refused_reaped,
        "rows_verified", (json_int_t) verified, "verify_cpu_us", (json_int_t) verify_cpu_us);
    json_object_set_new (stats, "counters", counters);
    json_object_set_new (stats, "db_bytes", json_integer (ocf_store_file_size (self->store)));
    json_object_set_new (stats, "wal_bytes", json_integer (ocf_store_wal_size (self->store)));
    json_object_set_new (stats, "checkpoints", json_integer ((json_int_t) ocf_store_checkpoint_count (self->store)));
    ocf_tabled_reply_ok (reply, stats);
}

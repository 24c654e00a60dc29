/*  ocf_tabled: request handling, own record and periodic work of ocf-tabled.  */
#include "ocf_tabled.h"
#include "ocf_log.h"
#include "ocf_statedir.h"
#include "ocf_store.h"
#include "ocf_strbuf.h"
#include "ocf_time.h"
#include "ocf_verify.h"

#include <inttypes.h>

#define LIST_DEFAULT_LIMIT 1000
#define LIST_MAX_LIMIT 10000
#define SNAPSHOT_DEFAULT_LIMIT 500
#define DELTA_MAX_IDS 4096
#define COMPACT_BATCH 512
#define QUARANTINE_MS 60000
#define SEEN_FLUSH_MS 10000
#define REFUSAL_LOG_MS 1000
#define VERIFY_THREADS_MAX 7

struct _ocf_tabled_t {
    ocf_config_t *config;
    ocf_identity_t *identity;    //  this node's key (borrowed): signs its record and its leave
    char id[OCF_ID_SIZE];
    ocf_table_t *table;
    ocf_store_t *store;
    ocf_verify_t *verify;        //  checks the signatures of a MERGE's new rows in parallel
    char db_path[4200];
    json_t *own;                 //  this node's record (owner fields), as last written
    uint64_t generation;         //  this node's current generation
    uint64_t boot;               //  generation at start: names this run's event stream
    uint64_t seq;                //  last event sequence number
    zlistx_t *events;            //  zmsg_t events of the open batch
    const char *source;          //  what the open request is: "self", "merge", "reap"...
    bool batch_failed;
    char batch_error[512];
    zhashx_t *seen_dirty;        //  ids whose last_alive changed since the last flush
    int64_t started_mono, next_reap, next_compact, next_seen_flush;
    struct {
        uint64_t requests, bad_requests, errors, writes, commits, commit_failures;
        uint64_t applied, stale, events, reaped, compacted, refutations;
        uint64_t refused_signature, refused_reaped;
    } stats;
    int64_t refusal_logged_at;   //  monotonic ms of the last refusal logged
    uint64_t refusals_unlogged;  //  refusals since then, not logged one by one
};

//  --------------------------------------------------------------------------
//  Replies

static void
s_reply_ok (zmsg_t *reply, json_t *body)
{
    ocf_msg_append (reply, "OK", body);
}

static void __attribute__ ((format (printf, 3, 4)))
s_reply_error (ocf_tabled_t *self, zmsg_t *reply, const char *format, ...)
{
    char text[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    self->stats.errors++;
    ocf_msg_append (reply, "ERR", json_pack ("{s:s}", "error", text));
}

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

//  --------------------------------------------------------------------------
//  Changes: persisted inside the open transaction, announced after commit

//  An event's body is {"v","seq","boot","source", key: value}, with the value given in parts
//  (a row is its membership head and its record text): written straight into the frame sent,
//  since a merge of 100 rows publishes 100 events of ~1 KB.
static void
s_event (ocf_tabled_t *self, const char *topic, const char *key, const char *parts[], const size_t lens[], size_t count)
{
    char prefix[256];
    size_t size = (size_t) snprintf (prefix, sizeof prefix,
                                     "{\"v\":%d,\"seq\":%" PRIu64 ",\"boot\":%" PRIu64 ",\"source\":\"%s\",\"%s\":",
                                     OCF_PROTOCOL_VERSION, ++self->seq, self->boot, self->source, key);
    size_t body_size = size + 1;
    for (size_t i = 0; i < count; i++)
        body_size += lens[i];
    zframe_t *body = zframe_new (NULL, body_size);
    char *data = (char *) zframe_data (body);
    memcpy (data, prefix, size);
    for (size_t i = 0; i < count; i++) {
        memcpy (data + size, parts[i], lens[i]);
        size += lens[i];
    }
    data[size] = '}';
    zmsg_t *event = zmsg_new ();
    zmsg_addstr (event, topic);
    zmsg_append (event, &body);
    zlistx_add_end (self->events, event);
}

static void
s_event_json (ocf_tabled_t *self, const char *topic, const char *key, json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    const char *parts[] = { text };
    size_t lens[] = { strlen (text) };
    s_event (self, topic, key, parts, lens, 1);
    free (text);
    json_decref (value);
}

//  Persists a change (inside the open transaction), queues its events, then lets the record
//  text go: SQLite holds it, memory keeps what merging needs.
static void
s_changed (ocf_tabled_t *self, const char *id, int mask)
{
    if (!mask)
        return;
    ocf_entry_t *entry = ocf_table_lookup (self->table, id);
    if (!self->batch_failed && ocf_store_save_entry (self->store, id, entry, mask) != 0) {
        self->batch_failed = true;
        snprintf (self->batch_error, sizeof self->batch_error, "writing table.db failed: %s", ocf_store_error (self->store));
    }
    self->stats.writes++;
    if (mask & OCF_CHANGED_TOMBSTONE && entry && entry->has_tombstone)
        s_event_json (self, "tombstone", "tombstone", ocf_entry_tombstone_json (entry));
    if (mask & OCF_CHANGED_RECORD && entry && entry->has_record) {
        char head[OCF_ROW_HEAD_MAX];
        const char *parts[] = { head, entry->record + 1 };
        size_t lens[] = { ocf_row_head (entry->generation, &entry->member, entry->last_alive, entry->sig, head),
                          entry->record_len - 1 };
        s_event (self, "row", "row", parts, lens, 2);
    }
    else
    if (mask & OCF_CHANGED_MEMBER && entry && entry->has_member)
        s_event_json (self, "status", "member", ocf_entry_member_json (entry));
    if (entry)
        ocf_table_evict_record (entry);
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
    char *row = ocf_row_json (record, len, entry->generation, &entry->member, with_local ? entry->last_alive : 0, entry->sig);
    free (record);
    return row;
}

//  The record of an entry as JSON (read from table.db), or NULL.
static json_t *
s_record_json (ocf_tabled_t *self, const char *id)
{
    size_t len;
    char *record = ocf_store_record (self->store, id, &len);
    json_t *parsed = record ? json_loadb (record, len, 0, NULL) : NULL;
    free (record);
    return parsed;
}

static void
s_changed_callback (const char *id, int mask, void *arg)
{
    s_changed (arg, id, mask);
}

//  --------------------------------------------------------------------------
//  This node's own record

//  Writes a new version of the own record (when it differs). Returns the change mask, or -1
//  with the problem in error when the record would be invalid.
static int
s_own_write (ocf_tabled_t *self, json_t *candidate, char *error, size_t error_size)
{
    json_object_set_new (candidate, "generation", json_integer ((json_int_t) self->generation));
    json_object_set (candidate, "version", json_object_get (self->own, "version"));
    if (json_equal (candidate, self->own)) {
        json_decref (candidate);
        return 0;
    }
    uint64_t version = (uint64_t) json_integer_value (json_object_get (self->own, "version"));
    if (json_integer_value (json_object_get (self->own, "generation")) != (json_int_t) self->generation)
        version = 0;
    json_object_set_new (candidate, "version", json_integer ((json_int_t) (version + 1)));
    ocf_row_in_t row;
    if (ocf_record_parse_row (candidate, (size_t) self->config->tabled.max_record, &row, error, error_size) != 0) {
        json_decref (candidate);
        return -1;
    }
    ocf_record_sign_row (&row, self->identity);
    const char *saved_source = self->source;
    self->source = "self";
    int mask = ocf_table_merge_row (self->table, &row, ocf_time_wall_ms (), NULL);
    s_changed (self, self->id, mask);
    self->source = saved_source;
    ocf_row_in_clear (&row);
    json_decref (self->own);
    self->own = candidate;
    return mask;
}

//  Starts a new generation of this node: after a restart, a graceful leave, or a tombstone
//  others wrote for it. Only a higher generation may re-add an id.
static void
s_own_renew (ocf_tabled_t *self)
{
    uint64_t next = ocf_entry_next_generation (ocf_table_lookup (self->table, self->id), self->generation);
    //  Milliseconds since the epoch as a floor: a node whose table.db was lost still comes back
    //  above every generation it used before, even when it restarts within the same second.
    uint64_t now_ms = (uint64_t) ocf_time_wall_ms ();
    self->generation = next > now_ms ? next : now_ms;
    char error[256];
    if (ocf_store_meta_set (self->store, "generation", (int64_t) self->generation) != 0
    &&  !self->batch_failed) {
        self->batch_failed = true;
        snprintf (self->batch_error, sizeof self->batch_error, "writing table.db failed: %s", ocf_store_error (self->store));
    }
    if (s_own_write (self, json_copy (self->own), error, sizeof error) < 0)
        ocf_log_error ("cannot write this node's record: %s", error);
    ocf_log_info ("this node is now generation %" PRIu64, self->generation);
}

//  Others may suspect this node or declare it dead; it refutes at once by raising its
//  incarnation, and comes back with a new generation if it was tombstoned.
static void
s_own_defend (ocf_tabled_t *self)
{
    ocf_entry_t *entry = ocf_table_lookup (self->table, self->id);
    ocf_member_in_t refute;
    ocf_defense_t defense = ocf_entry_defense (entry, self->generation, &refute.member);
    if (defense == OCF_DEFENSE_RENEW) {
        s_own_renew (self);
        return;
    }
    if (defense == OCF_DEFENSE_REFUTE) {
        memcpy (refute.id, self->id, OCF_ID_SIZE);
        const char *saved_source = self->source;
        self->source = "self";
        s_changed (self, self->id, ocf_table_merge_member (self->table, &refute, ocf_time_wall_ms (), NULL));
        self->source = saved_source;
        self->stats.refutations++;
        ocf_log_notice ("refuted being %s: incarnation is now %" PRIu64, ocf_status_name (entry->member.status),
                        refute.member.incarnation);
    }
}

//  The address others reach a listener at: the listen host, unless it is a wildcard.
static char *
s_public_url (ocf_tabled_t *self, const char *scheme, const char *listen)
{
    char host[256];
    int port;
    if (ocf_config_parse_hostport (listen, host, sizeof host, &port) != 0)
        return NULL;
    const char *public_host = strcmp (host, "0.0.0.0") == 0 || strcmp (host, "::") == 0 ? self->config->node.public_addr : host;
    bool v6 = strchr (public_host, ':') != NULL;
    char *url;
    if (asprintf (&url, "%s://%s%s%s:%d", scheme, v6 ? "[" : "", public_host, v6 ? "]" : "", port) < 0)
        return NULL;
    return url;
}

static char *
s_trim (char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen (text);
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        text[--len] = '\0';
    return text;
}

static json_t *
s_config_labels (ocf_tabled_t *self)
{
    json_t *labels = json_object ();
    char *copy = strdup (self->config->node.labels), *saveptr = NULL;
    for (char *item = strtok_r (copy, ",", &saveptr); item; item = strtok_r (NULL, ",", &saveptr)) {
        char *equals = strchr (item, '=');
        if (!equals)
            continue;
        *equals = '\0';
        json_object_set_new (labels, s_trim (item), json_string (s_trim (equals + 1)));
    }
    free (copy);
    return labels;
}

//  Builds this node's record for a new run: kept services and hardware, fresh identity fields.
static int
s_own_start (ocf_tabled_t *self, char *error, size_t error_size)
{
    json_t *previous = s_record_json (self, self->id);
    json_t *own = previous ? previous : json_object ();
    json_object_set_new (own, "id", json_string (self->id));
    json_object_set_new (own, "name", json_string (self->config->node.name));
    json_object_set_new (own, "software", json_string ("ocf " OCF_VERSION));
    json_object_set_new (own, "started_at", json_integer (ocf_time_wall_ms ()));
    json_t *labels = json_object_get (own, "labels");
    if (!json_is_object (labels))
        json_object_set_new (own, "labels", labels = json_object ());
    json_t *configured = s_config_labels (self);
    json_object_update (labels, configured);
    json_decref (configured);
    json_t *addr = json_object ();
    char *proxy = s_public_url (self, "http", self->config->proxyd.listen);
    char *gossip = s_public_url (self, "tcp", self->config->gossipd.bind);
    char *fabric = ocf_config_fabric (self->config) ? s_public_url (self, "https", self->config->proxyd.fabric_listen) : NULL;
    if (proxy)
        json_object_set_new (addr, "proxy", json_string (proxy));
    if (fabric)
        json_object_set_new (addr, "fabric", json_string (fabric));
    free (fabric);
    if (gossip)
        json_object_set_new (addr, "gossip", json_string (gossip));
    free (proxy);
    free (gossip);
    json_object_set_new (own, "addr", addr);
    if (!json_object_get (own, "services"))
        json_object_set_new (own, "services", json_array ());
    if (!json_object_get (own, "hardware"))
        json_object_set_new (own, "hardware", json_object ());
    self->generation = (uint64_t) ocf_store_meta_get (self->store, "generation", 0);
    if (ocf_store_begin (self->store) != 0) {
        snprintf (error, error_size, "cannot write table.db: %s", ocf_store_error (self->store));
        json_decref (own);
        return -1;
    }
    self->own = own;
    s_own_renew (self);
    self->boot = self->generation;
    ocf_store_meta_set (self->store, "tombstone_retention_ms", self->config->tabled.tombstone_retention_ms);
    if (self->batch_failed || ocf_store_commit (self->store) != 0) {
        snprintf (error, error_size, "cannot write table.db: %s",
                  self->batch_failed ? self->batch_error : ocf_store_error (self->store));
        return -1;
    }
    zlistx_purge (self->events);         //  nobody subscribed before we start
    return 0;
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
    collect->items = malloc ((ocf_table_size (self->table) + 1) * sizeof (ocf_entry_t *));
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
//  Verbs that write

static void
s_reply_own_version (ocf_tabled_t *self, zmsg_t *reply, int mask)
{
    s_reply_ok (reply, json_pack ("{s:I, s:I, s:b}", "generation", (json_int_t) self->generation,
                                  "version", json_integer_value (json_object_get (self->own, "version")),
                                  "changed", mask != 0));
}

//  Writes the candidate own record and answers: the new version, or why it was refused.
static void
s_own_write_reply (ocf_tabled_t *self, const char *verb, json_t *candidate, zmsg_t *reply)
{
    char error[512];
    int mask = s_own_write (self, candidate, error, sizeof error);
    if (mask < 0)
        s_reply_error (self, reply, "%s: %s", verb, error);
    else
        s_reply_own_version (self, reply, mask);
}

static void
s_self_set (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    static const char *settable[] = { "name", "addr", "hardware", "labels", NULL };
    json_t *candidate = json_copy (self->own);          //  top-level keys are replaced whole
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value) {
        if (strcmp (key, "v") == 0)
            continue;
        bool allowed = false;
        for (const char **name = settable; *name; name++)
            allowed |= strcmp (key, *name) == 0;
        if (!allowed) {
            json_decref (candidate);
            s_reply_error (self, reply, "SELF.SET: \"%s\" cannot be set (settable: name, addr, hardware, labels)", key);
            return;
        }
        if (json_is_null (value) && strcmp (key, "name") != 0)
            json_object_del (candidate, key);
        else
            json_object_set (candidate, key, value);
    }
    s_own_write_reply (self, "SELF.SET", candidate, reply);
}

static json_t *
s_own_services_without (ocf_tabled_t *self, const char *name)
{
    json_t *services = json_array ();
    size_t index;
    json_t *service;
    json_array_foreach (json_object_get (self->own, "services"), index, service)
        if (strcmp (json_string_value (json_object_get (service, "name")), name) != 0)
            json_array_append (services, service);
    return services;
}

static void
s_service_up (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *service = json_object_get (body, "service");
    char error[512];
    if (!service) {
        s_reply_error (self, reply, "SERVICE.UP: \"service\" is missing");
        return;
    }
    if (ocf_record_check_service (service, error, sizeof error) != 0) {
        s_reply_error (self, reply, "SERVICE.UP: %s", error);
        return;
    }
    //  Replace in place, so re-registering an unchanged service changes nothing.
    const char *name = json_string_value (json_object_get (service, "name"));
    json_t *ordered = json_array ();
    size_t index;
    json_t *item;
    bool placed = false;
    json_array_foreach (json_object_get (self->own, "services"), index, item) {
        bool same = strcmp (json_string_value (json_object_get (item, "name")), name) == 0;
        json_array_append (ordered, same ? service : item);
        placed |= same;
    }
    if (!placed)
        json_array_append (ordered, service);
    json_t *candidate = json_copy (self->own);
    json_object_set_new (candidate, "services", ordered);
    s_own_write_reply (self, "SERVICE.UP", candidate, reply);
}

static void
s_service_down (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    const char *name = json_string_value (json_object_get (body, "name"));
    if (!ocf_record_service_name_valid (name)) {
        s_reply_error (self, reply, "SERVICE.DOWN: \"name\" must be a service name");
        return;
    }
    json_t *candidate = json_copy (self->own);
    json_object_set_new (candidate, "services", s_own_services_without (self, name));
    s_own_write_reply (self, "SERVICE.DOWN", candidate, reply);
}

//  Load reports arrive every second or so per service: an unchanged report costs a lookup,
//  a changed one copies only the path to the changed load object.
static void
s_service_load (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    const char *name = json_string_value (json_object_get (body, "name"));
    json_t *load = json_object_get (body, "load");
    if (!ocf_record_service_name_valid (name) || !json_is_object (load)) {
        s_reply_error (self, reply, "SERVICE.LOAD: needs \"name\" (a service) and \"load\" (an object)");
        return;
    }
    json_t *services = json_object_get (self->own, "services");
    json_t *item, *service = NULL;
    size_t index, position = 0;
    json_array_foreach (services, index, item)
        if (strcmp (json_string_value (json_object_get (item, "name")), name) == 0) {
            service = item;
            position = index;
        }
    if (!service) {
        s_reply_error (self, reply, "SERVICE.LOAD: service %s is not registered on this node", name);
        return;
    }
    json_t *current = json_object_get (service, "load");
    bool changed = !json_is_object (current);
    const char *key;
    json_t *value;
    json_object_foreach (load, key, value)
        changed |= !json_equal (json_object_get (current, key), value);
    if (!changed) {
        s_reply_own_version (self, reply, 0);
        return;
    }
    json_t *new_load = json_is_object (current) ? json_copy (current) : json_object ();
    json_object_update (new_load, load);
    json_t *new_service = json_copy (service);
    json_object_set_new (new_service, "load", new_load);
    json_t *new_services = json_copy (services);
    json_array_set_new (new_services, position, new_service);
    json_t *candidate = json_copy (self->own);
    json_object_set_new (candidate, "services", new_services);
    s_own_write_reply (self, "SERVICE.LOAD", candidate, reply);
}

//  Checks every item of one MERGE array in place; fills parsed items. Returns -1 with error set.
typedef enum { KIND_ROW, KIND_MEMBER, KIND_TOMBSTONE } merge_kind_t;

static int
s_merge_parse (ocf_tabled_t *self, ocf_json_span_t array, const char *key, merge_kind_t kind, void **items_p,
               size_t *count_p, char *error, size_t error_size)
{
    *items_p = NULL;
    *count_p = 0;
    if (!array.len)
        return 0;
    if (ocf_json_type (array) != OCF_JSON_ARRAY) {
        snprintf (error, error_size, "\"%s\" must be an array", key);
        return -1;
    }
    size_t size = kind == KIND_ROW ? sizeof (ocf_row_in_t) : kind == KIND_MEMBER ? sizeof (ocf_member_in_t)
                                                             : sizeof (ocf_tombstone_in_t);
    size_t capacity = 16;
    char *items = malloc (capacity * size);
    ocf_json_iter_t iter = ocf_json_iter (array);
    ocf_json_span_t item;
    for (size_t index = 0; ocf_json_array_next (&iter, &item); index++) {
        if (index == capacity)
            items = realloc (items, (capacity *= 2) * size);
        *items_p = items;
        char problem[512];
        void *slot = items + index * size;
        int rc = kind == KIND_ROW ? ocf_record_parse_row_span (item, (size_t) self->config->tabled.max_record, slot, problem, sizeof problem)
               : kind == KIND_MEMBER ? ocf_record_parse_member_span (item, slot, problem, sizeof problem)
               : ocf_record_parse_tombstone_span (item, slot, problem, sizeof problem);
        if (rc != 0) {
            snprintf (error, error_size, "%s[%zu]: %s", key, index, problem);
            return -1;
        }
        *count_p = index + 1;
    }
    *items_p = items;
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
    self->refusals_unlogged++;
    int64_t now = ocf_time_mono_ms ();
    if (self->refusal_logged_at && now - self->refusal_logged_at < REFUSAL_LOG_MS)
        return;
    ocf_log_warning ("MERGE from %s: refused the %s of %s: %s (%" PRIu64 " refusal(s) since the last such line)",
                     result->from, what, id, why, self->refusals_unlogged);
    self->refusal_logged_at = now;
    self->refusals_unlogged = 0;
}

static void
s_merge_counted (ocf_tabled_t *self, const char *id, int mask, merge_result_t *result)
{
    if (mask) {
        result->applied++;
        s_changed (self, id, mask);
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

//  MERGE works on the request text: rows are checked in place and stored as they came,
//  without building a JSON tree (the costliest part of a merge otherwise).
static void
s_merge (ocf_tabled_t *self, ocf_json_span_t body, zmsg_t *reply)
{
    ocf_json_span_t arrays[3] = { { 0 } }, key, value;
    ocf_json_iter_t iter = ocf_json_iter (body);
    while (ocf_json_object_next (&iter, &key, &value))
        for (int kind = KIND_ROW; kind <= KIND_TOMBSTONE; kind++)
            if (ocf_json_string_is (key, (const char *[]) { "rows", "members", "tombstones" }[kind]))
                arrays[kind] = value;
    ocf_row_in_t *rows = NULL;
    ocf_member_in_t *members = NULL;
    ocf_tombstone_in_t *tombstones = NULL;
    size_t row_count = 0, member_count = 0, tombstone_count = 0;
    char error[600];
    //  Everything is checked before anything is applied: a bad item changes nothing.
    int rc = -1;
    if (!arrays[KIND_ROW].len && !arrays[KIND_MEMBER].len && !arrays[KIND_TOMBSTONE].len)
        snprintf (error, sizeof error, "needs \"rows\", \"members\" or \"tombstones\"");
    else
    if (s_merge_parse (self, arrays[KIND_ROW], "rows", KIND_ROW, (void **) &rows, &row_count, error, sizeof error) == 0
    &&  s_merge_parse (self, arrays[KIND_MEMBER], "members", KIND_MEMBER, (void **) &members, &member_count, error, sizeof error) == 0
    &&  s_merge_parse (self, arrays[KIND_TOMBSTONE], "tombstones", KIND_TOMBSTONE, (void **) &tombstones, &tombstone_count,
                       error, sizeof error) == 0)
        rc = 0;
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
        //  The signatures of the rows that would apply, on the verify threads while this one
        //  merges: each row is merged once it has its verdict, and this thread checks rows
        //  itself rather than wait for one. The rest are never checked.
        ocf_row_in_t **unchecked = malloc ((row_count + 1) * sizeof *unchecked);
        size_t unchecked_count = 0, next_unchecked = 0;
        for (size_t i = 0; i < row_count; i++)
            if (strcmp (rows[i].id, self->id) != 0 && ocf_table_row_applies (self->table, &rows[i]))
                unchecked[unchecked_count++] = &rows[i];
        ocf_verify_start (self->verify, unchecked, unchecked_count);
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
        free (unchecked);
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
            s_own_defend (self);
        self->stats.applied += result.applied;
        self->stats.stale += result.stale;
        s_reply_ok (reply, json_pack ("{s:I, s:I, s:I, s:I}", "applied", (json_int_t) result.applied,
                                      "stale", (json_int_t) result.stale, "refused", (json_int_t) result.refused,
                                      "ignored", (json_int_t) result.own_ignored));
    }
    else
        s_reply_error (self, reply, "MERGE: %s", error);
    for (size_t i = 0; i < row_count; i++)
        ocf_row_in_clear (&rows[i]);
    free (rows);
    free (members);
    free (tombstones);
}

static void
s_leave (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    ocf_tombstone_in_t tombstone = { .generation = self->generation, .reason = OCF_REASON_LEFT,
                                     .declared_at = ocf_time_wall_ms () };
    memcpy (tombstone.id, self->id, OCF_ID_SIZE);
    ocf_record_sign_tombstone (&tombstone, self->identity);
    self->source = "self";
    s_changed (self, self->id, ocf_table_merge_tombstone (self->table, &tombstone, tombstone.declared_at, NULL));
    json_t *announced = ocf_entry_tombstone_json (ocf_table_lookup (self->table, self->id));
    s_own_renew (self);
    ocf_log_notice ("left the cluster as generation %" PRIu64, tombstone.generation);
    s_reply_ok (reply, json_pack ("{s:o, s:I}", "tombstone", announced, "generation", (json_int_t) self->generation));
}

static void
s_self_renew (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    self->source = "self";
    s_own_renew (self);
    s_reply_ok (reply, json_pack ("{s:I}", "generation", (json_int_t) self->generation));
}

//  --------------------------------------------------------------------------
//  Verbs that read

static void
s_hello (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    s_reply_ok (reply, json_pack ("{s:s, s:s, s:I, s:I, s:I, s:s}", "id", self->id, "name", self->config->node.name,
                                  "generation", (json_int_t) self->generation, "boot", (json_int_t) self->boot,
                                  "seq", (json_int_t) self->seq, "software", "ocf " OCF_VERSION));
}

static void
s_get (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    const char *id = json_string_value (json_object_get (body, "id"));
    if (!id) {
        s_reply_error (self, reply, "GET: \"id\" is missing");
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

static void
s_list (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
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

static void
s_snapshot (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
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

static void
s_delta (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *ids = json_object_get (body, "ids");
    if (!json_is_array (ids) || json_array_size (ids) > DELTA_MAX_IDS) {
        s_reply_error (self, reply, "DELTA: \"ids\" must be an array of at most %d node ids", DELTA_MAX_IDS);
        return;
    }
    ocf_entry_t **entries = calloc (json_array_size (ids) + 1, sizeof *entries);
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

static void
s_digest (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *buckets = json_object_get (body, "bucket");
    if (buckets && (!json_is_array (buckets) || json_array_size (buckets) > OCF_BUCKETS)) {
        s_reply_error (self, reply, "DIGEST: \"bucket\" must be an array of at most 256 bucket numbers");
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
        record = s_record_json (query->self, entry->id);
        ocf_table_index_services (entry, record);
    }
    for (size_t i = 0; i < entry->service_count; i++) {
        if (!s_service_matches (&entry->services[i], query->service, query->identity, query->ready_only))
            continue;
        if (!record)
            record = s_record_json (query->self, entry->id);
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

static void
s_providers (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    providers_t query = { self, json_string_value (json_object_get (body, "service")),
                          json_string_value (json_object_get (body, "identity")),
                          !json_is_false (json_object_get (body, "ready")), json_array () };
    if (!ocf_record_service_name_valid (query.service)) {
        json_decref (query.providers);
        s_reply_error (self, reply, "PROVIDERS: \"service\" must be a service name");
        return;
    }
    ocf_table_foreach (self->table, s_providers_visit, &query);
    s_reply_ok (reply, json_pack ("{s:o}", "providers", query.providers));
}

static void
s_seen (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *ids = json_object_get (body, "ids");
    if (!json_is_array (ids)) {
        s_reply_error (self, reply, "SEEN: \"ids\" must be an array of node ids");
        return;
    }
    int64_t now = ocf_time_wall_ms ();
    size_t updated = 0, index;
    json_t *id;
    json_array_foreach (ids, index, id) {
        ocf_entry_t *entry = json_is_string (id) ? ocf_table_lookup (self->table, json_string_value (id)) : NULL;
        if (entry) {
            ocf_table_seen (self->table, entry->id, now);
            zhashx_update (self->seen_dirty, entry->id, self);     //  a set: any non-NULL item
            updated++;
        }
    }
    s_reply_ok (reply, json_pack ("{s:I}", "updated", (json_int_t) updated));
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

static void
s_stats (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
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
    json_t *counters = json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
        "requests", (json_int_t) self->stats.requests, "bad_requests", (json_int_t) self->stats.bad_requests,
        "errors", (json_int_t) self->stats.errors, "row_writes", (json_int_t) self->stats.writes,
        "commits", (json_int_t) self->stats.commits, "commit_failures", (json_int_t) self->stats.commit_failures,
        "merge_applied", (json_int_t) self->stats.applied, "merge_stale", (json_int_t) self->stats.stale,
        "events", (json_int_t) self->stats.events, "reaped", (json_int_t) self->stats.reaped,
        "compacted", (json_int_t) self->stats.compacted, "refutations", (json_int_t) self->stats.refutations,
        "rows_refused_signature", (json_int_t) self->stats.refused_signature,
        "tombstones_refused_live", (json_int_t) self->stats.refused_reaped);
    json_object_set_new (stats, "counters", counters);
    json_object_set_new (stats, "db_bytes", json_integer (ocf_store_file_size (self->store)));
    json_object_set_new (stats, "wal_bytes", json_integer (ocf_store_wal_size (self->store)));
    json_object_set_new (stats, "checkpoints", json_integer ((json_int_t) ocf_store_checkpoint_count (self->store)));
    s_reply_ok (reply, stats);
}

//  --------------------------------------------------------------------------

typedef void (verb_fn) (ocf_tabled_t *self, json_t *body, zmsg_t *reply);

static const struct {
    const char *verb;
    verb_fn *handler;
    bool writes;
} s_verbs[] = {
    { "HELLO", s_hello, false },
    { "SELF.SET", s_self_set, true },
    { "SELF.RENEW", s_self_renew, true },
    { "SERVICE.UP", s_service_up, true },
    { "SERVICE.DOWN", s_service_down, true },
    { "SERVICE.LOAD", s_service_load, true },
    { "MERGE", NULL, true },                    //  s_merge, on the request text
    { "LEAVE", s_leave, true },
    { "SEEN", s_seen, false },
    { "GET", s_get, false },
    { "LIST", s_list, false },
    { "PROVIDERS", s_providers, false },
    { "SNAPSHOT", s_snapshot, false },
    { "DIGEST", s_digest, false },
    { "DELTA", s_delta, false },
    { "STATS", s_stats, false },
};

void
ocf_tabled_handle (ocf_tabled_t *self, ocf_msg_t *request, zmsg_t *reply)
{
    self->stats.requests++;
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++) {
        if (strcmp (request->verb, s_verbs[i].verb) != 0)
            continue;
        char error[512];
        json_t *body = s_verbs[i].handler ? ocf_msg_body (request, error, sizeof error) : NULL;
        if (s_verbs[i].handler && !body) {
            s_reply_error (self, reply, "%s", error);
            return;
        }
        if (s_verbs[i].writes && ocf_store_begin (self->store) != 0) {
            s_reply_error (self, reply, "%s: table.db is busy or failing (%s); nothing was changed, retry",
                           request->verb, ocf_store_error (self->store));
            return;
        }
        self->source = "merge";
        if (s_verbs[i].handler)
            s_verbs[i].handler (self, body, reply);
        else
            s_merge (self, ocf_json_root (request->text, request->text_len, &request->index), reply);
        return;
    }
    s_reply_error (self, reply, "unknown verb %s (known: HELLO SELF.SET SELF.RENEW SERVICE.UP SERVICE.DOWN SERVICE.LOAD "
                                "MERGE LEAVE SEEN GET LIST PROVIDERS SNAPSHOT DIGEST DELTA STATS)", request->verb);
}

//  Rebuilds memory from disk after a failed commit: what the batch did is gone everywhere.
static void
s_reload (ocf_tabled_t *self)
{
    ocf_table_destroy (&self->table);
    self->table = ocf_table_new ();
    if (ocf_store_load (self->store, self->table) < 0)
        ocf_log_error ("reloading table.db failed: %s", ocf_store_error (self->store));
    self->generation = (uint64_t) ocf_store_meta_get (self->store, "generation", (int64_t) self->generation);
    json_t *own = s_record_json (self, self->id);
    if (own) {
        json_decref (self->own);
        self->own = own;
    }
}

int
ocf_tabled_commit (ocf_tabled_t *self)
{
    bool failed = self->batch_failed;
    if (!failed && ocf_store_in_transaction (self->store)) {
        if (ocf_store_commit (self->store) == 0)
            self->stats.commits++;
        else {
            failed = true;
            snprintf (self->batch_error, sizeof self->batch_error, "committing to table.db failed: %s",
                      ocf_store_error (self->store));
        }
    }
    if (failed) {
        ocf_store_rollback (self->store);
        self->stats.commit_failures++;
        ocf_log_error ("%s; the batch was rolled back and the table reloaded", self->batch_error);
        zlistx_purge (self->events);
        s_reload (self);
        self->batch_failed = false;
        return -1;
    }
    self->stats.events += zlistx_size (self->events);
    return 0;
}

json_t *
ocf_tabled_batch_error (ocf_tabled_t *self)
{
    return json_pack ("{s:s}", "error", self->batch_error);
}

zmsg_t *
ocf_tabled_pop_event (ocf_tabled_t *self)
{
    return zlistx_detach (self->events, NULL);
}

static void
s_flush_seen (ocf_tabled_t *self)
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

void
ocf_tabled_tick (ocf_tabled_t *self)
{
    int64_t now = ocf_time_mono_ms ();
    int64_t wall = ocf_time_wall_ms ();
    ocf_tabled_config_t *config = &self->config->tabled;
    if (now >= self->next_reap) {
        //  Reap checks run twenty times per reap_after, between once a second and once a minute.
        int64_t interval = config->reap_after_ms / 20;
        self->next_reap = now + (interval < 1000 ? 1000 : interval > 60000 ? 60000 : interval);
        if (ocf_store_begin (self->store) == 0) {
            self->source = "reap";
            size_t reaped = ocf_table_reap (self->table, wall, config->reap_after_ms, self->id, s_changed_callback, self);
            self->stats.reaped += reaped;
            if (reaped)
                ocf_log_info ("reaped %zu node(s) dead for longer than %" PRId64 " s", reaped, config->reap_after_ms / 1000);
        }
    }
    if (now >= self->next_compact) {
        int64_t interval = config->tombstone_retention_ms / 24;
        self->next_compact = now + (interval < 1000 ? 1000 : interval > 3600000 ? 3600000 : interval);
        if (ocf_store_begin (self->store) == 0) {
            self->source = "compact";
            size_t compacted = ocf_table_compact (self->table, wall, config->tombstone_retention_ms, QUARANTINE_MS,
                                                  COMPACT_BATCH, s_changed_callback, self);
            self->stats.compacted += compacted;
            if (compacted == COMPACT_BATCH)
                self->next_compact = now + 1000;     //  more are due: the next batch soon
            if (compacted)
                ocf_log_info ("compacted %zu tombstone(s) older than %" PRId64 " s", compacted,
                              config->tombstone_retention_ms / 1000);
        }
    }
    if (now >= self->next_seen_flush) {
        self->next_seen_flush = now + SEEN_FLUSH_MS;
        s_flush_seen (self);
    }
    ocf_tabled_commit (self);
}

//  --------------------------------------------------------------------------

ocf_tabled_t *
ocf_tabled_new (ocf_config_t *config, ocf_identity_t *identity, char *error, size_t error_size)
{
    ocf_tabled_t *self = calloc (1, sizeof *self);
    self->config = config;
    self->identity = identity;
    self->started_mono = ocf_time_mono_ms ();
    memcpy (self->id, ocf_identity_id (identity), OCF_ID_SIZE);
    self->events = zlistx_new ();
    zlistx_set_destructor (self->events, (zlistx_destructor_fn *) zmsg_destroy);
    self->seen_dirty = zhashx_new ();
    self->table = ocf_table_new ();
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->verify = ocf_verify_new (cores <= 1 ? 0 : cores > VERIFY_THREADS_MAX ? VERIFY_THREADS_MAX : (int) cores - 1);
    ocf_statedir_path (config->node.state_dir, OCF_STATE_TABLE_DB, self->db_path, sizeof self->db_path);
    self->store = ocf_store_open (self->db_path, error, error_size);
    if (!self->store) {
        ocf_tabled_destroy (&self);
        return NULL;
    }
    long loaded = ocf_store_load (self->store, self->table);
    if (loaded < 0) {
        snprintf (error, error_size, "cannot load %s: %s", self->db_path, ocf_store_error (self->store));
        ocf_tabled_destroy (&self);
        return NULL;
    }
    if (s_own_start (self, error, error_size) != 0
    ||  ocf_store_start_checkpoints (self->store, config->tabled.checkpoint_interval_ms) != 0) {
        if (!*error)
            snprintf (error, error_size, "%s", ocf_store_error (self->store));
        ocf_tabled_destroy (&self);
        return NULL;
    }
    ocf_log_info ("loaded %ld entries from %s; this node is %s, generation %" PRIu64, loaded, self->db_path,
                  self->id, self->generation);
    return self;
}

void
ocf_tabled_destroy (ocf_tabled_t **self_p)
{
    ocf_tabled_t *self = *self_p;
    if (!self)
        return;
    if (self->store) {
        s_flush_seen (self);
        ocf_store_commit (self->store);
    }
    ocf_store_destroy (&self->store);
    ocf_table_destroy (&self->table);
    ocf_verify_destroy (&self->verify);
    zlistx_destroy (&self->events);
    zhashx_destroy (&self->seen_dirty);
    json_decref (self->own);
    free (self);
    *self_p = NULL;
}

ocf_table_t *ocf_tabled_table (ocf_tabled_t *self) { return self->table; }
uint64_t ocf_tabled_generation (ocf_tabled_t *self) { return self->generation; }

void
ocf_tabled_count_bad_request (ocf_tabled_t *self)
{
    self->stats.requests++;
    self->stats.bad_requests++;
    self->stats.errors++;
}

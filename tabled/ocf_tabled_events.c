/*  ocf_tabled_events: every change to the table, as one place sees it: persisted inside the
    batch's open transaction, then framed as events ([topic][json]: row, status, tombstone,
    seen, rtt, each with seq, boot and source) and queued until the batch is committed. The record text
    then leaves memory: SQLite holds it.  */
#include "ocf_tabled_internal.h"

#include <inttypes.h>

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
void
ocf_tabled_changed (ocf_tabled_t *self, const char *id, int mask)
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
        size_t lens[] = { ocf_row_head (entry->generation, &entry->member, entry, entry->sig, head),
                          entry->record_len - 1 };
        s_event (self, "row", "row", parts, lens, 2);
    }
    else
    if (mask & OCF_CHANGED_MEMBER && entry && entry->has_member)
        s_event_json (self, "status", "member", ocf_entry_member_json (entry));
    if (entry)
        ocf_table_evict_record (entry);
}

void
ocf_tabled_seen_event (ocf_tabled_t *self, json_t *seen)
{
    s_event_json (self, "seen", "seen", seen);
}

void
ocf_tabled_rtt_event (ocf_tabled_t *self, json_t *rtt)
{
    s_event_json (self, "rtt", "rtt", rtt);
}

zmsg_t *
ocf_tabled_pop_event (ocf_tabled_t *self)
{
    return zlistx_detach (self->events, NULL);
}

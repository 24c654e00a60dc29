/*  ocf_table: CRDT node table with incremental digests.  */
#include "ocf_table.h"
#include "ocf_alloc.h"
#include "ocf_hash.h"

#include <czmq.h>
#include <inttypes.h>

typedef struct {
    uint64_t generation;
    int64_t until;
} quarantine_t;

struct _ocf_table_t {
    zhashx_t *entries;           //  id -> ocf_entry_t
    zhashx_t *quarantine;        //  id -> quarantine_t, after compaction
    uint64_t buckets[OCF_BUCKETS];
    size_t bucket_sizes[OCF_BUCKETS];
    ocf_entry_t *bucket_heads[OCF_BUCKETS];
    size_t record_count;
    size_t tombstone_count;
    bool root_valid;
    uint64_t root;
    const char *refusal;
};

//  --------------------------------------------------------------------------
//  Entries

static void
s_services_free (ocf_entry_t *entry)
{
    for (size_t i = 0; i < entry->service_count; i++) {
        ocf_service_index_t *service = &entry->services[i];
        for (size_t g = 0; g < service->group_count; g++)
            free (service->groups[g]);
        free (service->groups);
        free (service->name);
    }
    free (entry->services);
    entry->services = NULL;
    entry->service_count = 0;
    entry->services_indexed = false;
}

//  The record was validated on the way in, so only the shape needed here is checked.
void
ocf_table_index_services (ocf_entry_t *entry, json_t *record)
{
    if (entry->services_indexed)
        return;
    s_services_free (entry);
    json_t *parsed = !record && entry->record ? json_loadb (entry->record, entry->record_len, 0, NULL) : NULL;
    if (parsed)
        record = parsed;
    json_t *services = json_object_get (record, "services");
    size_t count = json_array_size (services);
    if (count)
        entry->services = ocf_calloc (count, sizeof *entry->services);
    for (size_t i = 0; i < count; i++) {
        json_t *service = json_array_get (services, i);
        ocf_service_index_t *index = &entry->services[entry->service_count++];
        index->name = ocf_strdup (json_string_value (json_object_get (service, "name")));
        const char *status = json_string_value (json_object_get (service, "status"));
        index->ready = !status || strcmp (status, "ready") == 0;
        json_t *groups = json_object_get (service, "identity_group");
        index->group_count = json_array_size (groups);
        index->groups = ocf_calloc (index->group_count ? index->group_count : 1, sizeof (char *));
        for (size_t g = 0; g < index->group_count; g++)
            index->groups[g] = ocf_strdup (json_string_value (json_array_get (groups, g)));
    }
    entry->services_indexed = true;
    json_decref (parsed);
}

static void
s_record_free (ocf_entry_t *entry)
{
    s_services_free (entry);
    free (entry->record);
    free (entry->name);
    entry->record = NULL;
    entry->name = NULL;
    entry->record_len = 0;
    entry->has_record = false;
}

void
ocf_table_evict_record (ocf_entry_t *entry)
{
    free (entry->record);
    entry->record = NULL;
}

static void
s_entry_free (void **item)
{
    ocf_entry_t *entry = *item;
    if (entry) {
        s_record_free (entry);
        free (entry);
        *item = NULL;
    }
}

static uint64_t
s_entry_hash (const ocf_entry_t *entry)
{
    uint64_t h = ocf_hash64 (entry->id, OCF_ID_SIZE - 1, 0x6f6366);
    if (entry->has_record) {
        h = ocf_hash_u64 (h, 1);
        h = ocf_hash_u64 (h, entry->generation);
        h = ocf_hash_u64 (h, entry->version);
        h = ocf_hash_u64 (h, entry->content_hash);
    }
    if (entry->has_member) {
        h = ocf_hash_u64 (h, 2);
        h = ocf_hash_u64 (h, entry->member.generation);
        h = ocf_hash_u64 (h, entry->member.incarnation);
        h = ocf_hash_u64 (h, entry->member.status);
    }
    if (entry->has_tombstone) {
        h = ocf_hash_u64 (h, 3);
        h = ocf_hash_u64 (h, entry->tomb_generation);
        h = ocf_hash_u64 (h, entry->tomb_reason);
        h = ocf_hash_u64 (h, (uint64_t) entry->tomb_declared_at);
    }
    return h;
}

unsigned
ocf_table_bucket_of (const char *id)
{
    return (unsigned) (ocf_hash64 (id, strlen (id), 0x6275636b6574ULL) >> 56);
}

static void
s_bucket_link (ocf_table_t *self, ocf_entry_t *entry)
{
    entry->bucket_prev = NULL;
    entry->bucket_next = self->bucket_heads[entry->bucket];
    if (entry->bucket_next)
        entry->bucket_next->bucket_prev = entry;
    self->bucket_heads[entry->bucket] = entry;
    self->bucket_sizes[entry->bucket]++;
}

static void
s_bucket_unlink (ocf_table_t *self, ocf_entry_t *entry)
{
    if (entry->bucket_prev)
        entry->bucket_prev->bucket_next = entry->bucket_next;
    else
        self->bucket_heads[entry->bucket] = entry->bucket_next;
    if (entry->bucket_next)
        entry->bucket_next->bucket_prev = entry->bucket_prev;
    self->bucket_sizes[entry->bucket]--;
}

//  --------------------------------------------------------------------------
//  Orders

static int
s_record_compare (const ocf_entry_t *entry, const ocf_row_in_t *row)
{
    if (row->generation != entry->generation)
        return row->generation > entry->generation ? 1 : -1;
    if (row->version != entry->version)
        return row->version > entry->version ? 1 : -1;
    //  Same (generation, version) with other content only happens to a misbehaving owner;
    //  any deterministic choice keeps replicas identical. Equal 64-bit hashes count as equal
    //  content (a collision chance of 2^-64 per such tie).
    if (row->content_hash != entry->content_hash)
        return row->content_hash > entry->content_hash ? 1 : -1;
    return 0;
}

static bool
s_tombstone_greater (const ocf_tombstone_in_t *candidate, const ocf_entry_t *entry)
{
    if (!entry->has_tombstone)
        return true;
    if (candidate->generation != entry->tomb_generation)
        return candidate->generation > entry->tomb_generation;
    if (candidate->reason != entry->tomb_reason)
        return candidate->reason > entry->tomb_reason;
    //  The earliest declaration wins, so every replica compacts at the same moment.
    return candidate->declared_at < entry->tomb_declared_at;
}

//  Whether merging the row would change the record or the membership (quarantine aside).
//  Either needs the row's signature: a row is taken whole or not at all, so that a forged
//  copy of a record held (its membership altered) does nothing in any order of arrival.
static bool
s_row_applies (const ocf_entry_t *entry, const ocf_row_in_t *row)
{
    uint64_t floor = entry->has_tombstone ? entry->tomb_generation : 0;
    bool record = row->generation > floor && (!entry->has_record || s_record_compare (entry, row) > 0);
    bool member = row->has_member && row->member.generation > floor
               && (!entry->has_member || ocf_member_compare (&row->member, &entry->member) > 0);
    return record || member;
}

bool
ocf_table_row_applies (ocf_table_t *self, const ocf_row_in_t *row)
{
    ocf_entry_t *entry = zhashx_lookup (self->entries, row->id);
    return !entry || s_row_applies (entry, row);
}

//  An input's signature, checked when its state is still unknown.
static bool
s_signature_good (const ocf_row_in_t *row, const ocf_tombstone_in_t *tombstone)
{
    ocf_sig_state_t state = row ? row->sig_state : tombstone->sig_state;
    if (state == OCF_SIG_UNCHECKED)
        return row ? ocf_record_verify_row (row) : ocf_record_verify_tombstone (tombstone);
    return state == OCF_SIG_GOOD;
}

//  --------------------------------------------------------------------------
//  The one merge every input goes through

static int
s_merge (ocf_table_t *self, const char *id, const ocf_row_in_t *row, const ocf_member_t *member,
         const ocf_tombstone_in_t *tombstone, int64_t now, ocf_entry_t **entry_p)
{
    if (entry_p)
        *entry_p = NULL;
    self->refusal = "stale";
    uint64_t arriving_generation = row ? row->generation : member ? member->generation : 0;
    quarantine_t *quarantined = arriving_generation ? zhashx_lookup (self->quarantine, id) : NULL;
    if (quarantined && arriving_generation <= quarantined->generation && now < quarantined->until) {
        self->refusal = "quarantined";
        return 0;
    }
    ocf_entry_t *entry = zhashx_lookup (self->entries, id);
    bool created = false;
    if (!entry) {
        entry = ocf_calloc (1, sizeof *entry);
        memcpy (entry->id, id, OCF_ID_SIZE);
        entry->bucket = (uint8_t) ocf_table_bucket_of (id);
        created = true;
    }
    //  Verified only now that it would change something: a copy of what we hold, or an older
    //  one, costs no verification. A bad signature refuses the whole input, membership too.
    bool applies = row ? s_row_applies (entry, row)
                 : tombstone && tombstone->reason == OCF_REASON_LEFT && s_tombstone_greater (tombstone, entry);
    if (applies && !s_signature_good (row, tombstone)) {
        self->refusal = "signature";
        if (created)
            s_entry_free ((void **) &entry);
        else
        if (entry_p)
            *entry_p = entry;
        return 0;
    }
    int mask = 0;
    ocf_member_t old_member = entry->member;
    bool had_member = entry->has_member;

    if (tombstone && s_tombstone_greater (tombstone, entry)) {
        if (!entry->has_tombstone)
            self->tombstone_count++;
        entry->has_tombstone = true;
        entry->tomb_generation = tombstone->generation;
        entry->tomb_reason = tombstone->reason;
        entry->tomb_declared_at = tombstone->declared_at;
        entry->tomb_has_sig = tombstone->has_sig;
        memcpy (entry->tomb_sig, tombstone->sig, OCF_SIGNATURE_BYTES);
        mask |= OCF_CHANGED_TOMBSTONE;
    }
    uint64_t floor = entry->has_tombstone ? entry->tomb_generation : 0;
    if (row && row->generation <= floor)
        self->refusal = "tombstoned";
    else
    if (row) {
        int order = entry->has_record ? s_record_compare (entry, row) : 1;
        if (order > 0) {
            if (!entry->has_record)
                self->record_count++;
            s_record_free (entry);
            entry->has_record = true;
            //  A row without text (loaded from disk) carries only what merging needs.
            if (row->record) {
                entry->record = ocf_malloc (row->record_len + 1);
                memcpy (entry->record, row->record, row->record_len + 1);
            }
            entry->record_len = row->record_len;
            entry->name = ocf_strdup (row->name);
            entry->generation = row->generation;
            entry->version = row->version;
            entry->content_hash = row->content_hash;
            memcpy (entry->sig, row->sig, OCF_SIGNATURE_BYTES);
            mask |= OCF_CHANGED_RECORD;
        }
        else
        if (order == 0)
            self->refusal = "duplicate";
    }
    if (member && member->generation <= floor)
        self->refusal = "tombstoned";
    else
    if (member && (!entry->has_member || ocf_member_compare (member, &entry->member) > 0)) {
        entry->member = *member;
        entry->has_member = true;
    }
    //  Membership never falls below the record's generation: a new generation starts alive.
    if (entry->has_record && (!entry->has_member || entry->member.generation < entry->generation)) {
        entry->member = (ocf_member_t) { entry->generation, 0, OCF_STATUS_ALIVE };
        entry->has_member = true;
    }
    //  The tombstone removes everything at or below its generation.
    if (entry->has_record && entry->generation <= floor) {
        s_record_free (entry);
        self->record_count--;
        mask |= OCF_CHANGED_RECORD;
    }
    if (entry->has_member && entry->member.generation <= floor)
        entry->has_member = false;
    if (entry->has_member != had_member || (had_member && ocf_member_compare (&old_member, &entry->member) != 0)) {
        mask |= OCF_CHANGED_MEMBER;
        if (!had_member || !entry->has_member || old_member.status != entry->member.status
        ||  old_member.generation != entry->member.generation)
            entry->status_since = now;
    }
    if (mask == 0) {
        if (created)
            s_entry_free ((void **) &entry);
        else
        if (entry_p)
            *entry_p = entry;
        return 0;
    }
    self->root_valid = false;
    if (!created) {
        self->buckets[entry->bucket] ^= entry->hash;
        s_bucket_unlink (self, entry);
    }
    if (!entry->has_record && !entry->has_member && !entry->has_tombstone) {
        if (!created)
            zhashx_delete (self->entries, id);      //  frees the entry
        else
            s_entry_free ((void **) &entry);
        return mask | OCF_CHANGED_REMOVED;
    }
    entry->hash = s_entry_hash (entry);
    self->buckets[entry->bucket] ^= entry->hash;
    s_bucket_link (self, entry);
    if (created)
        zhashx_insert (self->entries, id, entry);
    if (entry_p)
        *entry_p = entry;
    return mask;
}

int
ocf_table_merge_row (ocf_table_t *self, const ocf_row_in_t *row, int64_t now, ocf_entry_t **entry_p)
{
    return s_merge (self, row->id, row, row->has_member ? &row->member : NULL, NULL, now, entry_p);
}

int
ocf_table_merge_member (ocf_table_t *self, const ocf_member_in_t *member, int64_t now, ocf_entry_t **entry_p)
{
    return s_merge (self, member->id, NULL, &member->member, NULL, now, entry_p);
}

int
ocf_table_merge_tombstone (ocf_table_t *self, const ocf_tombstone_in_t *tombstone, int64_t now, ocf_entry_t **entry_p)
{
    return s_merge (self, tombstone->id, NULL, NULL, tombstone, now, entry_p);
}

const char *
ocf_table_last_refusal (ocf_table_t *self)
{
    return self->refusal;
}

//  --------------------------------------------------------------------------

ocf_table_t *
ocf_table_new (void)
{
    ocf_table_t *self = ocf_calloc (1, sizeof *self);
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, s_entry_free);
    self->quarantine = zhashx_new ();
    zhashx_set_destructor (self->quarantine, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
ocf_table_destroy (ocf_table_t **self_p)
{
    ocf_table_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->entries);
    zhashx_destroy (&self->quarantine);
    free (self);
    *self_p = NULL;
}

ocf_entry_t *
ocf_table_lookup (ocf_table_t *self, const char *id)
{
    return zhashx_lookup (self->entries, id);
}

size_t ocf_table_size (ocf_table_t *self) { return zhashx_size (self->entries); }
size_t ocf_table_record_count (ocf_table_t *self) { return self->record_count; }
size_t ocf_table_tombstone_count (ocf_table_t *self) { return self->tombstone_count; }

uint64_t
ocf_table_root_of (const uint64_t buckets[OCF_BUCKETS])
{
    unsigned char bytes[OCF_BUCKETS * 8];
    for (int b = 0; b < OCF_BUCKETS; b++)
        for (int i = 0; i < 8; i++)
            bytes[b * 8 + i] = (unsigned char) (buckets[b] >> (8 * i));
    return ocf_hash64 (bytes, sizeof bytes, 0x726f6f74);
}

uint64_t
ocf_table_root (ocf_table_t *self)
{
    if (!self->root_valid) {
        self->root = ocf_table_root_of (self->buckets);
        self->root_valid = true;
    }
    return self->root;
}

uint64_t ocf_table_bucket_hash (ocf_table_t *self, unsigned bucket) { return self->buckets[bucket & 255]; }
size_t ocf_table_bucket_size (ocf_table_t *self, unsigned bucket) { return self->bucket_sizes[bucket & 255]; }
ocf_entry_t *ocf_table_bucket_first (ocf_table_t *self, unsigned bucket) { return self->bucket_heads[bucket & 255]; }

void
ocf_table_foreach (ocf_table_t *self, bool (*visit) (ocf_entry_t *entry, void *arg), void *arg)
{
    for (int b = 0; b < OCF_BUCKETS; b++)
        for (ocf_entry_t *entry = self->bucket_heads[b], *next; entry; entry = next) {
            next = entry->bucket_next;
            if (!visit (entry, arg))
                return;
        }
}

void
ocf_table_seen (ocf_table_t *self, const char *id, int64_t now)
{
    ocf_entry_t *entry = zhashx_lookup (self->entries, id);
    if (entry && now > entry->last_alive)
        entry->last_alive = now;
}

size_t
ocf_table_reap (ocf_table_t *self, int64_t now, int64_t reap_after, const char *skip_id,
                void (*changed) (const char *id, int mask, void *arg), void *arg)
{
    //  Collect first: merging a tombstone may free the entry we are standing on.
    zlistx_t *due = zlistx_new ();
    zlistx_set_destructor (due, (zlistx_destructor_fn *) zstr_free);
    for (int b = 0; b < OCF_BUCKETS; b++)
        for (ocf_entry_t *entry = self->bucket_heads[b]; entry; entry = entry->bucket_next)
            if (entry->has_member && entry->member.status == OCF_STATUS_DEAD
            &&  now - entry->status_since >= reap_after && (!skip_id || strcmp (entry->id, skip_id) != 0))
                zlistx_add_end (due, ocf_strdup (entry->id));
    size_t reaped = 0;
    for (char *id = zlistx_first (due); id; id = zlistx_next (due)) {
        ocf_entry_t *entry = zhashx_lookup (self->entries, id);
        ocf_tombstone_in_t tombstone = { .generation = entry->member.generation, .reason = OCF_REASON_REAPED,
                                         .declared_at = now };
        memcpy (tombstone.id, id, OCF_ID_SIZE);
        int mask = ocf_table_merge_tombstone (self, &tombstone, now, NULL);
        if (mask) {
            reaped++;
            if (changed)
                changed (id, mask, arg);
        }
    }
    zlistx_destroy (&due);
    return reaped;
}

size_t
ocf_table_compact (ocf_table_t *self, int64_t now, int64_t retention, int64_t quarantine, size_t max,
                   void (*changed) (const char *id, int mask, void *arg), void *arg)
{
    //  Forget expired quarantines first.
    zlistx_t *expired = zlistx_new ();
    for (quarantine_t *q = zhashx_first (self->quarantine); q; q = zhashx_next (self->quarantine))
        if (q->until <= now)
            zlistx_add_end (expired, (void *) zhashx_cursor (self->quarantine));
    for (const char *id = zlistx_first (expired); id; id = zlistx_next (expired))
        zhashx_delete (self->quarantine, id);
    zlistx_destroy (&expired);

    size_t compacted = 0;
    for (int b = 0; b < OCF_BUCKETS && compacted < max; b++)
        for (ocf_entry_t *entry = self->bucket_heads[b], *next; entry && compacted < max; entry = next) {
            next = entry->bucket_next;
            if (!entry->has_tombstone || entry->tomb_declared_at + retention > now)
                continue;
            quarantine_t *q = zhashx_lookup (self->quarantine, entry->id);
            if (!q) {
                q = ocf_calloc (1, sizeof *q);
                zhashx_insert (self->quarantine, entry->id, q);
            }
            q->generation = entry->tomb_generation > q->generation ? entry->tomb_generation : q->generation;
            q->until = now + quarantine;
            char id[OCF_ID_SIZE];
            memcpy (id, entry->id, OCF_ID_SIZE);
            self->root_valid = false;
            self->buckets[entry->bucket] ^= entry->hash;
            entry->has_tombstone = false;
            self->tombstone_count--;
            compacted++;
            int mask = OCF_CHANGED_TOMBSTONE;
            if (!entry->has_record && !entry->has_member) {
                s_bucket_unlink (self, entry);
                zhashx_delete (self->entries, id);
                mask |= OCF_CHANGED_REMOVED;
            }
            else {
                entry->hash = s_entry_hash (entry);
                self->buckets[entry->bucket] ^= entry->hash;
            }
            if (changed)
                changed (id, mask, arg);
        }
    return compacted;
}

//  --------------------------------------------------------------------------
//  JSON views

bool
ocf_entry_live (const ocf_entry_t *entry)
{
    return entry->has_record && entry->has_member
        && (entry->member.status == OCF_STATUS_ALIVE || entry->member.status == OCF_STATUS_SUSPECT);
}

ocf_defense_t
ocf_entry_defense (const ocf_entry_t *entry, uint64_t generation, ocf_member_t *refute)
{
    if (!entry || !entry->has_record || entry->generation < generation
    ||  (entry->has_member && entry->member.generation > generation))
        return OCF_DEFENSE_RENEW;
    if (entry->has_member && entry->member.generation == generation && entry->member.status != OCF_STATUS_ALIVE) {
        *refute = (ocf_member_t) { generation, entry->member.incarnation + 1, OCF_STATUS_ALIVE };
        return OCF_DEFENSE_REFUTE;
    }
    return OCF_DEFENSE_NONE;
}

uint64_t
ocf_entry_next_generation (const ocf_entry_t *entry, uint64_t current)
{
    uint64_t next = current + 1;
    if (entry && entry->has_tombstone && entry->tomb_generation >= next)
        next = entry->tomb_generation + 1;
    if (entry && entry->has_member && entry->member.generation >= next)
        next = entry->member.generation + 1;
    if (entry && entry->has_record && entry->generation >= next)
        next = entry->generation + 1;
    return next;
}

size_t
ocf_row_head (uint64_t generation, const ocf_member_t *member, const ocf_entry_t *local,
              const uint8_t sig[OCF_SIGNATURE_BYTES], char head[OCF_ROW_HEAD_MAX])
{
    int len = snprintf (head, OCF_ROW_HEAD_MAX, "{\"incarnation\":%" PRIu64 ",\"status\":\"%s\",",
                        member->incarnation, ocf_status_name (member->status));
    if (member->generation != generation)
        len += snprintf (head + len, OCF_ROW_HEAD_MAX - (size_t) len, "\"status_generation\":%" PRIu64 ",", member->generation);
    if (local && local->last_alive)
        len += snprintf (head + len, OCF_ROW_HEAD_MAX - (size_t) len, "\"last_alive\":%" PRId64 ",", local->last_alive);
    if (local && local->has_rtt)
        len += snprintf (head + len, OCF_ROW_HEAD_MAX - (size_t) len, "\"rtt_ms\":%.2f,", local->rtt_ms);
    char text[OCF_SIGNATURE_TEXT_LEN + 1];
    ocf_record_sig_text (sig, text);
    len += snprintf (head + len, OCF_ROW_HEAD_MAX - (size_t) len, "\"sig\":\"%s\",", text);
    return (size_t) len;
}

char *
ocf_row_json (const char *record, size_t record_len, uint64_t generation, const ocf_member_t *member,
              const ocf_entry_t *local, const uint8_t sig[OCF_SIGNATURE_BYTES])
{
    //  The record is a JSON object: membership fields are spliced in front of its first key
    //  rather than parsing and re-serializing the whole record.
    char head[OCF_ROW_HEAD_MAX];
    size_t len = ocf_row_head (generation, member, local, sig, head);
    char *json = ocf_malloc (len + record_len);
    memcpy (json, head, len);
    memcpy (json + len, record + 1, record_len);          //  includes the NUL
    return json;
}

char *
ocf_entry_row_json (const ocf_entry_t *entry, bool with_local)
{
    if (!entry->has_record || !entry->record)
        return NULL;
    return ocf_row_json (entry->record, entry->record_len, entry->generation, &entry->member,
                         with_local ? entry : NULL, entry->sig);
}

json_t *
ocf_entry_member_json (const ocf_entry_t *entry)
{
    if (!entry->has_member)
        return NULL;
    return json_pack ("{s:s, s:I, s:I, s:s}", "id", entry->id, "generation", (json_int_t) entry->member.generation,
                      "incarnation", (json_int_t) entry->member.incarnation,
                      "status", ocf_status_name (entry->member.status));
}

json_t *
ocf_entry_tombstone_json (const ocf_entry_t *entry)
{
    if (!entry->has_tombstone)
        return NULL;
    json_t *tombstone = json_pack ("{s:s, s:I, s:s, s:I}", "id", entry->id, "generation", (json_int_t) entry->tomb_generation,
                                   "reason", ocf_reason_name (entry->tomb_reason),
                                   "declared_at", (json_int_t) entry->tomb_declared_at);
    if (entry->tomb_has_sig) {
        char text[OCF_SIGNATURE_TEXT_LEN + 1];
        ocf_record_sig_text (entry->tomb_sig, text);
        json_object_set_new (tombstone, "sig", json_string (text));
    }
    return tombstone;
}

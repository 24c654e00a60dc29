/*  sim_table: copy-on-write replicas of the real ocf_table for the simulator.  */
#include "sim_table.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A row's fields other than its record: membership, the signature and their JSON.
#define ROW_HEAD_BYTES 140

struct _sim_table_t {
    const sim_base_t *base;
    const sim_universe_t *universe;
    size_t self;
    uint64_t generation;         //  the generation this node runs, as tabled's
    ocf_table_t *overlay;        //  entries this replica changed; NULL until the first
    uint64_t shadowed[OCF_BUCKETS];   //  per bucket, XOR of the base hashes the overlay replaces
    size_t shadowed_count;
    bool root_valid;
    uint64_t root;
    ocf_members_t *view;
    bool view_shared;
};

//  --------------------------------------------------------------------------
//  Universe

static uint64_t
s_splitmix (uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int
s_id_compare (const void *a, const void *b)
{
    return strcmp (a, b);
}

sim_universe_t *
sim_universe_new (size_t count, uint64_t seed)
{
    sim_universe_t *self = calloc (1, sizeof *self);
    self->count = count;
    self->ids = calloc (count, OCF_ID_SIZE);
    self->identities = calloc (count, sizeof *self->identities);
    //  Keys from the seed, so that a run's ids (its ring) are the same every time.
    ocf_identity_t **made = calloc (count, sizeof *made);
    uint64_t state = seed;
    for (size_t i = 0; i < count; i++) {
        uint8_t key_seed[32];
        for (size_t byte = 0; byte < sizeof key_seed; byte += 8) {
            uint64_t random = s_splitmix (&state);
            memcpy (key_seed + byte, &random, 8);
        }
        made[i] = ocf_identity_new_from_seed (key_seed);
        memcpy (self->ids[i], ocf_identity_id (made[i]), OCF_ID_SIZE);
    }
    qsort (self->ids, count, OCF_ID_SIZE, s_id_compare);
    for (size_t i = 0; i < count; i++)
        self->identities[sim_universe_find (self, ocf_identity_id (made[i]))] = made[i];
    free (made);
    self->buckets = malloc (count + 1);
    self->members = malloc ((count + 1) * sizeof *self->members);
    size_t sizes[256] = { 0 };
    for (size_t i = 0; i < count; i++) {
        self->buckets[i] = (uint8_t) ocf_table_bucket_of (self->ids[i]);
        sizes[self->buckets[i]]++;
    }
    for (int b = 0; b < 256; b++)
        self->bucket_start[b + 1] = self->bucket_start[b] + sizes[b];
    size_t fill[256];
    memcpy (fill, self->bucket_start, sizeof fill);
    for (size_t i = 0; i < count; i++)
        self->members[fill[self->buckets[i]]++] = (uint32_t) i;
    return self;
}

void
sim_universe_destroy (sim_universe_t **self_p)
{
    sim_universe_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        ocf_identity_destroy (&self->identities[i]);
    free (self->identities);
    free (self->ids);
    free (self->buckets);
    free (self->members);
    free (self);
    *self_p = NULL;
}

long
sim_universe_find (const sim_universe_t *self, const char *id)
{
    char (*found)[OCF_ID_SIZE] = bsearch (id, self->ids, self->count, OCF_ID_SIZE, s_id_compare);
    return found ? (long) (found - self->ids) : -1;
}

//  --------------------------------------------------------------------------
//  Rows, signed by their node as tabled signs its own

//  Merges a new version of node index's record into table (signed with its key), padded
//  so that the row is about row_size bytes.
static void
s_merge_own_row (ocf_table_t *table, const sim_universe_t *universe, size_t index, uint64_t generation,
                 uint64_t version, size_t row_size)
{
    char name[32];
    snprintf (name, sizeof name, "sim-%zu", index);
    json_t *record = json_pack ("{s:s, s:s, s:I, s:I}", "id", universe->ids[index], "name", name,
                                "generation", (json_int_t) generation, "version", (json_int_t) version);
    char *text = json_dumps (record, JSON_COMPACT);
    size_t natural = strlen (text) + ROW_HEAD_BYTES + sizeof ",\"pad\":\"\"" - 1;
    free (text);
    if (row_size > natural) {
        size_t pad = row_size - natural;
        char *padding = malloc (pad + 1);
        memset (padding, 'x', pad);
        padding[pad] = '\0';
        json_object_set_new (record, "pad", json_string (padding));
        free (padding);
    }
    ocf_row_in_t row;
    char error[256];
    if (ocf_record_parse_row (record, SIM_ROW_MAX, &row, error, sizeof error) != 0) {
        fprintf (stderr, "sim_table: a row of its own is invalid: %s\n", error);
        abort ();
    }
    json_decref (record);
    ocf_record_sign_row (&row, universe->identities[index]);
    ocf_table_merge_row (table, &row, 0, NULL);
    ocf_row_in_clear (&row);
}

//  --------------------------------------------------------------------------
//  Base

sim_base_t *
sim_base_new (const sim_universe_t *universe, size_t members, size_t row_size)
{
    sim_base_t *self = calloc (1, sizeof *self);
    self->universe = universe;
    self->table = ocf_table_new ();
    self->row_size = row_size > SIM_ROW_MAX / 2 ? SIM_ROW_MAX / 2 : row_size;
    for (size_t i = 0; i < members && i < universe->count; i++)
        s_merge_own_row (self->table, universe, i, 1, 1, self->row_size);
    return self;
}

void
sim_base_destroy (sim_base_t **self_p)
{
    sim_base_t *self = *self_p;
    if (!self)
        return;
    ocf_table_destroy (&self->table);
    free (self);
    *self_p = NULL;
}

static bool
s_view_add (ocf_entry_t *entry, void *arg)
{
    if (entry->has_record && entry->has_member)
        ocf_members_set (arg, entry->id, entry->member.generation, entry->member.incarnation, entry->member.status, NULL);
    return true;
}

ocf_members_t *
sim_base_view (const sim_base_t *base)
{
    ocf_members_t *view = ocf_members_new ();
    ocf_table_foreach (base->table, s_view_add, view);
    return view;
}

//  --------------------------------------------------------------------------
//  Copy on write

//  What this replica holds of an id: its own copy, else the base's. The overlay never drops
//  an entry it copied (the simulator neither reaps nor compacts), so a miss means the base.
static ocf_entry_t *
s_lookup (sim_table_t *self, size_t index)
{
    const char *id = self->universe->ids[index];
    ocf_entry_t *entry = self->overlay ? ocf_table_lookup (self->overlay, id) : NULL;
    return entry ? entry : ocf_table_lookup (self->base->table, id);
}

//  The overlay, holding a copy of the base's entry for index (merged in as tabled would take
//  it from its own table.db: signatures known good).
static ocf_table_t *
s_overlay_for (sim_table_t *self, size_t index)
{
    if (!self->overlay)
        self->overlay = ocf_table_new ();
    const char *id = self->universe->ids[index];
    ocf_entry_t *base = ocf_table_lookup (self->base->table, id);
    if (!base || ocf_table_lookup (self->overlay, id))
        return self->overlay;
    if (base->has_tombstone) {
        ocf_tombstone_in_t tombstone = { .generation = base->tomb_generation, .reason = base->tomb_reason,
                                         .declared_at = base->tomb_declared_at, .has_sig = base->tomb_has_sig,
                                         .sig_state = OCF_SIG_GOOD };
        memcpy (tombstone.id, id, OCF_ID_SIZE);
        memcpy (tombstone.sig, base->tomb_sig, OCF_SIGNATURE_BYTES);
        ocf_table_merge_tombstone (self->overlay, &tombstone, 0, NULL);
    }
    if (base->has_record) {
        ocf_row_in_t row = { .generation = base->generation, .version = base->version, .record = base->record,
                             .record_len = base->record_len, .content_hash = base->content_hash,
                             .has_member = base->has_member, .member = base->member, .has_sig = true,
                             .sig_state = OCF_SIG_GOOD };
        memcpy (row.id, id, OCF_ID_SIZE);
        snprintf (row.name, sizeof row.name, "%s", base->name);
        memcpy (row.sig, base->sig, OCF_SIGNATURE_BYTES);
        ocf_table_merge_row (self->overlay, &row, 0, NULL);
    }
    else
    if (base->has_member) {
        ocf_member_in_t member = { .member = base->member };
        memcpy (member.id, id, OCF_ID_SIZE);
        ocf_table_merge_member (self->overlay, &member, 0, NULL);
    }
    self->shadowed[base->bucket] ^= base->hash;
    self->shadowed_count++;
    return self->overlay;
}

//  --------------------------------------------------------------------------
//  Effects of a change

static bool
s_in_view (const ocf_entry_t *entry)
{
    return entry && entry->has_record && entry->has_member;
}

//  The view holds every entry with a record and a membership: updated when what it shows of
//  one changed.
static void
s_view_update (sim_table_t *self, size_t index, bool was_in, ocf_member_t was, sim_effects_t *effects)
{
    self->root_valid = false;
    ocf_entry_t *entry = s_lookup (self, index);
    bool in = s_in_view (entry);
    if (in == was_in && (!in || ocf_member_compare (&was, &entry->member) == 0))
        return;
    if (self->view_shared) {
        self->view = ocf_members_dup (self->view);
        self->view_shared = false;
        effects->view_replaced = true;
    }
    const char *id = self->universe->ids[index];
    if (in)
        ocf_members_set (self->view, id, entry->member.generation, entry->member.incarnation, entry->member.status, NULL);
    else
        ocf_members_remove (self->view, id);
    if (effects->changed_count < sizeof effects->changed / sizeof effects->changed[0])
        effects->changed[effects->changed_count++] = index;
}

typedef struct {
    bool in;
    ocf_member_t member;
} view_state_t;

static view_state_t
s_view_state (sim_table_t *self, size_t index)
{
    ocf_entry_t *entry = s_lookup (self, index);
    view_state_t state = { s_in_view (entry), { 0, 0, OCF_STATUS_ALIVE } };
    if (state.in)
        state.member = entry->member;
    return state;
}

//  --------------------------------------------------------------------------
//  Items: rows as tabled writes them, memberships and tombstones in the wire's form

//  Appends an entry's items to items/payload (a row carries its membership; a tombstone goes
//  apart). buffer must have room for SIM_ROW_MAX + OCF_WIRE_PAYLOAD_MAX bytes past used
//  (rows are at most SIM_ROW_MAX / 2 and a head); offsets into it are kept in the items'
//  data until the caller points them at the buffer.
static size_t
s_entry_items (const ocf_entry_t *entry, ocf_item_t *items, uint8_t *buffer, size_t *used)
{
    size_t count = 0;
    if (entry->has_record) {
        char *row = ocf_entry_row_json (entry, false);
        size_t size = strlen (row);
        memcpy (buffer + *used, row, size);
        free (row);
        items[count] = (ocf_item_t) { .kind = OCF_ITEM_ROW, .data = (const uint8_t *) (uintptr_t) *used,
                                      .size = (uint32_t) size };
        memcpy (items[count++].id, entry->id, OCF_ID_SIZE);
        *used += size;
    }
    else
    if (entry->has_member) {
        ocf_wire_member_t member = { entry->member.generation, entry->member.incarnation, entry->member.status, { 0 } };
        size_t size = ocf_wire_member_encode (&member, buffer + *used);
        items[count] = (ocf_item_t) { .kind = OCF_ITEM_MEMBER, .data = (const uint8_t *) (uintptr_t) *used,
                                      .size = (uint32_t) size };
        memcpy (items[count++].id, entry->id, OCF_ID_SIZE);
        *used += size;
    }
    if (entry->has_tombstone) {
        ocf_wire_tombstone_t tombstone = { entry->tomb_generation, entry->tomb_reason, entry->tomb_declared_at };
        size_t size = ocf_wire_tombstone_encode_signed (&tombstone, entry->tomb_has_sig ? entry->tomb_sig : NULL,
                                                        buffer + *used);
        items[count] = (ocf_item_t) { .kind = OCF_ITEM_TOMBSTONE, .data = (const uint8_t *) (uintptr_t) *used,
                                      .size = (uint32_t) size };
        memcpy (items[count++].id, entry->id, OCF_ID_SIZE);
        *used += size;
    }
    return count;
}

//  Items with their data as offsets into a growing buffer, pointed at it once complete.
typedef struct {
    ocf_item_t *items;
    size_t count;
    uint8_t *buffer;
    size_t used, size;
} item_list_t;

static void
s_list_add (item_list_t *list, const ocf_entry_t *entry)
{
    if (list->used + SIM_ROW_MAX + OCF_WIRE_PAYLOAD_MAX > list->size) {
        list->size = 2 * list->size + SIM_ROW_MAX + OCF_WIRE_PAYLOAD_MAX;
        list->buffer = realloc (list->buffer, list->size);
    }
    list->items = realloc (list->items, (list->count + 2) * sizeof *list->items);
    list->count += s_entry_items (entry, list->items + list->count, list->buffer, &list->used);
}

static void
s_list_finish (item_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        list->items[i].data = list->buffer + (uintptr_t) list->items[i].data;
}

//  Adds this node's row about itself to what it disseminates.
static void
s_own_item (sim_table_t *self, sim_effects_t *effects)
{
    ocf_entry_t *entry = s_lookup (self, self->self);
    item_list_t list = { 0 };
    if (entry)
        s_list_add (&list, entry);
    s_list_finish (&list);
    for (size_t i = 0; i < list.count && effects->own_count < 2; i++) {
        if (list.items[i].kind == OCF_ITEM_TOMBSTONE)
            continue;
        ocf_item_t *own = &effects->own[effects->own_count];
        *own = list.items[i];
        memcpy (effects->own_payload[effects->own_count], list.items[i].data, list.items[i].size);
        own->data = effects->own_payload[effects->own_count++];
    }
    free (list.items);
    free (list.buffer);
}

//  --------------------------------------------------------------------------
//  Merging, as tabled's MERGE does

//  Like tabled: refute a suspicion of ourselves, come back after a tombstone.
static void
s_defend (sim_table_t *self, int64_t now, sim_effects_t *effects)
{
    ocf_member_in_t refute;
    ocf_defense_t defense = ocf_entry_defense (s_lookup (self, self->self), self->generation, &refute.member);
    if (defense == OCF_DEFENSE_RENEW)
        sim_table_renew (self, effects);
    else
    if (defense == OCF_DEFENSE_REFUTE && effects->own_count < 2) {
        memcpy (refute.id, self->universe->ids[self->self], OCF_ID_SIZE);
        view_state_t was = s_view_state (self, self->self);
        ocf_table_merge_member (s_overlay_for (self, self->self), &refute, now, NULL);
        s_view_update (self, self->self, was.in, was.member, effects);
        //  tabled announces a refutation as a status change: a membership item.
        ocf_wire_member_t member = { refute.member.generation, refute.member.incarnation, OCF_STATUS_ALIVE, { 0 } };
        ocf_item_t *own = &effects->own[effects->own_count];
        *own = (ocf_item_t) { .kind = OCF_ITEM_MEMBER, .data = effects->own_payload[effects->own_count] };
        own->size = (uint32_t) ocf_wire_member_encode (&member, effects->own_payload[effects->own_count++]);
        memcpy (own->id, refute.id, OCF_ID_SIZE);
    }
}

//  One item, parsed and checked as tabled checks a MERGE, then merged; a row about this node
//  gives only its membership (only this node writes its record). Returns false for garbage.
static bool
s_merge_item (sim_table_t *self, size_t index, const ocf_item_t *item, int64_t now)
{
    char error[256];
    if (item->kind == OCF_ITEM_ROW) {
        if (ocf_json_validate ((const char *) item->data, item->size, NULL, error, sizeof error) != 0)
            return false;
        ocf_row_in_t row;
        if (ocf_record_parse_row_span (ocf_json_root ((const char *) item->data, item->size, NULL), SIM_ROW_MAX, &row,
                                       error, sizeof error) != 0)
            return false;
        bool valid = strcmp (row.id, item->id) == 0;
        if (valid && index == self->self) {
            if (row.has_member) {
                ocf_member_in_t member = { .member = row.member };
                memcpy (member.id, row.id, OCF_ID_SIZE);
                ocf_table_merge_member (s_overlay_for (self, index), &member, now, NULL);
            }
        }
        else
        if (valid)
            ocf_table_merge_row (s_overlay_for (self, index), &row, now, NULL);
        ocf_row_in_clear (&row);
        return valid;
    }
    if (item->kind == OCF_ITEM_MEMBER) {
        ocf_wire_member_t wire;
        if (ocf_wire_member_decode (item->data, item->size, &wire) != 0)
            return false;
        ocf_member_in_t member = { .member = { wire.generation, wire.incarnation, wire.status } };
        memcpy (member.id, item->id, OCF_ID_SIZE);
        ocf_table_merge_member (s_overlay_for (self, index), &member, now, NULL);
        return true;
    }
    ocf_wire_tombstone_t wire;
    ocf_tombstone_in_t tombstone = { 0 };
    if (item->kind != OCF_ITEM_TOMBSTONE
    ||  ocf_wire_tombstone_decode_signed (item->data, item->size, &wire, &tombstone.has_sig, tombstone.sig) != 0)
        return false;
    memcpy (tombstone.id, item->id, OCF_ID_SIZE);
    tombstone.generation = wire.generation;
    tombstone.reason = wire.reason;
    tombstone.declared_at = wire.declared_at;
    ocf_table_merge_tombstone (s_overlay_for (self, index), &tombstone, now, NULL);
    return true;
}

void
sim_table_merge (sim_table_t *self, const ocf_item_t *items, size_t count, int64_t now, sim_effects_t *effects)
{
    bool touches_self = false;
    for (size_t i = 0; i < count; i++) {
        long index = sim_universe_find (self->universe, items[i].id);
        if (index < 0)
            continue;
        view_state_t was = s_view_state (self, (size_t) index);
        if (s_merge_item (self, (size_t) index, &items[i], now)) {
            touches_self |= (size_t) index == self->self;
            s_view_update (self, (size_t) index, was.in, was.member, effects);
        }
    }
    if (touches_self)
        s_defend (self, now, effects);
}

//  --------------------------------------------------------------------------

sim_table_t *
sim_table_new (const sim_base_t *base, size_t self_index, ocf_members_t *shared_view)
{
    sim_table_t *self = calloc (1, sizeof *self);
    self->base = base;
    self->universe = base->universe;
    self->self = self_index;
    ocf_entry_t *own = ocf_table_lookup (base->table, base->universe->ids[self_index]);
    self->generation = own && own->has_record ? own->generation : 0;
    if (shared_view) {
        self->view = shared_view;
        self->view_shared = true;
    }
    else
        self->view = sim_base_view (base);
    return self;
}

void
sim_table_destroy (sim_table_t **self_p)
{
    sim_table_t *self = *self_p;
    if (!self)
        return;
    if (!self->view_shared)
        ocf_members_destroy (&self->view);
    ocf_table_destroy (&self->overlay);
    free (self);
    *self_p = NULL;
}

sim_entry_t
sim_table_get (sim_table_t *self, size_t index)
{
    ocf_entry_t *entry = s_lookup (self, index);
    sim_entry_t view = { .status = -1 };
    if (entry && entry->has_record) {
        view.generation = entry->generation;
        view.version = entry->version;
    }
    if (entry && entry->has_member) {
        view.member_generation = entry->member.generation;
        view.incarnation = entry->member.incarnation;
        view.status = (int) entry->member.status;
    }
    if (entry && entry->has_tombstone)
        view.tomb_generation = entry->tomb_generation;
    return view;
}

//  This replica's bucket hashes: the base's, the copied entries' swapped for the overlay's.
static void
s_buckets (sim_table_t *self, uint64_t buckets[OCF_BUCKETS])
{
    for (unsigned b = 0; b < OCF_BUCKETS; b++)
        buckets[b] = ocf_table_bucket_hash (self->base->table, b) ^ self->shadowed[b]
                   ^ (self->overlay ? ocf_table_bucket_hash (self->overlay, b) : 0);
}

uint64_t
sim_table_root (sim_table_t *self)
{
    if (!self->overlay)
        return ocf_table_root (self->base->table);
    if (!self->root_valid) {
        uint64_t buckets[OCF_BUCKETS];
        s_buckets (self, buckets);
        self->root = ocf_table_root_of (buckets);
        self->root_valid = true;
    }
    return self->root;
}

size_t
sim_table_entries (sim_table_t *self)
{
    return ocf_table_size (self->base->table) - self->shadowed_count + (self->overlay ? ocf_table_size (self->overlay) : 0);
}

ocf_members_t *sim_table_view (sim_table_t *self) { return self->view; }

//  Writes this node's record at (generation, version) and disseminates it.
static void
s_write_own (sim_table_t *self, uint64_t version, sim_effects_t *effects)
{
    view_state_t was = s_view_state (self, self->self);
    s_merge_own_row (s_overlay_for (self, self->self), self->universe, self->self, self->generation, version,
                     self->base->row_size);
    s_view_update (self, self->self, was.in, was.member, effects);
    s_own_item (self, effects);
}

void
sim_table_touch (sim_table_t *self, sim_effects_t *effects)
{
    ocf_entry_t *entry = s_lookup (self, self->self);
    s_write_own (self, entry && entry->has_record ? entry->version + 1 : 1, effects);
}

void
sim_table_renew (sim_table_t *self, sim_effects_t *effects)
{
    self->generation = ocf_entry_next_generation (s_lookup (self, self->self), self->generation);
    s_write_own (self, 1, effects);
}

void
sim_table_leave (sim_table_t *self, int64_t now, sim_effects_t *effects)
{
    ocf_tombstone_in_t tombstone = { .generation = self->generation, .reason = OCF_REASON_LEFT, .declared_at = now };
    memcpy (tombstone.id, self->universe->ids[self->self], OCF_ID_SIZE);
    ocf_record_sign_tombstone (&tombstone, self->universe->identities[self->self]);
    view_state_t was = s_view_state (self, self->self);
    ocf_table_merge_tombstone (s_overlay_for (self, self->self), &tombstone, now, NULL);
    s_view_update (self, self->self, was.in, was.member, effects);
    ocf_item_t *own = &effects->own[effects->own_count];
    ocf_wire_tombstone_t wire = { tombstone.generation, OCF_REASON_LEFT, now };
    *own = (ocf_item_t) { .kind = OCF_ITEM_TOMBSTONE, .data = effects->own_payload[effects->own_count] };
    own->size = (uint32_t) ocf_wire_tombstone_encode_signed (&wire, tombstone.sig, effects->own_payload[effects->own_count++]);
    memcpy (own->id, tombstone.id, OCF_ID_SIZE);
}

void
sim_table_answer (sim_table_t *self, ocf_gossip_t *core, int64_t now, uint64_t token, const ocf_query_t *query)
{
    switch (query->kind) {
        case OCF_QUERY_BUCKETS: {
            uint64_t buckets[OCF_BUCKETS];
            s_buckets (self, buckets);
            ocf_gossip_answer_buckets (core, now, token, buckets);
            break;
        }
        case OCF_QUERY_DIGESTS: {
            size_t total = 0;
            for (size_t b = 0; b < query->bucket_count; b++)
                total += self->universe->bucket_start[query->buckets[b] + 1] - self->universe->bucket_start[query->buckets[b]];
            ocf_digest_t *digests = malloc ((total + 1) * sizeof *digests);
            size_t count = 0;
            for (size_t b = 0; b < query->bucket_count; b++)
                for (size_t m = self->universe->bucket_start[query->buckets[b]];
                     m < self->universe->bucket_start[query->buckets[b] + 1]; m++) {
                    ocf_entry_t *entry = s_lookup (self, self->universe->members[m]);
                    if (!entry)
                        continue;
                    //  As tabled's DIGEST reports an entry.
                    ocf_digest_t *digest = &digests[count++];
                    memcpy (digest->id, entry->id, OCF_ID_SIZE);
                    digest->generation = entry->has_record ? entry->generation : 0;
                    digest->version = entry->has_record ? entry->version : 0;
                    digest->member_generation = entry->has_member ? entry->member.generation : 0;
                    digest->incarnation = entry->has_member ? entry->member.incarnation : 0;
                    digest->status = entry->has_member ? (int) entry->member.status : -1;
                    digest->tomb_generation = entry->has_tombstone ? entry->tomb_generation : 0;
                    digest->hash = entry->hash;
                }
            ocf_gossip_answer_digests (core, now, token, digests, count);
            free (digests);
            break;
        }
        case OCF_QUERY_ITEMS: {
            item_list_t list = { 0 };
            for (size_t i = 0; i < query->id_count; i++) {
                long index = sim_universe_find (self->universe, query->ids[i]);
                ocf_entry_t *entry = index < 0 ? NULL : s_lookup (self, (size_t) index);
                if (entry)
                    s_list_add (&list, entry);
            }
            s_list_finish (&list);
            ocf_gossip_answer_items (core, now, token, list.items, list.count, NULL, sim_table_root (self),
                                     sim_table_entries (self));
            free (list.items);
            free (list.buffer);
            break;
        }
        case OCF_QUERY_SNAPSHOT: {
            size_t start = 0;
            if (query->after) {
                long after = sim_universe_find (self->universe, query->after);
                start = after < 0 ? 0 : (size_t) after + 1;
            }
            item_list_t list = { 0 };
            size_t taken = 0, index = start;
            for (; index < self->universe->count && taken < query->limit; index++) {
                ocf_entry_t *entry = s_lookup (self, index);
                if (!entry)
                    continue;
                s_list_add (&list, entry);
                taken++;
            }
            s_list_finish (&list);
            //  More to come when a present entry lies beyond the page.
            bool more = false;
            for (size_t rest = index; rest < self->universe->count && !more; rest++)
                more = s_lookup (self, rest) != NULL;
            const char *next = more && index > 0 ? self->universe->ids[index - 1] : NULL;
            ocf_gossip_answer_items (core, now, token, list.items, list.count, next, sim_table_root (self),
                                     sim_table_entries (self));
            free (list.items);
            free (list.buffer);
            break;
        }
    }
}

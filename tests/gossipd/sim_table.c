/*  sim_table: compact copy-on-write table model for the simulator.  */
#include "sim_table.h"
#include "ocf_hash.h"
#include "ocf_table.h"

#include <stdlib.h>
#include <string.h>

#define ROW_HEADER 48

struct _sim_table_t {
    const sim_base_t *base;
    const sim_universe_t *universe;
    size_t self;
    size_t row_size;
    //  overlay: open addressing, index + 1 as key (0 = free)
    uint32_t *keys;
    sim_entry_t *values;
    size_t cap;
    size_t used;
    uint64_t *buckets;           //  NULL while equal to the base's
    size_t entry_count;
    bool root_valid;
    uint64_t root;
    ocf_members_t *view;
    bool view_shared;
    //  answer storage
    ocf_item_t *items;
    uint8_t *payloads;
    size_t item_cap;
};

//  --------------------------------------------------------------------------
//  Universe and base

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
    uint64_t state = seed;
    for (size_t i = 0; i < count; i++) {
        //  Ids of random keys: the simulator never checks a signature or opens a connection.
        uint8_t key[OCF_NODE_KEY_BYTES];
        for (size_t byte = 0; byte < sizeof key; byte += 8) {
            uint64_t random = s_splitmix (&state);
            memcpy (key + byte, &random, 8);
        }
        ocf_identity_id_encode (key, self->ids[i]);
    }
    qsort (self->ids, count, OCF_ID_SIZE, s_id_compare);
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

static bool
s_present (const sim_entry_t *entry)
{
    return entry->generation || entry->member_generation || entry->tomb_generation;
}

static uint64_t
s_entry_hash (size_t index, const sim_entry_t *entry)
{
    if (!s_present (entry))
        return 0;
    uint64_t h = ocf_hash_u64 (0x73696d, index);
    const uint64_t parts[] = { entry->generation, entry->version, entry->content, entry->member_generation,
                               entry->incarnation, (uint64_t) entry->status, entry->tomb_generation,
                               (uint64_t) entry->tomb_reason, (uint64_t) entry->tomb_declared_at };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = ocf_hash_u64 (h, parts[i]);
    return h;
}

sim_base_t *
sim_base_new (const sim_universe_t *universe, size_t members)
{
    sim_base_t *self = calloc (1, sizeof *self);
    self->universe = universe;
    self->entries = calloc (universe->count, sizeof *self->entries);
    for (size_t i = 0; i < members && i < universe->count; i++) {
        sim_entry_t *entry = &self->entries[i];
        *entry = (sim_entry_t) { .generation = 1, .version = 1, .content = i, .member_generation = 1,
                                 .status = OCF_STATUS_ALIVE };
        entry->hash = s_entry_hash (i, entry);
        self->buckets[universe->buckets[i]] ^= entry->hash;
        self->entry_count++;
    }
    return self;
}

void
sim_base_destroy (sim_base_t **self_p)
{
    sim_base_t *self = *self_p;
    if (!self)
        return;
    free (self->entries);
    free (self);
    *self_p = NULL;
}

ocf_members_t *
sim_base_view (const sim_base_t *base)
{
    ocf_members_t *view = ocf_members_new ();
    for (size_t i = 0; i < base->universe->count; i++) {
        const sim_entry_t *entry = &base->entries[i];
        if (entry->generation)
            ocf_members_set (view, base->universe->ids[i], entry->member_generation, entry->incarnation,
                             entry->status, NULL);
    }
    return view;
}

//  --------------------------------------------------------------------------
//  Overlay

static size_t
s_slot (const sim_table_t *self, size_t index)
{
    return (size_t) (((uint64_t) index * 0x9E3779B97F4A7C15ULL) >> 32) & (self->cap - 1);
}

static sim_entry_t *
s_overlay_find (sim_table_t *self, size_t index)
{
    if (!self->cap)
        return NULL;
    for (size_t at = s_slot (self, index); self->keys[at]; at = (at + 1) & (self->cap - 1))
        if (self->keys[at] == index + 1)
            return &self->values[at];
    return NULL;
}

static void
s_overlay_put (sim_table_t *self, size_t index, const sim_entry_t *entry)
{
    sim_entry_t *existing = s_overlay_find (self, index);
    if (existing) {
        *existing = *entry;
        return;
    }
    if ((self->used + 1) * 2 > self->cap) {
        uint32_t *keys = self->keys;
        sim_entry_t *values = self->values;
        size_t cap = self->cap;
        self->cap = cap ? cap * 2 : 8;
        self->keys = calloc (self->cap, sizeof *self->keys);
        self->values = calloc (self->cap, sizeof *self->values);
        self->used = 0;
        for (size_t i = 0; i < cap; i++)
            if (keys[i])
                s_overlay_put (self, keys[i] - 1, &values[i]);
        free (keys);
        free (values);
    }
    size_t at = s_slot (self, index);
    while (self->keys[at])
        at = (at + 1) & (self->cap - 1);
    self->keys[at] = (uint32_t) index + 1;
    self->values[at] = *entry;
    self->used++;
}

sim_entry_t
sim_table_get (sim_table_t *self, size_t index)
{
    sim_entry_t *overlay = s_overlay_find (self, index);
    return overlay ? *overlay : self->base->entries[index];
}

static void
s_view_set (sim_table_t *self, size_t index, const sim_entry_t *entry, sim_effects_t *effects)
{
    if (self->view_shared) {
        self->view = ocf_members_dup (self->view);
        self->view_shared = false;
        effects->view_replaced = true;
    }
    const char *id = self->universe->ids[index];
    if (entry->generation && entry->member_generation)
        ocf_members_set (self->view, id, entry->member_generation, entry->incarnation, entry->status, NULL);
    else
        ocf_members_remove (self->view, id);
    if (effects->changed_count < sizeof effects->changed / sizeof effects->changed[0])
        effects->changed[effects->changed_count++] = index;
}

//  Stores a changed entry: overlay, bucket hash, root, view.
static void
s_store (sim_table_t *self, size_t index, const sim_entry_t *before, sim_entry_t *after, sim_effects_t *effects)
{
    after->hash = s_entry_hash (index, after);
    if (!self->buckets) {
        self->buckets = malloc (sizeof self->base->buckets);
        memcpy (self->buckets, self->base->buckets, sizeof self->base->buckets);
    }
    self->buckets[self->universe->buckets[index]] ^= before->hash ^ after->hash;
    self->entry_count += s_present (after) - s_present (before);
    self->root_valid = false;
    s_overlay_put (self, index, after);
    bool member_changed = before->member_generation != after->member_generation || before->incarnation != after->incarnation
                       || before->status != after->status || (before->generation == 0) != (after->generation == 0);
    if (member_changed && effects)
        s_view_set (self, index, after, effects);
}

//  --------------------------------------------------------------------------
//  Items

static void
s_put_u64 (uint8_t *at, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        at[i] = (uint8_t) (value >> (8 * i));
}

static uint64_t
s_get_u64 (const uint8_t *at)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = (value << 8) | at[i];
    return value;
}

//  Writes the items of an entry (a row carries its membership; a tombstone goes apart).
static size_t
s_entry_items (sim_table_t *self, size_t index, const sim_entry_t *entry, ocf_item_t *items, uint8_t *payload)
{
    size_t count = 0;
    const char *id = self->universe->ids[index];
    if (entry->generation) {
        memset (payload, 0, self->row_size);
        const uint64_t fields[] = { entry->generation, entry->version, entry->content, entry->member_generation,
                                    entry->incarnation, (uint64_t) entry->status };
        for (int f = 0; f < 6; f++)
            s_put_u64 (payload + 8 * f, fields[f]);
        items[count] = (ocf_item_t) { .kind = OCF_ITEM_ROW, .data = payload, .size = (uint32_t) self->row_size };
        memcpy (items[count++].id, id, OCF_ID_SIZE);
        payload += self->row_size;
    }
    else
    if (entry->member_generation) {
        ocf_wire_member_t member = { entry->member_generation, entry->incarnation, entry->status, { 0 } };
        items[count] = (ocf_item_t) { .kind = OCF_ITEM_MEMBER, .data = payload,
                                      .size = (uint32_t) ocf_wire_member_encode (&member, payload) };
        memcpy (items[count++].id, id, OCF_ID_SIZE);
        payload += OCF_WIRE_PAYLOAD_MAX;
    }
    if (entry->tomb_generation) {
        ocf_wire_tombstone_t tombstone = { entry->tomb_generation, entry->tomb_reason, entry->tomb_declared_at };
        items[count] = (ocf_item_t) { .kind = OCF_ITEM_TOMBSTONE, .data = payload,
                                      .size = (uint32_t) ocf_wire_tombstone_encode (&tombstone, payload) };
        memcpy (items[count++].id, id, OCF_ID_SIZE);
    }
    return count;
}

static size_t
s_item_stride (sim_table_t *self)
{
    return self->row_size + OCF_WIRE_PAYLOAD_MAX;
}

static void
s_reserve (sim_table_t *self, size_t entries)
{
    if (entries * 2 <= self->item_cap)
        return;
    self->item_cap = entries * 2 + 16;
    self->items = realloc (self->items, self->item_cap * sizeof *self->items);
    self->payloads = realloc (self->payloads, self->item_cap * s_item_stride (self));
}

//  --------------------------------------------------------------------------
//  Merging, as ocf_table_merge does

static int
s_member_compare (uint64_t g1, uint64_t i1, int s1, uint64_t g2, uint64_t i2, int s2)
{
    if (g1 != g2)
        return g1 < g2 ? -1 : 1;
    if (i1 != i2)
        return i1 < i2 ? -1 : 1;
    return s1 < s2 ? -1 : s1 > s2;
}

static bool
s_same (const sim_entry_t *a, const sim_entry_t *b)
{
    return a->generation == b->generation && a->version == b->version && a->content == b->content
        && a->member_generation == b->member_generation && a->incarnation == b->incarnation && a->status == b->status
        && a->tomb_generation == b->tomb_generation && a->tomb_reason == b->tomb_reason
        && a->tomb_declared_at == b->tomb_declared_at;
}

static void
s_merge_parts (sim_entry_t *entry, const sim_entry_t *in)
{
    if (in->tomb_generation) {
        bool greater = !entry->tomb_generation || in->tomb_generation > entry->tomb_generation
                    || (in->tomb_generation == entry->tomb_generation
                        && (in->tomb_reason > entry->tomb_reason
                            || (in->tomb_reason == entry->tomb_reason && in->tomb_declared_at < entry->tomb_declared_at)));
        if (greater) {
            entry->tomb_generation = in->tomb_generation;
            entry->tomb_reason = in->tomb_reason;
            entry->tomb_declared_at = in->tomb_declared_at;
        }
    }
    uint64_t floor = entry->tomb_generation;
    if (in->generation > floor) {
        bool greater = !entry->generation || in->generation > entry->generation
                    || (in->generation == entry->generation
                        && (in->version > entry->version || (in->version == entry->version && in->content > entry->content)));
        if (greater) {
            entry->generation = in->generation;
            entry->version = in->version;
            entry->content = in->content;
        }
    }
    if (in->member_generation > floor
    &&  (!entry->member_generation
         || s_member_compare (in->member_generation, in->incarnation, in->status, entry->member_generation,
                              entry->incarnation, entry->status) > 0)) {
        entry->member_generation = in->member_generation;
        entry->incarnation = in->incarnation;
        entry->status = in->status;
    }
    if (entry->generation && entry->member_generation < entry->generation) {
        entry->member_generation = entry->generation;
        entry->incarnation = 0;
        entry->status = OCF_STATUS_ALIVE;
    }
    if (entry->generation && entry->generation <= floor)
        entry->generation = entry->version = entry->content = 0;
    if (entry->member_generation && entry->member_generation <= floor) {
        entry->member_generation = entry->incarnation = 0;
        entry->status = 0;
    }
}

//  Parses an item into the parts it carries. Returns false for garbage.
static bool
s_item_parts (const ocf_item_t *item, size_t row_size, sim_entry_t *in)
{
    memset (in, 0, sizeof *in);
    if (item->kind == OCF_ITEM_ROW) {
        if (item->size != row_size || row_size < ROW_HEADER)
            return false;
        in->generation = s_get_u64 (item->data);
        in->version = s_get_u64 (item->data + 8);
        in->content = s_get_u64 (item->data + 16);
        in->member_generation = s_get_u64 (item->data + 24);
        in->incarnation = s_get_u64 (item->data + 32);
        in->status = (int) s_get_u64 (item->data + 40);
        return in->generation > 0 && in->member_generation >= in->generation && in->status <= OCF_STATUS_LEFT;
    }
    if (item->kind == OCF_ITEM_MEMBER) {
        ocf_wire_member_t member;
        if (ocf_wire_member_decode (item->data, item->size, &member) != 0)
            return false;
        in->member_generation = member.generation;
        in->incarnation = member.incarnation;
        in->status = member.status;
        return true;
    }
    ocf_wire_tombstone_t tombstone;
    if (item->kind != OCF_ITEM_TOMBSTONE || ocf_wire_tombstone_decode (item->data, item->size, &tombstone) != 0)
        return false;
    in->tomb_generation = tombstone.generation;
    in->tomb_reason = tombstone.reason;
    in->tomb_declared_at = tombstone.declared_at;
    return true;
}

static void
s_own_item (sim_table_t *self, sim_effects_t *effects)
{
    if (effects->own_count >= 2)
        return;
    sim_entry_t entry = sim_table_get (self, self->self);
    ocf_item_t items[2];
    uint8_t payload[SIM_ROW_MAX + OCF_WIRE_PAYLOAD_MAX];
    size_t count = s_entry_items (self, self->self, &entry, items, payload);
    for (size_t i = 0; i < count && effects->own_count < 2; i++) {
        if (items[i].kind == OCF_ITEM_TOMBSTONE)
            continue;
        ocf_item_t *own = &effects->own[effects->own_count];
        *own = items[i];
        memcpy (effects->own_payload[effects->own_count], items[i].data, items[i].size);
        own->data = effects->own_payload[effects->own_count++];
    }
}

//  Like tabled: refute a suspicion of ourselves, come back after a tombstone.
static void
s_defend (sim_table_t *self, sim_effects_t *effects)
{
    sim_entry_t before = sim_table_get (self, self->self);
    sim_entry_t entry = before;
    if (!entry.generation) {
        sim_table_renew (self, effects);
        return;
    }
    if (entry.member_generation == entry.generation && entry.status != OCF_STATUS_ALIVE && effects->own_count < 2) {
        entry.incarnation++;
        entry.status = OCF_STATUS_ALIVE;
        s_store (self, self->self, &before, &entry, effects);
        //  tabled announces a refutation as a status change: a membership item.
        ocf_wire_member_t member = { entry.member_generation, entry.incarnation, OCF_STATUS_ALIVE, { 0 } };
        ocf_item_t *own = &effects->own[effects->own_count];
        *own = (ocf_item_t) { .kind = OCF_ITEM_MEMBER, .data = effects->own_payload[effects->own_count] };
        own->size = (uint32_t) ocf_wire_member_encode (&member, effects->own_payload[effects->own_count++]);
        memcpy (own->id, self->universe->ids[self->self], OCF_ID_SIZE);
    }
}

void
sim_table_merge (sim_table_t *self, const ocf_item_t *items, size_t count, int64_t now, sim_effects_t *effects)
{
    bool touches_self = false;
    for (size_t i = 0; i < count; i++) {
        long index = sim_universe_find (self->universe, items[i].id);
        sim_entry_t in;
        if (index < 0 || !s_item_parts (&items[i], self->row_size, &in))
            continue;
        //  Only this node writes its own record: of a copy from elsewhere, like tabled, only
        //  the membership counts.
        if ((size_t) index == self->self) {
            if (items[i].kind == OCF_ITEM_ROW)
                in.generation = in.version = in.content = 0;
            touches_self = true;
        }
        sim_entry_t before = sim_table_get (self, (size_t) index);
        sim_entry_t after = before;
        s_merge_parts (&after, &in);
        if (!s_same (&before, &after))
            s_store (self, (size_t) index, &before, &after, effects);
    }
    if (touches_self)
        s_defend (self, effects);
}

//  --------------------------------------------------------------------------

sim_table_t *
sim_table_new (const sim_base_t *base, size_t self_index, ocf_members_t *shared_view, size_t row_size)
{
    sim_table_t *self = calloc (1, sizeof *self);
    self->base = base;
    self->universe = base->universe;
    self->self = self_index;
    self->row_size = row_size < ROW_HEADER ? ROW_HEADER : row_size > SIM_ROW_MAX ? SIM_ROW_MAX : row_size;
    self->entry_count = base->entry_count;
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
    free (self->keys);
    free (self->values);
    free (self->buckets);
    free (self->items);
    free (self->payloads);
    free (self);
    *self_p = NULL;
}

uint64_t
sim_table_root (sim_table_t *self)
{
    if (!self->root_valid) {
        const uint64_t *buckets = self->buckets ? self->buckets : self->base->buckets;
        uint64_t h = 0x726f6f74;
        for (int b = 0; b < 256; b++)
            h = ocf_hash_u64 (h, buckets[b]);
        self->root = h;
        self->root_valid = true;
    }
    return self->root;
}

size_t sim_table_entries (sim_table_t *self) { return self->entry_count; }
ocf_members_t *sim_table_view (sim_table_t *self) { return self->view; }

void
sim_table_touch (sim_table_t *self, sim_effects_t *effects)
{
    sim_entry_t before = sim_table_get (self, self->self);
    sim_entry_t after = before;
    after.version++;
    after.content++;
    s_store (self, self->self, &before, &after, effects);
    s_own_item (self, effects);
}

void
sim_table_renew (sim_table_t *self, sim_effects_t *effects)
{
    sim_entry_t before = sim_table_get (self, self->self);
    sim_entry_t after = before;
    uint64_t generation = before.generation > before.tomb_generation ? before.generation : before.tomb_generation;
    if (before.member_generation > generation)
        generation = before.member_generation;
    after.generation = generation + 1;
    after.version = 1;
    after.member_generation = after.generation;
    after.incarnation = 0;
    after.status = OCF_STATUS_ALIVE;
    s_store (self, self->self, &before, &after, effects);
    s_own_item (self, effects);
}

void
sim_table_leave (sim_table_t *self, int64_t now, sim_effects_t *effects)
{
    sim_entry_t before = sim_table_get (self, self->self);
    sim_entry_t after = before;
    sim_entry_t tombstone = { .tomb_generation = before.generation, .tomb_reason = OCF_REASON_LEFT,
                              .tomb_declared_at = now };
    s_merge_parts (&after, &tombstone);
    s_store (self, self->self, &before, &after, effects);
    ocf_item_t *own = &effects->own[effects->own_count];
    ocf_wire_tombstone_t wire = { before.generation, OCF_REASON_LEFT, now };
    *own = (ocf_item_t) { .kind = OCF_ITEM_TOMBSTONE, .data = effects->own_payload[effects->own_count] };
    own->size = (uint32_t) ocf_wire_tombstone_encode (&wire, effects->own_payload[effects->own_count++]);
    memcpy (own->id, self->universe->ids[self->self], OCF_ID_SIZE);
}

void
sim_table_answer (sim_table_t *self, ocf_gossip_t *core, int64_t now, uint64_t token, const ocf_query_t *query)
{
    const uint64_t *buckets = self->buckets ? self->buckets : self->base->buckets;
    switch (query->kind) {
        case OCF_QUERY_BUCKETS:
            ocf_gossip_answer_buckets (core, now, token, buckets);
            break;
        case OCF_QUERY_DIGESTS: {
            size_t total = 0;
            for (size_t b = 0; b < query->bucket_count; b++)
                total += self->universe->bucket_start[query->buckets[b] + 1] - self->universe->bucket_start[query->buckets[b]];
            ocf_digest_t *digests = malloc ((total + 1) * sizeof *digests);
            size_t count = 0;
            for (size_t b = 0; b < query->bucket_count; b++)
                for (size_t m = self->universe->bucket_start[query->buckets[b]];
                     m < self->universe->bucket_start[query->buckets[b] + 1]; m++) {
                    size_t index = self->universe->members[m];
                    sim_entry_t entry = sim_table_get (self, index);
                    if (!s_present (&entry))
                        continue;
                    ocf_digest_t *digest = &digests[count++];
                    memcpy (digest->id, self->universe->ids[index], OCF_ID_SIZE);
                    digest->generation = entry.generation;
                    digest->version = entry.version;
                    digest->member_generation = entry.member_generation;
                    digest->incarnation = entry.incarnation;
                    digest->status = entry.member_generation ? entry.status : -1;
                    digest->tomb_generation = entry.tomb_generation;
                    digest->hash = entry.hash;
                }
            ocf_gossip_answer_digests (core, now, token, digests, count);
            free (digests);
            break;
        }
        case OCF_QUERY_ITEMS: {
            s_reserve (self, query->id_count);
            size_t count = 0;
            for (size_t i = 0; i < query->id_count; i++) {
                long index = sim_universe_find (self->universe, query->ids[i]);
                if (index < 0)
                    continue;
                sim_entry_t entry = sim_table_get (self, (size_t) index);
                count += s_entry_items (self, (size_t) index, &entry, &self->items[count],
                                        self->payloads + count * s_item_stride (self));
            }
            ocf_gossip_answer_items (core, now, token, self->items, count, NULL, sim_table_root (self), self->entry_count);
            break;
        }
        case OCF_QUERY_SNAPSHOT: {
            size_t start = 0;
            if (query->after) {
                long after = sim_universe_find (self->universe, query->after);
                start = after < 0 ? 0 : (size_t) after + 1;
            }
            s_reserve (self, query->limit);
            size_t count = 0, taken = 0, index = start;
            for (; index < self->universe->count && taken < query->limit; index++) {
                sim_entry_t entry = sim_table_get (self, index);
                if (!s_present (&entry))
                    continue;
                count += s_entry_items (self, index, &entry, &self->items[count], self->payloads + count * s_item_stride (self));
                taken++;
            }
            //  More to come when a present entry lies beyond the page.
            bool more = false;
            for (size_t rest = index; rest < self->universe->count && !more; rest++) {
                sim_entry_t entry = sim_table_get (self, rest);
                more = s_present (&entry);
            }
            const char *next = more && index > 0 ? self->universe->ids[index - 1] : NULL;
            ocf_gossip_answer_items (core, now, token, self->items, count, next, sim_table_root (self), self->entry_count);
            break;
        }
    }
}

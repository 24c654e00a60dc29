/*  Merge laws of the node table (tabled/ocf_table.c), checked on randomized histories:
    thousands of rows, membership changes and tombstones, applied in random orders with
    duplicates, must leave every replica identical (commutative, associative, idempotent);
    tombstones must never be undone by older rows; digests equal exactly when tables do.
    Signatures: a forged or altered row, or a forged leave, is refused; a relayed one verifies.  */
#include "ocf_table.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#define IDS 6
#define OPS 200
#define REPLICAS 4
#define SCENARIOS 600

typedef enum { OP_ROW, OP_MEMBER, OP_TOMBSTONE } op_kind_t;

typedef struct {
    op_kind_t kind;
    ocf_row_in_t row;
    ocf_member_in_t member;
    ocf_tombstone_in_t tombstone;
} op_t;

static char s_ids[IDS][OCF_ID_SIZE];
static ocf_identity_t *s_identities[IDS];

//  A deterministic generator per scenario (rand_r keeps scenarios reproducible by seed).
static unsigned
s_rand (unsigned *seed, unsigned below)
{
    return (unsigned) rand_r (seed) % below;
}

//  Real keys, so that every row and leave can be signed by its node. Each test runs in a
//  process of its own: the keys live as long as it.
static void
s_make_ids (void)
{
    for (int i = 0; i < IDS; i++) {
        s_identities[i] = ocf_identity_new_ephemeral ();
        memcpy (s_ids[i], ocf_identity_id (s_identities[i]), OCF_ID_SIZE);
    }
}

static ocf_identity_t *
s_identity_of (const char *id)
{
    for (int i = 0; i < IDS; i++)
        if (strcmp (s_ids[i], id) == 0)
            return s_identities[i];
    cr_assert_fail ("no key for %s", id);
    return NULL;
}

static const char *s_statuses[] = { "alive", "suspect", "dead", "left" };

static void
s_make_op (op_t *op, unsigned *seed)
{
    const char *id = s_ids[s_rand (seed, IDS)];
    unsigned generation = 1 + s_rand (seed, 4);
    char error[256];
    memset (op, 0, sizeof *op);
    op->kind = (op_kind_t) s_rand (seed, 3);
    if (op->kind == OP_ROW) {
        json_t *row = json_pack ("{s:s, s:s, s:I, s:I, s:[{s:s, s:[s], s:i}]}", "id", id, "name", "node",
                                 "generation", (json_int_t) generation, "version", (json_int_t) (1 + s_rand (seed, 5)),
                                 "services", "name", "llm", "identity_group", s_rand (seed, 2) ? "model=a" : "model=b",
                                 "port", 8000 + (int) s_rand (seed, 3));
        if (s_rand (seed, 2)) {
            json_object_set_new (row, "status", json_string (s_statuses[s_rand (seed, 4)]));
            json_object_set_new (row, "incarnation", json_integer (s_rand (seed, 4)));
        }
        cr_assert_eq (ocf_record_parse_row (row, 65536, &op->row, error, sizeof error), 0, "%s", error);
        ocf_record_sign_row (&op->row, s_identity_of (id));
        json_decref (row);
    }
    else
    if (op->kind == OP_MEMBER) {
        json_t *member = json_pack ("{s:s, s:I, s:I, s:s}", "id", id, "generation", (json_int_t) generation,
                                    "incarnation", (json_int_t) s_rand (seed, 4), "status", s_statuses[s_rand (seed, 4)]);
        cr_assert_eq (ocf_record_parse_member (member, &op->member, error, sizeof error), 0, "%s", error);
        json_decref (member);
    }
    else {
        json_t *tombstone = json_pack ("{s:s, s:I, s:s, s:I}", "id", id, "generation", (json_int_t) generation,
                                       "reason", s_rand (seed, 2) ? "left" : "reaped",
                                       "declared_at", (json_int_t) (1000 + s_rand (seed, 3)));
        cr_assert_eq (ocf_record_parse_tombstone (tombstone, &op->tombstone, error, sizeof error), 0, "%s", error);
        if (op->tombstone.reason == OCF_REASON_LEFT)
            ocf_record_sign_tombstone (&op->tombstone, s_identity_of (id));
        json_decref (tombstone);
    }
}

static int
s_apply (ocf_table_t *table, const op_t *op)
{
    switch (op->kind) {
        case OP_ROW: return ocf_table_merge_row (table, &op->row, 0, NULL);
        case OP_MEMBER: return ocf_table_merge_member (table, &op->member, 0, NULL);
        default: return ocf_table_merge_tombstone (table, &op->tombstone, 0, NULL);
    }
}

//  Everything replicated about a table, as text in id order: equal text = equal tables.
static char *
s_dump (ocf_table_t *table)
{
    char *dump = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&dump, &size);
    for (int i = 0; i < IDS; i++) {
        ocf_entry_t *entry = ocf_table_lookup (table, s_ids[i]);
        if (!entry)
            continue;
        char *row = ocf_entry_row_json (entry, false);
        json_t *member = ocf_entry_member_json (entry), *tombstone = ocf_entry_tombstone_json (entry);
        char *member_text = member ? json_dumps (member, JSON_SORT_KEYS) : NULL;
        char *tombstone_text = tombstone ? json_dumps (tombstone, JSON_SORT_KEYS) : NULL;
        fprintf (out, "%s|%s|%s|%s\n", s_ids[i], row ? row : "-", member_text ? member_text : "-",
                 tombstone_text ? tombstone_text : "-");
        free (row);
        free (member_text);
        free (tombstone_text);
        json_decref (member);
        json_decref (tombstone);
    }
    fclose (out);
    return dump;
}

static void
s_shuffle (int *order, int count, unsigned *seed)
{
    for (int i = count - 1; i > 0; i--) {
        int j = (int) s_rand (seed, (unsigned) i + 1);
        int swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
}

static void
s_free_ops (op_t *ops, int count)
{
    for (int i = 0; i < count; i++)
        if (ops[i].kind == OP_ROW)
            ocf_row_in_clear (&ops[i].row);
}

Test (merge, replicas_converge_whatever_the_order_and_duplicates)
{
    s_make_ids ();
    for (unsigned scenario = 0; scenario < SCENARIOS; scenario++) {
        unsigned seed = scenario * 7919 + 1;
        op_t ops[OPS];
        for (int i = 0; i < OPS; i++)
            s_make_op (&ops[i], &seed);
        char *reference = NULL;
        uint64_t reference_root = 0;
        for (int r = 0; r < REPLICAS; r++) {
            //  Each replica gets every op at least once, some up to three times, shuffled.
            int order[OPS * 3], count = 0;
            for (int i = 0; i < OPS; i++) {
                int copies = 1 + (int) s_rand (&seed, 3);
                for (int c = 0; c < copies; c++)
                    order[count++] = i;
            }
            s_shuffle (order, count, &seed);
            ocf_table_t *table = ocf_table_new ();
            for (int i = 0; i < count; i++)
                s_apply (table, &ops[order[i]]);
            char *dump = s_dump (table);
            if (!reference) {
                reference = dump;
                reference_root = ocf_table_root (table);
            }
            else {
                cr_assert_str_eq (dump, reference, "scenario %u replica %d diverged", scenario, r);
                cr_assert_eq (ocf_table_root (table), reference_root, "scenario %u: equal tables, different roots", scenario);
                free (dump);
            }
            ocf_table_destroy (&table);
        }
        free (reference);
        s_free_ops (ops, OPS);
    }
}

//  Exports a table's state as ops (through the wire JSON) and merges it into another:
//  merging whole replicas must be associative and commutative too.
static void
s_merge_table_into (ocf_table_t *target, ocf_table_t *source)
{
    char error[256];
    for (int i = 0; i < IDS; i++) {
        ocf_entry_t *entry = ocf_table_lookup (source, s_ids[i]);
        if (!entry)
            continue;
        json_t *tombstone = ocf_entry_tombstone_json (entry);
        if (tombstone) {
            ocf_tombstone_in_t parsed;
            cr_assert_eq (ocf_record_parse_tombstone (tombstone, &parsed, error, sizeof error), 0, "%s", error);
            ocf_table_merge_tombstone (target, &parsed, 0, NULL);
            json_decref (tombstone);
        }
        char *row_text = ocf_entry_row_json (entry, false);
        if (row_text) {
            json_t *row = json_loads (row_text, 0, NULL);
            ocf_row_in_t parsed;
            cr_assert_eq (ocf_record_parse_row (row, 65536, &parsed, error, sizeof error), 0, "%s", error);
            ocf_table_merge_row (target, &parsed, 0, NULL);
            ocf_row_in_clear (&parsed);
            json_decref (row);
            free (row_text);
        }
        else {
            json_t *member = ocf_entry_member_json (entry);
            if (member) {
                ocf_member_in_t parsed;
                cr_assert_eq (ocf_record_parse_member (member, &parsed, error, sizeof error), 0, "%s", error);
                ocf_table_merge_member (target, &parsed, 0, NULL);
                json_decref (member);
            }
        }
    }
}

Test (merge, whole_replicas_merge_associatively_and_commutatively)
{
    s_make_ids ();
    for (unsigned scenario = 0; scenario < SCENARIOS / 2; scenario++) {
        unsigned seed = scenario * 104729 + 3;
        ocf_table_t *part[3];
        op_t ops[3][OPS / 3];
        for (int p = 0; p < 3; p++) {
            part[p] = ocf_table_new ();
            for (int i = 0; i < OPS / 3; i++) {
                s_make_op (&ops[p][i], &seed);
                s_apply (part[p], &ops[p][i]);
            }
        }
        //  (a + b) + c
        ocf_table_t *left = ocf_table_new ();
        s_merge_table_into (left, part[0]);
        s_merge_table_into (left, part[1]);
        s_merge_table_into (left, part[2]);
        //  a + (c + b): b and c first, then into a
        ocf_table_t *inner = ocf_table_new ();
        s_merge_table_into (inner, part[2]);
        s_merge_table_into (inner, part[1]);
        ocf_table_t *right = ocf_table_new ();
        s_merge_table_into (right, part[0]);
        s_merge_table_into (right, inner);
        char *left_dump = s_dump (left), *right_dump = s_dump (right);
        cr_assert_str_eq (left_dump, right_dump, "scenario %u", scenario);
        cr_assert_eq (ocf_table_root (left), ocf_table_root (right));
        //  and merging again changes nothing (idempotent)
        uint64_t root = ocf_table_root (left);
        s_merge_table_into (left, right);
        cr_assert_eq (ocf_table_root (left), root);
        free (left_dump);
        free (right_dump);
        for (int p = 0; p < 3; p++) {
            ocf_table_destroy (&part[p]);
            s_free_ops (ops[p], OPS / 3);
        }
        ocf_table_destroy (&left);
        ocf_table_destroy (&inner);
        ocf_table_destroy (&right);
    }
}

Test (merge, digests_equal_exactly_when_tables_are_equal)
{
    s_make_ids ();
    int equal_pairs = 0, different_pairs = 0;
    for (unsigned scenario = 0; scenario < SCENARIOS; scenario++) {
        unsigned seed = scenario * 31 + 11;
        ocf_table_t *a = ocf_table_new (), *b = ocf_table_new ();
        //  Few ops over a small space so that equal tables happen often enough to count.
        for (int i = 0; i < 6; i++) {
            op_t op;
            s_make_op (&op, &seed);
            s_apply (a, &op);
            s_free_ops (&op, 1);
            s_make_op (&op, &seed);
            s_apply (b, &op);
            s_free_ops (&op, 1);
        }
        char *dump_a = s_dump (a), *dump_b = s_dump (b);
        bool equal = strcmp (dump_a, dump_b) == 0;
        cr_assert_eq (ocf_table_root (a) == ocf_table_root (b), equal, "scenario %u: root equality disagrees with table equality", scenario);
        for (unsigned bucket = 0; bucket < OCF_BUCKETS; bucket++)
            if (equal)
                cr_assert_eq (ocf_table_bucket_hash (a, bucket), ocf_table_bucket_hash (b, bucket));
        equal_pairs += equal;
        different_pairs += !equal;
        free (dump_a);
        free (dump_b);
        ocf_table_destroy (&a);
        ocf_table_destroy (&b);
    }
    cr_assert_gt (different_pairs, 0);
    //  Empty tables and single-op histories make some pairs equal; the check above must
    //  have seen both outcomes to mean anything.
    cr_log_info ("%d equal pairs, %d different pairs", equal_pairs, different_pairs);
}

//  --------------------------------------------------------------------------
//  Tombstones and anti-resurrection, case by case

static json_t *
s_row_json (const char *id, unsigned generation, unsigned version)
{
    return json_pack ("{s:s, s:s, s:I, s:I}", "id", id, "name", "n", "generation", (json_int_t) generation,
                      "version", (json_int_t) version);
}

//  A row as it arrives: parsed from JSON, its signature (signer's, or none) not yet checked.
static ocf_row_in_t
s_row_signed_by (json_t *row, ocf_identity_t *signer)
{
    char error[256];
    if (signer)
        cr_assert_eq (ocf_record_sign_row_json (row, signer, error, sizeof error), 0, "%s", error);
    ocf_row_in_t parsed;
    cr_assert_eq (ocf_record_parse_row (row, 65536, &parsed, error, sizeof error), 0, "%s", error);
    json_decref (row);
    return parsed;
}

static ocf_row_in_t
s_row (const char *id, unsigned generation, unsigned version)
{
    return s_row_signed_by (s_row_json (id, generation, version), s_identity_of (id));
}

static ocf_tombstone_in_t
s_tombstone (const char *id, unsigned generation, int64_t declared_at)
{
    ocf_tombstone_in_t tombstone = { .generation = generation, .reason = OCF_REASON_LEFT, .declared_at = declared_at };
    memcpy (tombstone.id, id, OCF_ID_SIZE);
    ocf_record_sign_tombstone (&tombstone, s_identity_of (id));
    tombstone.sig_state = OCF_SIG_UNCHECKED;        //  as it arrives
    return tombstone;
}

Test (tombstones, remove_the_row_and_refuse_older_generations)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_row_in_t row = s_row (s_ids[0], 5, 3);
    cr_assert (ocf_table_merge_row (table, &row, 0, NULL) & OCF_CHANGED_RECORD);
    ocf_tombstone_in_t tombstone = s_tombstone (s_ids[0], 5, 1000);
    int mask = ocf_table_merge_tombstone (table, &tombstone, 0, NULL);
    cr_assert (mask & OCF_CHANGED_TOMBSTONE);
    cr_assert (mask & OCF_CHANGED_RECORD);
    cr_assert_null (ocf_table_lookup (table, s_ids[0])->record);
    //  The same row, a later version of the same generation, an older one: all refused.
    ocf_row_in_t later = s_row (s_ids[0], 5, 9), older = s_row (s_ids[0], 4, 1);
    cr_assert_eq (ocf_table_merge_row (table, &row, 0, NULL), 0);
    cr_assert_str_eq (ocf_table_last_refusal (table), "tombstoned");
    cr_assert_eq (ocf_table_merge_row (table, &later, 0, NULL), 0);
    cr_assert_eq (ocf_table_merge_row (table, &older, 0, NULL), 0);
    ocf_member_in_t member = { .member = { 5, 9, OCF_STATUS_ALIVE } };
    memcpy (member.id, s_ids[0], OCF_ID_SIZE);
    cr_assert_eq (ocf_table_merge_member (table, &member, 0, NULL), 0, "a status cannot revive a tombstoned generation");
    //  Only a higher generation re-adds the id.
    ocf_row_in_t newer = s_row (s_ids[0], 6, 1);
    cr_assert (ocf_table_merge_row (table, &newer, 0, NULL) & OCF_CHANGED_RECORD);
    ocf_entry_t *entry = ocf_table_lookup (table, s_ids[0]);
    cr_assert_eq (entry->generation, 6);
    cr_assert (ocf_entry_live (entry));
    cr_assert (entry->has_tombstone, "the old tombstone stays until compaction");
    ocf_row_in_clear (&row);
    ocf_row_in_clear (&later);
    ocf_row_in_clear (&older);
    ocf_row_in_clear (&newer);
    ocf_table_destroy (&table);
}

Test (tombstones, earliest_declaration_wins_and_compaction_quarantines)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_tombstone_in_t late = s_tombstone (s_ids[1], 3, 5000), early = s_tombstone (s_ids[1], 3, 2000);
    ocf_table_merge_tombstone (table, &late, 0, NULL);
    cr_assert (ocf_table_merge_tombstone (table, &early, 0, NULL) & OCF_CHANGED_TOMBSTONE);
    cr_assert_eq (ocf_table_merge_tombstone (table, &late, 0, NULL), 0);
    cr_assert_eq (ocf_table_lookup (table, s_ids[1])->tomb_declared_at, 2000);
    //  Retention 10 s: nothing is due at 11,999 ms, the tombstone is at 12,000 ms.
    cr_assert_eq (ocf_table_compact (table, 11999, 10000, 60000, 512, NULL, NULL), 0);
    cr_assert_eq (ocf_table_compact (table, 12000, 10000, 60000, 512, NULL, NULL), 1);
    cr_assert_null (ocf_table_lookup (table, s_ids[1]));
    cr_assert_eq (ocf_table_tombstone_count (table), 0);
    //  A late copy of the old generation is refused during the quarantine, not after it.
    ocf_row_in_t old = s_row (s_ids[1], 3, 1);
    cr_assert_eq (ocf_table_merge_row (table, &old, 13000, NULL), 0);
    cr_assert_str_eq (ocf_table_last_refusal (table), "quarantined");
    ocf_row_in_t newer = s_row (s_ids[1], 4, 1);
    cr_assert (ocf_table_merge_row (table, &newer, 13000, NULL) & OCF_CHANGED_RECORD);
    ocf_row_in_clear (&old);
    ocf_row_in_clear (&newer);
    ocf_table_destroy (&table);
}

Test (tombstones, reap_declares_nodes_dead_for_longer_than_reap_after)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    for (int i = 0; i < 3; i++) {
        ocf_row_in_t row = s_row (s_ids[i], 2, 1);
        ocf_table_merge_row (table, &row, 0, NULL);
        ocf_row_in_clear (&row);
    }
    ocf_member_in_t dead = { .member = { 2, 0, OCF_STATUS_DEAD } };
    memcpy (dead.id, s_ids[0], OCF_ID_SIZE);
    ocf_table_merge_member (table, &dead, 1000, NULL);          //  dead since 1 s
    memcpy (dead.id, s_ids[1], OCF_ID_SIZE);
    ocf_table_merge_member (table, &dead, 50000, NULL);         //  dead since 50 s
    cr_assert_eq (ocf_table_reap (table, 60000, 30000, s_ids[2], NULL, NULL), 1);
    cr_assert_null (ocf_table_lookup (table, s_ids[0])->record);
    cr_assert_eq (ocf_table_lookup (table, s_ids[0])->tomb_reason, OCF_REASON_REAPED);
    cr_assert_not_null (ocf_table_lookup (table, s_ids[1])->record, "dead for 10 s only");
    cr_assert (ocf_entry_live (ocf_table_lookup (table, s_ids[2])));
    ocf_table_destroy (&table);
}

Test (membership, incarnation_orders_status_and_new_generation_starts_alive)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_row_in_t row = s_row (s_ids[0], 7, 1);
    ocf_table_merge_row (table, &row, 0, NULL);
    ocf_member_in_t update = { .member = { 7, 0, OCF_STATUS_SUSPECT } };
    memcpy (update.id, s_ids[0], OCF_ID_SIZE);
    cr_assert (ocf_table_merge_member (table, &update, 0, NULL) & OCF_CHANGED_MEMBER);
    //  The refutation: alive with a higher incarnation beats suspect.
    update.member = (ocf_member_t) { 7, 1, OCF_STATUS_ALIVE };
    cr_assert (ocf_table_merge_member (table, &update, 0, NULL) & OCF_CHANGED_MEMBER);
    //  A stale suspicion of the old incarnation does not.
    update.member = (ocf_member_t) { 7, 0, OCF_STATUS_DEAD };
    cr_assert_eq (ocf_table_merge_member (table, &update, 0, NULL), 0);
    cr_assert_eq (ocf_table_lookup (table, s_ids[0])->member.status, OCF_STATUS_ALIVE);
    update.member = (ocf_member_t) { 7, 1, OCF_STATUS_DEAD };
    cr_assert (ocf_table_merge_member (table, &update, 0, NULL));
    cr_assert (!ocf_entry_live (ocf_table_lookup (table, s_ids[0])));
    //  A restart (new generation) is alive again at incarnation 0.
    ocf_row_in_t restarted = s_row (s_ids[0], 8, 1);
    ocf_table_merge_row (table, &restarted, 0, NULL);
    ocf_entry_t *entry = ocf_table_lookup (table, s_ids[0]);
    cr_assert_eq (entry->member.generation, 8);
    cr_assert_eq (entry->member.incarnation, 0);
    cr_assert_eq (entry->member.status, OCF_STATUS_ALIVE);
    ocf_row_in_clear (&row);
    ocf_row_in_clear (&restarted);
    ocf_table_destroy (&table);
}

//  The all-zero key: a well-formed id nobody can sign for.
#define ID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

Test (records, rejected_with_a_message_naming_the_problem)
{
    static const struct { const char *json; const char *expected; } cases[] = {
        { "{\"name\":\"n\",\"generation\":1,\"version\":1}", "\"id\" is missing" },
        { "{\"id\":\"short\",\"name\":\"n\",\"generation\":1,\"version\":1}", "52 base32 characters" },
        { "{\"id\":\"" ID "\",\"name\":\"n\",\"generation\":0,\"version\":1}", "\"generation\" must be an integer >= 1" },
        { "{\"id\":\"" ID "\",\"name\":\"n\",\"generation\":1}", "\"version\" is missing" },
        { "{\"id\":\"" ID "\",\"generation\":1,\"version\":1}", "\"name\"" },
        { "{\"id\":\"" ID "\",\"name\":\"n\",\"generation\":1,\"version\":1,\"status\":\"zombie\"}", "\"status\" must be" },
        { "{\"id\":\"" ID "\",\"name\":\"n\",\"generation\":1,\"version\":1,\"sig\":\"AAAA\"}", "\"sig\" must be" },
        { "{\"id\":\"" ID "\",\"name\":\"n\",\"generation\":1,\"version\":1,\"services\":[{\"name\":\"bad name\"}]}", "service \"name\"" },
        { "{\"id\":\"" ID "\",\"name\":\"n\",\"generation\":1,\"version\":1,\"services\":[{\"name\":\"a\",\"port\":70000}]}", "\"port\"" },
        { "{\"id\":\"" ID "\",\"name\":\"n\",\"generation\":1,\"version\":1,\"services\":[{\"name\":\"a\"},{\"name\":\"a\"}]}", "listed twice" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *row = json_loads (cases[i].json, 0, NULL);
        cr_assert_not_null (row, "case %zu is not JSON", i);
        ocf_row_in_t parsed;
        char error[256] = "";
        cr_assert_eq (ocf_record_parse_row (row, 65536, &parsed, error, sizeof error), -1, "case %zu accepted", i);
        cr_assert (strstr (error, cases[i].expected), "case %zu: \"%s\" does not mention %s", i, error, cases[i].expected);
        json_decref (row);
    }
}

//  --------------------------------------------------------------------------
//  Signatures: each case fails when the table does not verify

Test (signatures, a_row_signed_by_its_node_merges)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_row_in_t row = s_row (s_ids[0], 3, 1);
    cr_assert (ocf_table_merge_row (table, &row, 0, NULL) & OCF_CHANGED_RECORD);
    ocf_row_in_clear (&row);
    ocf_table_destroy (&table);
}

Test (signatures, a_row_signed_by_another_key_is_refused)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_row_in_t forged = s_row_signed_by (s_row_json (s_ids[0], 3, 1), s_identities[1]);
    cr_assert_eq (ocf_table_merge_row (table, &forged, 0, NULL), 0);
    cr_assert_str_eq (ocf_table_last_refusal (table), "signature");
    cr_assert_null (ocf_table_lookup (table, s_ids[0]));
    ocf_row_in_t unsigned_row = s_row_signed_by (s_row_json (s_ids[0], 3, 1), NULL);
    cr_assert_eq (ocf_table_merge_row (table, &unsigned_row, 0, NULL), 0);
    cr_assert_str_eq (ocf_table_last_refusal (table), "signature");
    ocf_row_in_clear (&forged);
    ocf_row_in_clear (&unsigned_row);
    ocf_table_destroy (&table);
}

//  Signs a row, then changes it the way a relay would: the signature no longer matches.
static ocf_row_in_t
s_row_altered (const char *id, const char *key, json_t *value)
{
    json_t *row = s_row_json (id, 3, 1);
    char error[256];
    cr_assert_eq (ocf_record_sign_row_json (row, s_identity_of (id), error, sizeof error), 0, "%s", error);
    json_object_set_new (row, key, value);
    return s_row_signed_by (row, NULL);
}

Test (signatures, an_altered_row_is_refused)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_row_in_t renamed = s_row_altered (s_ids[0], "name", json_string ("m"));      //  one byte of the record
    ocf_row_in_t bumped = s_row_altered (s_ids[0], "version", json_integer (2));      //  a newer version, forged
    ocf_row_in_t added = s_row_altered (s_ids[0], "labels", json_pack ("{s:s}", "rack", "evil"));
    ocf_row_in_t *altered[] = { &renamed, &bumped, &added };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq (ocf_table_merge_row (table, altered[i], 0, NULL), 0, "alteration %zu accepted", i);
        cr_assert_str_eq (ocf_table_last_refusal (table), "signature");
        ocf_row_in_clear (altered[i]);
    }
    cr_assert_null (ocf_table_lookup (table, s_ids[0]));
    ocf_table_destroy (&table);
}

Test (signatures, a_copy_of_what_is_held_costs_no_verification)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_row_in_t row = s_row (s_ids[0], 3, 1);
    ocf_table_merge_row (table, &row, 0, NULL);
    //  The same record under a wrong signature: a duplicate, never checked.
    row.sig[0] ^= 1;
    cr_assert_eq (ocf_table_merge_row (table, &row, 0, NULL), 0);
    cr_assert_str_eq (ocf_table_last_refusal (table), "duplicate");
    ocf_row_in_clear (&row);
    ocf_table_destroy (&table);
}

//  A table's row as it leaves it (the JSON tabled sends), parsed as the next host does.
static ocf_row_in_t
s_relayed (ocf_table_t *table, const char *id)
{
    char *text = ocf_entry_row_json (ocf_table_lookup (table, id), false);
    cr_assert_not_null (text);
    json_t *row = json_loads (text, 0, NULL);
    free (text);
    return s_row_signed_by (row, NULL);
}

Test (signatures, a_relayed_row_verifies_on_a_third_table)
{
    s_make_ids ();
    ocf_table_t *tables[3] = { ocf_table_new (), ocf_table_new (), ocf_table_new () };
    ocf_row_in_t row = s_row (s_ids[2], 8, 4);
    cr_assert (ocf_table_merge_row (tables[0], &row, 0, NULL) & OCF_CHANGED_RECORD);
    ocf_row_in_clear (&row);
    for (int hop = 1; hop < 3; hop++) {
        ocf_row_in_t relayed = s_relayed (tables[hop - 1], s_ids[2]);
        cr_assert (relayed.has_sig);
        cr_assert (ocf_table_merge_row (tables[hop], &relayed, 0, NULL) & OCF_CHANGED_RECORD, "hop %d: %s", hop,
                   ocf_table_last_refusal (tables[hop]));
        ocf_row_in_clear (&relayed);
    }
    cr_assert_eq (ocf_table_root (tables[2]), ocf_table_root (tables[0]));
    for (int i = 0; i < 3; i++)
        ocf_table_destroy (&tables[i]);
}

Test (signatures, a_forged_leave_is_refused_and_a_reap_needs_no_signature)
{
    s_make_ids ();
    ocf_table_t *table = ocf_table_new ();
    ocf_row_in_t row = s_row (s_ids[0], 5, 1);
    ocf_table_merge_row (table, &row, 0, NULL);
    ocf_row_in_clear (&row);
    ocf_tombstone_in_t forged = { .generation = 5, .reason = OCF_REASON_LEFT, .declared_at = 1000 };
    memcpy (forged.id, s_ids[0], OCF_ID_SIZE);
    ocf_record_sign_tombstone (&forged, s_identities[1]);
    forged.sig_state = OCF_SIG_UNCHECKED;
    cr_assert_eq (ocf_table_merge_tombstone (table, &forged, 0, NULL), 0);
    cr_assert_str_eq (ocf_table_last_refusal (table), "signature");
    //  The owner's leave, with its declaration time changed on the way: refused too.
    ocf_tombstone_in_t moved = s_tombstone (s_ids[0], 5, 1000);
    moved.declared_at = 1;
    cr_assert_eq (ocf_table_merge_tombstone (table, &moved, 0, NULL), 0);
    cr_assert (ocf_entry_live (ocf_table_lookup (table, s_ids[0])));
    ocf_tombstone_in_t left = s_tombstone (s_ids[0], 5, 1000);
    cr_assert (ocf_table_merge_tombstone (table, &left, 0, NULL) & OCF_CHANGED_TOMBSTONE);
    //  A reaped tombstone is anyone's to declare (tabled decides when to take one).
    ocf_tombstone_in_t reaped = { .generation = 9, .reason = OCF_REASON_REAPED, .declared_at = 2000 };
    memcpy (reaped.id, s_ids[1], OCF_ID_SIZE);
    cr_assert (ocf_table_merge_tombstone (table, &reaped, 0, NULL) & OCF_CHANGED_TOMBSTONE);
    ocf_table_destroy (&table);
}

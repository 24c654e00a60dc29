/*  Fuzz target: the record parser, its signatures and the merge (tabled/ocf_record.c,
    tabled/ocf_table.c). Input: a JSON array of rows, members and tombstones (anything else
    is refused); the corpus holds rows and leaves signed by their nodes, and forged ones.
    Whatever is accepted is merged into two tables in opposite orders, which must end
    identical; every row a table holds must be taken, signature checked, by a third table
    as it leaves the first (what relays do).  */
#include "ocf_table.h"

#include <stdlib.h>

static int
s_merge_item (ocf_table_t *table, json_t *item)
{
    char error[256];
    ocf_row_in_t row;
    ocf_member_in_t member;
    ocf_tombstone_in_t tombstone;
    if (ocf_record_parse_row (item, 65536, &row, error, sizeof error) == 0) {
        ocf_table_merge_row (table, &row, 1, NULL);
        ocf_row_in_clear (&row);
        return 1;
    }
    if (ocf_record_parse_member (item, &member, error, sizeof error) == 0) {
        ocf_table_merge_member (table, &member, 1, NULL);
        return 1;
    }
    if (ocf_record_parse_tombstone (item, &tombstone, error, sizeof error) == 0) {
        ocf_table_merge_tombstone (table, &tombstone, 1, NULL);
        return 1;
    }
    return 0;
}

static bool
s_relay (ocf_entry_t *entry, void *arg)
{
    char *text = ocf_entry_row_json (entry, false);
    if (!text)
        return true;
    json_t *row = json_loads (text, 0, NULL);
    ocf_row_in_t parsed;
    char error[256];
    if (ocf_record_parse_row (row, 65536, &parsed, error, sizeof error) != 0
    ||  !(ocf_table_merge_row (arg, &parsed, 1, NULL) & OCF_CHANGED_RECORD))
        abort ();
    ocf_row_in_clear (&parsed);
    json_decref (row);
    free (text);
    return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *items = json_loadb ((const char *) data, size, 0, NULL);
    if (!json_is_array (items)) {
        json_decref (items);
        return 0;
    }
    ocf_table_t *forward = ocf_table_new ();
    ocf_table_t *backward = ocf_table_new ();
    size_t count = json_array_size (items);
    for (size_t i = 0; i < count; i++)
        s_merge_item (forward, json_array_get (items, i));
    for (size_t i = count; i > 0; i--)
        s_merge_item (backward, json_array_get (items, i - 1));
    if (ocf_table_root (forward) != ocf_table_root (backward) || ocf_table_size (forward) != ocf_table_size (backward))
        abort ();
    ocf_table_t *relayed = ocf_table_new ();
    ocf_table_foreach (forward, s_relay, relayed);
    ocf_table_destroy (&relayed);
    ocf_table_destroy (&forward);
    ocf_table_destroy (&backward);
    json_decref (items);
    return 0;
}

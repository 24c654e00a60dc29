/*  ocf_columns: prints a list of JSON objects as aligned columns for people, in the habit of
    `serf members` and `systemctl list-units`: a header line, then one line per object, each
    column as wide as its widest cell, two spaces between. Owns only how a value is shown
    (strings as they are, numbers, arrays joined by commas, null or an empty array as "-"), so
    a command's --json output and its table are made from the same objects.  */
#ifndef OCF_COLUMNS_H
#define OCF_COLUMNS_H

#include <jansson.h>
#include <stdio.h>

typedef struct {
    const char *header;          //  "NAME"
    const char *key;             //  the member of each object shown in the column
} ocf_column_t;

//  columns ends with { NULL, NULL }; objects is an array of objects.
void ocf_columns_print (FILE *out, const ocf_column_t *columns, json_t *objects);
//  How a value is shown in a cell (caller frees).
char *ocf_columns_cell (json_t *value);

#endif

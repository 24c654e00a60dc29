/*  ocf_columns: aligned columns for people.  */
#include "ocf_columns.h"
#include "ocf_alloc.h"
#include "ocf_strbuf.h"

#include <string.h>

static void
s_scalar (ocf_strbuf_t *text, json_t *value)
{
    if (json_is_string (value))
        ocf_strbuf_append (text, json_string_value (value), json_string_length (value));
    else
    if (json_is_integer (value))
        ocf_strbuf_printf (text, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
    else
    if (json_is_real (value))
        ocf_strbuf_printf (text, "%.1f", json_real_value (value));
    else
    if (json_is_boolean (value))
        ocf_strbuf_puts (text, json_is_true (value) ? "yes" : "no");
    else {
        char *dumped = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        ocf_strbuf_puts (text, dumped ? dumped : "?");
        free (dumped);
    }
}

char *
ocf_columns_cell (json_t *value)
{
    ocf_strbuf_t text = { 0 };
    if (!value || json_is_null (value) || (json_is_array (value) && json_array_size (value) == 0))
        ocf_strbuf_puts (&text, "-");
    else
    if (json_is_array (value)) {
        size_t index;
        json_t *item;
        json_array_foreach (value, index, item) {
            if (index)
                ocf_strbuf_puts (&text, ",");
            s_scalar (&text, item);
        }
    }
    else
        s_scalar (&text, value);
    return text.data ? text.data : ocf_strdup ("");
}

//  Characters on the screen, not bytes: names may be UTF-8.
static size_t
s_width (const char *text)
{
    size_t width = 0;
    for (; *text; text++)
        width += ((unsigned char) *text & 0xC0) != 0x80;
    return width;
}

static void
s_line (FILE *out, char **cells, const size_t *widths, size_t count)
{
    for (size_t column = 0; column < count; column++) {
        fputs (cells[column], out);
        if (column + 1 < count)
            fprintf (out, "%*s", (int) (widths[column] - s_width (cells[column]) + 2), "");
    }
    fputc ('\n', out);
}

void
ocf_columns_print (FILE *out, const ocf_column_t *columns, json_t *objects)
{
    size_t count = 0;
    while (columns[count].header)
        count++;
    size_t rows = json_array_size (objects);
    char **cells = ocf_calloc ((rows + 1) * count, sizeof *cells);
    size_t *widths = ocf_calloc (count, sizeof *widths);
    for (size_t column = 0; column < count; column++) {
        cells[column] = ocf_strdup (columns[column].header);
        widths[column] = s_width (cells[column]);
    }
    for (size_t row = 0; row < rows; row++)
        for (size_t column = 0; column < count; column++) {
            char *cell = ocf_columns_cell (json_object_get (json_array_get (objects, row), columns[column].key));
            size_t width = s_width (cell);
            if (width > widths[column])
                widths[column] = width;
            cells[(row + 1) * count + column] = cell;
        }
    for (size_t row = 0; row <= rows; row++)
        s_line (out, cells + row * count, widths, count);
    for (size_t cell = 0; cell < (rows + 1) * count; cell++)
        free (cells[cell]);
    free (cells);
    free (widths);
}

/*  ocf_promtext: Prometheus text exposition.  */
#include "ocf_promtext.h"
#include "ocf_alloc.h"
#include "ocf_strbuf.h"

#include <czmq.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SAMPLES 20000        //  a STATS reply cannot make the page unbounded
#define MAX_LABELS 16

typedef struct {
    char *name;
    char *type;
    char *help;
    ocf_strbuf_t samples;
} family_t;

struct _ocf_promtext_t {
    zhashx_t *families;          //  name -> family_t
    zlistx_t *order;             //  family_t, in declaration order
    size_t samples;
};

static void
s_family_destroy (void **item)
{
    family_t *family = *item;
    if (!family)
        return;
    free (family->name);
    free (family->type);
    free (family->help);
    ocf_strbuf_free (&family->samples);
    free (family);
    *item = NULL;
}

ocf_promtext_t *
ocf_promtext_new (void)
{
    ocf_promtext_t *self = ocf_calloc (1, sizeof *self);
    self->families = zhashx_new ();
    zhashx_set_destructor (self->families, s_family_destroy);
    self->order = zlistx_new ();
    return self;
}

void
ocf_promtext_destroy (ocf_promtext_t **self_p)
{
    ocf_promtext_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->order);
    zhashx_destroy (&self->families);
    free (self);
    *self_p = NULL;
}

void
ocf_promtext_family (ocf_promtext_t *self, const char *name, const char *type, const char *help)
{
    if (zhashx_lookup (self->families, name))
        return;
    family_t *family = ocf_calloc (1, sizeof *family);
    family->name = ocf_strdup (name);
    family->type = ocf_strdup (type);
    //  HELP text escapes backslashes and newlines.
    ocf_strbuf_t text = { 0 };
    for (const char *c = help; *c; c++) {
        if (*c == '\\')
            ocf_strbuf_puts (&text, "\\\\");
        else
        if (*c == '\n')
            ocf_strbuf_puts (&text, "\\n");
        else
            ocf_strbuf_append (&text, c, 1);
    }
    family->help = text.data ? text.data : ocf_strdup ("");
    zhashx_insert (self->families, name, family);
    zlistx_add_end (self->order, family);
}

static void
s_value (ocf_strbuf_t *out, double value)
{
    if (isnan (value))
        ocf_strbuf_puts (out, "NaN");
    else
    if (isinf (value))
        ocf_strbuf_puts (out, value > 0 ? "+Inf" : "-Inf");
    else
        ocf_strbuf_printf (out, "%.15g", value);
}

void
ocf_promtext_sample (ocf_promtext_t *self, const char *name, const char *suffix, double value, const char *const *labels)
{
    family_t *family = zhashx_lookup (self->families, name);
    if (!family || self->samples >= MAX_SAMPLES)
        return;
    self->samples++;
    ocf_strbuf_t *out = &family->samples;
    ocf_strbuf_printf (out, "%s%s", name, suffix);
    if (labels && labels[0]) {
        ocf_strbuf_puts (out, "{");
        for (const char *const *label = labels; label[0] && label[1]; label += 2) {
            ocf_strbuf_printf (out, "%s%s=\"", label == labels ? "" : ",", label[0]);
            for (const char *c = label[1]; *c; c++) {
                if (*c == '\\' || *c == '"')
                    ocf_strbuf_printf (out, "\\%c", *c);
                else
                if (*c == '\n')
                    ocf_strbuf_puts (out, "\\n");
                else
                    ocf_strbuf_append (out, c, 1);
            }
            ocf_strbuf_puts (out, "\"");
        }
        ocf_strbuf_puts (out, "}");
    }
    ocf_strbuf_puts (out, " ");
    s_value (out, value);
    ocf_strbuf_puts (out, "\n");
}

char *
ocf_promtext_render (ocf_promtext_t *self, size_t *len)
{
    ocf_strbuf_t page = { 0 };
    for (family_t *family = zlistx_first (self->order); family; family = zlistx_next (self->order)) {
        if (!family->samples.len)
            continue;
        ocf_strbuf_printf (&page, "# HELP %s %s\n# TYPE %s %s\n", family->name, family->help, family->name, family->type);
        ocf_strbuf_append (&page, family->samples.data, family->samples.len);
    }
    if (!page.data)
        ocf_strbuf_puts (&page, "");
    *len = page.len;
    return page.data;
}

//  --------------------------------------------------------------------------
//  Names

static const struct {
    const char *tokens;          //  space-separated spellings
    const char *base;
    double factor;
} s_units[] = {
    { " ms msec msecs millis millisecond milliseconds ", "seconds", 1e-3 },
    { " us usec usecs micros microsecond microseconds ", "seconds", 1e-6 },
    { " ns nsec nsecs nanos nanosecond nanoseconds ", "seconds", 1e-9 },
    { " s sec secs second ", "seconds", 1 },
    { " m min mins minute minutes ", "seconds", 60 },
    { " h hr hrs hour hours ", "seconds", 3600 },
    { " d day days ", "seconds", 86400 },
    { " b byte ", "bytes", 1 },
    { " kb kib kilobyte kilobytes ", "bytes", 1024.0 },
    { " mb mib megabyte megabytes ", "bytes", 1048576.0 },
    { " gb gib gigabyte gigabytes ", "bytes", 1073741824.0 },
    { " tb tib terabyte terabytes ", "bytes", 1099511627776.0 },
    { " pb pib petabyte petabytes ", "bytes", 1125899906842624.0 },
};

//  snake_case with only [a-z0-9_], no doubled or outer underscores.
static void
s_snake (const char *text, char *out, size_t size)
{
    size_t len = 0;
    for (const char *c = text; *c && len + 2 < size; c++) {
        char ch = *c;
        bool upper = ch >= 'A' && ch <= 'Z';
        bool alnum = upper || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (upper && c > text && ((c[-1] >= 'a' && c[-1] <= 'z') || (c[-1] >= '0' && c[-1] <= '9')))
            out[len++] = '_';
        if (!alnum)
            ch = '_';
        else
        if (upper)
            ch = (char) (ch - 'A' + 'a');
        if (ch == '_' && (len == 0 || out[len - 1] == '_'))
            continue;
        out[len++] = ch;
    }
    while (len && out[len - 1] == '_')
        len--;
    out[len] = '\0';
}

double
ocf_promtext_name (const char *text, char *name, size_t size)
{
    char snake[256];
    s_snake (text, snake, sizeof snake);
    double factor = 1;
    size_t len = 0;
    const char *last = "";
    name[0] = '\0';
    char *saveptr = NULL;
    for (char *token = strtok_r (snake, "_", &saveptr); token; token = strtok_r (NULL, "_", &saveptr)) {
        char padded[80];
        snprintf (padded, sizeof padded, " %s ", token);
        const char *word = token;
        for (size_t u = 0; u < sizeof s_units / sizeof s_units[0]; u++)
            if (strstr (s_units[u].tokens, padded)) {
                word = s_units[u].base;
                factor *= s_units[u].factor;
                break;
            }
        len += (size_t) snprintf (name + len, len < size ? size - len : 0, "%s%s", len ? "_" : "", word);
        last = word;
        if (len >= size)
            break;
    }
    if (strcmp (last, "total") == 0 || strcmp (last, "count") == 0 || strcmp (last, "sum") == 0
    ||  strcmp (last, "bucket") == 0 || len == 0)
        snprintf (name + len, len < size ? size - len : 0, "%svalue", len ? "_" : "");
    return factor;
}

//  --------------------------------------------------------------------------
//  Generic STATS rendering

typedef struct {
    const char *items[MAX_LABELS * 2 + 1];
    char storage[MAX_LABELS][64];  //  sanitized label names
    size_t count;
} labels_t;

static void
s_label (labels_t *labels, const char *name, const char *value)
{
    if (labels->count >= MAX_LABELS)
        return;
    char *clean = labels->storage[labels->count];
    s_snake (name, clean, sizeof labels->storage[0]);
    if (!*clean || (clean[0] >= '0' && clean[0] <= '9')) {
        char original[64];
        snprintf (original, sizeof original, "%s", clean);
        snprintf (clean, sizeof labels->storage[0], "label_%s", original);
    }
    for (size_t i = 0; i < labels->count; i++)
        if (strcmp (labels->items[i * 2], clean) == 0)
            return;              //  a label name may appear once per sample
    labels->items[labels->count * 2] = clean;
    labels->items[labels->count * 2 + 1] = value;
    labels->count++;
    labels->items[labels->count * 2] = NULL;
}

static bool
s_numeric (json_t *value, double *number)
{
    if (json_is_integer (value))
        *number = (double) json_integer_value (value);
    else
    if (json_is_real (value))
        *number = json_real_value (value);
    else
    if (json_is_boolean (value))
        *number = json_is_true (value);
    else
        return false;
    return true;
}

static void
s_gauge (ocf_promtext_t *self, const char *daemon, const char *base, const char *part, double value, labels_t *labels)
{
    char clean[200], name[300], help[400];
    double factor = ocf_promtext_name (part, clean, sizeof clean);
    snprintf (name, sizeof name, "%s_%s", base, clean);
    snprintf (help, sizeof help, "%s from the STATS reply of ocf-%s", part, daemon);
    ocf_promtext_family (self, name, "gauge", help);
    ocf_promtext_sample (self, name, "", value * factor, labels->count ? labels->items : NULL);
}

//  An object's members: strings become labels, numbers become "<base>_<part>_<member>".
static void
s_record (ocf_promtext_t *self, const char *daemon, const char *base, const char *part, json_t *object, labels_t labels)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value)
        if (json_is_string (value))
            s_label (&labels, key, json_string_value (value));
    json_object_foreach (object, key, value) {
        double number;
        if (s_numeric (value, &number)) {
            char joined[300];
            snprintf (joined, sizeof joined, "%s_%s", part, key);
            s_gauge (self, daemon, base, joined, number, &labels);
        }
    }
}

void
ocf_promtext_stats (ocf_promtext_t *self, const char *daemon, json_t *stats)
{
    char base[128];
    snprintf (base, sizeof base, "ocf_");
    s_snake (daemon, base + 4, sizeof base - 4);
    labels_t info = { .count = 0 };
    const char *key;
    json_t *value;
    json_object_foreach (stats, key, value) {
        double number;
        labels_t labels = { .count = 0 };
        if (strcmp (key, "v") == 0)
            continue;
        if (json_is_string (value))
            s_label (&info, key, json_string_value (value));
        else
        if (s_numeric (value, &number))
            s_gauge (self, daemon, base, key, number, &labels);
        else
        if (json_is_object (value)) {
            const char *member;
            json_t *item;
            json_object_foreach (value, member, item) {
                labels_t keyed = { .count = 0 };
                s_label (&keyed, "key", member);
                if (s_numeric (item, &number))
                    s_gauge (self, daemon, base, key, number, &keyed);
                else
                if (json_is_object (item))
                    s_record (self, daemon, base, key, item, keyed);
            }
        }
        else
        if (json_is_array (value)) {
            size_t index;
            json_t *item;
            json_array_foreach (value, index, item) {
                char position[24];
                snprintf (position, sizeof position, "%zu", index);
                labels_t indexed = { .count = 0 };
                if (s_numeric (item, &number)) {
                    s_label (&indexed, "index", position);
                    s_gauge (self, daemon, base, key, number, &indexed);
                }
                else
                if (json_is_object (item)) {
                    bool named = false;
                    const char *member;
                    json_t *field;
                    json_object_foreach (item, member, field)
                        named |= json_is_string (field);
                    if (!named)
                        s_label (&indexed, "index", position);
                    s_record (self, daemon, base, key, item, indexed);
                }
            }
        }
    }
    if (info.count) {
        char name[160], help[200];
        snprintf (name, sizeof name, "%s_info", base);
        snprintf (help, sizeof help, "Text fields of the STATS reply of ocf-%s", daemon);
        ocf_promtext_family (self, name, "gauge", help);
        ocf_promtext_sample (self, name, "", 1, info.items);
    }
}

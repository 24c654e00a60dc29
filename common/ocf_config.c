/*  ocf_config: schema-driven INI configuration.  */
#include "ocf_config.h"
#include "ocf_alloc.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Every section of the shared file, in the order they are printed.
static const ocf_config_section_t *s_sections[] = {
    &ocf_node_config_section, &ocf_tabled_config_section, &ocf_gossipd_config_section,
    &ocf_proxyd_config_section, &ocf_workerd_config_section, &ocf_service_config_section
};
#define SECTION_COUNT (sizeof s_sections / sizeof s_sections[0])
#define MAX_ERRORS 64

//  --------------------------------------------------------------------------
//  Value parsing

typedef struct {
    const char *unit;
    double factor;
} unit_t;

//  A non-negative number followed by one of the units (the empty unit included when listed).
static int
s_parse_scaled (const char *text, const unit_t *units, size_t count, int64_t *out)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (end == text || errno || !isfinite (value) || value < 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (strcmp (end, units[i].unit) == 0) {
            double result = value * units[i].factor;
            if (result > 9e15)
                return -1;
            *out = (int64_t) result;
            return 0;
        }
    return -1;
}

int
ocf_config_parse_duration (const char *text, int64_t *ms)
{
    static const unit_t units[] = {
        { "ms", 1 }, { "s", 1000 }, { "sec", 1000 }, { "m", 60000 }, { "min", 60000 },
        { "h", 3600000 }, { "d", 86400000 }, { "", 1000 }
    };
    return s_parse_scaled (text, units, sizeof units / sizeof units[0], ms);
}

int
ocf_config_parse_size (const char *text, int64_t *bytes)
{
    static const unit_t units[] = {
        { "", 1 }, { "B", 1 }, { "K", 1024 }, { "KiB", 1024 }, { "KB", 1000 },
        { "M", 1048576 }, { "MiB", 1048576 }, { "MB", 1e6 },
        { "G", 1073741824 }, { "GiB", 1073741824 }, { "GB", 1e9 }
    };
    return s_parse_scaled (text, units, sizeof units / sizeof units[0], bytes);
}

int
ocf_config_parse_hostport (const char *text, char *host_out, size_t host_size, int *port)
{
    const char *colon;
    const char *host = text;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr (text, ']');
        if (!close || close[1] != ':')
            return -1;
        host = text + 1;
        host_len = close - host;
        colon = close + 1;
    }
    else {
        colon = strrchr (text, ':');
        if (!colon || memchr (text, ':', colon - text))
            return -1;
        host_len = colon - text;
    }
    if (host_len == 0 || host_len >= host_size)
        return -1;
    char *end;
    errno = 0;
    long value = strtol (colon + 1, &end, 10);
    if (end == colon + 1 || *end || errno || value < 1 || value > 65535)
        return -1;
    memcpy (host_out, host, host_len);
    host_out[host_len] = '\0';
    *port = (int) value;
    return 0;
}

char **
ocf_config_split_argv (const char *command, char *error, size_t error_size)
{
    size_t capacity = 8, count = 0;
    char **argv = ocf_calloc (capacity, sizeof *argv);
    char *word = ocf_malloc (strlen (command) + 1);
    const char *cursor = command;
    while (true) {
        while (isspace ((unsigned char) *cursor))
            cursor++;
        if (!*cursor)
            break;
        size_t len = 0;
        char quote = 0;
        for (; *cursor && (quote || !isspace ((unsigned char) *cursor)); cursor++) {
            if (quote && *cursor == quote)
                quote = 0;
            else
            if (!quote && (*cursor == '\'' || *cursor == '"'))
                quote = *cursor;
            else
            if (*cursor == '\\' && quote != '\'' && cursor[1])
                word[len++] = *++cursor;
            else
                word[len++] = *cursor;
        }
        if (quote) {
            snprintf (error, error_size, "unterminated %c quote", quote);
            free (word);
            ocf_config_argv_free (&argv);
            return NULL;
        }
        if (count + 2 > capacity)
            argv = ocf_realloc (argv, (capacity *= 2) * sizeof *argv);
        argv[count++] = ocf_strndup (word, len);
        argv[count] = NULL;
    }
    free (word);
    if (count == 0) {
        snprintf (error, error_size, "empty command");
        ocf_config_argv_free (&argv);
        return NULL;
    }
    return argv;
}

void
ocf_config_argv_free (char ***argv_p)
{
    char **argv = *argv_p;
    if (!argv)
        return;
    for (char **arg = argv; *arg; arg++)
        free (*arg);
    free (argv);
    *argv_p = NULL;
}

//  --------------------------------------------------------------------------
//  Errors

void
ocf_config_error (ocf_config_t *self, const char *format, ...)
{
    size_t used = self->errors ? strlen (self->errors) : 0;
    size_t lines = 0;
    for (size_t i = 0; i < used; i++)
        lines += self->errors[i] == '\n';
    if (lines >= MAX_ERRORS)
        return;
    char message[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    self->errors = ocf_realloc (self->errors, used + strlen (message) + 2);
    sprintf (self->errors + used, "%s\n", message);
}

static int
s_error_count (ocf_config_t *self)
{
    int count = 0;
    for (const char *c = self->errors; c && *c; c++)
        count += *c == '\n';
    return count;
}

const char *
ocf_config_errors (ocf_config_t *self)
{
    return self->errors ? self->errors : "";
}

//  --------------------------------------------------------------------------
//  Applying values

static const ocf_config_key_t *
s_key_find (const ocf_config_section_t *section, const char *key)
{
    for (size_t i = 0; i < section->key_count; i++)
        if (strcmp (section->keys[i].key, key) == 0)
            return &section->keys[i];
    return NULL;
}

static bool
s_enum_allows (const char *choices, const char *value)
{
    size_t len = strlen (value);
    for (const char *c = choices; *c; ) {
        const char *bar = strchr (c, '|');
        size_t choice_len = bar ? (size_t) (bar - c) : strlen (c);
        if (choice_len == len && strncmp (c, value, len) == 0)
            return true;
        if (!bar)
            break;
        c = bar + 1;
    }
    return false;
}

//  Parses text into the field at base+offset; on failure writes why into problem.
static int
s_apply (const ocf_config_key_t *spec, void *base, const char *text, char *problem, size_t problem_size)
{
    void *field = (char *) base + spec->offset;
    int64_t number = 0;
    double real = 0;
    switch (spec->type) {
        case OCF_CONFIG_STRING:
            free (*(char **) field);
            *(char **) field = text ? ocf_strdup (text) : NULL;
            return 0;
        case OCF_CONFIG_ENUM:
            if (!s_enum_allows (spec->choices, text)) {
                snprintf (problem, problem_size, "'%s' is not one of %s", text, spec->choices);
                return -1;
            }
            free (*(char **) field);
            *(char **) field = ocf_strdup (text);
            return 0;
        case OCF_CONFIG_HOSTPORT: {
            char host[256];
            int port;
            if (ocf_config_parse_hostport (text, host, sizeof host, &port) != 0) {
                snprintf (problem, problem_size, "'%s' is not host:port", text);
                return -1;
            }
            free (*(char **) field);
            *(char **) field = ocf_strdup (text);
            return 0;
        }
        case OCF_CONFIG_INT: {
            char *end;
            errno = 0;
            long long value = strtoll (text, &end, 10);
            if (end == text || *end || errno) {
                snprintf (problem, problem_size, "'%s' is not an integer", text);
                return -1;
            }
            number = value;
            real = (double) value;
            break;
        }
        case OCF_CONFIG_DURATION:
            if (ocf_config_parse_duration (text, &number) != 0) {
                snprintf (problem, problem_size, "'%s' is not a duration (e.g. 500ms, 30s, 5min, 1h, 1d)", text);
                return -1;
            }
            real = (double) number;
            break;
        case OCF_CONFIG_SIZE:
            if (ocf_config_parse_size (text, &number) != 0) {
                snprintf (problem, problem_size, "'%s' is not a size (e.g. 4096, 64KiB, 16MiB)", text);
                return -1;
            }
            real = (double) number;
            break;
        case OCF_CONFIG_DOUBLE: {
            char *end;
            errno = 0;
            real = strtod (text, &end);
            if (end == text || *end || errno || !isfinite (real)) {
                snprintf (problem, problem_size, "'%s' is not a number", text);
                return -1;
            }
            break;
        }
    }
    if (real < spec->min || real > spec->max) {
        snprintf (problem, problem_size, "'%s' is out of range (%g to %g%s)", text,
                  spec->type == OCF_CONFIG_DURATION ? spec->min / 1000 : spec->min,
                  spec->type == OCF_CONFIG_DURATION ? spec->max / 1000 : spec->max,
                  spec->type == OCF_CONFIG_DURATION ? " seconds" : spec->type == OCF_CONFIG_SIZE ? " bytes" : "");
        return -1;
    }
    if (spec->type == OCF_CONFIG_DOUBLE)
        *(double *) field = real;
    else
        *(int64_t *) field = number;
    return 0;
}

static void
s_apply_defaults (const ocf_config_section_t *section, void *base)
{
    char problem[256];
    for (size_t i = 0; i < section->key_count; i++)
        if (section->keys[i].fallback)
            s_apply (&section->keys[i], base, section->keys[i].fallback, problem, sizeof problem);
}

static bool
s_service_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > OCF_SERVICE_NAME_MAX)
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_' && *c != '.')
            return false;
    return true;
}

static ocf_service_config_t *
s_service_add (ocf_config_t *self, const char *name, int line)
{
    self->services = ocf_realloc (self->services, (self->service_count + 1) * sizeof *self->services);
    ocf_service_config_t *service = &self->services[self->service_count++];
    memset (service, 0, sizeof *service);
    snprintf (service->name, sizeof service->name, "%s", name);
    service->line = line;
    s_apply_defaults (&ocf_service_config_section, service);
    return service;
}

ocf_service_config_t *
ocf_config_service (ocf_config_t *self, const char *name)
{
    for (size_t i = 0; i < self->service_count; i++)
        if (strcmp (self->services[i].name, name) == 0)
            return &self->services[i];
    return NULL;
}

//  Resolves a section name to its schema and the struct its keys live in. A new
//  [service.NAME] is created on first sight. Returns NULL (with problem set) when unknown.
static void *
s_section_base (ocf_config_t *self, const char *name, const ocf_config_section_t **section, int line,
                char *problem, size_t problem_size)
{
    for (size_t i = 0; i < SECTION_COUNT; i++)
        if (s_sections[i] != &ocf_service_config_section && strcmp (name, s_sections[i]->name) == 0) {
            *section = s_sections[i];
            return (char *) self + s_sections[i]->offset;
        }
    if (strncmp (name, "service.", 8) == 0) {
        const char *service_name = name + 8;
        if (!s_service_name_valid (service_name)) {
            snprintf (problem, problem_size,
                      "service name '%s' must be 1-%d letters, digits, '-', '_' or '.'", service_name, OCF_SERVICE_NAME_MAX);
            return NULL;
        }
        *section = &ocf_service_config_section;
        ocf_service_config_t *service = ocf_config_service (self, service_name);
        return service ? service : s_service_add (self, service_name, line);
    }
    snprintf (problem, problem_size, "unknown section [%s] (known: node, tabled, gossipd, proxyd, workerd, service.NAME)", name);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Reading INI files. libinih (Debian's build) reads lines of at most 199 bytes and gives no
//  line numbers to the handler, so we feed it through our own reader that counts lines,
//  rejects overlong ones and tells continuation lines apart.

typedef struct {
    ocf_config_t *config;
    const char *name;            //  file name for messages
    FILE *file;                  //  or:
    const char *text;            //  in-memory text
    int line;
    bool continuation;           //  the current line is indented
    char last_section[128];
    char last_key[64];
    int last_line;
    //  keys seen per section, to report duplicates with the first line
    struct { char section[128]; char key[64]; int line; } seen[256];
    int seen_count;
} reader_t;

static char *
s_read_line (char *buffer, int size, void *stream)
{
    reader_t *reader = stream;
    char *got = NULL;
    if (reader->file)
        got = fgets (buffer, size, reader->file);
    else
    if (reader->text && *reader->text) {
        const char *newline = strchr (reader->text, '\n');
        size_t len = newline ? (size_t) (newline - reader->text) + 1 : strlen (reader->text);
        size_t take = len < (size_t) size - 1 ? len : (size_t) size - 1;
        memcpy (buffer, reader->text, take);
        buffer[take] = '\0';
        reader->text += take;
        got = buffer;
    }
    if (!got)
        return NULL;
    reader->line++;
    reader->continuation = buffer[0] == ' ' || buffer[0] == '\t';
    size_t len = strlen (buffer);
    bool at_end = reader->file ? feof (reader->file) : !*reader->text;
    if (len == (size_t) size - 1 && buffer[len - 1] != '\n' && !at_end) {
        ocf_config_error (reader->config, "%s:%d: line is longer than %d characters; continue a long value on indented lines",
                          reader->name, reader->line, size - 2);
        //  Skip the rest of the line and hand inih an empty one.
        int c;
        if (reader->file)
            while ((c = fgetc (reader->file)) != EOF && c != '\n');
        else {
            while (*reader->text && *reader->text != '\n')
                reader->text++;
            if (*reader->text)
                reader->text++;
        }
        strcpy (buffer, "\n");
    }
    return buffer;
}

static int
s_handle_key (void *user, const char *section, const char *key, const char *value)
{
    reader_t *reader = user;
    ocf_config_t *self = reader->config;
    char problem[512];
    const ocf_config_section_t *schema;
    void *base = s_section_base (self, section, &schema, reader->line, problem, sizeof problem);
    if (!base) {
        //  Report an unknown section once, not for each of its keys.
        if (strcmp (reader->last_section, section) != 0)
            ocf_config_error (self, "%s:%d: %s", reader->name, reader->line, problem);
        snprintf (reader->last_section, sizeof reader->last_section, "%s", section);
        return 1;
    }
    const ocf_config_key_t *spec = s_key_find (schema, key);
    if (!spec) {
        ocf_config_error (self, "%s:%d: [%s] %s: unknown key", reader->name, reader->line, section, key);
        return 1;
    }
    bool continued = reader->continuation && strcmp (reader->last_key, key) == 0
                  && strcmp (reader->last_section, section) == 0;
    if (continued) {
        if (!spec->continues) {
            ocf_config_error (self, "%s:%d: [%s] %s: this key takes one line", reader->name, reader->line, section, key);
            return 1;
        }
        char **field = (char **) ((char *) base + spec->offset);
        size_t len = strlen (*field);
        *field = ocf_realloc (*field, len + strlen (value) + 2);
        sprintf (*field + len, "%s%s", len ? " " : "", value);
        return 1;
    }
    for (int i = 0; i < reader->seen_count; i++)
        if (strcmp (reader->seen[i].section, section) == 0 && strcmp (reader->seen[i].key, key) == 0) {
            ocf_config_error (self, "%s:%d: [%s] %s: given twice (first on line %d)", reader->name, reader->line,
                              section, key, reader->seen[i].line);
            return 1;
        }
    if (reader->seen_count < (int) (sizeof reader->seen / sizeof reader->seen[0])) {
        snprintf (reader->seen[reader->seen_count].section, sizeof reader->seen[0].section, "%s", section);
        snprintf (reader->seen[reader->seen_count].key, sizeof reader->seen[0].key, "%s", key);
        reader->seen[reader->seen_count++].line = reader->line;
    }
    snprintf (reader->last_section, sizeof reader->last_section, "%s", section);
    snprintf (reader->last_key, sizeof reader->last_key, "%s", key);
    if (s_apply (spec, base, value, problem, sizeof problem) != 0)
        ocf_config_error (self, "%s:%d: [%s] %s: %s", reader->name, reader->line, section, key, problem);
    return 1;
}

static int
s_parse (ocf_config_t *self, reader_t *reader)
{
    int before = s_error_count (self);
    reader->config = self;
    int result = ini_parse_stream (s_read_line, reader, s_handle_key, reader);
    if (result > 0 && s_error_count (self) == before)
        ocf_config_error (self, "%s:%d: not a section header or key = value line", reader->name, result);
    return s_error_count (self) - before;
}

int
ocf_config_load (ocf_config_t *self, const char *path, bool required)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        if (!required && errno == ENOENT)
            return 0;
        ocf_config_error (self, "%s: cannot read: %s", path, strerror (errno));
        return 1;
    }
    free (self->path);
    self->path = ocf_strdup (path);
    reader_t *reader = ocf_calloc (1, sizeof *reader);
    reader->name = path;
    reader->file = file;
    int errors = s_parse (self, reader);
    free (reader);
    fclose (file);
    return errors;
}

int
ocf_config_load_string (ocf_config_t *self, const char *text, const char *name)
{
    reader_t *reader = ocf_calloc (1, sizeof *reader);
    reader->name = name;
    reader->text = text;
    int errors = s_parse (self, reader);
    free (reader);
    return errors;
}

int
ocf_config_set (ocf_config_t *self, const char *assignment)
{
    const char *equals = strchr (assignment, '=');
    const char *dot = equals ? memrchr (assignment, '.', equals - assignment) : NULL;
    if (!equals || !dot || dot == assignment || dot + 1 == equals) {
        ocf_config_error (self, "--set %s: expected section.key=value", assignment);
        return 1;
    }
    char section[128], key[64], problem[512];
    if ((size_t) (dot - assignment) >= sizeof section || (size_t) (equals - dot - 1) >= sizeof key) {
        ocf_config_error (self, "--set %s: section or key too long", assignment);
        return 1;
    }
    memcpy (section, assignment, dot - assignment);
    section[dot - assignment] = '\0';
    memcpy (key, dot + 1, equals - dot - 1);
    key[equals - dot - 1] = '\0';
    const ocf_config_section_t *schema;
    void *base = s_section_base (self, section, &schema, 0, problem, sizeof problem);
    if (!base) {
        ocf_config_error (self, "--set %s: %s", assignment, problem);
        return 1;
    }
    const ocf_config_key_t *spec = s_key_find (schema, key);
    if (!spec) {
        ocf_config_error (self, "--set %s: [%s] %s: unknown key", assignment, section, key);
        return 1;
    }
    if (s_apply (spec, base, equals + 1, problem, sizeof problem) != 0) {
        ocf_config_error (self, "--set %s: [%s] %s: %s", assignment, section, key, problem);
        return 1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Derived defaults and cross-key checks

//  A "name=value" list item check shared by labels and identity groups.
static bool
s_pair_valid (const char *item)
{
    const char *equals = strchr (item, '=');
    return equals && equals != item && equals[1];
}

void
ocf_config_check_pairs (ocf_config_t *self, const char *where, const char *list, const char *separators)
{
    char *copy = ocf_strdup (list), *saveptr = NULL;
    for (char *item = strtok_r (copy, separators, &saveptr); item; item = strtok_r (NULL, separators, &saveptr)) {
        while (isspace ((unsigned char) *item))
            item++;
        if (*item && !s_pair_valid (item))
            ocf_config_error (self, "%s: '%s' is not key=value", where, item);
    }
    free (copy);
}

bool
ocf_config_fabric (const ocf_config_t *self)
{
    return strcmp (self->proxyd.fabric_listen, "off") != 0;
}

int
ocf_config_finish (ocf_config_t *self)
{
    int before = s_error_count (self);
    const char *file = self->path ? self->path : "configuration";
    for (size_t i = 0; i < SECTION_COUNT; i++)
        if (s_sections[i]->finish)
            s_sections[i]->finish (self, file);
    return s_error_count (self) - before;
}

//  --------------------------------------------------------------------------
//  Construction, printing

ocf_config_t *
ocf_config_new (void)
{
    ocf_config_t *self = ocf_calloc (1, sizeof *self);
    for (size_t i = 0; i < SECTION_COUNT; i++)
        if (s_sections[i] != &ocf_service_config_section)
            s_apply_defaults (s_sections[i], (char *) self + s_sections[i]->offset);
    return self;
}

static void
s_free_strings (const ocf_config_section_t *section, void *base)
{
    for (size_t i = 0; i < section->key_count; i++)
        if (section->keys[i].type == OCF_CONFIG_STRING || section->keys[i].type == OCF_CONFIG_ENUM
        ||  section->keys[i].type == OCF_CONFIG_HOSTPORT)
            free (*(char **) ((char *) base + section->keys[i].offset));
}

void
ocf_config_destroy (ocf_config_t **self_p)
{
    ocf_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < SECTION_COUNT; i++)
        if (s_sections[i] != &ocf_service_config_section)
            s_free_strings (s_sections[i], (char *) self + s_sections[i]->offset);
    for (size_t i = 0; i < self->service_count; i++)
        s_free_strings (&ocf_service_config_section, &self->services[i]);
    free (self->services);
    free (self->errors);
    free (self->path);
    free (self);
    *self_p = NULL;
}

static void
s_format_value (const ocf_config_key_t *spec, void *base, char *out, size_t size)
{
    void *field = (char *) base + spec->offset;
    switch (spec->type) {
        case OCF_CONFIG_STRING: case OCF_CONFIG_ENUM: case OCF_CONFIG_HOSTPORT:
            snprintf (out, size, "%s", *(char **) field ? *(char **) field : "");
            break;
        case OCF_CONFIG_DURATION: {
            int64_t ms = *(int64_t *) field;
            if (ms % 3600000 == 0 && ms)
                snprintf (out, size, "%lldh", (long long) (ms / 3600000));
            else
            if (ms % 1000 == 0 && ms)
                snprintf (out, size, "%llds", (long long) (ms / 1000));
            else
                snprintf (out, size, "%lldms", (long long) ms);
            break;
        }
        case OCF_CONFIG_INT: case OCF_CONFIG_SIZE:
            snprintf (out, size, "%lld", (long long) *(int64_t *) field);
            break;
        case OCF_CONFIG_DOUBLE:
            snprintf (out, size, "%g", *(double *) field);
            break;
    }
}

static void
s_print_section (FILE *out, const char *header, const ocf_config_section_t *section, void *base)
{
    fprintf (out, "[%s]\n", header);
    for (size_t i = 0; i < section->key_count; i++) {
        const ocf_config_key_t *spec = &section->keys[i];
        char value[4096];
        s_format_value (spec, base, value, sizeof value);
        if (spec->type == OCF_CONFIG_STRING && !*(char **) ((char *) base + spec->offset))
            fprintf (out, "# %s =\n", spec->key);
        else
            fprintf (out, "%s = %s\n", spec->key, value);
    }
    fprintf (out, "\n");
}

void
ocf_config_print (ocf_config_t *self, FILE *out)
{
    for (size_t i = 0; i < SECTION_COUNT; i++)
        if (s_sections[i] != &ocf_service_config_section)
            s_print_section (out, s_sections[i]->name, s_sections[i], (char *) self + s_sections[i]->offset);
    for (size_t i = 0; i < self->service_count; i++) {
        char header[128];
        snprintf (header, sizeof header, "service.%s", self->services[i].name);
        s_print_section (out, header, &ocf_service_config_section, &self->services[i]);
    }
}

void
ocf_config_print_reference (FILE *out)
{
    static const char *type_names[] = {
        [OCF_CONFIG_STRING] = "string", [OCF_CONFIG_INT] = "integer", [OCF_CONFIG_DURATION] = "duration", [OCF_CONFIG_SIZE] = "size",
        [OCF_CONFIG_DOUBLE] = "number", [OCF_CONFIG_ENUM] = "one of", [OCF_CONFIG_HOSTPORT] = "host:port"
    };
    for (size_t i = 0; i < SECTION_COUNT; i++) {
        const ocf_config_section_t *section = s_sections[i];
        fprintf (out, "%s[%s%s]\n", i ? "\n" : "", section->name, section == &ocf_service_config_section ? ".NAME" : "");
        for (size_t k = 0; k < section->key_count; k++) {
            const ocf_config_key_t *spec = &section->keys[k];
            fprintf (out, "  %-22s %s%s%s, default %s%s%s\n      %s\n", spec->key, type_names[spec->type],
                     spec->choices ? " " : "", spec->choices ? spec->choices : "",
                     spec->fallback && *spec->fallback ? "\"" : "",
                     spec->fallback ? (*spec->fallback ? spec->fallback : "(empty)") : "(unset)",
                     spec->fallback && *spec->fallback ? "\"" : "", spec->help);
        }
    }
}

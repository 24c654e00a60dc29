/*  ocf_apikeys: client API keys.  */
#include "ocf_apikeys.h"
#include "ocf_alloc.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_US 60000000LL
#define LIMIT_MAX 1000000

//  What a key counts, shared by the sets that hold the key (a reload keeps it by name).
typedef struct {
    int refs;                    //  atomic
    int64_t tat_us;              //  atomic: GCRA's theoretical arrival time (rate limit)
    int64_t inflight;            //  atomic
    uint64_t outcomes[OCF_APIKEY_OUTCOMES];  //  atomic
} key_state_t;

struct _ocf_apikey_t {
    uint8_t hash[32];
    char name[OCF_APIKEY_NAME_MAX + 1];
    int64_t rpm;                 //  0: unlimited
    int64_t streams;             //  0: unlimited
    size_t line;                 //  in the file, for messages
    key_state_t *state;
};

struct _ocf_apikeys_t {
    int refs;                    //  atomic
    size_t count;
    ocf_apikey_t keys[];         //  sorted by hash
};

static const char *s_outcome_names[OCF_APIKEY_OUTCOMES] = { "ok", "rate_limited", "streams_limited" };

#define ADD(field, n) __atomic_add_fetch (&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

static void
s_state_unref (key_state_t *state)
{
    if (state && __atomic_sub_fetch (&state->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free (state);
}

//  --------------------------------------------------------------------------
//  The file

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool
s_name_valid (const char *name, size_t len)
{
    if (len == 0 || len > OCF_APIKEY_NAME_MAX)
        return false;
    //  Names label metrics and logs: no quoting needed anywhere.
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'
              || c == '.' || c == '@'))
            return false;
    }
    return true;
}

//  "rpm=N" or "streams=N": 1 to LIMIT_MAX.
static bool
s_limit (const char *token, size_t len, const char *key, int64_t *value)
{
    size_t key_len = strlen (key);
    if (len <= key_len + 1 || memcmp (token, key, key_len) != 0 || token[key_len] != '=')
        return false;
    int64_t number = 0;
    for (size_t i = key_len + 1; i < len; i++) {
        if (token[i] < '0' || token[i] > '9' || number > LIMIT_MAX)
            return false;
        number = number * 10 + (token[i] - '0');
    }
    if (number < 1 || number > LIMIT_MAX)
        return false;
    *value = number;
    return true;
}

//  One line (without its newline, comment cut): 0, 1 when it holds a key (in *key), or -1
//  with *why set.
static int
s_parse_line (const char *line, size_t len, ocf_apikey_t *key, const char **why)
{
    const char *tokens[5];
    size_t lengths[5], count = 0;
    for (size_t at = 0; at < len;) {
        while (at < len && (line[at] == ' ' || line[at] == '\t' || line[at] == '\r'))
            at++;
        size_t start = at;
        while (at < len && line[at] != ' ' && line[at] != '\t' && line[at] != '\r')
            at++;
        if (at == start)
            break;
        if (count == 4) {
            *why = "too many fields (name sha256:<hex> [rpm=N] [streams=N])";
            return -1;
        }
        tokens[count] = line + start;
        lengths[count++] = at - start;
    }
    if (count == 0)
        return 0;
    memset (key, 0, sizeof *key);
    if (!s_name_valid (tokens[0], lengths[0])) {
        *why = "the name must be 1 to 64 of A-Z a-z 0-9 - _ . @";
        return -1;
    }
    memcpy (key->name, tokens[0], lengths[0]);
    if (count < 2 || lengths[1] != 7 + 64 || memcmp (tokens[1], "sha256:", 7) != 0) {
        *why = "the second field must be sha256: and 64 hex digits (printf %s KEY | sha256sum)";
        return -1;
    }
    for (size_t i = 0; i < 32; i++) {
        int high = s_hex (tokens[1][7 + 2 * i]), low = s_hex (tokens[1][8 + 2 * i]);
        if (high < 0 || low < 0) {
            *why = "the hash has a character that is not a hex digit";
            return -1;
        }
        key->hash[i] = (uint8_t) (high * 16 + low);
    }
    for (size_t i = 2; i < count; i++) {
        bool rpm = s_limit (tokens[i], lengths[i], "rpm", &key->rpm);
        if (!rpm && !s_limit (tokens[i], lengths[i], "streams", &key->streams)) {
            *why = "a limit must be rpm=N or streams=N, N from 1 to 1000000";
            return -1;
        }
    }
    return 1;
}

static int
s_compare (const void *a, const void *b)
{
    return memcmp (((const ocf_apikey_t *) a)->hash, ((const ocf_apikey_t *) b)->hash, 32);
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp ((*(ocf_apikey_t *const *) a)->name, (*(ocf_apikey_t *const *) b)->name);
}

//  The keys sorted by name (an array to free).
static ocf_apikey_t **
s_by_name (const ocf_apikeys_t *self)
{
    ocf_apikey_t **sorted = ocf_malloc ((self->count + 1) * sizeof *sorted);
    for (size_t i = 0; i < self->count; i++)
        sorted[i] = (ocf_apikey_t *) &self->keys[i];
    qsort (sorted, self->count, sizeof *sorted, s_compare_names);
    return sorted;
}

//  Two lines with the same name or the same key (keys sorted by hash): the later one is wrong.
static int
s_duplicates (const ocf_apikeys_t *self, const char *name, char *error, size_t error_size)
{
    ocf_apikey_t **sorted = s_by_name (self);
    const ocf_apikey_t *a = NULL, *b = NULL;
    const char *why = NULL;
    for (size_t i = 1; i < self->count && !why; i++) {
        if (memcmp (self->keys[i - 1].hash, self->keys[i].hash, 32) == 0) {
            a = &self->keys[i - 1], b = &self->keys[i];
            why = "the same key (hash) as line";
        }
        else
        if (strcmp (sorted[i - 1]->name, sorted[i]->name) == 0) {
            a = sorted[i - 1], b = sorted[i];
            why = "the same name as line";
        }
    }
    if (why) {
        size_t first = a->line < b->line ? a->line : b->line;
        snprintf (error, error_size, "%s:%zu: %s %zu", name, a->line + b->line - first, why, first);
    }
    free (sorted);
    return why ? -1 : 0;
}

ocf_apikeys_t *
ocf_apikeys_parse (const char *text, size_t len, const char *name, char *error, size_t error_size)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    size_t capacity = lines < OCF_APIKEYS_MAX ? lines : OCF_APIKEYS_MAX;
    ocf_apikeys_t *self = ocf_calloc (1, sizeof *self + capacity * sizeof (ocf_apikey_t));
    self->refs = 1;
    size_t number = 0;
    for (const char *line = text, *end = text + len; line < end; number++) {
        const char *newline = memchr (line, '\n', (size_t) (end - line));
        const char *stop = newline ? newline : end;
        const char *comment = memchr (line, '#', (size_t) (stop - line));
        const char *why = NULL;
        ocf_apikey_t key;
        int found = memchr (line, '\0', (size_t) (stop - line)) ? (why = "a NUL byte", -1)
                                                                : s_parse_line (line, (size_t) ((comment ? comment : stop) - line), &key, &why);
        if (found > 0 && self->count == capacity)
            found = -1, why = "more than 65536 keys";
        if (found < 0) {
            snprintf (error, error_size, "%s:%zu: %s", name, number + 1, why);
            ocf_apikeys_unref (&self);
            return NULL;
        }
        if (found > 0) {
            key.line = number + 1;
            key.state = ocf_calloc (1, sizeof *key.state);
            key.state->refs = 1;
            self->keys[self->count++] = key;
        }
        line = stop + 1;
    }
    qsort (self->keys, self->count, sizeof self->keys[0], s_compare);
    if (s_duplicates (self, name, error, error_size) != 0)
        ocf_apikeys_unref (&self);
    return self;
}

ocf_apikeys_t *
ocf_apikeys_load (const char *path, char *error, size_t error_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = ocf_malloc (OCF_APIKEYS_FILE_MAX + 1);
    size_t len = fread (text, 1, OCF_APIKEYS_FILE_MAX + 1, file);
    bool failed = ferror (file);
    fclose (file);
    ocf_apikeys_t *self = NULL;
    if (failed)
        snprintf (error, error_size, "cannot read %s", path);
    else
    if (len > OCF_APIKEYS_FILE_MAX)
        snprintf (error, error_size, "%s is larger than 16 MiB", path);
    else
        self = ocf_apikeys_parse (text, len, path, error, error_size);
    free (text);
    return self;
}

//  --------------------------------------------------------------------------
//  The set

void
ocf_apikeys_inherit (ocf_apikeys_t *self, const ocf_apikeys_t *previous)
{
    if (!previous)
        return;
    //  Both sorted by name, walked side by side.
    ocf_apikey_t **mine = s_by_name (self), **theirs = s_by_name (previous);
    for (size_t i = 0, j = 0; i < self->count && j < previous->count;) {
        int order = strcmp (mine[i]->name, theirs[j]->name);
        if (order == 0) {
            s_state_unref (mine[i]->state);
            mine[i]->state = theirs[j]->state;
            ADD (mine[i]->state->refs, 1);
        }
        i += order <= 0;
        j += order >= 0;
    }
    free (mine);
    free (theirs);
}

ocf_apikeys_t *
ocf_apikeys_ref (ocf_apikeys_t *self)
{
    ADD (self->refs, 1);
    return self;
}

void
ocf_apikeys_unref (ocf_apikeys_t **self_p)
{
    ocf_apikeys_t *self = *self_p;
    *self_p = NULL;
    if (!self || __atomic_sub_fetch (&self->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < self->count; i++)
        s_state_unref (self->keys[i].state);
    free (self);
}

size_t
ocf_apikeys_count (const ocf_apikeys_t *self)
{
    return self->count;
}

void
ocf_apikeys_hash (const char *token, size_t token_len, uint8_t hash[32])
{
    SHA256 ((const unsigned char *) token, token_len, hash);
}

ocf_apikey_t *
ocf_apikeys_find (ocf_apikeys_t *self, const char *token, size_t token_len)
{
    //  A lookup's time depends on the hash only, which tells nothing about a valid key.
    ocf_apikey_t wanted;
    ocf_apikeys_hash (token, token_len, wanted.hash);
    return bsearch (&wanted, self->keys, self->count, sizeof wanted, s_compare);
}

const char *
ocf_apikey_name (const ocf_apikey_t *key)
{
    return key->name;
}

//  The rate limit is GCRA (a token bucket in one atomic): each request moves the theoretical
//  arrival time forward by a minute / rpm; a request that would put it more than a minute
//  ahead of now is refused. rpm requests may come at once, then one per minute / rpm.
static bool
s_rate_admit (ocf_apikey_t *key, int64_t now_us, int *retry_after_s)
{
    int64_t interval = MINUTE_US / key->rpm, burst = MINUTE_US - interval;
    int64_t tat = __atomic_load_n (&key->state->tat_us, __ATOMIC_RELAXED);
    while (true) {
        int64_t base = tat > now_us ? tat : now_us;
        if (base - now_us > burst) {
            *retry_after_s = (int) ((base - burst - now_us + 999999) / 1000000);
            return false;
        }
        if (__atomic_compare_exchange_n (&key->state->tat_us, &tat, base + interval, false, __ATOMIC_RELAXED,
                                         __ATOMIC_RELAXED))
            return true;
    }
}

ocf_apikey_outcome_t
ocf_apikey_admit (ocf_apikey_t *key, int64_t now_us, int *retry_after_s)
{
    key_state_t *state = key->state;
    ocf_apikey_outcome_t outcome = OCF_APIKEY_OK;
    int64_t inflight = ADD (state->inflight, 1);
    if (key->streams && inflight > key->streams) {
        *retry_after_s = 1;      //  a stream ends at an unknown time: a second is a guess
        outcome = OCF_APIKEY_STREAMS_LIMITED;
    }
    else
    if (key->rpm && !s_rate_admit (key, now_us, retry_after_s))
        outcome = OCF_APIKEY_RATE_LIMITED;
    if (outcome != OCF_APIKEY_OK)
        ADD (state->inflight, -1);
    ADD (state->outcomes[outcome], 1);
    return outcome;
}

void
ocf_apikey_release (ocf_apikey_t *key)
{
    ADD (key->state->inflight, -1);
}

void
ocf_apikeys_render (const ocf_apikeys_t *self, ocf_promtext_t *page)
{
    const char *requests = "ocf_proxyd_api_key_requests_total", *streams = "ocf_proxyd_api_key_streams";
    ocf_promtext_family (page, requests, "counter", "Requests that presented a valid API key, by key and outcome");
    for (size_t i = 0; i < self->count; i++)
        for (int outcome = 0; outcome < OCF_APIKEY_OUTCOMES; outcome++) {
            const char *labels[] = { "key", self->keys[i].name, "outcome", s_outcome_names[outcome], NULL };
            ocf_promtext_sample (page, requests, "", (double) GET (self->keys[i].state->outcomes[outcome]), labels);
        }
    ocf_promtext_family (page, streams, "gauge", "Requests in flight, by API key");
    for (size_t i = 0; i < self->count; i++) {
        const char *labels[] = { "key", self->keys[i].name, NULL };
        ocf_promtext_sample (page, streams, "", (double) GET (self->keys[i].state->inflight), labels);
    }
}

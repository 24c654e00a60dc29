/*  ocf_record: record validation, on spans of validated JSON text.  */
#include "ocf_record.h"
#include "ocf_alloc.h"
#include "ocf_hash.h"
#include "ocf_identity.h"

#include <ctype.h>
#include <sodium.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERVICES 256
#define MAX_GROUPS 256
#define MAX_GPUS 256
#define MAX_MEMBERS 256          //  keys of any object we check (duplicates are looked for)
#define MAX_STRING 1024
#define MAX_KEY_NAME 32          //  longer keys are none we look for

//  Fields that are not the owner's: they travel with the row but are not in its content.
static const char *s_membership_fields[] = { "incarnation", "status", "status_generation", "last_alive", "rtt_ms", "sig", NULL };

static const char *s_status_names[] = { "alive", "suspect", "dead", "left" };
static const char *s_reason_names[] = { [OCF_REASON_REAPED] = "reaped", [OCF_REASON_LEFT] = "left" };

const char *
ocf_status_name (ocf_status_t status)
{
    return status <= OCF_STATUS_LEFT ? s_status_names[status] : "unknown";
}

int
ocf_status_parse (const char *name)
{
    for (int i = 0; i <= OCF_STATUS_LEFT; i++)
        if (name && strcmp (name, s_status_names[i]) == 0)
            return i;
    return -1;
}

const char *
ocf_reason_name (ocf_reason_t reason)
{
    return reason == OCF_REASON_REAPED || reason == OCF_REASON_LEFT ? s_reason_names[reason] : "unknown";
}

int
ocf_reason_parse (const char *name)
{
    if (name && strcmp (name, "reaped") == 0)
        return OCF_REASON_REAPED;
    if (name && strcmp (name, "left") == 0)
        return OCF_REASON_LEFT;
    return -1;
}

int
ocf_member_compare (const ocf_member_t *a, const ocf_member_t *b)
{
    if (a->generation != b->generation)
        return a->generation < b->generation ? -1 : 1;
    if (a->incarnation != b->incarnation)
        return a->incarnation < b->incarnation ? -1 : 1;
    if (a->status != b->status)
        return a->status < b->status ? -1 : 1;
    return 0;
}

bool
ocf_record_service_name_valid (const char *name)
{
    size_t len = name ? strlen (name) : 0;
    if (len == 0 || len > 64)
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_' && *c != '.')
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Checks on spans. Each returns 0, or -1 with the problem written into error.

static int __attribute__ ((format (printf, 3, 4)))
s_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return -1;
}

static bool
s_is (ocf_json_span_t value, ocf_json_type_t type)
{
    return ocf_json_type (value) == type;
}

static bool
s_is_string_of_at_most (ocf_json_span_t value, size_t max)
{
    return s_is (value, OCF_JSON_STRING) && ocf_json_string_length (value) <= max;
}

//  Object walks collect each key once, with whether it has escapes: most keys have none,
//  and then equality is a plain comparison.
typedef struct {
    ocf_json_span_t key;
    bool escaped;
} seen_key_t;

static bool
s_key_seen (seen_key_t *seen, size_t count, ocf_json_span_t key, bool escaped)
{
    for (size_t i = 0; i < count; i++) {
        if (!escaped && !seen[i].escaped) {
            if (seen[i].key.len == key.len && memcmp (seen[i].key.start, key.start, key.len) == 0)
                return true;
        }
        else
        if (ocf_json_strings_equal (seen[i].key, key))
            return true;
    }
    return false;
}

//  Walks an object once: checks its keys are all different (at most MAX_MEMBERS), and calls
//  visit (when given) for each member with its key decoded once as name ("" for a key too long
//  to be one we know), so that visitors compare names with strcmp instead of decoding the key
//  for every name they know; visit returns 0 or -1 with error set.
typedef int (member_fn) (const char *name, ocf_json_span_t key, ocf_json_span_t value, void *arg, char *error,
                         size_t error_size);

static int
s_walk_object (ocf_json_span_t object, const char *what, member_fn *visit, void *arg, char *error, size_t error_size)
{
    if (ocf_json_type (object) != OCF_JSON_OBJECT)
        return s_fail (error, error_size, "%s must be an object", what);
    seen_key_t seen[MAX_MEMBERS];
    size_t count = 0;
    ocf_json_iter_t iter = ocf_json_iter (object);
    ocf_json_span_t key, value;
    while (ocf_json_object_next (&iter, &key, &value)) {
        if (count == MAX_MEMBERS)
            return s_fail (error, error_size, "%s has more than %d keys", what, MAX_MEMBERS);
        bool escaped = memchr (key.start, '\\', key.len) != NULL;
        if (s_key_seen (seen, count, key, escaped))
            return s_fail (error, error_size, "%s has the key %.*s twice", what, (int) key.len, key.start);
        seen[count++] = (seen_key_t) { key, escaped };
        char name[MAX_KEY_NAME];
        if (visit && ocf_json_string_copy (key, name, sizeof name) < 0)
            name[0] = '\0';
        if (visit && visit (name, key, value, arg, error, error_size) != 0)
            return -1;
    }
    return 0;
}

static int
s_check_object (ocf_json_span_t object, const char *what, char *error, size_t error_size)
{
    return s_walk_object (object, what, NULL, NULL, error, error_size);
}

static int
s_string_member (const char *name, ocf_json_span_t key, ocf_json_span_t value, void *what, char *error,
                 size_t error_size)
{
    if (!s_is_string_of_at_most (value, MAX_STRING))
        return s_fail (error, error_size, "%s: %.*s must be a string of at most %d bytes", (const char *) what,
                       (int) key.len, key.start, MAX_STRING);
    return 0;
}

static int
s_check_strings (ocf_json_span_t object, const char *what, char *error, size_t error_size)
{
    return s_walk_object (object, what, s_string_member, (void *) what, error, error_size);
}

static int
s_get_id (ocf_json_span_t value, char *id, char *error, size_t error_size)
{
    if (!s_is (value, OCF_JSON_STRING))
        return s_fail (error, error_size, "\"id\" is missing or not a string");
    char text[64];
    if (ocf_json_string_copy (value, text, sizeof text) < 0 || !ocf_identity_id_valid (text))
        return s_fail (error, error_size, "\"id\" must be a node id (52 base32 characters), got %.*s",
                       (int) (value.len < 60 ? value.len : 60), value.start);
    memcpy (id, text, OCF_ID_SIZE);
    return 0;
}

static int
s_get_uint (ocf_json_span_t item, const char *key, bool required, uint64_t min, uint64_t *value, char *error,
            size_t error_size)
{
    if (!item.len) {
        if (required)
            return s_fail (error, error_size, "\"%s\" is missing", key);
        return 0;
    }
    int64_t number;
    if (ocf_json_integer (item, &number) != 0 || number < (int64_t) min)
        return s_fail (error, error_size, "\"%s\" must be an integer >= %llu", key, (unsigned long long) min);
    *value = (uint64_t) number;
    return 0;
}

//  "sig": base64 (RFC 4648, padded) of 64 bytes, nothing else. Absent is not an error here:
//  the table refuses an unsigned input when it would apply it.
static int
s_get_sig (ocf_json_span_t value, bool *has_sig, uint8_t sig[OCF_SIGNATURE_BYTES], char *error, size_t error_size)
{
    *has_sig = false;
    if (!value.len)
        return 0;
    char text[OCF_SIGNATURE_TEXT_LEN + 2];
    size_t len = 0;
    if (!s_is (value, OCF_JSON_STRING) || ocf_json_string_copy (value, text, sizeof text) < 0
    ||  strlen (text) != OCF_SIGNATURE_TEXT_LEN
    ||  sodium_base642bin (sig, OCF_SIGNATURE_BYTES, text, OCF_SIGNATURE_TEXT_LEN, NULL, &len, NULL,
                           sodium_base64_VARIANT_ORIGINAL) != 0
    ||  len != OCF_SIGNATURE_BYTES)
        return s_fail (error, error_size, "\"sig\" must be the base64 of a 64-byte signature");
    *has_sig = true;
    return 0;
}

typedef struct {
    ocf_json_span_t name, identity_group, status, port, host, load, owner;
} service_fields_t;

static int
s_service_member (const char *name, ocf_json_span_t key, ocf_json_span_t value, void *arg, char *error,
                  size_t error_size)
{
    service_fields_t *fields = arg;
    if (strcmp (name, "name") == 0) fields->name = value;
    else if (strcmp (name, "identity_group") == 0) fields->identity_group = value;
    else if (strcmp (name, "status") == 0) fields->status = value;
    else if (strcmp (name, "port") == 0) fields->port = value;
    else if (strcmp (name, "host") == 0) fields->host = value;
    else if (strcmp (name, "load") == 0) fields->load = value;
    else if (strcmp (name, "owner") == 0) fields->owner = value;
    return 0;
}

static int
s_check_service_span (ocf_json_span_t service, char *name_out, char *error, size_t error_size)
{
    service_fields_t fields;
    memset (&fields, 0, sizeof fields);
    if (s_walk_object (service, "a service", s_service_member, &fields, error, error_size) != 0)
        return -1;
    char name[80] = "";
    if (!s_is (fields.name, OCF_JSON_STRING) || ocf_json_string_copy (fields.name, name, sizeof name) < 0
    ||  !ocf_record_service_name_valid (name))
        return s_fail (error, error_size, "service \"name\" must be 1-64 letters, digits, '-', '_' or '.'");
    if (fields.identity_group.len) {
        if (!s_is (fields.identity_group, OCF_JSON_ARRAY))
            return s_fail (error, error_size, "service %s: \"identity_group\" must be an array of at most 256 strings", name);
        ocf_json_iter_t iter = ocf_json_iter (fields.identity_group);
        ocf_json_span_t group;
        size_t count = 0;
        while (ocf_json_array_next (&iter, &group))
            if (++count > MAX_GROUPS)
                return s_fail (error, error_size, "service %s: \"identity_group\" must be an array of at most 256 strings", name);
            else
            if (!s_is_string_of_at_most (group, 256) || group.len == 2)
                return s_fail (error, error_size, "service %s: identity groups must be non-empty strings of at most 256 bytes", name);
    }
    if (fields.status.len && !s_is_string_of_at_most (fields.status, 32))
        return s_fail (error, error_size, "service %s: \"status\" must be a short string", name);
    int64_t port;
    if (fields.port.len && (ocf_json_integer (fields.port, &port) != 0 || port < 0 || port > 65535))
        return s_fail (error, error_size, "service %s: \"port\" must be an integer 0-65535", name);
    if (fields.owner.len && !s_is_string_of_at_most (fields.owner, 32))
        return s_fail (error, error_size, "service %s: \"owner\" must be a short string", name);
    if (fields.host.len && !s_is_string_of_at_most (fields.host, 255))
        return s_fail (error, error_size, "service %s: \"host\" must be a string of at most 255 bytes", name);
    if (fields.load.len && s_check_object (fields.load, "service \"load\"", error, error_size) != 0)
        return -1;
    if (name_out)
        strcpy (name_out, name);
    return 0;
}

static bool
s_is_membership_field (const char *name)
{
    for (const char **field = s_membership_fields; *field; field++)
        if (strcmp (name, *field) == 0)
            return true;
    return false;
}

//  The members of a row the parser looks at, found in one walk that also copies the owner's
//  members (all but the membership fields) into record, when given.
typedef struct {
    ocf_json_span_t id, generation, version, name, status, incarnation, status_generation;
    ocf_json_span_t addr, labels, hardware, services, sig;
    char *record;
    size_t record_len;
} row_fields_t;

static int
s_row_member (const char *name, ocf_json_span_t key, ocf_json_span_t value, void *arg, char *error, size_t error_size)
{
    row_fields_t *fields = arg;
    static const struct { const char *name; size_t offset; } known[] = {
        { "id", offsetof (row_fields_t, id) }, { "generation", offsetof (row_fields_t, generation) },
        { "version", offsetof (row_fields_t, version) }, { "name", offsetof (row_fields_t, name) },
        { "status", offsetof (row_fields_t, status) }, { "incarnation", offsetof (row_fields_t, incarnation) },
        { "status_generation", offsetof (row_fields_t, status_generation) }, { "addr", offsetof (row_fields_t, addr) },
        { "labels", offsetof (row_fields_t, labels) }, { "hardware", offsetof (row_fields_t, hardware) },
        { "services", offsetof (row_fields_t, services) }, { "sig", offsetof (row_fields_t, sig) },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp (name, known[i].name) == 0) {
            *(ocf_json_span_t *) ((char *) fields + known[i].offset) = value;
            break;
        }
    if (fields->record && !s_is_membership_field (name)) {
        if (fields->record_len > 1)
            fields->record[fields->record_len++] = ',';
        memcpy (fields->record + fields->record_len, key.start, key.len);
        fields->record_len += key.len;
        fields->record[fields->record_len++] = ':';
        memcpy (fields->record + fields->record_len, value.start, value.len);
        fields->record_len += value.len;
    }
    return 0;
}

static int
s_check_owner (const row_fields_t *fields, char *error, size_t error_size)
{
    if (!s_is_string_of_at_most (fields->name, 255) || fields->name.len == 2)
        return s_fail (error, error_size, "\"name\" must be a non-empty string of at most 255 bytes");
    if (fields->addr.len && s_check_strings (fields->addr, "\"addr\"", error, error_size) != 0)
        return -1;
    if (fields->labels.len && s_check_strings (fields->labels, "\"labels\"", error, error_size) != 0)
        return -1;
    if (fields->hardware.len) {
        if (s_check_object (fields->hardware, "\"hardware\"", error, error_size) != 0)
            return -1;
        ocf_json_span_t gpus = ocf_json_member (fields->hardware, "gpus");
        if (gpus.len && !s_is (gpus, OCF_JSON_ARRAY))
            return s_fail (error, error_size, "\"hardware.gpus\" must be an array of at most 256 objects");
        ocf_json_iter_t iter = ocf_json_iter (gpus);
        ocf_json_span_t gpu;
        for (size_t count = 0; gpus.len && ocf_json_array_next (&iter, &gpu); count++)
            if (count == MAX_GPUS)
                return s_fail (error, error_size, "\"hardware.gpus\" must be an array of at most 256 objects");
            else
            if (s_check_object (gpu, "\"hardware.gpus\" items", error, error_size) != 0)
                return -1;
    }
    if (fields->services.len) {
        if (!s_is (fields->services, OCF_JSON_ARRAY))
            return s_fail (error, error_size, "\"services\" must be an array of at most 256 services");
        //  One entry per service name: providers are looked up by it.
        static __thread char names[MAX_SERVICES][80];
        size_t count = 0;
        ocf_json_iter_t iter = ocf_json_iter (fields->services);
        ocf_json_span_t service;
        while (ocf_json_array_next (&iter, &service)) {
            if (count == MAX_SERVICES)
                return s_fail (error, error_size, "\"services\" must be an array of at most 256 services");
            if (s_check_service_span (service, names[count], error, error_size) != 0)
                return -1;
            for (size_t other = 0; other < count; other++)
                if (strcmp (names[other], names[count]) == 0)
                    return s_fail (error, error_size, "service %s is listed twice", names[count]);
            count++;
        }
    }
    return 0;
}

static int
s_parse_member (const row_fields_t *fields, uint64_t record_generation, ocf_member_t *member, bool *present, char *error,
                size_t error_size)
{
    *present = fields->status.len > 0;
    if (!fields->status.len)
        return 0;
    char name[16] = "";
    int parsed = ocf_json_string_copy (fields->status, name, sizeof name) < 0 ? -1 : ocf_status_parse (name);
    if (parsed < 0)
        return s_fail (error, error_size, "\"status\" must be alive, suspect, dead or left");
    member->status = parsed;
    member->incarnation = 0;
    member->generation = record_generation;
    if (s_get_uint (fields->incarnation, "incarnation", false, 0, &member->incarnation, error, error_size) != 0
    ||  s_get_uint (fields->status_generation, "status_generation", false, 1, &member->generation, error, error_size) != 0)
        return -1;
    return 0;
}

//  --------------------------------------------------------------------------

int
ocf_record_parse_row_span (ocf_json_span_t row, size_t max_record, ocf_row_in_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    if (!s_is (row, OCF_JSON_OBJECT))
        return s_fail (error, error_size, "a row must be a JSON object");
    if (row.len > max_record + 256)
        return s_fail (error, error_size, "record too large (%zu bytes, limit %zu)", row.len, max_record);
    row_fields_t fields;
    memset (&fields, 0, sizeof fields);
    out->record = fields.record = ocf_malloc (row.len + 1);
    fields.record[fields.record_len++] = '{';
    if (s_walk_object (row, "a row", s_row_member, &fields, error, error_size) != 0
    ||  s_get_id (fields.id, out->id, error, error_size) != 0
    ||  s_get_uint (fields.generation, "generation", true, 1, &out->generation, error, error_size) != 0
    ||  s_get_uint (fields.version, "version", true, 1, &out->version, error, error_size) != 0
    ||  s_parse_member (&fields, out->generation, &out->member, &out->has_member, error, error_size) != 0
    ||  s_get_sig (fields.sig, &out->has_sig, out->sig, error, error_size) != 0
    ||  s_check_owner (&fields, error, error_size) != 0)
        goto refused;
    if (out->has_member && out->member.generation < out->generation) {
        s_fail (error, error_size, "\"status_generation\" is older than the row's generation");
        goto refused;
    }
    ocf_json_string_copy (fields.name, out->name, sizeof out->name);
    size_t len = fields.record_len;
    out->record[len++] = '}';
    out->record[len] = '\0';
    out->record_len = len;
    if (len > max_record) {
        s_fail (error, error_size, "record too large (%zu bytes, limit %zu)", len, max_record);
        goto refused;
    }
    out->content_hash = ocf_hash64 (out->record, out->record_len, 0x7265636f7264ULL);
    return 0;
refused:
    ocf_row_in_clear (out);
    return -1;
}

void
ocf_row_in_clear (ocf_row_in_t *row)
{
    free (row->record);
    row->record = NULL;
}

int
ocf_record_parse_tombstone_span (ocf_json_span_t object, ocf_tombstone_in_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    if (!s_is (object, OCF_JSON_OBJECT))
        return s_fail (error, error_size, "a tombstone must be a JSON object");
    uint64_t declared_at = 0;
    if (s_check_object (object, "a tombstone", error, error_size) != 0
    ||  s_get_id (ocf_json_member (object, "id"), out->id, error, error_size) != 0
    ||  s_get_uint (ocf_json_member (object, "generation"), "generation", true, 1, &out->generation, error, error_size) != 0
    ||  s_get_uint (ocf_json_member (object, "declared_at"), "declared_at", true, 0, &declared_at, error, error_size) != 0
    ||  s_get_sig (ocf_json_member (object, "sig"), &out->has_sig, out->sig, error, error_size) != 0)
        return -1;
    char reason[16] = "";
    ocf_json_span_t value = ocf_json_member (object, "reason");
    int parsed = ocf_json_string_copy (value, reason, sizeof reason) < 0 ? -1 : ocf_reason_parse (reason);
    if (parsed < 0)
        return s_fail (error, error_size, "tombstone \"reason\" must be left or reaped");
    out->reason = parsed;
    out->declared_at = (int64_t) declared_at;
    return 0;
}

int
ocf_record_parse_member_span (ocf_json_span_t object, ocf_member_in_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    if (!s_is (object, OCF_JSON_OBJECT))
        return s_fail (error, error_size, "a membership update must be a JSON object");
    row_fields_t fields;
    memset (&fields, 0, sizeof fields);
    bool present;
    if (s_walk_object (object, "a membership update", s_row_member, &fields, error, error_size) != 0
    ||  s_get_id (fields.id, out->id, error, error_size) != 0
    ||  s_get_uint (fields.generation, "generation", true, 1, &out->member.generation, error, error_size) != 0
    ||  s_parse_member (&fields, out->member.generation, &out->member, &present, error, error_size) != 0)
        return -1;
    if (!present)
        return s_fail (error, error_size, "\"status\" is missing");
    return 0;
}

//  --------------------------------------------------------------------------
//  Signatures: what is signed is built here only, so signer and verifier cannot disagree.

#define ROW_DOMAIN "ocf-row-v1"                  //  each with its NUL: no prefix of another
#define TOMBSTONE_DOMAIN "ocf-tombstone-v1"

static uint8_t *
s_put_u64 (uint8_t *at, uint64_t value)
{
    for (int i = 7; i >= 0; i--)
        *at++ = (uint8_t) (value >> (8 * i));
    return at;
}

//  domain, id, generation, version, record: a malloc'd message and its length.
static uint8_t *
s_row_message (const ocf_row_in_t *row, size_t *len)
{
    *len = sizeof ROW_DOMAIN + OCF_NODE_ID_LEN + 16 + row->record_len;
    uint8_t *message = ocf_malloc (*len);
    uint8_t *at = message;
    memcpy (at, ROW_DOMAIN, sizeof ROW_DOMAIN);
    at += sizeof ROW_DOMAIN;
    memcpy (at, row->id, OCF_NODE_ID_LEN);
    at = s_put_u64 (s_put_u64 (at + OCF_NODE_ID_LEN, row->generation), row->version);
    memcpy (at, row->record, row->record_len);
    return message;
}

#define TOMBSTONE_MESSAGE_LEN (sizeof TOMBSTONE_DOMAIN + OCF_NODE_ID_LEN + 8 + 1 + 8)

static void
s_tombstone_message (const ocf_tombstone_in_t *tombstone, uint8_t message[TOMBSTONE_MESSAGE_LEN])
{
    memcpy (message, TOMBSTONE_DOMAIN, sizeof TOMBSTONE_DOMAIN);
    uint8_t *at = message + sizeof TOMBSTONE_DOMAIN;
    memcpy (at, tombstone->id, OCF_NODE_ID_LEN);
    at = s_put_u64 (at + OCF_NODE_ID_LEN, tombstone->generation);
    *at++ = (uint8_t) tombstone->reason;
    s_put_u64 (at, (uint64_t) tombstone->declared_at);
}

void
ocf_record_sign_row (ocf_row_in_t *row, ocf_identity_t *identity)
{
    size_t len;
    uint8_t *message = s_row_message (row, &len);
    ocf_identity_sign (identity, message, len, row->sig);
    free (message);
    row->has_sig = true;
    row->sig_state = OCF_SIG_GOOD;
}

bool
ocf_record_verify_row (const ocf_row_in_t *row)
{
    if (!row->has_sig || !row->record)
        return false;
    size_t len;
    uint8_t *message = s_row_message (row, &len);
    bool good = ocf_identity_verify (row->id, message, len, row->sig);
    free (message);
    return good;
}

void
ocf_record_sign_tombstone (ocf_tombstone_in_t *tombstone, ocf_identity_t *identity)
{
    uint8_t message[TOMBSTONE_MESSAGE_LEN];
    s_tombstone_message (tombstone, message);
    ocf_identity_sign (identity, message, sizeof message, tombstone->sig);
    tombstone->has_sig = true;
    tombstone->sig_state = OCF_SIG_GOOD;
}

bool
ocf_record_verify_tombstone (const ocf_tombstone_in_t *tombstone)
{
    uint8_t message[TOMBSTONE_MESSAGE_LEN];
    s_tombstone_message (tombstone, message);
    return tombstone->has_sig && ocf_identity_verify (tombstone->id, message, sizeof message, tombstone->sig);
}

void
ocf_record_sig_text (const uint8_t sig[OCF_SIGNATURE_BYTES], char text[OCF_SIGNATURE_TEXT_LEN + 1])
{
    sodium_bin2base64 (text, OCF_SIGNATURE_TEXT_LEN + 1, sig, OCF_SIGNATURE_BYTES, sodium_base64_VARIANT_ORIGINAL);
}

//  --------------------------------------------------------------------------
//  The same checks for jansson values: serialized, then scanned.

typedef struct {
    char *text;
    ocf_json_span_t span;
} serialized_t;

static int
s_serialize (json_t *value, serialized_t *out, char *error, size_t error_size)
{
    out->text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!out->text)
        return s_fail (error, error_size, "value cannot be serialized");
    out->span = ocf_json_root (out->text, strlen (out->text), NULL);
    return 0;
}

int
ocf_record_parse_row (json_t *row, size_t max_record, ocf_row_in_t *out, char *error, size_t error_size)
{
    serialized_t serialized;
    memset (out, 0, sizeof *out);
    if (s_serialize (row, &serialized, error, error_size) != 0)
        return -1;
    int rc = ocf_record_parse_row_span (serialized.span, max_record, out, error, error_size);
    free (serialized.text);
    return rc;
}

int
ocf_record_parse_tombstone (json_t *object, ocf_tombstone_in_t *out, char *error, size_t error_size)
{
    serialized_t serialized;
    if (s_serialize (object, &serialized, error, error_size) != 0)
        return -1;
    int rc = ocf_record_parse_tombstone_span (serialized.span, out, error, error_size);
    free (serialized.text);
    return rc;
}

int
ocf_record_parse_member (json_t *object, ocf_member_in_t *out, char *error, size_t error_size)
{
    serialized_t serialized;
    if (s_serialize (object, &serialized, error, error_size) != 0)
        return -1;
    int rc = ocf_record_parse_member_span (serialized.span, out, error, error_size);
    free (serialized.text);
    return rc;
}

int
ocf_record_check_service (json_t *service, char *error, size_t error_size)
{
    serialized_t serialized;
    if (s_serialize (service, &serialized, error, error_size) != 0)
        return -1;
    int rc = s_check_service_span (serialized.span, NULL, error, error_size);
    free (serialized.text);
    return rc;
}

static void
s_set_sig (json_t *object, const uint8_t sig[OCF_SIGNATURE_BYTES])
{
    char text[OCF_SIGNATURE_TEXT_LEN + 1];
    ocf_record_sig_text (sig, text);
    json_object_set_new (object, "sig", json_string (text));
}

int
ocf_record_sign_row_json (json_t *row, ocf_identity_t *identity, char *error, size_t error_size)
{
    ocf_row_in_t parsed;
    if (ocf_record_parse_row (row, SIZE_MAX / 2, &parsed, error, error_size) != 0)
        return -1;
    ocf_record_sign_row (&parsed, identity);
    s_set_sig (row, parsed.sig);
    ocf_row_in_clear (&parsed);
    return 0;
}

int
ocf_record_sign_tombstone_json (json_t *tombstone, ocf_identity_t *identity, char *error, size_t error_size)
{
    ocf_tombstone_in_t parsed;
    if (ocf_record_parse_tombstone (tombstone, &parsed, error, error_size) != 0)
        return -1;
    ocf_record_sign_tombstone (&parsed, identity);
    s_set_sig (tombstone, parsed.sig);
    return 0;
}

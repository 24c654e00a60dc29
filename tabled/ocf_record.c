/*  ocf_record: record validation and canonical form.  */
#include "ocf_record.h"
#include "ocf_hash.h"
#include "ocf_identity.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERVICES 256
#define MAX_GROUPS 256
#define MAX_GPUS 256
#define MAX_STRING 1024

//  Fields that are not the owner's: they travel with the row but are not in its content.
static const char *s_membership_fields[] = { "incarnation", "status", "status_generation", "last_alive", NULL };

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

//  --------------------------------------------------------------------------
//  Field checks. Each returns 0 or -1 with error set; "where" prefixes the message.

static int __attribute__ ((format (printf, 3, 4)))
s_fail (char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (error, error_size, format, args);
    va_end (args);
    return -1;
}

static int
s_get_id (json_t *object, char *id, char *error, size_t error_size)
{
    const char *text = json_string_value (json_object_get (object, "id"));
    if (!text)
        return s_fail (error, error_size, "\"id\" is missing or not a string");
    if (!ocf_identity_id_valid (text))
        return s_fail (error, error_size, "\"id\" must be 40 Z85 characters (a node's public key), got \"%.60s\"", text);
    memcpy (id, text, OCF_ID_SIZE);
    return 0;
}

//  A JSON integer within [min, max] (JSON numbers above 2^63 are rejected by jansson itself).
static int
s_get_uint (json_t *object, const char *key, bool required, uint64_t min, uint64_t *value, char *error, size_t error_size)
{
    json_t *item = json_object_get (object, key);
    if (!item) {
        if (required)
            return s_fail (error, error_size, "\"%s\" is missing", key);
        return 0;
    }
    if (!json_is_integer (item) || json_integer_value (item) < (json_int_t) min)
        return s_fail (error, error_size, "\"%s\" must be an integer >= %s", key, min ? "1" : "0");
    *value = (uint64_t) json_integer_value (item);
    return 0;
}

static bool
s_string_ok (json_t *item, size_t max)
{
    return json_is_string (item) && json_string_length (item) <= max
        && strlen (json_string_value (item)) == json_string_length (item);
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

int
ocf_record_check_service (json_t *service, char *error, size_t error_size)
{
    if (!json_is_object (service))
        return s_fail (error, error_size, "a service must be an object");
    const char *name = json_string_value (json_object_get (service, "name"));
    if (!ocf_record_service_name_valid (name))
        return s_fail (error, error_size, "service \"name\" must be 1-64 letters, digits, '-', '_' or '.'");
    json_t *groups = json_object_get (service, "identity_group");
    if (groups) {
        if (!json_is_array (groups) || json_array_size (groups) > MAX_GROUPS)
            return s_fail (error, error_size, "service %s: \"identity_group\" must be an array of at most 256 strings", name);
        size_t index;
        json_t *group;
        json_array_foreach (groups, index, group)
            if (!s_string_ok (group, 256) || json_string_length (group) == 0)
                return s_fail (error, error_size, "service %s: identity groups must be non-empty strings of at most 256 bytes", name);
    }
    json_t *status = json_object_get (service, "status");
    if (status && !s_string_ok (status, 32))
        return s_fail (error, error_size, "service %s: \"status\" must be a short string", name);
    json_t *port = json_object_get (service, "port");
    if (port && (!json_is_integer (port) || json_integer_value (port) < 0 || json_integer_value (port) > 65535))
        return s_fail (error, error_size, "service %s: \"port\" must be an integer 0-65535", name);
    json_t *host = json_object_get (service, "host");
    if (host && !s_string_ok (host, 255))
        return s_fail (error, error_size, "service %s: \"host\" must be a string of at most 255 bytes", name);
    json_t *load = json_object_get (service, "load");
    if (load && !json_is_object (load))
        return s_fail (error, error_size, "service %s: \"load\" must be an object", name);
    return 0;
}

int
ocf_record_check_owner (json_t *record, char *error, size_t error_size)
{
    json_t *name = json_object_get (record, "name");
    if (!s_string_ok (name, 255) || json_string_length (name) == 0)
        return s_fail (error, error_size, "\"name\" must be a non-empty string of at most 255 bytes");
    json_t *addr = json_object_get (record, "addr");
    if (addr) {
        if (!json_is_object (addr))
            return s_fail (error, error_size, "\"addr\" must be an object");
        const char *key;
        json_t *value;
        json_object_foreach (addr, key, value)
            if (!s_string_ok (value, MAX_STRING))
                return s_fail (error, error_size, "\"addr.%s\" must be a string", key);
    }
    json_t *hardware = json_object_get (record, "hardware");
    if (hardware) {
        if (!json_is_object (hardware))
            return s_fail (error, error_size, "\"hardware\" must be an object");
        json_t *gpus = json_object_get (hardware, "gpus");
        if (gpus && (!json_is_array (gpus) || json_array_size (gpus) > MAX_GPUS))
            return s_fail (error, error_size, "\"hardware.gpus\" must be an array of at most 256 objects");
        size_t index;
        json_t *gpu;
        json_array_foreach (gpus, index, gpu)
            if (!json_is_object (gpu))
                return s_fail (error, error_size, "\"hardware.gpus\" items must be objects");
    }
    json_t *services = json_object_get (record, "services");
    if (services) {
        if (!json_is_array (services) || json_array_size (services) > MAX_SERVICES)
            return s_fail (error, error_size, "\"services\" must be an array of at most 256 services");
        size_t index;
        json_t *service;
        json_array_foreach (services, index, service) {
            if (ocf_record_check_service (service, error, error_size) != 0)
                return -1;
            //  One entry per service name: providers are looked up by it.
            const char *name_text = json_string_value (json_object_get (service, "name"));
            for (size_t other = 0; other < index; other++)
                if (strcmp (name_text, json_string_value (json_object_get (json_array_get (services, other), "name"))) == 0)
                    return s_fail (error, error_size, "service %s is listed twice", name_text);
        }
    }
    json_t *labels = json_object_get (record, "labels");
    if (labels) {
        if (!json_is_object (labels))
            return s_fail (error, error_size, "\"labels\" must be an object of strings");
        const char *key;
        json_t *value;
        json_object_foreach (labels, key, value)
            if (!s_string_ok (value, MAX_STRING))
                return s_fail (error, error_size, "label \"%s\" must be a string", key);
    }
    return 0;
}

//  --------------------------------------------------------------------------

static int
s_parse_member (json_t *object, uint64_t record_generation, ocf_member_t *member, bool *present, char *error, size_t error_size)
{
    json_t *status = json_object_get (object, "status");
    *present = status != NULL;
    if (!status)
        return 0;
    int parsed = ocf_status_parse (json_string_value (status));
    if (parsed < 0)
        return s_fail (error, error_size, "\"status\" must be alive, suspect, dead or left");
    member->status = parsed;
    member->incarnation = 0;
    member->generation = record_generation;
    if (s_get_uint (object, "incarnation", false, 0, &member->incarnation, error, error_size) != 0
    ||  s_get_uint (object, "status_generation", false, 1, &member->generation, error, error_size) != 0)
        return -1;
    return 0;
}

int
ocf_record_parse_row (json_t *row, size_t max_record, ocf_row_in_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    if (!json_is_object (row))
        return s_fail (error, error_size, "a row must be a JSON object");
    if (s_get_id (row, out->id, error, error_size) != 0
    ||  s_get_uint (row, "generation", true, 1, &out->generation, error, error_size) != 0
    ||  s_get_uint (row, "version", true, 1, &out->version, error, error_size) != 0
    ||  s_parse_member (row, out->generation, &out->member, &out->has_member, error, error_size) != 0
    ||  ocf_record_check_owner (row, error, error_size) != 0)
        return -1;
    if (out->has_member && out->member.generation < out->generation)
        return s_fail (error, error_size, "\"status_generation\" is older than the row's generation");
    //  The owner's part: everything but the membership fields, canonical.
    json_t *owner = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (row, key, value) {
        bool membership = false;
        for (const char **field = s_membership_fields; *field; field++)
            membership |= strcmp (key, *field) == 0;
        if (!membership)
            json_object_set (owner, key, value);
    }
    out->record = json_dumps (owner, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref (owner);
    if (!out->record)
        return s_fail (error, error_size, "record cannot be serialized");
    out->record_len = strlen (out->record);
    if (out->record_len > max_record) {
        char detail[64];
        snprintf (detail, sizeof detail, "%zu bytes, limit %zu", out->record_len, max_record);
        ocf_row_in_clear (out);
        return s_fail (error, error_size, "record too large (%s)", detail);
    }
    out->content_hash = ocf_record_content_hash (out->record, out->record_len);
    return 0;
}

uint64_t
ocf_record_content_hash (const char *record, size_t record_len)
{
    return ocf_hash64 (record, record_len, 0x7265636f7264ULL);
}

void
ocf_row_in_clear (ocf_row_in_t *row)
{
    free (row->record);
    row->record = NULL;
}

int
ocf_record_parse_tombstone (json_t *object, ocf_tombstone_in_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    if (!json_is_object (object))
        return s_fail (error, error_size, "a tombstone must be a JSON object");
    uint64_t declared_at = 0;
    if (s_get_id (object, out->id, error, error_size) != 0
    ||  s_get_uint (object, "generation", true, 1, &out->generation, error, error_size) != 0
    ||  s_get_uint (object, "declared_at", true, 0, &declared_at, error, error_size) != 0)
        return -1;
    int reason = ocf_reason_parse (json_string_value (json_object_get (object, "reason")));
    if (reason < 0)
        return s_fail (error, error_size, "tombstone \"reason\" must be left or reaped");
    out->reason = reason;
    out->declared_at = (int64_t) declared_at;
    return 0;
}

int
ocf_record_parse_member (json_t *object, ocf_member_in_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    if (!json_is_object (object))
        return s_fail (error, error_size, "a membership update must be a JSON object");
    bool present;
    if (s_get_id (object, out->id, error, error_size) != 0
    ||  s_get_uint (object, "generation", true, 1, &out->member.generation, error, error_size) != 0
    ||  s_parse_member (object, out->member.generation, &out->member, &present, error, error_size) != 0)
        return -1;
    if (!present)
        return s_fail (error, error_size, "\"status\" is missing");
    return 0;
}

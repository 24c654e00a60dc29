/*  ocf_gpu: nvidia-smi CSV parser.  */
#include "ocf_gpu.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS 7
#define NAME_MAX_LEN 256

//  The phrases nvidia-smi and NVML print when the host has no usable GPU at all.
static const char *s_no_gpu[] = { "No devices were found", "No supported GPUs were found", NULL };

typedef struct {
    const char *start;
    size_t len;
} span_t;

static span_t
s_trim (const char *start, size_t len)
{
    while (len && isspace ((unsigned char) *start)) {
        start++;
        len--;
    }
    while (len && isspace ((unsigned char) start[len - 1]))
        len--;
    return (span_t) { start, len };
}

//  "[N/A]", "[Not Supported]", "[Unknown Error]"...: nvidia-smi's ways to say "no value".
static bool
s_is_unavailable (span_t field)
{
    return (field.len >= 2 && field.start[0] == '[' && field.start[field.len - 1] == ']')
        || (field.len == 3 && memcmp (field.start, "N/A", 3) == 0);
}

static bool
s_printable (span_t field)
{
    for (size_t i = 0; i < field.len; i++)
        if ((unsigned char) field.start[i] < 0x20 || field.start[i] == 0x7f)
            return false;
    return true;
}

//  A non-negative integer, or null when unavailable; -1 on anything else.
static int
s_number (span_t field, json_t **value)
{
    if (s_is_unavailable (field)) {
        *value = json_null ();
        return 0;
    }
    char text[32];
    if (field.len == 0 || field.len >= sizeof text)
        return -1;
    memcpy (text, field.start, field.len);
    text[field.len] = '\0';
    for (size_t i = 0; i < field.len; i++)
        if (!isdigit ((unsigned char) text[i]))
            return -1;
    errno = 0;
    long long number = strtoll (text, NULL, 10);
    if (errno)
        return -1;
    *value = json_integer (number);
    return 0;
}

//  Parses one CSV line into a GPU object. Names may contain commas (nvidia-smi does not
//  quote): every field but the name is fixed, so the name is what lies between the first
//  and the last five.
static json_t *
s_parse_line (span_t line, int number, char *error, size_t error_size)
{
    span_t fields[OCF_GPU_MAX];
    size_t count = 0;
    const char *cursor = line.start, *end = line.start + line.len;
    while (count < OCF_GPU_MAX) {
        const char *comma = memchr (cursor, ',', (size_t) (end - cursor));
        const char *stop = comma ? comma : end;
        fields[count++] = s_trim (cursor, (size_t) (stop - cursor));
        if (!comma)
            break;
        cursor = comma + 1;
    }
    if (count < FIELDS || count == OCF_GPU_MAX) {
        snprintf (error, error_size, "line %d: expected %d comma-separated fields (" OCF_GPU_QUERY "), got %zu: '%.*s'",
                  number, FIELDS, count, (int) (line.len > 200 ? 200 : line.len), line.start);
        return NULL;
    }
    span_t name = { fields[1].start, (size_t) (fields[count - 5].start - fields[1].start) };
    name = s_trim (name.start, name.len);
    while (name.len && name.start[name.len - 1] == ',')
        name = s_trim (name.start, name.len - 1);
    static const char *numeric[] = { "memory.total", "memory.used", "utilization.gpu", "temperature.gpu" };
    static const char *keys[] = { "memory_total_mb", "memory_used_mb", "utilization", "temperature" };
    json_t *index;
    if (s_number (fields[0], &index) != 0 || json_is_null (index)) {
        snprintf (error, error_size, "line %d: index '%.*s' is not a number", number, (int) fields[0].len, fields[0].start);
        return NULL;
    }
    if (name.len == 0 || name.len > NAME_MAX_LEN || !s_printable (name)) {
        json_decref (index);
        snprintf (error, error_size, "line %d: name must be 1-%d printable characters", number, NAME_MAX_LEN);
        return NULL;
    }
    span_t uuid = fields[count - 5];
    if (uuid.len > NAME_MAX_LEN || !s_printable (uuid)) {
        json_decref (index);
        snprintf (error, error_size, "line %d: uuid must be at most %d printable characters", number, NAME_MAX_LEN);
        return NULL;
    }
    //  JSON strings must be UTF-8; nvidia-smi prints ASCII, so anything else is garbage.
    json_t *name_text = json_stringn (name.start, name.len);
    json_t *uuid_text = s_is_unavailable (uuid) || uuid.len == 0 ? json_null () : json_stringn (uuid.start, uuid.len);
    if (!name_text || !uuid_text) {
        json_decref (index);
        json_decref (name_text);
        json_decref (uuid_text);
        snprintf (error, error_size, "line %d: %s is not valid UTF-8", number, name_text ? "uuid" : "name");
        return NULL;
    }
    json_t *gpu = json_pack ("{s:o, s:o, s:o}", "index", index, "name", name_text, "uuid", uuid_text);
    for (int i = 0; i < 4; i++) {
        span_t field = fields[count - 4 + i];
        json_t *value;
        if (s_number (field, &value) != 0) {
            snprintf (error, error_size, "line %d: %s '%.*s' is neither a number nor [N/A]", number, numeric[i],
                      (int) (field.len > 64 ? 64 : field.len), field.start);
            json_decref (gpu);
            return NULL;
        }
        json_object_set_new (gpu, keys[i], value);
    }
    return gpu;
}

//  NVML's "no GPU" messages come with other lines ("Unable to determine the number of
//  GPUs"): the message decides, whatever else was printed.
static bool
s_says_no_gpu (const char *text, size_t size)
{
    for (const char **phrase = s_no_gpu; *phrase; phrase++)
        if (memmem (text, size, *phrase, strlen (*phrase)))
            return true;
    return false;
}

json_t *
ocf_gpu_parse (const char *text, size_t size, char *error, size_t error_size)
{
    if (memchr (text, '\0', size)) {
        snprintf (error, error_size, "output contains a NUL byte");
        return NULL;
    }
    if (s_says_no_gpu (text, size))
        return json_array ();
    json_t *gpus = json_array ();
    int number = 0;
    const char *cursor = text, *end = text + size;
    while (cursor < end) {
        const char *newline = memchr (cursor, '\n', (size_t) (end - cursor));
        const char *stop = newline ? newline : end;
        span_t line = s_trim (cursor, (size_t) (stop - cursor));
        cursor = newline ? newline + 1 : end;
        number++;
        if (line.len == 0)
            continue;
        if (json_array_size (gpus) == OCF_GPU_MAX) {
            snprintf (error, error_size, "more than %d GPUs listed", OCF_GPU_MAX);
            json_decref (gpus);
            return NULL;
        }
        json_t *gpu = s_parse_line (line, number, error, error_size);
        if (!gpu) {
            json_decref (gpus);
            return NULL;
        }
        json_array_append_new (gpus, gpu);
    }
    if (json_array_size (gpus) == 0) {
        snprintf (error, error_size, "empty output (expected one CSV line per GPU or \"No devices were found\")");
        json_decref (gpus);
        return NULL;
    }
    return gpus;
}

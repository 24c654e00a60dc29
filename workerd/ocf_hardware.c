/*  ocf_hardware: the record's hardware figures, written past a deadband only.  */
#include "ocf_hardware.h"

#include <stdbool.h>
#include <string.h>

//  The reported value of key if the measured one is within step of it, else the measured.
static void
s_settle_figure (json_t *settled, const json_t *reported, const char *key, json_int_t step)
{
    json_t *was = json_object_get (reported, key), *now = json_object_get (settled, key);
    if (!json_is_integer (was) || !json_is_integer (now))
        return;                         //  null (no value) or appeared: written as measured
    json_int_t moved = json_integer_value (now) - json_integer_value (was);
    if (moved < step && -moved < step)
        json_object_set_new (settled, key, json_integer (json_integer_value (was)));
}

static json_int_t
s_percent_of (const json_t *object, const char *total_key)
{
    json_int_t step = json_integer_value (json_object_get (object, total_key)) * OCF_HARDWARE_MEMORY_PERCENT / 100;
    return step > 0 ? step : 1;
}

static bool
s_same_gpu (const json_t *one, const json_t *other)
{
    const char *uuid = json_string_value (json_object_get (one, "uuid"));
    const char *other_uuid = json_string_value (json_object_get (other, "uuid"));
    if (uuid || other_uuid)
        return uuid && other_uuid && strcmp (uuid, other_uuid) == 0;
    return json_equal (json_object_get (one, "index"), json_object_get (other, "index"));
}

static const json_t *
s_reported_gpu (const json_t *reported, const json_t *gpu)
{
    const json_t *candidate;
    size_t index;
    json_array_foreach (json_object_get (reported, "gpus"), index, candidate)
        if (s_same_gpu (candidate, gpu))
            return candidate;
    return NULL;
}

json_t *
ocf_hardware_settle (const json_t *reported, const json_t *measured)
{
    json_t *settled = json_deep_copy (measured);
    if (!json_is_object (settled))
        return settled;
    //  The totals are no figures to settle: a different total is a different machine.
    if (json_equal (json_object_get (reported, "memory_mb"), json_object_get (settled, "memory_mb")))
        s_settle_figure (settled, reported, "memory_used_mb", s_percent_of (settled, "memory_mb"));
    json_t *gpu;
    size_t index;
    json_array_foreach (json_object_get (settled, "gpus"), index, gpu) {
        const json_t *was = s_reported_gpu (reported, gpu);
        if (!was || !json_equal (json_object_get (was, "memory_total_mb"), json_object_get (gpu, "memory_total_mb")))
            continue;
        s_settle_figure (gpu, was, "utilization", OCF_HARDWARE_UTILIZATION_STEP);
        s_settle_figure (gpu, was, "temperature", OCF_HARDWARE_TEMPERATURE_STEP);
        s_settle_figure (gpu, was, "memory_used_mb", s_percent_of (gpu, "memory_total_mb"));
    }
    return settled;
}

/*  Fuzz target: the in-place JSON scanner (common/ocf_json.c), checked against jansson.
    Whatever jansson accepts (within our nesting limit, without NUL bytes, which jansson takes
    for the end of the text) the scanner must accept, see the same
    members in the same order and decode the same strings; whatever the scanner accepts,
    jansson must accept too, unless it is a number out of jansson's range or an object key
    holding \u0000 (valid JSON that jansson cannot represent).  */
#include "ocf_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int
s_depth (const uint8_t *data, size_t size)
{
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < size; i++) {
        if (in_string) {
            if (data[i] == '\\')
                i++;
            else
            if (data[i] == '"')
                in_string = false;
        }
        else
        if (data[i] == '"')
            in_string = true;
        else
        if (data[i] == '{' || data[i] == '[')
            deepest = ++depth > deepest ? depth : deepest;
        else
        if (data[i] == '}' || data[i] == ']')
            depth--;
    }
    return deepest;
}

//  Same members, same order, same decoded keys and strings.
static void
s_compare (json_t *value, ocf_json_span_t span)
{
    if (json_is_object (value)) {
        if (ocf_json_type (span) != OCF_JSON_OBJECT)
            abort ();
        ocf_json_iter_t iter = ocf_json_iter (span);
        ocf_json_span_t key, member;
        const char *name;
        json_t *item;
        size_t seen = 0;
        json_object_foreach (value, name, item) {
            if (!ocf_json_object_next (&iter, &key, &member) || !ocf_json_string_is (key, name))
                abort ();
            s_compare (item, member);
            seen++;
        }
        if (ocf_json_object_next (&iter, &key, &member) || ocf_json_count (span) != seen)
            abort ();
    }
    else
    if (json_is_array (value)) {
        ocf_json_iter_t iter = ocf_json_iter (span);
        ocf_json_span_t element;
        for (size_t i = 0; i < json_array_size (value); i++) {
            if (!ocf_json_array_next (&iter, &element))
                abort ();
            s_compare (json_array_get (value, i), element);
        }
        if (ocf_json_array_next (&iter, &element))
            abort ();
    }
    else
    if (json_is_string (value)) {
        char decoded[4096];
        long len = ocf_json_string_copy (span, decoded, sizeof decoded);
        if (len >= 0 && ((size_t) len != json_string_length (value) || memcmp (decoded, json_string_value (value), (size_t) len) != 0))
            abort ();
        if (len >= 0 && ocf_json_string_length (span) != (size_t) len)
            abort ();
    }
    else
    if (json_is_integer (value)) {
        int64_t number;
        if (ocf_json_integer (span, &number) != 0 || number != json_integer_value (value))
            abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error[256];
    ocf_json_index_t index = { 0 };
    bool scanned = ocf_json_validate ((const char *) data, size, &index, error, sizeof error) == 0;
    json_error_t json_error;
    //  Duplicate keys are the one thing jansson keeps only once: keep them out of the comparison.
    json_t *parsed = json_loadb ((const char *) data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &json_error);
    //  jansson stops reading at a NUL byte; the scanner refuses it (it is not JSON).
    if (parsed && s_depth (data, size) <= OCF_JSON_MAX_DEPTH && !memchr (data, 0, size)) {
        if (!scanned)
            abort ();
        //  Walks read the same with the index (container ends looked up) as without.
        s_compare (parsed, ocf_json_root ((const char *) data, size, &index));
        s_compare (parsed, ocf_json_root ((const char *) data, size, NULL));
    }
    if (scanned && !parsed && !strstr (json_error.text, "too big") && !strstr (json_error.text, "overflow")
    &&  !strstr (json_error.text, "duplicate") && !strstr (json_error.text, "NUL byte in object key"))
        abort ();
    json_decref (parsed);
    ocf_json_index_clear (&index);
    return 0;
}

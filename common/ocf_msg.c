/*  ocf_msg: local message codec.  */
#include "ocf_msg.h"
#include "ocf_json.h"

#include <ctype.h>
#include <stdarg.h>

static bool
s_verb_valid (const char *verb, size_t size)
{
    if (size == 0 || size > OCF_VERB_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if (!isalnum ((unsigned char) verb[i]) && verb[i] != '.' && verb[i] != '_' && verb[i] != '-')
            return false;
    return true;
}

//  The checks both decoders make before looking at the body.
static int
s_check_frames (ocf_msg_t *msg, const void *verb, size_t verb_size, const void *body, size_t body_size,
                size_t max_body, char *error, size_t error_size)
{
    msg->verb[0] = '\0';
    msg->body = NULL;
    msg->index = (ocf_json_index_t) { 0 };
    msg->text = body;
    msg->text_len = body_size;
    if (!s_verb_valid (verb, verb_size)) {
        snprintf (error, error_size, "malformed verb frame (%zu bytes): expected 1-%d characters of A-Z a-z 0-9 . _ -",
                  verb_size, OCF_VERB_MAX);
        return -1;
    }
    memcpy (msg->verb, verb, verb_size);
    msg->verb[verb_size] = '\0';
    if (body_size > max_body) {
        snprintf (error, error_size, "%s: body of %zu bytes exceeds the limit of %zu", msg->verb, body_size, max_body);
        return -1;
    }
    return 0;
}

static int
s_check_version (ocf_msg_t *msg, bool present, int64_t version, char *error, size_t error_size)
{
    if (!present) {
        snprintf (error, error_size, "%s: body lacks the protocol version \"v\": %d", msg->verb, OCF_PROTOCOL_VERSION);
        return -1;
    }
    if (version != OCF_PROTOCOL_VERSION) {
        snprintf (error, error_size, "%s: protocol version %lld is not supported (this side speaks %d)", msg->verb,
                  (long long) version, OCF_PROTOCOL_VERSION);
        return -1;
    }
    return 0;
}

//  The body's own checks, on validated text: an object, no key twice, the version.
static int
s_scan_body (ocf_msg_t *msg, ocf_json_span_t root, char *error, size_t error_size)
{
    if (ocf_json_type (root) != OCF_JSON_OBJECT) {
        snprintf (error, error_size, "%s: body must be a JSON object", msg->verb);
        return -1;
    }
    //  One walk over the members finds duplicate keys and the version.
    ocf_json_iter_t iter = ocf_json_iter (root);
    ocf_json_span_t key, value, previous[64], version = { NULL, 0, NULL };
    size_t count = 0;
    while (ocf_json_object_next (&iter, &key, &value)) {
        for (size_t i = 0; i < count && i < 64; i++)
            if (ocf_json_strings_equal (previous[i], key)) {
                snprintf (error, error_size, "%s: body has the key %.*s twice", msg->verb, (int) key.len, key.start);
                return -1;
            }
        if (count < 64)
            previous[count] = key;
        count++;
        if (ocf_json_string_is (key, "v"))
            version = value;
    }
    int64_t number = 0;
    bool present = version.len && ocf_json_integer (version, &number) == 0;
    return s_check_version (msg, present, number, error, error_size);
}

int
ocf_msg_scan (ocf_msg_t *msg, const void *verb, size_t verb_size, const void *body, size_t body_size,
              size_t max_body, char *error, size_t error_size)
{
    if (s_check_frames (msg, verb, verb_size, body, body_size, max_body, error, error_size) != 0)
        return -1;
    char problem[256];
    if (ocf_json_validate (body, body_size, &msg->index, problem, sizeof problem) != 0) {
        snprintf (error, error_size, "%s: body is not valid JSON: %s", msg->verb, problem);
        return -1;
    }
    if (s_scan_body (msg, ocf_json_root (body, body_size, &msg->index), error, error_size) != 0) {
        ocf_json_index_clear (&msg->index);
        return -1;
    }
    return 0;
}

json_t *
ocf_msg_body (ocf_msg_t *msg, char *error, size_t error_size)
{
    if (!msg->body) {
        json_error_t json_error;
        msg->body = json_loadb (msg->text, msg->text_len, JSON_REJECT_DUPLICATES, &json_error);
        if (!msg->body)
            snprintf (error, error_size, "%s: body is not usable JSON: %s", msg->verb, json_error.text);
    }
    return msg->body;
}

int
ocf_msg_decode (ocf_msg_t *msg, const void *verb, size_t verb_size, const void *body,
                size_t body_size, size_t max_body, char *error, size_t error_size)
{
    if (s_check_frames (msg, verb, verb_size, body, body_size, max_body, error, error_size) != 0)
        return -1;
    json_error_t json_error;
    json_t *parsed = json_loadb (body, body_size, JSON_REJECT_DUPLICATES, &json_error);
    if (!parsed) {
        snprintf (error, error_size, "%s: body is not valid JSON: %s at byte %d", msg->verb, json_error.text,
                  json_error.position);
        return -1;
    }
    if (!json_is_object (parsed)) {
        snprintf (error, error_size, "%s: body must be a JSON object", msg->verb);
        json_decref (parsed);
        return -1;
    }
    json_t *version = json_object_get (parsed, "v");
    if (s_check_version (msg, json_is_integer (version), json_integer_value (version), error, error_size) != 0) {
        json_decref (parsed);
        return -1;
    }
    msg->body = parsed;
    return 0;
}

int
ocf_msg_decode_zmsg (ocf_msg_t *msg, zmsg_t *zmsg, size_t max_body, char *error, size_t error_size)
{
    msg->verb[0] = '\0';
    msg->body = NULL;
    if (zmsg_size (zmsg) != 2) {
        snprintf (error, error_size, "expected 2 frames (verb, JSON body), got %zu", zmsg_size (zmsg));
        return -1;
    }
    zframe_t *verb = zmsg_first (zmsg);
    zframe_t *body = zmsg_next (zmsg);
    return ocf_msg_decode (msg, zframe_data (verb), zframe_size (verb), zframe_data (body), zframe_size (body),
                           max_body, error, error_size);
}

void
ocf_msg_clear (ocf_msg_t *msg)
{
    json_decref (msg->body);
    msg->body = NULL;
    ocf_json_index_clear (&msg->index);
}

zmsg_t *
ocf_msg_take_envelope (zmsg_t *request)
{
    //  The ZeroMQ envelope: every frame up to an empty delimiter (the routing identity, the
    //  frames a client added to match replies, the delimiter), or the identity alone when the
    //  client sent no delimiter. Verbs and bodies are never empty, so only a delimiter is.
    zmsg_t *reply = zmsg_new ();
    size_t frames = zmsg_size (request), envelope = 1, index = 0;
    for (zframe_t *frame = zmsg_first (request); frame && index + 2 < frames; frame = zmsg_next (request), index++)
        if (zframe_size (frame) == 0) {
            envelope = index + 1;
            break;
        }
    for (size_t i = 0; i < envelope && zmsg_size (request); i++) {
        zframe_t *frame = zmsg_pop (request);
        zmsg_append (reply, &frame);
    }
    return reply;
}

void
ocf_msg_append (zmsg_t *zmsg, const char *verb, json_t *body)
{
    if (!body)
        body = json_object ();
    json_object_set_new (body, "v", json_integer (OCF_PROTOCOL_VERSION));
    zmsg_addstr (zmsg, verb);
    char *text = json_dumps (body, JSON_COMPACT);
    zmsg_addmem (zmsg, text, strlen (text));
    free (text);
    json_decref (body);
}

void
ocf_msg_append_raw (zmsg_t *zmsg, const char *verb, const char *json_text, size_t size)
{
    zmsg_addstr (zmsg, verb);
    zmsg_addmem (zmsg, json_text, size);
}

int
ocf_msg_send (zsock_t *sock, const char *verb, json_t *body)
{
    zmsg_t *zmsg = zmsg_new ();
    ocf_msg_append (zmsg, verb, body);
    int rc = zmsg_send (&zmsg, sock);
    zmsg_destroy (&zmsg);               //  czmq keeps a message it could not send
    return rc;
}

json_t *
ocf_msg_error_body (const char *format, ...)
{
    char text[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    return json_pack ("{s:s}", "error", text);
}

/*  Fuzz target: the local message decoder (common/ocf_msg.c).
    Input: first byte = length of the verb frame, the rest split into verb and body.  */
#include "ocf_msg.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t verb_size = data[0] < size - 1 ? data[0] : size - 1;
    ocf_msg_t msg;
    char error[256];
    if (ocf_msg_decode (&msg, data + 1, verb_size, data + 1 + verb_size, size - 1 - verb_size, 4096, error, sizeof error) == 0) {
        //  A decoded message must re-encode and decode to the same thing.
        zmsg_t *zmsg = zmsg_new ();
        ocf_msg_append (zmsg, msg.verb, json_incref (msg.body));
        ocf_msg_t again;
        if (ocf_msg_decode_zmsg (&again, zmsg, 1 << 20, error, sizeof error) != 0 || strcmp (again.verb, msg.verb) != 0
        ||  !json_equal (again.body, msg.body))
            abort ();
        ocf_msg_clear (&again);
        zmsg_destroy (&zmsg);
        ocf_msg_clear (&msg);
    }
    else
    if (!*error)
        abort ();               //  every refusal says why
    //  The in-place decoder must agree with the full one, but where jansson's number range
    //  is narrower than the scanner's.
    ocf_msg_t scanned;
    char scan_error[256];
    int scan_rc = ocf_msg_scan (&scanned, data + 1, verb_size, data + 1 + verb_size, size - 1 - verb_size, 4096,
                                scan_error, sizeof scan_error);
    //  (and jansson refuses \u0000 in strings, which is JSON but never reaches a handler, and
    //  duplicate keys in nested objects, which the scan looks for at the top level only).
    if (scan_rc == 0 && !ocf_msg_body (&scanned, error, sizeof error) && !strstr (error, "too big") && !strstr (error, "overflow")
    &&  !strstr (error, "u0000") && !strstr (error, "NUL byte") && !strstr (error, "duplicate object key"))
        abort ();
    ocf_msg_clear (&scanned);
    return 0;
}

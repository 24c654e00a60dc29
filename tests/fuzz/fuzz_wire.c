/*  Fuzz target for the gossip wire decoder (gossipd/ocf_wire.c): any frame a peer can send.
    A frame that decodes must encode again and decode to the same message.  */
#include "ocf_wire.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FRAME (1u << 20)

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ocf_wire_msg_t msg;
    char error[256];
    if (ocf_wire_decode (&msg, data, size, MAX_FRAME, error, sizeof error) != 0)
        return 0;
    ocf_wire_buf_t buf = { .max = 64u << 20 };
    if (ocf_wire_encode (&msg, &buf) != 0)
        abort ();
    ocf_wire_msg_t again;
    if (ocf_wire_decode (&again, buf.data, buf.len, 64u << 20, error, sizeof error) != 0
    ||  again.type != msg.type || again.item_count != msg.item_count || again.key_count != msg.key_count
    ||  again.digest_count != msg.digest_count || again.id_count != msg.id_count || again.peer_count != msg.peer_count)
        abort ();
    for (size_t i = 0; i < msg.item_count; i++)
        if (again.items[i].size != msg.items[i].size || memcmp (again.items[i].data, msg.items[i].data, msg.items[i].size) != 0)
            abort ();
    ocf_wire_clear (&again);
    ocf_wire_buf_free (&buf);
    ocf_wire_clear (&msg);
    return 0;
}

/*  serf_rpc: a minimal serf agent RPC client (msgpack).  */
#include "serf_rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  msgpack out

typedef struct {
    uint8_t data[1024];
    size_t len;
} out_t;

static void
s_byte (out_t *out, uint8_t byte)
{
    if (out->len < sizeof out->data)
        out->data[out->len++] = byte;
}

static void
s_map (out_t *out, size_t count)
{
    s_byte (out, (uint8_t) (0x80 | count));      //  fixmap: our maps are small
}

static void
s_str (out_t *out, const char *text)
{
    size_t len = strlen (text);
    if (len < 32)
        s_byte (out, (uint8_t) (0xa0 | len));
    else {
        s_byte (out, 0xd9);
        s_byte (out, (uint8_t) len);
    }
    for (size_t i = 0; i < len; i++)
        s_byte (out, (uint8_t) text[i]);
}

static void
s_uint (out_t *out, uint64_t value)
{
    if (value < 128) {
        s_byte (out, (uint8_t) value);
        return;
    }
    s_byte (out, 0xcf);
    for (int i = 7; i >= 0; i--)
        s_byte (out, (uint8_t) (value >> (8 * i)));
}

static int
s_send (serf_rpc_t *rpc, out_t *out)
{
    return send (rpc->fd, out->data, out->len, MSG_NOSIGNAL) == (ssize_t) out->len ? 0 : -1;
}

static uint64_t
s_header (serf_rpc_t *rpc, out_t *out, const char *command)
{
    uint64_t seq = rpc->next_seq++;
    s_map (out, 2);
    s_str (out, "Command");
    s_str (out, command);
    s_str (out, "Seq");
    s_uint (out, seq);
    return seq;
}

//  --------------------------------------------------------------------------
//  msgpack in: 1 complete, 0 incomplete, -1 malformed

static int s_decode (const uint8_t *data, size_t size, size_t *used, mp_value_t *out, int depth);

static int
s_need (size_t size, size_t want)
{
    return size >= want ? 1 : 0;
}

static uint64_t
s_be (const uint8_t *data, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = (value << 8) | data[i];
    return value;
}

static int
s_decode_items (const uint8_t *data, size_t size, size_t *used, mp_value_t *out, size_t count, int depth)
{
    out->items = calloc (count ? count : 1, sizeof *out->items);
    for (size_t i = 0; i < count; i++) {
        size_t took = 0;
        int rc = s_decode (data + *used, size - *used, &took, &out->items[i], depth + 1);
        if (rc != 1) {
            mp_free (out);
            return rc;
        }
        *used += took;
    }
    return 1;
}

static int
s_decode (const uint8_t *data, size_t size, size_t *used, mp_value_t *out, int depth)
{
    memset (out, 0, sizeof *out);
    if (depth > 32)
        return -1;
    if (!s_need (size, 1))
        return 0;
    uint8_t tag = data[0];
    size_t head = 1, length = 0;
    *used = 1;
    if (tag <= 0x7f || tag >= 0xe0) {
        out->type = MP_INT;
        out->integer = (int8_t) tag;
        if (tag <= 0x7f)
            out->integer = tag;
        return 1;
    }
    if (tag >= 0x80 && tag <= 0x8f) {
        out->type = MP_MAP;
        out->length = tag & 0x0f;
        return s_decode_items (data, size, used, out, 2 * out->length, depth);
    }
    if (tag >= 0x90 && tag <= 0x9f) {
        out->type = MP_ARRAY;
        out->length = tag & 0x0f;
        return s_decode_items (data, size, used, out, out->length, depth);
    }
    if (tag >= 0xa0 && tag <= 0xbf) {
        length = tag & 0x1f;
        goto string;
    }
    switch (tag) {
        case 0xc0: out->type = MP_NIL; return 1;
        case 0xc2: case 0xc3: out->type = MP_BOOL; out->integer = tag == 0xc3; return 1;
        case 0xc4: case 0xd9: head = 2; break;
        case 0xc5: case 0xda: head = 3; break;
        case 0xc6: case 0xdb: head = 5; break;
        case 0xca: out->type = MP_OTHER; *used = 5; return s_need (size, 5);
        case 0xcb: out->type = MP_OTHER; *used = 9; return s_need (size, 9);
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            int bytes = 1 << (tag - 0xcc);
            if (!s_need (size, 1 + (size_t) bytes))
                return 0;
            out->type = MP_INT;
            out->integer = (int64_t) s_be (data + 1, bytes);
            *used = 1 + (size_t) bytes;
            return 1;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            int bytes = 1 << (tag - 0xd0);
            if (!s_need (size, 1 + (size_t) bytes))
                return 0;
            uint64_t raw = s_be (data + 1, bytes);
            int shift = 64 - 8 * bytes;
            out->type = MP_INT;
            out->integer = shift ? (int64_t) (raw << shift) >> shift : (int64_t) raw;
            *used = 1 + (size_t) bytes;
            return 1;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            out->type = MP_OTHER;
            *used = 2 + ((size_t) 1 << (tag - 0xd4));
            return s_need (size, *used);
        case 0xc7: case 0xc8: case 0xc9: {
            int bytes = 1 << (tag - 0xc7);
            if (!s_need (size, 2 + (size_t) bytes))
                return 0;
            out->type = MP_OTHER;
            *used = 2 + (size_t) bytes + (size_t) s_be (data + 1, bytes);
            return s_need (size, *used);
        }
        case 0xdc: case 0xdd: case 0xde: case 0xdf: {
            int bytes = tag == 0xdc || tag == 0xde ? 2 : 4;
            if (!s_need (size, 1 + (size_t) bytes))
                return 0;
            out->type = tag <= 0xdd ? MP_ARRAY : MP_MAP;
            out->length = (size_t) s_be (data + 1, bytes);
            if (out->length > size)
                return out->length > (1u << 24) ? -1 : 0;
            *used = 1 + (size_t) bytes;
            return s_decode_items (data, size, used, out, out->type == MP_MAP ? 2 * out->length : out->length, depth);
        }
        default:
            return -1;
    }
    if (!s_need (size, head))
        return 0;
    length = (size_t) s_be (data + 1, (int) head - 1);
string:
    if (length > (1u << 24))
        return -1;
    if (!s_need (size, head + length))
        return 0;
    out->type = MP_STR;
    out->length = length;
    out->string = malloc (length + 1);
    memcpy (out->string, data + head, length);
    out->string[length] = '\0';
    *used = head + length;
    return 1;
}

void
mp_free (mp_value_t *value)
{
    if (value->items) {
        size_t count = value->type == MP_MAP ? 2 * value->length : value->length;
        for (size_t i = 0; i < count; i++)
            mp_free (&value->items[i]);
        free (value->items);
    }
    free (value->string);
    memset (value, 0, sizeof *value);
}

const mp_value_t *
mp_get (const mp_value_t *map, const char *key)
{
    if (!map || map->type != MP_MAP)
        return NULL;
    for (size_t i = 0; i < map->length; i++)
        if (map->items[2 * i].type == MP_STR && strcmp (map->items[2 * i].string, key) == 0)
            return &map->items[2 * i + 1];
    return NULL;
}

//  --------------------------------------------------------------------------

static bool
s_body_expected (serf_rpc_t *rpc, uint64_t seq, bool consume)
{
    for (size_t i = 0; i < rpc->body_seq_count; i++)
        if (rpc->body_seqs[i] == seq) {
            if (consume)
                rpc->body_seqs[i] = rpc->body_seqs[--rpc->body_seq_count];
            return true;
        }
    return false;
}

int
serf_rpc_next (serf_rpc_t *rpc, uint64_t *seq, mp_value_t *body)
{
    memset (body, 0, sizeof *body);
    while (true) {
        if (rpc->cap - rpc->used < 65536) {
            rpc->cap = rpc->cap ? rpc->cap * 2 : 262144;
            rpc->buffer = realloc (rpc->buffer, rpc->cap);
        }
        ssize_t got = recv (rpc->fd, rpc->buffer + rpc->used, rpc->cap - rpc->used, MSG_DONTWAIT);
        if (got > 0)
            rpc->used += (size_t) got;
        else
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return -1;
        if (got <= 0)
            break;
    }
    size_t head_used = 0;
    mp_value_t header;
    int rc = s_decode (rpc->buffer, rpc->used, &head_used, &header, 0);
    if (rc <= 0)
        return rc;
    const mp_value_t *value = mp_get (&header, "Seq");
    *seq = value ? (uint64_t) value->integer : UINT64_MAX;
    mp_free (&header);
    //  A members answer has a body after its header; tags and handshake answers do not.
    size_t body_used = 0;
    if (s_body_expected (rpc, *seq, false)) {
        rc = s_decode (rpc->buffer + head_used, rpc->used - head_used, &body_used, body, 0);
        if (rc <= 0)
            return rc;
        s_body_expected (rpc, *seq, true);
    }
    memmove (rpc->buffer, rpc->buffer + head_used + body_used, rpc->used - head_used - body_used);
    rpc->used -= head_used + body_used;
    return 1;
}

int
serf_rpc_open (serf_rpc_t *rpc, int port, int timeout_ms)
{
    memset (rpc, 0, sizeof *rpc);
    rpc->fd = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (rpc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    if (connect (rpc->fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
        close (rpc->fd);
        return -1;
    }
    out_t out = { .len = 0 };
    s_header (rpc, &out, "handshake");
    s_map (&out, 1);
    s_str (&out, "Version");
    s_uint (&out, 1);
    if (s_send (rpc, &out) != 0)
        return -1;
    struct pollfd item = { rpc->fd, POLLIN, 0 };
    uint64_t seq;
    mp_value_t body;
    while (poll (&item, 1, timeout_ms) > 0) {
        int rc = serf_rpc_next (rpc, &seq, &body);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return 0;
    }
    return -1;
}

void
serf_rpc_close (serf_rpc_t *rpc)
{
    if (rpc->fd > 0)
        close (rpc->fd);
    free (rpc->buffer);
    memset (rpc, 0, sizeof *rpc);
}

int
serf_rpc_tag (serf_rpc_t *rpc, const char *key, const char *value)
{
    out_t out = { .len = 0 };
    s_header (rpc, &out, "tags");
    s_map (&out, 2);
    s_str (&out, "Tags");
    s_map (&out, 1);
    s_str (&out, key);
    s_str (&out, value);
    s_str (&out, "DeleteTags");
    s_byte (&out, 0x90);
    return s_send (rpc, &out);
}

int
serf_rpc_members (serf_rpc_t *rpc, const char *name)
{
    out_t out = { .len = 0 };
    uint64_t seq = s_header (rpc, &out, name ? "members-filtered" : "members");
    if (name) {
        s_map (&out, 1);
        s_str (&out, "Name");
        s_str (&out, name);
    }
    if (rpc->body_seq_count < sizeof rpc->body_seqs / sizeof rpc->body_seqs[0])
        rpc->body_seqs[rpc->body_seq_count++] = seq;
    return s_send (rpc, &out);
}

/*  serf_rpc: just enough of HashiCorp serf's agent RPC (msgpack over TCP) for the benchmark:
    handshake, tag changes and the member list. Non-blocking reads; values decoded into a
    small tree.  */
#ifndef SERF_RPC_H
#define SERF_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MP_NIL, MP_BOOL, MP_INT, MP_STR, MP_ARRAY, MP_MAP, MP_OTHER } mp_type_t;

typedef struct mp_value {
    mp_type_t type;
    int64_t integer;
    char *string;                //  MP_STR (also binary data), NUL-terminated
    size_t length;
    struct mp_value *items;      //  MP_ARRAY: length items; MP_MAP: 2 * length (key, value)
} mp_value_t;

void mp_free (mp_value_t *value);
//  The value under key in a map, or NULL.
const mp_value_t *mp_get (const mp_value_t *map, const char *key);

typedef struct {
    int fd;
    uint64_t next_seq;
    uint8_t *buffer;
    size_t used, cap;
    //  sequence numbers whose response carries a body (beyond the header)
    uint64_t body_seqs[64];
    size_t body_seq_count;
} serf_rpc_t;

//  Connects to 127.0.0.1:port and handshakes. Returns 0 or -1.
int serf_rpc_open (serf_rpc_t *rpc, int port, int timeout_ms);
void serf_rpc_close (serf_rpc_t *rpc);
//  Sets one tag (value) on the agent.
int serf_rpc_tag (serf_rpc_t *rpc, const char *key, const char *value);
//  Asks for the member list (all members, or those whose name matches the regular
//  expression name); the answer comes through serf_rpc_next.
int serf_rpc_members (serf_rpc_t *rpc, const char *name);
//  Reads what arrived; returns 1 with *seq and *body (a map, or MP_NIL) for each complete
//  response, 0 when nothing complete is there, -1 on a broken connection.
int serf_rpc_next (serf_rpc_t *rpc, uint64_t *seq, mp_value_t *body);

#endif

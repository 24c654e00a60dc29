/*  Fuzz target for the protocol core's handling of what peers send (gossipd/ocf_gossip*.c):
    a core with a view of four members gets a sequence of frames from them, with table
    answers and ticks in between, as a daemon would. Whatever the frames, it must neither
    crash nor leak. Input: records of [sender (1 byte)][length (2 bytes, LE)][frame].  */
#include "ocf_gossip.h"

#include <stdlib.h>
#include <string.h>

static const char *s_ids[] = {
    "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz0000", "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz1111",
    "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz2222", "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz3333",
};

typedef struct {
    uint64_t tokens[64];
    ocf_query_kind_t kinds[64];
    size_t count;
} pending_t;

static void
s_send (void *arg, const char *peer, const uint8_t *data, size_t size)
{
}

static void
s_merge (void *arg, const char *from, const ocf_item_t *items, size_t count)
{
}

static void
s_query (void *arg, uint64_t token, const ocf_query_t *query)
{
    pending_t *pending = arg;
    if (pending->count < 64) {
        pending->tokens[pending->count] = token;
        pending->kinds[pending->count++] = query->kind;
    }
}

//  Answers every query as an empty table would: the handlers after the answer run too.
static void
s_answer (ocf_gossip_t *core, pending_t *pending, int64_t now)
{
    uint64_t buckets[256] = { 0 };
    buckets[now % 256] = (uint64_t) now;
    while (pending->count) {
        size_t last = --pending->count;
        if (pending->kinds[last] == OCF_QUERY_BUCKETS)
            ocf_gossip_answer_buckets (core, now, pending->tokens[last], buckets);
        else
        if (pending->kinds[last] == OCF_QUERY_DIGESTS)
            ocf_gossip_answer_digests (core, now, pending->tokens[last], NULL, 0);
        else
            ocf_gossip_answer_items (core, now, pending->tokens[last], NULL, 0, NULL, 0, 0);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ocf_members_t *view = ocf_members_new ();
    for (int i = 0; i < 4; i++)
        ocf_members_set (view, s_ids[i], 1, 0, OCF_STATUS_ALIVE, NULL);
    pending_t pending = { .count = 0 };
    ocf_gossip_env_t env = { .arg = &pending, .send = s_send, .merge = s_merge, .query = s_query };
    ocf_gossip_config_t config;
    ocf_gossip_config_defaults (&config);
    config.max_frame = 1u << 16;
    int64_t now = 1000;
    ocf_gossip_t *core = ocf_gossip_new (s_ids[0], &config, view, &env, 1, now);
    ocf_gossip_set_root (core, 1, 4);
    ocf_gossip_tick (core, now);
    while (size >= 3) {
        const char *from = s_ids[1 + data[0] % 3];
        size_t length = (size_t) (data[1] | data[2] << 8);
        data += 3;
        size -= 3;
        if (length > size)
            length = size;
        ocf_gossip_receive (core, now, from, data, length);
        s_answer (core, &pending, now);
        data += length;
        size -= length;
        now += 37;
        ocf_gossip_tick (core, now);
        s_answer (core, &pending, now);
    }
    ocf_gossip_destroy (&core);
    ocf_members_destroy (&view);
    return 0;
}

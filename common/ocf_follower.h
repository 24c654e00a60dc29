/*  ocf_follower: follows ocf-tabled's node table from another daemon, with no sockets inside.
    Owns the protocol of following (docs/protocol.md, "Events"): a HELLO, the whole table
    loaded with LIST page by page, then the events of tabled.events in `seq` order; events
    that arrive during a load are kept and applied after it, older ones and duplicates are
    dropped. It loads again when tabled restarted (a new `boot` in an event, a page or a
    HELLO), when events were lost (a gap in `seq`, a buffer that overflowed during a load, or,
    with a HELLO interval, tabled's `seq` still ahead of ours one HELLO later), and, after
    retry_ms, when tabled did not answer or refused.
    It is fed replies, events and time; it says what to send and what changed through the
    handler. Its owner keeps the sockets and the deadlines of requests (they are shared with
    the owner's other requests), and the view itself (proxyd's routing view, gossipd's
    members). At most one request of the follower is out at a time: when it sends another,
    the previous one is abandoned and the owner must drop its reply.  */
#ifndef OCF_FOLLOWER_H
#define OCF_FOLLOWER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *arg;
    //  Sends verb + body (taken) to tabled's API. Required.
    void (*send) (void *arg, const char *verb, json_t *body);
    //  tabled answered a HELLO and the table is loaded next: at the start, after an outage or
    //  a restart of tabled.
    void (*hello) (void *arg, json_t *hello);
    //  A load starts; page is the first LIST reply (it names "self"). The rows of every page
    //  follow, then loaded: they replace the view.
    void (*load_begin) (void *arg, json_t *page);
    void (*row) (void *arg, json_t *row);
    //  The view is loaded; it follows the events from here.
    void (*loaded) (void *arg);
    //  An event, in order: topic "row", "status", "tombstone" or "seen".
    void (*event) (void *arg, const char *topic, json_t *body);
    //  The view stopped following tabled (it did not answer or refused: error says which), or
    //  the very first try failed. Called once per outage.
    void (*stale) (void *arg, const char *error);
} ocf_follower_handler_t;

typedef struct {
    int64_t retry_ms;            //  after tabled did not answer or refused
    int64_t hello_ms;            //  HELLO while following (0: never)
    size_t page_rows;            //  LIST's limit
    size_t max_buffered;         //  events kept during a load; beyond, the load is repeated
    const char *view_name;       //  for log lines: "routing view"
} ocf_follower_config_t;

typedef struct {
    uint64_t loads;              //  LIST loads started
    uint64_t reloads;            //  ... of them after a restart of tabled or lost events
    uint64_t events;             //  events applied
    uint64_t refused;            //  ERR replies to HELLO or LIST
    uint64_t boot, seq;          //  where the view stands
} ocf_follower_stats_t;

typedef struct _ocf_follower_t ocf_follower_t;

//  The first HELLO goes out at the first tick.
ocf_follower_t *ocf_follower_new (const ocf_follower_config_t *config, const ocf_follower_handler_t *handler);
void ocf_follower_destroy (ocf_follower_t **self_p);

//  The reply to the request out: ok for OK (body the reply), else ERR (body {"error"} or
//  NULL for a malformed reply). body is borrowed.
void ocf_follower_reply (ocf_follower_t *self, int64_t now, bool ok, json_t *body);
//  The request out went unanswered, or the owner replaced its connection to tabled: the view
//  stops following and is loaded again, from a HELLO after retry_ms.
void ocf_follower_lost (ocf_follower_t *self, int64_t now, const char *error);
//  An event from tabled.events; body is borrowed (a reference is kept while it waits).
void ocf_follower_event (ocf_follower_t *self, int64_t now, const char *topic, json_t *body);
//  Retries and HELLOs. Call every retry_ms / 10 or so.
void ocf_follower_tick (ocf_follower_t *self, int64_t now);

//  Loaded and following the events.
bool ocf_follower_following (ocf_follower_t *self);
const ocf_follower_stats_t *ocf_follower_stats (ocf_follower_t *self);

#endif

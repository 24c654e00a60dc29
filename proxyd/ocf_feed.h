/*  ocf_feed: keeps a routing view in step with tabled, without ever blocking a request.
    Loads the table with LIST (page by page), then follows tabled.events (SUB). Events that
    arrive during a load are buffered and applied after it (the view merges by version, so
    applying one twice is harmless). A change of `boot` or a gap in `seq` triggers a reload;
    a HELLO every second notices a tabled that restarted or events that were lost (its seq
    ahead of ours for two beats in a row). When tabled does not answer, the view is kept as
    it is and the feed retries at every beat.  */
#ifndef OCF_FEED_H
#define OCF_FEED_H

#include "ocf_view.h"
#include "ocf_zsock.h"

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

typedef struct _ocf_feed_t ocf_feed_t;
//  Called once, when the view is first loaded or tabled is first found unreachable.
typedef void (ocf_feed_settled_fn) (void *arg);

ocf_feed_t *ocf_feed_new (h2o_loop_t *loop, ocf_zclient_t *tabled, const char *events_endpoint, ocf_view_t *view,
                          ocf_feed_settled_fn *settled, void *arg);
void ocf_feed_destroy (ocf_feed_t **self_p);
//  Whether tabled answered the last call and the view follows its events.
bool ocf_feed_connected (ocf_feed_t *self);
//  Counters: loads, events applied, reloads after a gap or a restart, errors.
json_t *ocf_feed_stats (ocf_feed_t *self);

#endif

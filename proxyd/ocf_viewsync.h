/*  ocf_viewsync: keeps a routing view in step with tabled, without ever blocking a request.
    The h2o side of common/ocf_follower: a SUB on tabled.events polled by the loop, the
    follower's requests sent with the loop's ocf_zclient (which owns their deadlines), and
    a tick for its retries and its HELLO every second (which notices a tabled that restarted
    without publishing anything yet, or events that were lost). The follower's rows and
    events go into the view (it merges by version). When tabled does not answer, the view is
    kept as it is and routing goes on with it.  */
#ifndef OCF_VIEWSYNC_H
#define OCF_VIEWSYNC_H

#include "ocf_eventlog.h"
#include "ocf_view.h"
#include "ocf_zsock.h"

#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>

typedef struct _ocf_viewsync_t ocf_viewsync_t;
//  Called once, when the view is first loaded or tabled is first found unreachable.
typedef void (ocf_viewsync_settled_fn) (void *arg);

ocf_viewsync_t *ocf_viewsync_new (h2o_loop_t *loop, ocf_zclient_t *tabled, const char *events_endpoint, ocf_view_t *view,
                          ocf_viewsync_settled_fn *settled, void *arg);
void ocf_viewsync_destroy (ocf_viewsync_t **self_p);
//  Tells the event log what each of tabled's events changed in the view from now on (one
//  loop's viewsync does: the changes are the same in every loop's view).
void ocf_viewsync_record (ocf_viewsync_t *self, ocf_eventlog_t *eventlog);
//  Whether the view is loaded and follows tabled's events.
bool ocf_viewsync_connected (ocf_viewsync_t *self);
//  Counters: loads, events applied, reloads after a gap or a restart, errors.
json_t *ocf_viewsync_stats (ocf_viewsync_t *self);

#endif

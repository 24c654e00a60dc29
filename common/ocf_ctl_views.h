/*  ocf_ctl_views: the node table as people ask about it, for ocfctl's `members`, `models` and
    `services`: each view turns tabled's rows into a list of flat objects (what --json
    prints) and names the columns a terminal shows of them (ocf_columns), so both outputs
    always say the same.  */
#ifndef OCF_CTL_VIEWS_H
#define OCF_CTL_VIEWS_H

#include "ocf_columns.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct {
    const char *name;                    //  the command: "members"
    const char *summary;                 //  for --help
    bool live_only;                      //  built from live rows only
    json_t *(*build) (json_t *rows);     //  rows: tabled's LIST rows; returns a new array
    const ocf_column_t *columns;
} ocf_ctl_view_t;

//  The view named so, or NULL.
const ocf_ctl_view_t *ocf_ctl_view (const char *name);
//  The views, ending with a NULL name (for --help).
extern const ocf_ctl_view_t ocf_ctl_views[];

#endif

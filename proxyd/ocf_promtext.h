/*  ocf_promtext: builds a page in the Prometheus text exposition format (version 0.0.4).
    Samples are grouped by family whatever order they are added in, each family once with its
    HELP and TYPE lines, as `promtool check metrics` demands. It also renders any daemon's
    STATS reply generically, so the other daemons can change their counters freely:
      number or boolean               ocf_<daemon>_<key>
      object of numbers               ocf_<daemon>_<key>{key="<member>"}
      objects inside such an object   ocf_<daemon>_<key>_<field>{key="<member>"}, strings as labels
      array of objects                ocf_<daemon>_<key>_<field>{<string fields as labels>}
      strings at the top              ocf_<daemon>_info{<key>="<value>"} 1
    Names are made snake_case and lint-clean: abbreviated or non-base units are converted to
    seconds and bytes (uptime_ms 1500 -> uptime_seconds 1.5) and the suffixes reserved for
    counters and histograms (_total, _count, _sum, _bucket) get "_value" appended. Pure.  */
#ifndef OCF_PROMTEXT_H
#define OCF_PROMTEXT_H

#include <jansson.h>
#include <stddef.h>

typedef struct _ocf_promtext_t ocf_promtext_t;

ocf_promtext_t *ocf_promtext_new (void);
void ocf_promtext_destroy (ocf_promtext_t **self_p);
//  Declares a family ("gauge", "counter" or "histogram"); the first declaration wins.
void ocf_promtext_family (ocf_promtext_t *self, const char *name, const char *type, const char *help);
//  Adds a sample to a declared family. suffix: "" or, for histograms, "_bucket", "_sum",
//  "_count". labels: name, value, name, value, ..., NULL (values are escaped here).
void ocf_promtext_sample (ocf_promtext_t *self, const char *family, const char *suffix, double value,
                          const char *const *labels);
//  Renders a STATS object under ocf_<daemon>_... as described above.
void ocf_promtext_stats (ocf_promtext_t *self, const char *daemon, json_t *stats);
//  The page (caller frees).
char *ocf_promtext_render (ocf_promtext_t *self, size_t *len);

//  Makes a metric name part lint-clean; returns the factor values must be multiplied by.
double ocf_promtext_name (const char *text, char *name, size_t size);

#endif

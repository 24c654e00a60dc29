/*  ocf_ctl_views: members, models and services from tabled's rows.  */
#include "ocf_ctl_views.h"
#include "ocf_alloc.h"

#include <string.h>

//  "tcp://10.0.0.5:7946" → "10.0.0.5:7946": the scheme says nothing to people.
static json_t *
s_address (json_t *row)
{
    json_t *addr = json_object_get (row, "addr");
    const char *text = json_string_value (json_object_get (addr, "gossip"));
    if (!text)
        text = json_string_value (json_object_get (addr, "proxy"));
    if (!text)
        return json_null ();
    const char *scheme = strstr (text, "://");
    return json_string (scheme ? scheme + 3 : text);
}

static const char *
s_string (json_t *object, const char *key)
{
    const char *text = json_string_value (json_object_get (object, key));
    return text ? text : "";
}

static int
s_compare (const void *a, const void *b, const char *first, const char *second)
{
    int order = strcmp (s_string (*(json_t * const *) a, first), s_string (*(json_t * const *) b, first));
    return order ? order : strcmp (s_string (*(json_t * const *) a, second), s_string (*(json_t * const *) b, second));
}

static int s_by_name (const void *a, const void *b) { return s_compare (a, b, "name", "id"); }
static int s_by_model (const void *a, const void *b) { return s_compare (a, b, "model", "service"); }
static int s_by_host (const void *a, const void *b) { return s_compare (a, b, "host", "service"); }

static int
s_by_text (const void *a, const void *b)
{
    const char *first = json_string_value (*(json_t * const *) a), *second = json_string_value (*(json_t * const *) b);
    return strcmp (first ? first : "", second ? second : "");
}

//  The array's items in the order compare gives (jansson arrays cannot be sorted in place).
static json_t *
s_sorted (json_t *array, int (*compare) (const void *, const void *))
{
    size_t count = json_array_size (array);
    json_t **items = ocf_calloc (count + 1, sizeof *items);
    for (size_t index = 0; index < count; index++)
        items[index] = json_array_get (array, index);
    qsort (items, count, sizeof *items, compare);
    json_t *sorted = json_array ();
    for (size_t index = 0; index < count; index++)
        json_array_append (sorted, items[index]);
    free (items);
    json_decref (array);
    return sorted;
}

static json_t *
s_members (json_t *rows)
{
    json_t *members = json_array (), *row;
    size_t index;
    json_array_foreach (rows, index, row) {
        json_t *services = json_array (), *service;
        size_t item;
        json_array_foreach (json_object_get (row, "services"), item, service)
            json_array_append (services, json_object_get (service, "name"));
        //  rtt_ms: this host's round-trip time to the node (gossipd's), absent until measured.
        json_array_append_new (members, json_pack ("{s:O?,s:O,s:o,s:O?,s:O?,s:o,s:O?}",
            "name", json_object_get (row, "name"), "id", json_object_get (row, "id"),
            "address", s_address (row), "status", json_object_get (row, "status"),
            "generation", json_object_get (row, "generation"), "services", services,
            "rtt_ms", json_object_get (row, "rtt_ms")));
    }
    return s_sorted (members, s_by_name);
}

//  The model of an identity group ("model=m"), or NULL.
static const char *
s_model (json_t *group)
{
    const char *text = json_string_value (group);
    return text && strncmp (text, "model=", 6) == 0 ? text + 6 : NULL;
}

//  The per-service views (models, services) walk every service of every row.
typedef void (s_service_visit_fn) (json_t *row, json_t *service, json_t *into);

static void
s_each_service (json_t *rows, s_service_visit_fn *visit, json_t *into)
{
    json_t *row;
    size_t index;
    json_array_foreach (rows, index, row) {
        json_t *service;
        size_t item;
        json_array_foreach (json_object_get (row, "services"), item, service)
            visit (row, service, into);
    }
}

//  Counts the service in the entry of each model it serves, keyed "model\nservice".
static void
s_count_models (json_t *row, json_t *service, json_t *models)
{
    json_t *group;
    size_t g;
    json_array_foreach (json_object_get (service, "identity_group"), g, group) {
        const char *model = s_model (group);
        if (!model)
            continue;
        char key[1024];
        snprintf (key, sizeof key, "%s\n%s", model, s_string (service, "name"));
        json_t *entry = json_object_get (models, key);
        if (!entry) {
            entry = json_pack ("{s:s,s:O,s:i,s:i,s:[]}", "model", model, "service",
                               json_object_get (service, "name"), "ready", 0, "providers", 0, "hosts");
            json_object_set_new (models, key, entry);
        }
        json_object_set_new (entry, "providers",
                             json_integer (json_integer_value (json_object_get (entry, "providers")) + 1));
        if (strcmp (s_string (service, "status"), "ready") == 0)
            json_object_set_new (entry, "ready",
                                 json_integer (json_integer_value (json_object_get (entry, "ready")) + 1));
        json_array_append (json_object_get (entry, "hosts"), json_object_get (row, "name"));
    }
}

//  One entry per (model, service): the hosts that offer it and how many of them are ready.
static json_t *
s_models (json_t *rows)
{
    json_t *models = json_object ();
    s_each_service (rows, s_count_models, models);
    json_t *list = json_array (), *entry;
    const char *key;
    json_object_foreach (models, key, entry) {
        json_object_set_new (entry, "hosts", s_sorted (json_incref (json_object_get (entry, "hosts")), s_by_text));
        json_array_append (list, entry);
    }
    json_decref (models);
    return s_sorted (list, s_by_model);
}

static void
s_append_service (json_t *row, json_t *service, json_t *list)
{
    json_t *endpoint = json_null ();
    if (json_is_string (json_object_get (service, "host")) && json_is_integer (json_object_get (service, "port")))
        endpoint = json_sprintf ("%s:%" JSON_INTEGER_FORMAT, s_string (service, "host"),
                                 json_integer_value (json_object_get (service, "port")));
    json_t *load = json_object_get (service, "load");
    json_array_append_new (list, json_pack ("{s:O?,s:O,s:O?,s:O?,s:o,s:O?,s:O?,s:O?}",
        "host", json_object_get (row, "name"), "id", json_object_get (row, "id"),
        "service", json_object_get (service, "name"), "status", json_object_get (service, "status"),
        "endpoint", endpoint, "inflight", json_object_get (load, "inflight"),
        "max_inflight", json_object_get (load, "max_inflight"),
        "identity_group", json_object_get (service, "identity_group")));
}

static json_t *
s_services (json_t *rows)
{
    json_t *list = json_array ();
    s_each_service (rows, s_append_service, list);
    return s_sorted (list, s_by_host);
}

static const ocf_column_t s_member_columns[] = {
    { "NAME", "name" }, { "ID", "id" }, { "ADDRESS", "address" }, { "STATUS", "status" },
    { "GENERATION", "generation" }, { "SERVICES", "services" }, { "RTT", "rtt_ms" }, { NULL, NULL }
};
static const ocf_column_t s_model_columns[] = {
    { "MODEL", "model" }, { "SERVICE", "service" }, { "READY", "ready" }, { "PROVIDERS", "providers" },
    { "HOSTS", "hosts" }, { NULL, NULL }
};
static const ocf_column_t s_service_columns[] = {
    { "HOST", "host" }, { "SERVICE", "service" }, { "STATUS", "status" }, { "ENDPOINT", "endpoint" },
    { "INFLIGHT", "inflight" }, { "MAX", "max_inflight" }, { "IDENTITY", "identity_group" }, { NULL, NULL }
};

const ocf_ctl_view_t ocf_ctl_views[] = {
    { "members", "every node of the table: name, id, address, status, generation, services", false,
      s_members, s_member_columns },
    { "models", "each model of the live nodes: its service, ready and all providers, hosts", true,
      s_models, s_model_columns },
    { "services", "each service of the live nodes: host, status, endpoint, load, identity", true,
      s_services, s_service_columns },
    { NULL, NULL, false, NULL, NULL }
};

const ocf_ctl_view_t *
ocf_ctl_view (const char *name)
{
    for (const ocf_ctl_view_t *view = ocf_ctl_views; view->name; view++)
        if (strcmp (view->name, name) == 0)
            return view;
    return NULL;
}

/*  ocf_view: the routing view.  */
#include "ocf_view.h"
#include "ocf_alloc.h"
#include "ocf_hash.h"
#include "ocf_record.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ocf_provider_t *items;
    size_t count;
    size_t cap;
} provider_list_t;

struct _ocf_view_t {
    zhashx_t *nodes;             //  id -> ocf_view_node_t
    char self_id[OCF_NODE_ID_LEN + 1];
    bool index_stale;            //  the shape changed since the index was built
    zhashx_t *index;             //  "svc" or "svc\x1fidentity" -> provider_list_t (live, ready)
    zhashx_t *known;             //  the same keys over every node -> non-NULL marker
    bool reloading;
};

//  --------------------------------------------------------------------------
//  Nodes

static void
s_services_free (ocf_view_node_t *node)
{
    for (size_t i = 0; i < node->service_count; i++) {
        ocf_view_service_t *service = &node->services[i];
        free (service->name);
        free (service->host);
        for (size_t g = 0; g < service->group_count; g++)
            free (service->groups[g]);
        free (service->groups);
    }
    free (node->services);
    node->services = NULL;
    node->service_count = 0;
}

static void
s_node_destroy (void **item)
{
    ocf_view_node_t *node = *item;
    if (!node)
        return;
    s_services_free (node);
    free (node->name);
    free (node->proxy_url);
    free (node->row);
    free (node);
    *item = NULL;
}

static void
s_list_destroy (void **item)
{
    provider_list_t *list = *item;
    if (list) {
        free (list->items);
        free (list);
    }
    *item = NULL;
}

ocf_view_t *
ocf_view_new (void)
{
    ocf_view_t *self = ocf_calloc (1, sizeof *self);
    self->nodes = zhashx_new ();
    zhashx_set_destructor (self->nodes, s_node_destroy);
    self->index = zhashx_new ();
    zhashx_set_destructor (self->index, s_list_destroy);
    self->known = zhashx_new ();
    self->index_stale = true;
    return self;
}

void
ocf_view_destroy (ocf_view_t **self_p)
{
    ocf_view_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->nodes);
    zhashx_destroy (&self->index);
    zhashx_destroy (&self->known);
    free (self);
    *self_p = NULL;
}

void
ocf_view_set_self (ocf_view_t *self, const char *id)
{
    snprintf (self->self_id, sizeof self->self_id, "%s", id ? id : "");
}

const char *
ocf_view_self_id (ocf_view_t *self)
{
    return self->self_id;
}

ocf_view_node_t *
ocf_view_lookup (ocf_view_t *self, const char *id)
{
    return id && *id ? zhashx_lookup (self->nodes, id) : NULL;
}

ocf_view_node_t *
ocf_view_self (ocf_view_t *self)
{
    return ocf_view_lookup (self, self->self_id);
}

ocf_view_node_t *
ocf_view_find (ocf_view_t *self, const char *id_or_name)
{
    ocf_view_node_t *node = ocf_view_lookup (self, id_or_name), *named = NULL;
    if (node)
        return node;
    size_t matches = 0;
    for (node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        if (node->name && strcmp (node->name, id_or_name) == 0) {
            named = node;
            matches++;
        }
    return matches == 1 ? named : NULL;
}

bool
ocf_view_node_reachable (const ocf_view_node_t *node)
{
    return node->proxy_port > 0 || node->fabric_port > 0;
}

bool
ocf_view_node_live (const ocf_view_node_t *node)
{
    return node->status == OCF_STATUS_ALIVE || node->status == OCF_STATUS_SUSPECT;
}

ocf_view_service_t *
ocf_view_node_service (ocf_view_node_t *node, const char *name, size_t name_len)
{
    for (size_t i = 0; node && i < node->service_count; i++)
        if (strlen (node->services[i].name) == name_len && memcmp (node->services[i].name, name, name_len) == 0)
            return &node->services[i];
    return NULL;
}

//  --------------------------------------------------------------------------
//  Parsing rows

static int64_t
s_int (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    if (json_is_integer (value))
        return json_integer_value (value);
    if (json_is_real (value))
        return (int64_t) json_real_value (value);
    return 0;
}

//  "scheme://host:port" or "scheme://[v6]:port" (a trailing path is ignored) into host and
//  port; both empty when url is absent or unusable.
static void
s_parse_url (const char *url, const char *scheme, char *host_out, size_t host_size, int *port_out)
{
    host_out[0] = '\0';
    *port_out = 0;
    size_t scheme_len = strlen (scheme);
    if (!url || strncmp (url, scheme, scheme_len) != 0 || strncmp (url + scheme_len, "://", 3) != 0)
        return;
    const char *host = url + scheme_len + 3, *host_end, *port;
    if (*host == '[') {
        host_end = strchr (host, ']');
        if (!host_end || host_end[1] != ':')
            return;
        port = host_end + 2;
        host++;
    }
    else {
        host_end = strchr (host, ':');
        if (!host_end)
            return;
        port = host_end + 1;
    }
    char *end;
    long number = strtol (port, &end, 10);
    if (host_end == host || (size_t) (host_end - host) >= host_size || number <= 0 || number > 65535
    ||  (*end && *end != '/'))
        return;
    memcpy (host_out, host, (size_t) (host_end - host));
    host_out[host_end - host] = '\0';
    *port_out = (int) number;
}

static uint64_t
s_hash_text (uint64_t h, const char *text)
{
    return ocf_hash_u64 (h, text ? ocf_hash64 (text, strlen (text), 0) : 0);
}

static uint64_t
s_shape (const ocf_view_node_t *node)
{
    uint64_t h = ocf_hash_u64 (0, (uint64_t) ocf_view_node_live (node));
    h = s_hash_text (h, node->proxy_host);
    h = ocf_hash_u64 (h, (uint64_t) node->proxy_port);
    h = ocf_hash_u64 (h, (uint64_t) node->fabric_port);
    for (size_t i = 0; i < node->service_count; i++) {
        const ocf_view_service_t *service = &node->services[i];
        h = s_hash_text (h, service->name);
        h = ocf_hash_u64 (h, service->ready);
        for (size_t g = 0; g < service->group_count; g++)
            h = s_hash_text (h, service->groups[g]);
    }
    return h;
}


//  What the node reports about a service's load (its proxyd and its workerd).
static void
s_read_load (ocf_view_service_t *service, json_t *load)
{
    service->inflight = s_int (load, "inflight");
    service->max_inflight = s_int (load, "max_inflight");
    service->queue_depth = s_int (load, "queue_depth");
    json_t *rate = json_object_get (load, "prefix_hit_rate");
    service->prefix_hit_rate = json_is_number (rate) ? json_number_value (rate) : -1;
}
static void
s_parse_services (ocf_view_node_t *node, json_t *services)
{
    s_services_free (node);
    size_t count = json_is_array (services) ? json_array_size (services) : 0;
    node->services = ocf_calloc (count + 1, sizeof *node->services);
    size_t index;
    json_t *item;
    json_array_foreach (services, index, item) {
        const char *name = json_string_value (json_object_get (item, "name"));
        if (!name)
            continue;
        ocf_view_service_t *service = &node->services[node->service_count++];
        service->name = ocf_strdup (name);
        const char *status = json_string_value (json_object_get (item, "status"));
        service->ready = !status || strcmp (status, "ready") == 0;
        const char *host = json_string_value (json_object_get (item, "host"));
        service->host = ocf_strdup (host && *host ? host : "127.0.0.1");
        service->port = (int) s_int (item, "port");
        json_t *groups = json_object_get (item, "identity_group");
        size_t group_count = json_is_array (groups) ? json_array_size (groups) : 0;
        service->groups = ocf_calloc (group_count + 1, sizeof (char *));
        for (size_t g = 0; g < group_count; g++) {
            const char *group = json_string_value (json_array_get (groups, g));
            if (group)
                service->groups[service->group_count++] = ocf_strdup (group);
        }
        s_read_load (service, json_object_get (item, "load"));
    }
}

//  Only the load changed: update it in place, so the index keeps pointing at these services.
static void
s_update_loads (ocf_view_node_t *node, json_t *services)
{
    size_t index;
    json_t *item;
    json_array_foreach (services, index, item) {
        const char *name = json_string_value (json_object_get (item, "name"));
        ocf_view_service_t *service = name ? ocf_view_node_service (node, name, strlen (name)) : NULL;
        if (!service)
            continue;
        s_read_load (service, json_object_get (item, "load"));
    }
}

static bool
s_member_newer (const ocf_view_node_t *node, uint64_t generation, uint64_t incarnation, int status)
{
    ocf_member_t current = { node->member_generation, node->incarnation, (ocf_status_t) node->status };
    ocf_member_t update = { generation, incarnation, (ocf_status_t) status };
    return ocf_member_compare (&update, &current) > 0;
}

static void
s_set_member (ocf_view_node_t *node, uint64_t generation, uint64_t incarnation, int status)
{
    node->member_generation = generation;
    node->incarnation = incarnation;
    node->status = status;
}

static void
s_reshaped (ocf_view_t *self, ocf_view_node_t *node)
{
    uint64_t shape = s_shape (node);
    if (shape != node->shape)
        self->index_stale = true;
    node->shape = shape;
}

static void
s_seen (ocf_view_node_t *node, json_t *last_alive)
{
    if (json_is_integer (last_alive) && json_integer_value (last_alive) > node->last_alive)
        node->last_alive = json_integer_value (last_alive);
}

static void
s_rtt (ocf_view_node_t *node, json_t *rtt_ms)
{
    if (json_is_number (rtt_ms) && json_number_value (rtt_ms) >= 0)
        node->rtt_ms = json_number_value (rtt_ms);
}

int
ocf_view_apply_row (ocf_view_t *self, json_t *row, char *error, size_t error_size)
{
    const char *id = json_string_value (json_object_get (row, "id"));
    json_t *generation = json_object_get (row, "generation"), *version = json_object_get (row, "version");
    if (!id || !ocf_identity_id_valid (id) || !json_is_integer (generation) || !json_is_integer (version)) {
        snprintf (error, error_size, "row without a valid id, generation and version");
        return -1;
    }
    const char *status_name = json_string_value (json_object_get (row, "status"));
    int status = status_name ? ocf_status_parse (status_name) : OCF_STATUS_ALIVE;
    if (status < 0) {
        snprintf (error, error_size, "row %s: unknown status '%s'", id, status_name);
        return -1;
    }
    uint64_t row_generation = (uint64_t) json_integer_value (generation);
    uint64_t row_version = (uint64_t) json_integer_value (version);
    uint64_t member_generation = json_is_integer (json_object_get (row, "status_generation"))
                               ? (uint64_t) json_integer_value (json_object_get (row, "status_generation")) : row_generation;
    uint64_t incarnation = (uint64_t) s_int (row, "incarnation");
    ocf_view_node_t *node = ocf_view_lookup (self, id);
    bool record_newer = !node || row_generation > node->generation
                     || (row_generation == node->generation && row_version > node->version);
    bool member_newer = node && s_member_newer (node, member_generation, incarnation, status);
    if (node && self->reloading)
        node->seen = true;
    if (node) {
        s_seen (node, json_object_get (row, "last_alive"));
        s_rtt (node, json_object_get (row, "rtt_ms"));
    }
    if (!record_newer && !member_newer)
        return 0;
    bool created = !node;
    if (created) {
        node = ocf_calloc (1, sizeof *node);
        snprintf (node->id, sizeof node->id, "%s", id);
        node->seen = true;
        zhashx_insert (self->nodes, node->id, node);
        self->index_stale = true;
        s_seen (node, json_object_get (row, "last_alive"));
        node->rtt_ms = -1;
        s_rtt (node, json_object_get (row, "rtt_ms"));
    }
    if (record_newer) {
        json_t *services = json_object_get (row, "services");
        const char *name = json_string_value (json_object_get (row, "name"));
        json_t *addr = json_object_get (row, "addr");
        const char *proxy = json_string_value (json_object_get (addr, "proxy"));
        free (node->name);
        node->name = ocf_strdup (name ? name : "");
        if (!node->proxy_url || !proxy || strcmp (node->proxy_url, proxy) != 0) {
            free (node->proxy_url);
            node->proxy_url = proxy ? ocf_strdup (proxy) : NULL;
            s_parse_url (proxy, "http", node->proxy_host, sizeof node->proxy_host, &node->proxy_port);
        }
        s_parse_url (json_string_value (json_object_get (addr, "fabric")), "https", node->fabric_host,
                     sizeof node->fabric_host, &node->fabric_port);
        //  Most row updates are load reports: parse the services again only when their
        //  routing-relevant content changed, so the index stays valid.
        ocf_view_node_t probe = *node;
        probe.services = NULL;
        probe.service_count = 0;
        s_parse_services (&probe, services);
        probe.status = created || member_newer ? status : node->status;
        if (created || s_shape (&probe) != node->shape) {
            //  What this loop sent a service lately outlives a change of its row's shape.
            for (size_t i = 0; i < probe.service_count; i++) {
                ocf_view_service_t *was = ocf_view_node_service (node, probe.services[i].name,
                                                                 strlen (probe.services[i].name));
                probe.services[i].recent = was ? was->recent : 0;
            }
            s_services_free (node);
            node->services = probe.services;
            node->service_count = probe.service_count;
        }
        else {
            s_services_free (&probe);
            s_update_loads (node, services);
        }
        node->generation = row_generation;
        node->version = row_version;
        free (node->row);
        node->row = json_dumps (row, JSON_COMPACT);
    }
    if (created || member_newer)
        s_set_member (node, member_generation, incarnation, status);
    s_reshaped (self, node);
    return 1;
}

int
ocf_view_apply_member (ocf_view_t *self, json_t *member, char *error, size_t error_size)
{
    const char *id = json_string_value (json_object_get (member, "id"));
    const char *status_name = json_string_value (json_object_get (member, "status"));
    int status = status_name ? ocf_status_parse (status_name) : -1;
    if (!id || status < 0 || !json_is_integer (json_object_get (member, "generation"))) {
        snprintf (error, error_size, "membership update without id, generation and a known status");
        return -1;
    }
    ocf_view_node_t *node = ocf_view_lookup (self, id);
    uint64_t generation = (uint64_t) s_int (member, "generation"), incarnation = (uint64_t) s_int (member, "incarnation");
    if (!node || !s_member_newer (node, generation, incarnation, status))
        return 0;
    s_set_member (node, generation, incarnation, status);
    s_reshaped (self, node);
    return 1;
}

int
ocf_view_apply_tombstone (ocf_view_t *self, json_t *tombstone, char *error, size_t error_size)
{
    const char *id = json_string_value (json_object_get (tombstone, "id"));
    if (!id || !json_is_integer (json_object_get (tombstone, "generation"))) {
        snprintf (error, error_size, "tombstone without id and generation");
        return -1;
    }
    ocf_view_node_t *node = ocf_view_lookup (self, id);
    if (!node || node->generation > (uint64_t) s_int (tombstone, "generation"))
        return 0;
    zhashx_delete (self->nodes, id);
    self->index_stale = true;
    return 1;
}

int
ocf_view_apply_seen (ocf_view_t *self, json_t *seen, char *error, size_t error_size)
{
    if (!json_is_object (seen)) {
        snprintf (error, error_size, "\"seen\" must be an object of node ids and times");
        return -1;
    }
    const char *id;
    json_t *last_alive;
    json_object_foreach (seen, id, last_alive) {
        ocf_view_node_t *node = ocf_view_lookup (self, id);
        if (node)
            s_seen (node, last_alive);
    }
    return 1;
}

int
ocf_view_apply_rtt (ocf_view_t *self, json_t *rtt, char *error, size_t error_size)
{
    if (!json_is_object (rtt)) {
        snprintf (error, error_size, "\"rtt\" must be an object of node ids and round-trip times");
        return -1;
    }
    const char *id;
    json_t *rtt_ms;
    json_object_foreach (rtt, id, rtt_ms) {
        ocf_view_node_t *node = ocf_view_lookup (self, id);
        if (node)
            s_rtt (node, rtt_ms);
    }
    return 1;
}

void
ocf_view_reload_begin (ocf_view_t *self)
{
    self->reloading = true;
    for (ocf_view_node_t *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        node->seen = false;
}

void
ocf_view_reload_end (ocf_view_t *self)
{
    self->reloading = false;
    zlistx_t *gone = zlistx_new ();
    for (ocf_view_node_t *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        if (!node->seen)
            zlistx_add_end (gone, node->id);
    for (const char *id = zlistx_first (gone); id; id = zlistx_next (gone)) {
        zhashx_delete (self->nodes, id);
        self->index_stale = true;
    }
    zlistx_destroy (&gone);
}

//  --------------------------------------------------------------------------
//  Index

#define KEY_SEPARATOR '\x1f'

static size_t
s_key (char *key, size_t size, const char *service, size_t service_len, const char *identity)
{
    size_t identity_len = identity ? strlen (identity) : 0;
    if (service_len + identity_len + 2 > size)
        return 0;
    memcpy (key, service, service_len);
    size_t len = service_len;
    if (identity) {
        key[len++] = KEY_SEPARATOR;
        memcpy (key + len, identity, identity_len);
        len += identity_len;
    }
    key[len] = '\0';
    return len;
}

static void
s_index_add (ocf_view_t *self, const char *key, ocf_view_node_t *node, ocf_view_service_t *service, bool usable)
{
    zhashx_update (self->known, key, self);      //  a set: any non-NULL item
    if (!usable)
        return;
    provider_list_t *list = zhashx_lookup (self->index, key);
    if (!list) {
        list = ocf_calloc (1, sizeof *list);
        zhashx_insert (self->index, key, list);
    }
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 4;
        list->items = ocf_realloc (list->items, list->cap * sizeof *list->items);
    }
    list->items[list->count++] = (ocf_provider_t) { node, service };
}

static void
s_index_build (ocf_view_t *self)
{
    zhashx_purge (self->index);
    zhashx_purge (self->known);
    char key[1024];
    for (ocf_view_node_t *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        for (size_t i = 0; i < node->service_count; i++) {
            ocf_view_service_t *service = &node->services[i];
            bool usable = ocf_view_node_live (node) && service->ready && (ocf_view_node_reachable (node) || !strcmp (node->id, self->self_id));
            if (s_key (key, sizeof key, service->name, strlen (service->name), NULL))
                s_index_add (self, key, node, service, usable);
            for (size_t g = 0; g < service->group_count; g++)
                if (s_key (key, sizeof key, service->name, strlen (service->name), service->groups[g]))
                    s_index_add (self, key, node, service, usable);
        }
    self->index_stale = false;
}

size_t
ocf_view_providers (ocf_view_t *self, const char *service, size_t service_len, const char *identity,
                    const ocf_provider_t **providers)
{
    if (self->index_stale)
        s_index_build (self);
    char key[1024];
    provider_list_t *list = s_key (key, sizeof key, service, service_len, identity) ? zhashx_lookup (self->index, key) : NULL;
    *providers = list ? list->items : NULL;
    return list ? list->count : 0;
}

bool
ocf_view_knows (ocf_view_t *self, const char *service, size_t service_len, const char *identity)
{
    if (self->index_stale)
        s_index_build (self);
    char key[1024];
    return s_key (key, sizeof key, service, service_len, identity) && zhashx_lookup (self->known, key) != NULL;
}

static json_t *
s_sorted_array (zlistx_t *names)
{
    zlistx_sort (names);
    json_t *array = json_array ();
    const char *last = NULL;
    for (const char *name = zlistx_first (names); name; name = zlistx_next (names)) {
        if (!last || strcmp (last, name) != 0)
            json_array_append_new (array, json_string (name));
        last = name;
    }
    zlistx_destroy (&names);
    return array;
}

static zlistx_t *
s_string_list (void)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_duplicator (list, (zlistx_duplicator_fn *) strdup);
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (list, (zlistx_comparator_fn *) strcmp);
    return list;
}

json_t *
ocf_view_service_names (ocf_view_t *self)
{
    zlistx_t *names = s_string_list ();
    for (ocf_view_node_t *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        for (size_t i = 0; i < node->service_count; i++)
            zlistx_add_end (names, node->services[i].name);
    return s_sorted_array (names);
}

json_t *
ocf_view_group_values (ocf_view_t *self, const char *service, const char *key, bool live_only)
{
    zlistx_t *values = s_string_list ();
    size_t key_len = strlen (key);
    for (ocf_view_node_t *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes)) {
        if (live_only && !ocf_view_node_live (node))
            continue;
        ocf_view_service_t *found = ocf_view_node_service (node, service, strlen (service));
        for (size_t g = 0; found && g < found->group_count; g++)
            if (strncmp (found->groups[g], key, key_len) == 0 && found->groups[g][key_len] == '='
            &&  (!live_only || found->ready))
                zlistx_add_end (values, found->groups[g] + key_len + 1);
    }
    return s_sorted_array (values);
}

static int
s_compare_nodes (const void *a, const void *b)
{
    return strcmp ((*(ocf_view_node_t * const *) a)->id, (*(ocf_view_node_t * const *) b)->id);
}

ocf_view_node_t **
ocf_view_nodes (ocf_view_t *self, size_t *count)
{
    ocf_view_node_t **nodes = ocf_malloc ((zhashx_size (self->nodes) + 1) * sizeof *nodes);
    *count = 0;
    for (ocf_view_node_t *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        nodes[(*count)++] = node;
    qsort (nodes, *count, sizeof *nodes, s_compare_nodes);
    return nodes;
}

size_t
ocf_view_size (ocf_view_t *self)
{
    return zhashx_size (self->nodes);
}

size_t
ocf_view_live_count (ocf_view_t *self)
{
    size_t live = 0;
    for (ocf_view_node_t *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        live += ocf_view_node_live (node);
    return live;
}

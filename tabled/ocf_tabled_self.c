/*  ocf_tabled_self: this node's own record. Built at start (kept services and hardware,
    fresh name, addresses, labels, software), written and signed with the node key only here,
    a new generation after a restart, a leave or a tombstone others wrote for it, suspicions
    refuted at once. The verbs of protocol.md's "This node's record": HELLO, SELF.SET,
    SELF.RENEW, SERVICE.UP, SERVICE.DOWN, SERVICE.LOAD, LEAVE.  */
#include "ocf_tabled_internal.h"
#include "ocf_alloc.h"
#include "ocf_time.h"

#include <inttypes.h>

//  Writes a new version of the own record (when it differs). Returns the change mask, or -1
//  with the problem in error when the record would be invalid.
static int
s_own_write (ocf_tabled_t *self, json_t *candidate, char *error, size_t error_size)
{
    json_object_set_new (candidate, "generation", json_integer ((json_int_t) self->generation));
    json_object_set (candidate, "version", json_object_get (self->own, "version"));
    if (json_equal (candidate, self->own)) {
        json_decref (candidate);
        return 0;
    }
    uint64_t version = (uint64_t) json_integer_value (json_object_get (self->own, "version"));
    if (json_integer_value (json_object_get (self->own, "generation")) != (json_int_t) self->generation)
        version = 0;
    json_object_set_new (candidate, "version", json_integer ((json_int_t) (version + 1)));
    ocf_row_in_t row;
    if (ocf_record_parse_row (candidate, (size_t) self->config->tabled.max_record, &row, error, error_size) != 0) {
        json_decref (candidate);
        return -1;
    }
    ocf_record_sign_row (&row, self->identity);
    const char *saved_source = self->source;
    self->source = "self";
    int mask = ocf_table_merge_row (self->table, &row, ocf_time_wall_ms (), NULL);
    ocf_tabled_changed (self, self->id, mask);
    self->source = saved_source;
    ocf_row_in_clear (&row);
    json_decref (self->own);
    self->own = candidate;
    return mask;
}

//  Starts a new generation of this node: after a restart, a graceful leave, or a tombstone
//  others wrote for it. Only a higher generation may re-add an id.
static void
s_own_renew (ocf_tabled_t *self)
{
    uint64_t next = ocf_entry_next_generation (ocf_table_lookup (self->table, self->id), self->generation);
    //  Milliseconds since the epoch as a floor: a node whose table.db was lost still comes back
    //  above every generation it used before, even when it restarts within the same second.
    uint64_t now_ms = (uint64_t) ocf_time_wall_ms ();
    self->generation = next > now_ms ? next : now_ms;
    char error[256];
    if (ocf_store_meta_set (self->store, "generation", (int64_t) self->generation) != 0
    &&  !self->batch_failed) {
        self->batch_failed = true;
        snprintf (self->batch_error, sizeof self->batch_error, "writing table.db failed: %s", ocf_store_error (self->store));
    }
    if (s_own_write (self, json_copy (self->own), error, sizeof error) < 0)
        ocf_log_error ("cannot write this node's record: %s", error);
    ocf_log_info ("this node is now generation %" PRIu64, self->generation);
}

//  Others may suspect this node or declare it dead; it refutes at once by raising its
//  incarnation, and comes back with a new generation if it was tombstoned.
void
ocf_tabled_own_defend (ocf_tabled_t *self)
{
    ocf_entry_t *entry = ocf_table_lookup (self->table, self->id);
    ocf_member_in_t refute;
    ocf_defense_t defense = ocf_entry_defense (entry, self->generation, &refute.member);
    if (defense == OCF_DEFENSE_RENEW) {
        s_own_renew (self);
        return;
    }
    if (defense == OCF_DEFENSE_REFUTE) {
        //  The status refuted, read before the refutation makes it alive.
        ocf_status_t accused = entry->member.status;
        memcpy (refute.id, self->id, OCF_ID_SIZE);
        const char *saved_source = self->source;
        self->source = "self";
        ocf_tabled_changed (self, self->id, ocf_table_merge_member (self->table, &refute, ocf_time_wall_ms (), NULL));
        self->source = saved_source;
        self->stats.refutations++;
        ocf_log_notice ("refuted being %s: incarnation is now %" PRIu64, ocf_status_name (accused),
                        refute.member.incarnation);
    }
}

//  The address others reach a listener at: the listen host, unless it is a wildcard.
static char *
s_public_url (ocf_tabled_t *self, const char *scheme, const char *listen)
{
    char host[256];
    int port;
    if (ocf_config_parse_hostport (listen, host, sizeof host, &port) != 0)
        return NULL;
    const char *public_host = strcmp (host, "0.0.0.0") == 0 || strcmp (host, "::") == 0 ? self->config->node.public_addr : host;
    bool v6 = strchr (public_host, ':') != NULL;
    char *url;
    if (asprintf (&url, "%s://%s%s%s:%d", scheme, v6 ? "[" : "", public_host, v6 ? "]" : "", port) < 0)
        return NULL;
    return url;
}

static char *
s_trim (char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen (text);
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        text[--len] = '\0';
    return text;
}

static json_t *
s_config_labels (ocf_tabled_t *self)
{
    json_t *labels = json_object ();
    char *copy = ocf_strdup (self->config->node.labels), *saveptr = NULL;
    for (char *item = strtok_r (copy, ",", &saveptr); item; item = strtok_r (NULL, ",", &saveptr)) {
        char *equals = strchr (item, '=');
        if (!equals)
            continue;
        *equals = '\0';
        json_object_set_new (labels, s_trim (item), json_string (s_trim (equals + 1)));
    }
    free (copy);
    return labels;
}

//  Builds this node's record for a new run: kept services and hardware, fresh identity fields.
int
ocf_tabled_own_start (ocf_tabled_t *self, char *error, size_t error_size)
{
    json_t *previous = ocf_tabled_record_json (self, self->id);
    json_t *own = previous ? previous : json_object ();
    json_object_set_new (own, "id", json_string (self->id));
    json_object_set_new (own, "name", json_string (self->config->node.name));
    json_object_set_new (own, "software", json_string ("ocf " OCF_VERSION));
    json_object_set_new (own, "started_at", json_integer (ocf_time_wall_ms ()));
    json_t *labels = json_object_get (own, "labels");
    if (!json_is_object (labels))
        json_object_set_new (own, "labels", labels = json_object ());
    json_t *configured = s_config_labels (self);
    json_object_update (labels, configured);
    json_decref (configured);
    json_t *addr = json_object ();
    char *proxy = s_public_url (self, "http", self->config->proxyd.listen);
    char *gossip = s_public_url (self, "tcp", self->config->gossipd.bind);
    char *fabric = ocf_config_fabric (self->config) ? s_public_url (self, "https", self->config->proxyd.fabric_listen) : NULL;
    if (proxy)
        json_object_set_new (addr, "proxy", json_string (proxy));
    if (fabric)
        json_object_set_new (addr, "fabric", json_string (fabric));
    free (fabric);
    if (gossip)
        json_object_set_new (addr, "gossip", json_string (gossip));
    free (proxy);
    free (gossip);
    json_object_set_new (own, "addr", addr);
    if (!json_object_get (own, "services"))
        json_object_set_new (own, "services", json_array ());
    if (!json_object_get (own, "hardware"))
        json_object_set_new (own, "hardware", json_object ());
    self->generation = (uint64_t) ocf_store_meta_get (self->store, "generation", 0);
    if (ocf_store_begin (self->store) != 0) {
        snprintf (error, error_size, "cannot write table.db: %s", ocf_store_error (self->store));
        json_decref (own);
        return -1;
    }
    self->own = own;
    s_own_renew (self);
    self->boot = self->generation;
    ocf_store_meta_set (self->store, "tombstone_retention_ms", self->config->tabled.tombstone_retention_ms);
    if (self->batch_failed || ocf_store_commit (self->store) != 0) {
        snprintf (error, error_size, "cannot write table.db: %s",
                  self->batch_failed ? self->batch_error : ocf_store_error (self->store));
        return -1;
    }
    zlistx_purge (self->events);         //  nobody subscribed before we start
    return 0;
}

//  --------------------------------------------------------------------------
//  Verbs

void
ocf_tabled_on_hello (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    ocf_tabled_reply_ok (reply, json_pack ("{s:s, s:s, s:I, s:O, s:I, s:I, s:s}", "id", self->id,
                                           "name", self->config->node.name, "generation", (json_int_t) self->generation,
                                           "version", json_object_get (self->own, "version"), "boot", (json_int_t) self->boot,
                                           "seq", (json_int_t) self->seq, "software", "ocf " OCF_VERSION));
}

static void
s_reply_own_version (ocf_tabled_t *self, zmsg_t *reply, int mask)
{
    ocf_tabled_reply_ok (reply, json_pack ("{s:I, s:I, s:b}", "generation", (json_int_t) self->generation,
                                           "version", json_integer_value (json_object_get (self->own, "version")),
                                           "changed", mask != 0));
}

//  Writes the candidate own record and answers: the new version, or why it was refused.
static void
s_own_write_reply (ocf_tabled_t *self, const char *verb, json_t *candidate, zmsg_t *reply)
{
    char error[512];
    int mask = s_own_write (self, candidate, error, sizeof error);
    if (mask < 0)
        ocf_tabled_reply_error (self, reply, "%s: %s", verb, error);
    else
        s_reply_own_version (self, reply, mask);
}

void
ocf_tabled_on_self_set (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    static const char *settable[] = { "name", "addr", "hardware", "labels", NULL };
    json_t *candidate = json_copy (self->own);          //  top-level keys are replaced whole
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value) {
        if (strcmp (key, "v") == 0)
            continue;
        bool allowed = false;
        for (const char **name = settable; *name; name++)
            allowed |= strcmp (key, *name) == 0;
        if (!allowed) {
            json_decref (candidate);
            ocf_tabled_reply_error (self, reply, "SELF.SET: \"%s\" cannot be set (settable: name, addr, hardware, labels)", key);
            return;
        }
        if (json_is_null (value) && strcmp (key, "name") != 0)
            json_object_del (candidate, key);
        else
            json_object_set (candidate, key, value);
    }
    s_own_write_reply (self, "SELF.SET", candidate, reply);
}

//  A service belongs to the daemon that registered it, when it says so ("owner"): a request
//  that names another owner may not replace or withdraw it (an HTTP registration must not
//  take over a service ocf-workerd supervises). A request that names no owner is the
//  operator's (ocfctl) and may. False, with the refusal answered, when it may not.
static bool
s_owner_allows (ocf_tabled_t *self, const char *verb, const char *name, const char *owner, zmsg_t *reply)
{
    size_t index;
    json_t *service;
    json_array_foreach (json_object_get (self->own, "services"), index, service) {
        const char *holder = json_string_value (json_object_get (service, "owner"));
        if (owner && holder && strcmp (json_string_value (json_object_get (service, "name")), name) == 0
        &&  strcmp (holder, owner) != 0) {
            ocf_tabled_reply_refusal (self, reply, OCF_TABLED_NOT_YOURS, "%s: service %s belongs to %s, not to %s", verb,
                                      name, holder, owner);
            return false;
        }
    }
    return true;
}

static json_t *
s_own_services_without (ocf_tabled_t *self, const char *name)
{
    json_t *services = json_array ();
    size_t index;
    json_t *service;
    json_array_foreach (json_object_get (self->own, "services"), index, service)
        if (strcmp (json_string_value (json_object_get (service, "name")), name) != 0)
            json_array_append (services, service);
    return services;
}

void
ocf_tabled_on_service_up (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    json_t *service = json_object_get (body, "service");
    char error[512];
    if (!service) {
        ocf_tabled_reply_error (self, reply, "SERVICE.UP: \"service\" is missing");
        return;
    }
    if (ocf_record_check_service (service, error, sizeof error) != 0) {
        ocf_tabled_reply_error (self, reply, "SERVICE.UP: %s", error);
        return;
    }
    //  Replace in place, so re-registering an unchanged service changes nothing.
    const char *name = json_string_value (json_object_get (service, "name"));
    if (!s_owner_allows (self, "SERVICE.UP", name, json_string_value (json_object_get (service, "owner")), reply))
        return;
    json_t *ordered = json_array ();
    size_t index;
    json_t *item;
    bool placed = false;
    json_array_foreach (json_object_get (self->own, "services"), index, item) {
        bool same = strcmp (json_string_value (json_object_get (item, "name")), name) == 0;
        json_array_append (ordered, same ? service : item);
        placed |= same;
    }
    if (!placed)
        json_array_append (ordered, service);
    json_t *candidate = json_copy (self->own);
    json_object_set_new (candidate, "services", ordered);
    s_own_write_reply (self, "SERVICE.UP", candidate, reply);
}

void
ocf_tabled_on_service_down (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    const char *name = json_string_value (json_object_get (body, "name"));
    if (!ocf_record_service_name_valid (name)) {
        ocf_tabled_reply_error (self, reply, "SERVICE.DOWN: \"name\" must be a service name");
        return;
    }
    if (!s_owner_allows (self, "SERVICE.DOWN", name, json_string_value (json_object_get (body, "owner")), reply))
        return;
    json_t *candidate = json_copy (self->own);
    json_object_set_new (candidate, "services", s_own_services_without (self, name));
    s_own_write_reply (self, "SERVICE.DOWN", candidate, reply);
}

//  Load reports arrive every second or so per service: an unchanged report costs a lookup,
//  a changed one copies only the path to the changed load object.
void
ocf_tabled_on_service_load (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    const char *name = json_string_value (json_object_get (body, "name"));
    json_t *load = json_object_get (body, "load");
    if (!ocf_record_service_name_valid (name) || !json_is_object (load)) {
        ocf_tabled_reply_error (self, reply, "SERVICE.LOAD: needs \"name\" (a service) and \"load\" (an object)");
        return;
    }
    json_t *services = json_object_get (self->own, "services");
    json_t *item, *service = NULL;
    size_t index, position = 0;
    json_array_foreach (services, index, item)
        if (strcmp (json_string_value (json_object_get (item, "name")), name) == 0) {
            service = item;
            position = index;
        }
    if (!service) {
        ocf_tabled_reply_error (self, reply, "SERVICE.LOAD: service %s is not registered on this node", name);
        return;
    }
    json_t *current = json_object_get (service, "load");
    bool changed = !json_is_object (current);
    const char *key;
    json_t *value;
    json_object_foreach (load, key, value)
        changed |= !json_equal (json_object_get (current, key), value);
    if (!changed) {
        s_reply_own_version (self, reply, 0);
        return;
    }
    json_t *new_load = json_is_object (current) ? json_copy (current) : json_object ();
    json_object_update (new_load, load);
    json_t *new_service = json_copy (service);
    json_object_set_new (new_service, "load", new_load);
    json_t *new_services = json_copy (services);
    json_array_set_new (new_services, position, new_service);
    json_t *candidate = json_copy (self->own);
    json_object_set_new (candidate, "services", new_services);
    s_own_write_reply (self, "SERVICE.LOAD", candidate, reply);
}

void
ocf_tabled_on_leave (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    ocf_tombstone_in_t tombstone = { .generation = self->generation, .reason = OCF_REASON_LEFT,
                                     .declared_at = ocf_time_wall_ms () };
    memcpy (tombstone.id, self->id, OCF_ID_SIZE);
    ocf_record_sign_tombstone (&tombstone, self->identity);
    self->source = "self";
    ocf_tabled_changed (self, self->id, ocf_table_merge_tombstone (self->table, &tombstone, tombstone.declared_at, NULL));
    json_t *announced = ocf_entry_tombstone_json (ocf_table_lookup (self->table, self->id));
    s_own_renew (self);
    ocf_log_notice ("left the cluster as generation %" PRIu64, tombstone.generation);
    ocf_tabled_reply_ok (reply, json_pack ("{s:o, s:I}", "tombstone", announced, "generation", (json_int_t) self->generation));
}

void
ocf_tabled_on_self_renew (ocf_tabled_t *self, json_t *body, zmsg_t *reply)
{
    self->source = "self";
    s_own_renew (self);
    ocf_tabled_reply_ok (reply, json_pack ("{s:I}", "generation", (json_int_t) self->generation));
}

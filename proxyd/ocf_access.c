/*  ocf_access: access classes, API keys, CORS.  */
#include "ocf_access.h"
#include "ocf_alloc.h"
#include "ocf_apikeys.h"
#include "ocf_respond.h"
#include "ocf_log.h"
#include "ocf_time.h"
#include "ocf_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>

#define ADMIN_KEY_MIN 16
#define ORIGINS_MAX 64
#define PREFLIGHT_MAX_AGE "600"
#define EXPOSED_HEADERS "X-Computing-Node, X-Request-Id, Retry-After"

typedef enum {
    REJECT_MISSING_KEY = 0,
    REJECT_INVALID_KEY,
    REJECT_RATE_LIMITED,
    REJECT_STREAMS_LIMITED,
    REJECT_NOT_ADMIN,
    REJECT_NOT_FABRIC,
    REJECT_ORIGIN,
    REJECT_FABRIC_LISTENER,
    REJECT_COUNT
} reject_t;

static const char *s_reject_names[REJECT_COUNT] = {
    "missing_key", "invalid_key", "rate_limited", "streams_limited", "not_admin", "not_fabric", "origin", "fabric_listener",
};

//  The key set a loop uses, replaced on its first request after a reload; one cache line
//  each, so that loops never write to the same one.
typedef struct {
    uint64_t generation;
    ocf_apikeys_t *keys;
    char pad[48];
} loop_keys_t;

typedef struct {
    h2o_filter_t super;
    ocf_access_t *access;
} cors_filter_t;

struct _ocf_access_t {
    char *keys_path;             //  NULL: no API keys
    bool admin_key;              //  admin_hash holds the admin key's hash
    uint8_t admin_hash[32];
    //  With fabric_listen off, hosts forward to each other's /v1/_service over plain HTTP on
    //  the API port, from their own addresses: the fabric class must let every peer through.
    bool fabric_open;
    h2o_iovec_t origins[ORIGINS_MAX];
    size_t origin_count;
    bool any_origin;
    pthread_mutex_t lock;        //  guards keys; generation changes under it
    ocf_apikeys_t *keys;
    uint64_t generation;         //  atomic: +1 at each reload
    loop_keys_t *loops;
    int loop_count;
    uint64_t rejected[REJECT_COUNT];  //  atomic
};

//  A request that holds a key: its stream ends with the request, client aborts included.
typedef struct {
    ocf_apikeys_t *keys;
    ocf_apikey_t *key;
} held_t;

//  --------------------------------------------------------------------------
//  Files

static int
s_admin_key (const char *path, uint8_t hash[32], char *error, size_t error_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "[proxyd] admin_key_file: cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char line[1024] = "";
    bool read = fgets (line, sizeof line, file) != NULL;
    fclose (file);
    size_t len = read ? strcspn (line, "\r\n") : 0;
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len < ADMIN_KEY_MIN) {
        snprintf (error, error_size, "[proxyd] admin_key_file: %s: the key (its first line) must have at least %d "
                  "characters, e.g. openssl rand -hex 32", path, ADMIN_KEY_MIN);
        return -1;
    }
    ocf_apikeys_hash (line, len, hash);
    OPENSSL_cleanse (line, sizeof line);
    return 0;
}

static ocf_apikeys_t *
s_load_keys (const char *path, char *error, size_t error_size)
{
    char why[512];
    ocf_apikeys_t *keys = ocf_apikeys_load (path, why, sizeof why);
    if (!keys)
        snprintf (error, error_size, "[proxyd] api_keys_file: %s", why);
    return keys;
}

int
ocf_access_check_config (ocf_config_t *config, char *error, size_t error_size)
{
    uint8_t hash[32];
    if (*config->proxyd.admin_key_file && s_admin_key (config->proxyd.admin_key_file, hash, error, error_size) != 0)
        return -1;
    if (!*config->proxyd.api_keys_file)
        return 0;
    ocf_apikeys_t *keys = s_load_keys (config->proxyd.api_keys_file, error, error_size);
    if (!keys)
        return -1;
    ocf_apikeys_unref (&keys);
    return 0;
}

//  --------------------------------------------------------------------------

//  A socket address read through its members only: casts between the sockaddr types break
//  strict aliasing (GCC at -O2 read a family written through another type as 0).
typedef union {
    struct sockaddr any;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    struct sockaddr_storage storage;
} address_t;

static bool
s_loopback_v4 (struct in_addr address)
{
    return (ntohl (address.s_addr) >> 24) == 127;
}

static bool
s_loopback_v6 (const struct in6_addr *address)
{
    return IN6_IS_ADDR_LOOPBACK (address) || (IN6_IS_ADDR_V4MAPPED (address) && address->s6_addr[12] == 127);
}

//  Whether clients beyond this host can reach the listen address.
static bool
s_listens_beyond_host (const char *listen)
{
    char host[256];
    int port;
    struct in_addr v4;
    struct in6_addr v6;
    if (ocf_config_parse_hostport (listen, host, sizeof host, &port) != 0)
        return true;
    if (inet_pton (AF_INET, host, &v4) == 1)
        return !s_loopback_v4 (v4);
    if (inet_pton (AF_INET6, host, &v6) == 1)
        return !s_loopback_v6 (&v6);
    //  A name: localhost, or whatever it resolves to (assume the worst).
    return strcmp (host, "localhost") != 0;
}

static void
s_parse_origins (ocf_access_t *self, const char *list)
{
    for (const char *item = list; *item && self->origin_count < ORIGINS_MAX;) {
        item += strspn (item, " \t\n,");
        size_t len = strcspn (item, ",");
        size_t trimmed = len;
        while (trimmed && (item[trimmed - 1] == ' ' || item[trimmed - 1] == '\t' || item[trimmed - 1] == '\n'))
            trimmed--;
        if (trimmed == 1 && *item == '*')
            self->any_origin = true;
        else
        if (trimmed)
            self->origins[self->origin_count++] = h2o_strdup (NULL, item, trimmed);
        item += len;
    }
}

ocf_access_t *
ocf_access_new (ocf_config_t *config, int loops, char *error, size_t error_size)
{
    ocf_access_t *self = ocf_calloc (1, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    self->loop_count = loops;
    self->loops = ocf_calloc ((size_t) loops, sizeof *self->loops);
    self->fabric_open = !ocf_config_fabric (config);
    s_parse_origins (self, config->proxyd.allowed_origins);
    self->admin_key = *config->proxyd.admin_key_file != '\0';
    if (self->admin_key && s_admin_key (config->proxyd.admin_key_file, self->admin_hash, error, error_size) != 0) {
        ocf_access_destroy (&self);
        return NULL;
    }
    if (*config->proxyd.api_keys_file) {
        self->keys_path = ocf_strdup (config->proxyd.api_keys_file);
        self->keys = s_load_keys (self->keys_path, error, error_size);
        if (!self->keys) {
            ocf_access_destroy (&self);
            return NULL;
        }
        self->generation = 1;
        ocf_log_info ("%zu API keys from %s", ocf_apikeys_count (self->keys), self->keys_path);
    }
    else
    if (s_listens_beyond_host (config->proxyd.listen))
        ocf_log_warning ("listening on %s, beyond this host, without API keys: anyone who reaches it may use every "
                         "model of the network; set [proxyd] api_keys_file (docs/http-api.md#access)",
                         config->proxyd.listen);
    return self;
}

void
ocf_access_destroy (ocf_access_t **self_p)
{
    ocf_access_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->loop_count; i++)
        ocf_apikeys_unref (&self->loops[i].keys);
    free (self->loops);
    ocf_apikeys_unref (&self->keys);
    for (size_t i = 0; i < self->origin_count; i++)
        free (self->origins[i].base);
    pthread_mutex_destroy (&self->lock);
    free (self->keys_path);
    free (self);
    *self_p = NULL;
}

void
ocf_access_reload (ocf_access_t *self)
{
    if (!self->keys_path)
        return;
    char error[1024];
    ocf_apikeys_t *keys = s_load_keys (self->keys_path, error, sizeof error);
    if (!keys) {
        ocf_log_error ("SIGHUP: keeping the API keys in use: %s", error);
        return;
    }
    pthread_mutex_lock (&self->lock);
    ocf_apikeys_inherit (keys, self->keys);
    ocf_apikeys_unref (&self->keys);
    self->keys = keys;
    __atomic_add_fetch (&self->generation, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock (&self->lock);
    ocf_log_info ("SIGHUP: %zu API keys from %s", ocf_apikeys_count (keys), self->keys_path);
}

//  --------------------------------------------------------------------------
//  Who may call

bool
ocf_access_local (h2o_req_t *req)
{
    //  Through the fabric listener: another host, whatever its address (on loopback in tests).
    if (ocf_loop_fabric_request (req))
        return false;
    address_t peer;
    if (!req->conn->callbacks->get_peername (req->conn, &peer.any))
        return false;
    bool loopback = peer.any.sa_family == AF_INET ? s_loopback_v4 (peer.v4.sin_addr)
                  : peer.any.sa_family == AF_INET6 && s_loopback_v6 (&peer.v6.sin6_addr);
    return loopback && ocf_respond_req_header (req, "x-forwarded-for").base == NULL;
}

bool
ocf_access_fabric (ocf_access_t *self, h2o_req_t *req)
{
    return self->fabric_open || ocf_fabric_hop (req);
}

static void
s_reject (ocf_access_t *self, reject_t reason)
{
    __atomic_add_fetch (&self->rejected[reason], 1, __ATOMIC_RELAXED);
}

//  The token of "Authorization: Bearer <token>" ({NULL, 0} when none).
static h2o_iovec_t
s_bearer (h2o_req_t *req)
{
    h2o_iovec_t value = ocf_respond_req_header (req, "authorization");
    if (value.len <= 7 || strncasecmp (value.base, "bearer ", 7) != 0)
        return h2o_iovec_init (NULL, 0);
    size_t at = 7;
    while (at < value.len && value.base[at] == ' ')
        at++;
    size_t end = value.len;
    while (end > at && (value.base[end - 1] == ' ' || value.base[end - 1] == '\t'))
        end--;
    return h2o_iovec_init (end > at ? value.base + at : NULL, end - at);
}

static bool
s_is_admin (ocf_access_t *self, h2o_req_t *req)
{
    h2o_iovec_t token = s_bearer (req);
    uint8_t hash[32];
    if (!self->admin_key || !token.base)
        return false;
    ocf_apikeys_hash (token.base, token.len, hash);
    return CRYPTO_memcmp (hash, self->admin_hash, sizeof hash) == 0;
}

//  The set of keys this loop uses: the newest, adopted at its first request after a reload.
static ocf_apikeys_t *
s_loop_keys (ocf_access_t *self, int loop)
{
    loop_keys_t *mine = &self->loops[loop];
    if (mine->generation != __atomic_load_n (&self->generation, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock (&self->lock);
        ocf_apikeys_unref (&mine->keys);
        mine->keys = ocf_apikeys_ref (self->keys);
        mine->generation = self->generation;
        pthread_mutex_unlock (&self->lock);
    }
    return mine->keys;
}

static void
s_held_dispose (void *data)
{
    held_t *held = data;
    ocf_apikey_release (held->key);
    ocf_apikeys_unref (&held->keys);
}

static bool
s_check_key (ocf_access_t *self, h2o_req_t *req, int loop)
{
    h2o_iovec_t token = s_bearer (req);
    ocf_apikeys_t *keys = s_loop_keys (self, loop);
    ocf_apikey_t *key = token.base ? ocf_apikeys_find (keys, token.base, token.len) : NULL;
    if (!key) {
        s_reject (self, token.base ? REJECT_INVALID_KEY : REJECT_MISSING_KEY);
        h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT ("Bearer"));
        ocf_respond_error (req, 401, "invalid_api_key", NULL, token.base
                           ? "Incorrect API key provided: this host does not know it"
                           : "You didn't provide an API key: this host needs one, as Authorization: Bearer <key>");
        return false;
    }
    int retry_after = 0;
    ocf_apikey_outcome_t outcome = ocf_apikey_admit (key, ocf_time_mono_us (), &retry_after);
    if (outcome != OCF_APIKEY_OK) {
        bool rate = outcome == OCF_APIKEY_RATE_LIMITED;
        s_reject (self, rate ? REJECT_RATE_LIMITED : REJECT_STREAMS_LIMITED);
        char seconds[16];
        snprintf (seconds, sizeof seconds, "%d", retry_after);
        h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, h2o_strdup (&req->pool, seconds, SIZE_MAX).base,
                        strlen (seconds));
        ocf_respond_error (req, 429, "rate_limit_exceeded", NULL, "Rate limit reached for API key '%s' on %s. Please try again in %ds.",
                           ocf_apikey_name (key), rate ? "requests per minute" : "requests in flight at once", retry_after);
        return false;
    }
    held_t *held = h2o_mem_alloc_shared (&req->pool, sizeof *held, s_held_dispose);
    *held = (held_t) { ocf_apikeys_ref (keys), key };
    return true;
}

//  A hop through the fabric listener (mutual TLS: another host's proxyd, a live member): the
//  fabric class, and the p2p route naming this node's own id, whose handler serves the
//  client's request it carries again here, judged then by its own route (below, as any
//  request that is neither a hop nor local). Nothing else is served there.
static bool
s_hop_served (h2o_req_t *req, const ocf_route_t *route)
{
    const ocf_route_spec_t *spec = route->spec;
    return spec->access == OCF_ACCESS_FABRIC
        || (spec->own_node_hop && strcmp (route->node, ocf_view_self_id (ocf_loop_of (req)->view)) == 0);
}

bool
ocf_access_admin (ocf_access_t *self, h2o_req_t *req)
{
    return ocf_access_local (req) || s_is_admin (self, req);
}

bool
ocf_access_check (ocf_access_t *self, h2o_req_t *req, int loop, const ocf_route_t *route)
{
    const ocf_route_spec_t *spec = route->spec;
    if (ocf_fabric_hop (req)) {
        if (s_hop_served (req, route))
            return true;         //  no key: the forwarding host checked its client's (a p2p re-run: here, below)
        s_reject (self, REJECT_FABRIC_LISTENER);
        ocf_respond_error (req, 404, "route_not_found", NULL,
                           "the fabric listener serves /v1/_service/{svc}/{path} and /v1/p2p/{this node}/{path} only");
        return false;
    }
    switch (spec->access) {
        case OCF_ACCESS_OPEN:
            return true;
        case OCF_ACCESS_PUBLIC:
            return !self->keys_path || s_check_key (self, req, loop);
        case OCF_ACCESS_ADMIN:
            if (ocf_access_admin (self, req))
                return true;
            s_reject (self, REJECT_NOT_ADMIN);
            ocf_respond_error (req, 403, "forbidden", NULL, "%s changes this node: only a client on this host, or one "
                               "with the admin key (Authorization: Bearer, [proxyd] admin_key_file), may call it", spec->name);
            return false;
        default:
            if (ocf_access_local (req) || ocf_access_fabric (self, req))
                return true;
            s_reject (self, REJECT_NOT_FABRIC);
            ocf_respond_error (req, 403, "fabric_only", NULL, "%s is for other hosts' proxyds, through the fabric listener "
                               "(mutual TLS, [proxyd] fabric_listen), and for this host", spec->name);
            return false;
    }
}

//  --------------------------------------------------------------------------
//  CORS

//  name in lower case (h2o has tokens for few of the CORS headers).
static void
s_add (h2o_req_t *req, const char *name, const char *value, size_t len)
{
    h2o_add_header_by_str (&req->pool, &req->res.headers, name, strlen (name), 1, NULL, value, len);
}

static bool
s_origin_allowed (ocf_access_t *self, h2o_iovec_t origin)
{
    if (self->any_origin)
        return true;
    for (size_t i = 0; i < self->origin_count; i++)
        if (h2o_memis (origin.base, origin.len, self->origins[i].base, self->origins[i].len))
            return true;
    return false;
}

//  An allowed origin's headers on an answer (a preflight's too). A backend's own are dropped
//  first, so that the browser sees proxyd's decision only.
static void
s_cors_headers (ocf_access_t *self, h2o_req_t *req)
{
    h2o_iovec_t origin = ocf_respond_req_header (req, "origin");
    if (!origin.base)
        return;
    static const char *const backend_set[] = { "access-control-allow-origin", "access-control-allow-credentials",
                                                "access-control-expose-headers" };
    for (size_t i = 0; i < sizeof backend_set / sizeof backend_set[0]; i++) {
        ssize_t found;
        while ((found = h2o_find_header_by_str (&req->res.headers, backend_set[i], strlen (backend_set[i]), -1)) >= 0)
            h2o_delete_header (&req->res.headers, found);
    }
    if (!s_origin_allowed (self, origin))
        return;
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin.base, origin.len);
    s_add (req, "access-control-expose-headers", H2O_STRLIT (EXPOSED_HEADERS));
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT ("Origin"));
}

static void
s_on_setup_ostream (h2o_filter_t *filter, h2o_req_t *req, h2o_ostream_t **slot)
{
    s_cors_headers (((cors_filter_t *) filter)->access, req);
    h2o_setup_next_ostream (req, slot);
}

void
ocf_access_register (ocf_access_t *self, h2o_pathconf_t *path)
{
    cors_filter_t *filter = (cors_filter_t *) h2o_create_filter (path, sizeof *filter);
    filter->super.on_setup_ostream = s_on_setup_ostream;
    filter->access = self;
}

bool
ocf_access_preflight (ocf_access_t *self, h2o_req_t *req)
{
    if (!h2o_memis (req->method.base, req->method.len, H2O_STRLIT ("OPTIONS")))
        return false;
    h2o_iovec_t method = ocf_respond_req_header (req, "access-control-request-method");
    h2o_iovec_t origin = ocf_respond_req_header (req, "origin");
    //  The fabric listener's peers are proxyds, not browsers: its requests are judged as sent.
    if (!method.base || !origin.base || ocf_loop_fabric_request (req))
        return false;
    //  Browsers send no credentials with a preflight: it needs no key.
    if (!s_origin_allowed (self, origin)) {
        s_reject (self, REJECT_ORIGIN);
        ocf_respond_error (req, 403, "origin_not_allowed", NULL, "the origin %.*s is not in [proxyd] allowed_origins",
                           (int) (origin.len > 200 ? 200 : origin.len), origin.base);
        return true;
    }
    h2o_iovec_t headers = ocf_respond_req_header (req, "access-control-request-headers");
    if (!headers.base)
        headers = h2o_iovec_init (H2O_STRLIT ("Authorization, Content-Type"));
    s_add (req, "access-control-allow-methods", H2O_STRLIT ("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"));
    s_add (req, "access-control-allow-headers", headers.base, headers.len);
    s_add (req, "access-control-max-age", H2O_STRLIT (PREFLIGHT_MAX_AGE));
    ocf_respond_send (req, 204, "text/plain", "", 0);
    return true;
}

//  --------------------------------------------------------------------------

void
ocf_access_render (ocf_access_t *self, ocf_promtext_t *page)
{
    const char *rejected = "ocf_proxyd_auth_rejected_total";
    ocf_promtext_family (page, rejected, "counter", "Requests refused by the access check, by reason");
    for (int reason = 0; reason < REJECT_COUNT; reason++) {
        const char *labels[] = { "reason", s_reject_names[reason], NULL };
        ocf_promtext_sample (page, rejected, "", (double) __atomic_load_n (&self->rejected[reason], __ATOMIC_RELAXED),
                             labels);
    }
    pthread_mutex_lock (&self->lock);
    ocf_apikeys_t *keys = self->keys ? ocf_apikeys_ref (self->keys) : NULL;
    pthread_mutex_unlock (&self->lock);
    if (keys)
        ocf_apikeys_render (keys, page);
    ocf_apikeys_unref (&keys);
}

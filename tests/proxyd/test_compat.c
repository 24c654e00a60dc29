/*  What OpenFabric's own clients read, true: last_seen as fresh as tabled's observations,
    the headers every answer carries (X-Computing-Node, X-Request-Id, ocf-version; the 413
    of a body refused before it is read included), multiaddrs in /v1/dnt/peers and
    /v1/dnt/bootstraps, stats.message, the hardware fields; /openapi.yaml kept in step with
    the route table (every route in the spec, every path of the spec answering) and /docs
    answering; a full disk under state_dir answered 503 + Retry-After, never 400 (a tmpfs
    of a few MiB as state_dir: needs root, skipped otherwise).  */
#include "fabric.h"
#include "ocf_proxyd.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static fabric_t s_fabric;
static fabric_host_t *A, *B;
static char s_mounted[400];      //  the tmpfs of the disk-full test, "" when none

static void
s_setup (void)
{
    A = fabric_host (&s_fabric, "host-a", "max_body = 4KiB\n");
    B = fabric_host (&s_fabric, "host-b", NULL);
    const char *m1[] = { "--model", "m1", NULL };
    fabric_service (B, "llm", fabric_backend (&s_fabric, "b1", m1), "model=m1", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (A, "m1", 1, 5000));
}

static void
s_teardown (void)
{
    if (*s_mounted)
        umount2 (s_mounted, MNT_DETACH);     //  the daemons still hold table.db open
    fabric_stop (&s_fabric);
}

TestSuite (proxyd_compat, .init = s_setup, .fini = s_teardown, .timeout = 90);

static json_t *
s_tabled (fabric_host_t *host, const char *verb, json_t *body)
{
    bool ok;
    json_t *reply = ocf_test_call (&host->node, "tabled", verb, body, &ok);
    cr_assert (ok, "%s: %s", verb, reply ? json_string_value (json_object_get (reply, "error")) : "no reply");
    return reply;
}

static json_t *
s_peer (json_t *table, fabric_host_t *host)
{
    char key[64];
    snprintf (key, sizeof key, "/%s", host->id);
    return json_object_get (table, key);
}

typedef struct {
    fabric_host_t *about;
    int64_t since;               //  seconds
} fresh_t;

static bool
s_fresh (void *arg)
{
    fresh_t *fresh = arg;
    json_t *table = fabric_get_json (A, "/v1/dnt/table");
    bool ok = json_integer_value (json_object_get (s_peer (table, fresh->about), "last_seen")) >= fresh->since;
    json_decref (table);
    return ok;
}

Test (proxyd_compat, last_seen_is_what_tabled_observed)
{
    //  Older than anything the copy of B's row could carry: seen only through "seen" events.
    sleep (2);
    int64_t before = ocf_time_wall_ms () / 1000;
    json_decref (s_tabled (A, "SEEN", json_pack ("{s:[s]}", "ids", B->id)));
    json_t *entry = s_tabled (A, "GET", json_pack ("{s:s}", "id", B->id));
    int64_t observed = json_integer_value (json_object_get (json_object_get (entry, "row"), "last_alive")) / 1000;
    json_decref (entry);
    cr_assert_geq (observed, before, "tabled's own last_alive");
    fresh_t fresh = { B, observed };
    if (!ocf_test_wait_for (s_fresh, &fresh, 2000)) {
        json_t *table = fabric_get_json (A, "/v1/dnt/table");
        char *text = json_dumps (s_peer (table, B), JSON_COMPACT);
        cr_assert_fail ("the view's last_seen of B is not tabled's last_alive (%lld): %s", (long long) observed, text);
    }
    json_t *table = fabric_get_json (A, "/v1/dnt/table");
    int64_t now = ocf_time_wall_ms () / 1000;
    int64_t own = json_integer_value (json_object_get (s_peer (table, A), "last_seen"));
    cr_assert (own >= before && own <= now, "this node's last_seen is %lld, not now (%lld)", (long long) own, (long long) now);
    cr_assert_eq (json_integer_value (json_object_get (s_peer (table, B), "last_seen")), observed);
    json_decref (table);
}

typedef struct {
    const char *path;
    bool listed;
} listing_t;

//  Whether A's /v1/dnt/table at path lists B as the case expects.
static bool
s_lists_b_as_expected (void *arg)
{
    const listing_t *listing = arg;
    json_t *table = fabric_get_json (A, listing->path);
    bool listed = s_peer (table, B) != NULL;
    json_decref (table);
    return listed == listing->listed;
}

Test (proxyd_compat, the_table_lists_live_nodes_unless_all_is_asked)
{
    fabric_set_status (A, B, "dead");
    const listing_t cases[] = {
        { "/v1/dnt/table", false }, { "/v1/dnt/table?all=1", true }, { "/v1/dnt/table?all", true },
        { "/v1/dnt/table?x=1&all=yes", true }, { "/v1/dnt/table?all=0", false }, { "/v1/dnt/table?allx=1", false },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++)
        cr_assert (ocf_test_wait_for (s_lists_b_as_expected, (void *) &cases[index], 2000), "%s %s the dead node",
                   cases[index].path, cases[index].listed ? "does not list" : "lists");
}

//  The headers of every answer: this node's id (or the serving node's), a request id, the
//  software's version.
static void
s_expect_headers (const char *what, fabric_response_t *response, fabric_host_t *node)
{
    char *computing = fabric_header (response, "x-computing-node");
    char *id = fabric_header (response, "x-request-id");
    char *version = fabric_header (response, "ocf-version");
    cr_assert (computing && strcmp (computing, node->id) == 0, "%s: X-Computing-Node %s in %s", what, computing,
               response->headers);
    cr_assert (id && *id, "%s: no X-Request-Id in %s", what, response->headers);
    cr_assert (version && *version, "%s: no ocf-version in %s", what, response->headers);
    free (computing);
    free (id);
    free (version);
}

Test (proxyd_compat, every_answer_names_node_request_and_version)
{
    char url[128];
    snprintf (url, sizeof url, "%s/v1/chat/completions", A->url);
    char *big = calloc (1, 8192);
    memset (big, 'x', 8000);
    memcpy (big, "{\"model\": \"m1\", \"x\": \"", 22);
    strcpy (big + 7998, "\"}");
    fabric_response_t response = fabric_http ("POST", url, NULL, big);
    cr_assert_eq (response.status, 413, "%s", response.body);
    s_expect_headers ("413", &response, A);
    fabric_response_free (&response);
    free (big);
    response = fabric_http ("POST", url, NULL, "{\"model\": \"m1\"}");
    cr_assert_eq (response.status, 200, "%s", response.body);
    s_expect_headers ("a forwarded answer", &response, B);
    fabric_response_free (&response);
    snprintf (url, sizeof url, "%s/v1/nothing", A->url);
    response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 404);
    s_expect_headers ("404", &response, A);
    fabric_response_free (&response);
}

Test (proxyd_compat, openfabric_shapes)
{
    json_t *peers = fabric_get_json (A, "/v1/dnt/peers");
    json_t *peer = json_array_get (json_object_get (peers, "peers"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (peer, "ID")), B->id);
    char expected[200];
    snprintf (expected, sizeof expected, "/ip4/127.0.0.1/tcp/%d/http/p2p/%s", B->port, B->id);
    bool found = false;
    size_t index;
    json_t *addr;
    json_array_foreach (json_object_get (peer, "Addrs"), index, addr) {
        cr_assert_eq (json_string_value (addr)[0], '/', "not a multiaddr: %s", json_string_value (addr));
        found |= strcmp (json_string_value (addr), expected) == 0;
    }
    cr_assert (found, "%s is not among B's Addrs", expected);
    snprintf (expected, sizeof expected, "http://127.0.0.1:%d", B->port);
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (peer, "urls"), "proxy")), expected);
    json_decref (peers);

    json_t *bootstraps = fabric_get_json (A, "/v1/dnt/bootstraps");
    cr_assert_eq (json_array_size (json_object_get (bootstraps, "bootstraps")), 2);
    json_array_foreach (json_object_get (bootstraps, "bootstraps"), index, addr)
        cr_assert (strncmp (json_string_value (addr), "/ip4/127.0.0.1/tcp/", 19) == 0 && strstr (json_string_value (addr), "/p2p/"),
                   "%s", json_string_value (addr));
    json_array_foreach (json_object_get (bootstraps, "seeds"), index, addr)
        cr_assert (strchr (json_string_value (addr), '@'), "%s", json_string_value (addr));
    json_decref (bootstraps);

    json_t *stats = fabric_get_json (A, "/v1/dnt/stats");
    cr_assert_str_eq (json_string_value (json_object_get (stats, "message")), "1 of 1 known peers connected");
    json_decref (stats);

    //  The hardware as workerd reports it (SELF.SET), in OpenFabric's names too.
    json_decref (s_tabled (B, "SELF.SET", json_pack ("{s:{s:i, s:i, s:i, s:[{s:i, s:s, s:i, s:i}]}}", "hardware", "cpus", 8,
                                                     "memory_mb", 64000, "memory_used_mb", 12000, "gpus", "index", 0,
                                                     "name", "NVIDIA L40S", "memory_total_mb", 46068, "memory_used_mb", 1000)));
    fabric_sync (&s_fabric);
    json_t *hardware = NULL;
    for (int i = 0; i < 200 && !hardware; i++) {
        json_t *table = fabric_get_json (A, "/v1/dnt/table");
        json_t *candidate = json_object_get (s_peer (table, B), "hardware");
        if (json_integer_value (json_object_get (candidate, "host_memory_used")) == 12000)
            hardware = json_incref (candidate);
        json_decref (table);
        if (!hardware)
            usleep (10000);
    }
    cr_assert (hardware, "host_memory_used never reached A's view");
    cr_assert_eq (json_integer_value (json_object_get (hardware, "host_memory")), 64000);
    json_t *gpu = json_array_get (json_object_get (hardware, "gpus"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (gpu, "name")), "NVIDIA L40S");
    cr_assert_eq (json_integer_value (json_object_get (gpu, "memory")), 46068);
    cr_assert_eq (json_integer_value (json_object_get (gpu, "memory_used")), 1000);
    json_decref (hardware);
}

//  {svc} -> a value the route takes; the answer may then be any error but "no such route".
static void
s_example_path (const char *pattern, char *out, size_t size)
{
    static const struct { const char *placeholder; const char *value; } examples[] = {
        { "{svc}", "nosuch" }, { "{node}", "nobody" }, { "{path}", "x" }, { "{id}", "m1" },
    };
    size_t len = 0;
    for (const char *c = pattern; *c && len + 1 < size;) {
        bool replaced = false;
        for (size_t i = 0; i < sizeof examples / sizeof examples[0] && !replaced; i++)
            if (strncmp (c, examples[i].placeholder, strlen (examples[i].placeholder)) == 0) {
                len += (size_t) snprintf (out + len, size - len, "%s", examples[i].value);
                c += strlen (examples[i].placeholder);
                replaced = true;
            }
        if (!replaced)
            out[len++] = *c++;
    }
    out[len] = '\0';
}

//  GET path of host A: 200, with a content type that starts with type.
static fabric_response_t
s_get_typed (const char *path, const char *type)
{
    char url[512];
    snprintf (url, sizeof url, "%s%s", A->url, path);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200, "GET %s: %ld", path, response.status);
    char *got = fabric_header (&response, "content-type");
    cr_assert (got && strncmp (got, type, strlen (type)) == 0, "GET %s: content type %s", path, got);
    free (got);
    return response;
}

Test (proxyd_compat, openapi_spec_and_route_table_agree)
{
    fabric_response_t response = s_get_typed ("/openapi.yaml", "application/yaml");
    json_t *spec = fabric_json (&response);      //  YAML's JSON form
    fabric_response_free (&response);
    cr_assert (spec, "the spec is not in YAML's JSON form");
    cr_assert (strncmp (json_string_value (json_object_get (spec, "openapi")), "3.", 2) == 0);
    json_t *paths = json_object_get (spec, "paths");

    //  Every route proxyd serves, with each of its methods, is in the spec.
    ocf_routetable_t routes;
    ocf_proxyd_register_routes (&routes);
    static const char *forwarded[] = { "get", "post", "put", "patch", "delete", NULL };
    for (int i = 1; i < routes.count; i++) {
        const ocf_route_spec_t *route = &routes.specs[i];
        json_t *item = json_object_get (paths, route->pattern);
        cr_assert (item, "route %s (%s) is not in /openapi.yaml", route->name, route->pattern);
        for (const char **method = forwarded; *method; method++) {
            char upper[8];
            for (size_t c = 0; c <= strlen (*method); c++)
                upper[c] = (char) (c < strlen (*method) ? (*method)[c] - 32 : 0);
            const char *allow;
            bool allowed = ocf_route_method_allowed (route, upper, strlen (upper), &allow);
            cr_assert_eq (allowed, json_object_get (item, *method) != NULL, "%s %s: the route %s it, the spec %s",
                          upper, route->pattern, allowed ? "allows" : "refuses", allowed ? "does not list it" : "lists it");
        }
    }
    //  Every path and method of the spec reaches a route (whatever it then answers).
    const char *pattern;
    json_t *item;
    json_object_foreach (paths, pattern, item) {
        const char *method;
        json_t *operation;
        json_object_foreach (item, method, operation) {
            char path[256], upper[8], url[512];
            s_example_path (pattern, path, sizeof path);
            for (size_t c = 0; c <= strlen (method) && c < sizeof upper; c++)
                upper[c] = (char) (c < strlen (method) ? method[c] - 32 : 0);
            snprintf (url, sizeof url, "%s%s", A->url, path);
            response = fabric_http (upper, url, NULL, strcmp (upper, "GET") == 0 ? NULL : "{\"service\": [{\"name\": \"nosuch\"}]}");
            json_t *answer = fabric_json (&response);
            const char *code = json_string_value (json_object_get (json_object_get (answer, "error"), "code"));
            cr_assert (response.status != 405 && !(code && strcmp (code, "route_not_found") == 0),
                       "%s %s (from the spec's %s): %ld %s", upper, path, pattern, response.status, response.body);
            json_decref (answer);
            fabric_response_free (&response);
        }
    }
    json_decref (spec);
}

Test (proxyd_compat, docs_page_is_self_contained)
{
    fabric_response_t response = s_get_typed ("/docs", "text/html");
    cr_assert (strstr (response.body, "fetch(\"/openapi.yaml\")"), "the page renders the spec");
    cr_assert_null (strstr (response.body, "src=\"http"), "an external script");
    cr_assert_null (strstr (response.body, "href=\"http"), "an external link or style sheet");
    cr_assert_null (strstr (response.body, "@import"), "an external style sheet");
    fabric_response_free (&response);
}

//  --------------------------------------------------------------------------
//  A full disk

static long
s_register (fabric_host_t *host, int round, char **error_code, char **retry_after)
{
    //  Large identity groups, different each round: each registration writes new pages.
    char *body = malloc (65536);
    size_t len = (size_t) snprintf (body, 65536, "{\"service\": [{\"name\": \"big\", \"port\": 9, \"identity_group\": [");
    for (int i = 0; i < 200; i++)
        len += (size_t) snprintf (body + len, 65536 - len, "%s\"model=m%d-%d-%0200d\"", i ? "," : "", round, i, 0);
    snprintf (body + len, 65536 - len, "]}]}");
    char url[128];
    snprintf (url, sizeof url, "%s/v1/dnt/_node", host->url);
    fabric_response_t response = fabric_http ("POST", url, NULL, body);
    free (body);
    json_t *answer = fabric_json (&response);
    const char *code = json_string_value (json_object_get (json_object_get (answer, "error"), "code"));
    *error_code = code ? strdup (code) : NULL;
    *retry_after = fabric_header (&response, "retry-after");
    json_decref (answer);
    long status = response.status;
    fabric_response_free (&response);
    return status;
}

Test (proxyd_compat, a_full_disk_is_503_not_the_clients_fault)
{
    if (geteuid () != 0)
        cr_skip_test ("mounting a tmpfs needs root");
    fabric_host_t *host = fabric_host_unstarted (&s_fabric, "host-full", ocf_test_free_port (), "max_body = 1MiB\n");
    mkdir (host->node.state_dir, 0750);
    if (mount ("tmpfs", host->node.state_dir, "tmpfs", 0, "size=4m,mode=0750") != 0) {
        cr_assert_eq (errno, EPERM, "mount: %m");
        cr_skip_test ("root without CAP_SYS_ADMIN (a container) cannot mount a tmpfs");
    }
    snprintf (s_mounted, sizeof s_mounted, "%s", host->node.state_dir);
    fabric_start_tabled (host);
    fabric_start_proxyd (host);
    char command[600];
    snprintf (command, sizeof command, "dd if=/dev/zero of=%s/filler bs=16k 2>/dev/null", host->node.state_dir);
    int status;
    free (ocf_test_run (command, &status));
    cr_assert_neq (status, 0, "dd filled the tmpfs without an error");
    long answered = 200;
    char *code = NULL, *retry_after = NULL;
    for (int round = 0; round < 50 && answered == 200; round++) {
        free (code);
        free (retry_after);
        answered = s_register (host, round, &code, &retry_after);
    }
    cr_assert_eq (answered, 503, "a full disk answered %ld (%s)", answered, code);
    cr_assert_str_eq (code, "storage_unavailable");
    cr_assert (retry_after && atoi (retry_after) > 0, "no Retry-After");
    free (code);
    free (retry_after);
    //  Space again: the same request goes through, tabled carried on.
    snprintf (command, sizeof command, "%s/filler", host->node.state_dir);
    cr_assert_eq (unlink (command), 0);
    answered = s_register (host, 99, &code, &retry_after);
    cr_assert_eq (answered, 200, "after space was freed: %ld (%s)", answered, code);
    free (code);
    free (retry_after);
}

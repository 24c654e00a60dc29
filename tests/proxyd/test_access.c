/*  Who may call what (ocf_access), against the real daemons: the admin routes from a client on
    another machine (a network namespace joined to this one by a veth pair: its address is not
    loopback), API keys and their reload on SIGHUP, CORS. The API keys' 401 and 429 through the
    official OpenAI SDK are in node/openai_keys_test.mjs.  */
#include "fabric.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static fabric_t s_fabric;
static char s_namespace[32];     //  the remote client's network namespace, "" when none
static char s_remote_host[32];   //  this machine's address as the namespace sees it
static char s_dir[64];           //  the keys files

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/ocf-access-%d", (int) getpid ());
    mkdir (s_dir, 0700);
}

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
    char command[256];
    if (*s_namespace) {
        snprintf (command, sizeof command, "ip netns del %s 2>/dev/null", s_namespace);
        cr_assert_eq (system (command), 0);
    }
    snprintf (command, sizeof command, "rm -rf %s", s_dir);
    cr_assert_eq (system (command), 0);
}

//  The output of a shell command, which must succeed.
static char *
s_run (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static char *
s_run (const char *format, ...)
{
    char command[2048];
    va_list args;
    va_start (args, format);
    vsnprintf (command, sizeof command, format, args);
    va_end (args);
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "%s failed: %s", command, output);
    return output;
}

//  A network namespace whose only way out is a veth pair to this one, a /30 of its own.
static void
s_remote_client (void)
{
    int status;
    free (ocf_test_run ("ip netns list", &status));
    if (status != 0)
        cr_skip_test ("'ip netns' is not available here");
    int pid = (int) getpid (), net = (pid % 16384) * 4;
    snprintf (s_namespace, sizeof s_namespace, "ocfacc%d", pid);
    snprintf (s_remote_host, sizeof s_remote_host, "10.201.%d.%d", net / 256, net % 256 + 1);
    free (s_run ("ip netns add %s && ip link add ocfa%d type veth peer name eth0 netns %s"
                 " && ip addr add %s/30 dev ocfa%d && ip link set ocfa%d up"
                 " && ip netns exec %s ip addr add 10.201.%d.%d/30 dev eth0"
                 " && ip netns exec %s ip link set eth0 up && ip netns exec %s ip link set lo up",
                 s_namespace, pid, s_namespace, s_remote_host, pid, pid, s_namespace, net / 256, net % 256 + 2,
                 s_namespace, s_namespace));
}

//  A request from the namespace: its status; *body (to free) gets the answer when not NULL.
static int
s_remote (const char *method, fabric_host_t *host, const char *path, const char *header, const char *data, char **body)
{
    char file[128];
    snprintf (file, sizeof file, "%s/answer", s_dir);
    char *code = s_run ("ip netns exec %s curl -s -m 10 -o %s -w '%%{http_code}' -X %s %s%s%s -d '%s' 'http://%s:%d%s'",
                        s_namespace, file, method, header ? "-H '" : "", header ? header : "", header ? "'" : "",
                        data ? data : "", s_remote_host, host->port, path);
    int status = atoi (code);
    free (code);
    if (body)
        *body = ocf_test_read_file (file);
    return status;
}

static void
s_assert_error (const char *body, const char *code)
{
    fabric_response_t response = { .body = (char *) body, .body_len = strlen (body) };
    json_t *json = fabric_json (&response);
    cr_assert (json, "not JSON: %s", body);
    json_t *error = json_object_get (json, "error");
    cr_assert_str_eq (json_string_value (json_object_get (error, "code")), code, "%s", body);
    cr_assert (json_is_null (json_object_get (error, "param")), "%s", body);
    cr_assert (json_string_value (json_object_get (error, "message")), "%s", body);
    json_decref (json);
}

#define NODE_BODY "{\"service\": [{\"name\": \"ext\", \"port\": \"9\"}]}"
#define ADMIN_KEY "admin-key-0123456789abcdef"

Test (proxyd_access, admin_routes_refuse_remote_clients, .init = s_setup, .fini = s_teardown, .timeout = 60)
{
    s_remote_client ();
    char path[128], extra[256];
    snprintf (path, sizeof path, "%s/admin.key", s_dir);
    FILE *file = fopen (path, "w");
    fprintf (file, "%s\n", ADMIN_KEY);
    fclose (file);
    snprintf (extra, sizeof extra, "admin_key_file = %s\n", path);
    s_fabric.listen_host = "0.0.0.0";
    fabric_host_t *host = fabric_host (&s_fabric, "host-a", extra);
    char *body = NULL;

    //  Reading is open to anyone; changing this node is not.
    cr_assert_eq (s_remote ("GET", host, "/v1/health", NULL, NULL, NULL), 200);
    cr_assert_eq (s_remote ("POST", host, "/v1/dnt/_node", NULL, NODE_BODY, &body), 403);
    s_assert_error (body, "forbidden");
    free (body);
    cr_assert_eq (s_remote ("DELETE", host, "/v1/dnt/_node", NULL, "", NULL), 403);
    cr_assert_eq (s_remote ("POST", host, "/v1/dnt/_node", "Authorization: Bearer not-the-admin-key", NODE_BODY, NULL), 403);
    //  proxyd's own hop through /v1/p2p comes from loopback, but speaks for the remote client.
    char id[128], p2p[300];
    fabric_escape (host->id, id, sizeof id);
    snprintf (p2p, sizeof p2p, "/v1/p2p/%s/v1/dnt/_node", id);
    cr_assert_eq (s_remote ("POST", host, p2p, NULL, NODE_BODY, &body), 403, "%s", body);
    free (body);
    //  The admin key opens it from anywhere.
    cr_assert_eq (s_remote ("POST", host, "/v1/dnt/_node", "Authorization: Bearer " ADMIN_KEY, NODE_BODY, &body), 200,
                  "%s", body);
    free (body);

    //  A client on this host needs no key, unless its request was relayed (a proxy in front).
    char url[128];
    snprintf (url, sizeof url, "%s/v1/dnt/_node", host->url);
    fabric_response_t response = fabric_http ("DELETE", url, NULL, NODE_BODY);
    cr_assert_eq (response.status, 200, "%s", response.body);
    fabric_response_free (&response);
    const char *relayed[] = { "X-Forwarded-For: 192.0.2.7", NULL };
    response = fabric_http ("POST", url, relayed, NODE_BODY);
    cr_assert_eq (response.status, 403, "%s", response.body);
    fabric_response_free (&response);
    cr_assert_geq (fabric_metric (host, "ocf_proxyd_auth_rejected_total{reason=\"not_admin\"} "), 5);

    //  MERGE POINT (fabric TLS): until the fabric listener exists, hosts reach each other's
    //  /v1/_service over plain HTTP, so it stays open to other machines (no 403).
    cr_assert_neq (s_remote ("GET", host, "/v1/_service/llm/v1/models", NULL, NULL, NULL), 403);
}

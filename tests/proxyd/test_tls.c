/*  The fabric listener: hops between hosts go over mutual TLS, and the listener serves nobody
    else. Two hosts on loopback, a backend behind C:
      A   no backend: its requests for m1 go to C, through C's fabric listener
      C   llm: c1 (model m1)
    Clients are curl with certificates made here: a member's (A's node key, from its
    node.key) and a stranger's (an ephemeral key that no row names).  */
#include "fabric.h"
#include "ocf_tls.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SILENT_CLIENTS 260       //  more than an event loop lets handshake at once (256)

static fabric_t s_fabric;
static fabric_host_t *A, *C;
static char s_keys[64];          //  C's API keys file (proxyd_tls_access), "" when none

//  A and C; extra: more lines for C's ocf.conf.
static void
s_start (const char *extra)
{
    A = fabric_host (&s_fabric, "host-a", NULL);
    C = fabric_host (&s_fabric, "host-c", extra);
    const char *m1[] = { "--model", "m1", NULL };
    fabric_service (C, "llm", fabric_backend (&s_fabric, "c1", m1), "model=m1", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (A, "m1", 1, 5000), "host A does not route m1");
}

static void
s_setup (void)
{
    s_start ("fabric_handshake_timeout = 500ms\n");
}

//  C with API keys (one: sk-good): A has none.
static void
s_setup_keys (void)
{
    snprintf (s_keys, sizeof s_keys, "/tmp/ocf-tls-keys-%d", (int) getpid ());
    FILE *file = fopen (s_keys, "w");
    cr_assert (file);
    fputs ("good sha256:4c3fe847ba5369a26bb663f9713c893e7e9407c376d5e33038740063b5a09125\n", file);
    fclose (file);
    char extra[128];
    snprintf (extra, sizeof extra, "api_keys_file = %s\n", s_keys);
    s_start (extra);
}

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
    if (*s_keys)
        unlink (s_keys);
}

TestSuite (proxyd_tls, .init = s_setup, .fini = s_teardown, .timeout = 60);

//  Writes the certificate and key of an identity as PEM files into the host's directory:
//  "<root>/<name>.crt" and "<root>/<name>.key".
static void
s_write_credentials (fabric_host_t *host, ocf_identity_t *identity, const char *name)
{
    EVP_PKEY *key = NULL;
    X509 *certificate = ocf_tls_certificate_new (identity, &key);
    cr_assert (certificate);
    char path[400];
    snprintf (path, sizeof path, "%s/%s.crt", host->node.root, name);
    FILE *file = fopen (path, "w");
    cr_assert (file && PEM_write_X509 (file, certificate));
    fclose (file);
    snprintf (path, sizeof path, "%s/%s.key", host->node.root, name);
    file = fopen (path, "w");
    cr_assert (file && PEM_write_PrivateKey (file, key, NULL, NULL, 0, NULL, NULL));
    fclose (file);
    X509_free (certificate);
    EVP_PKEY_free (key);
}

//  A's own credentials, as "member".
static void
s_write_member_credentials (void)
{
    char error[200];
    ocf_identity_t *identity = ocf_identity_load (A->node.state_dir, error, sizeof error);
    cr_assert (identity, "%s", error);
    s_write_credentials (A, identity, "member");
    ocf_identity_destroy (&identity);
}

//  curl to C's fabric listener: the HTTP status, or 0 when no answer came (curl's exit status
//  in *curl_status). scheme "http" or "https"; credentials: a name given to
//  s_write_credentials, or NULL for none.
static int
s_fabric_get (const char *scheme, const char *credentials, const char *path, int *curl_status)
{
    char options[900] = "", command[1200];
    if (credentials)
        snprintf (options, sizeof options, "--cert %s/%s.crt --key %s/%s.key", A->node.root, credentials, A->node.root,
                  credentials);
    snprintf (command, sizeof command, "curl -s -k --max-time 5 -o /dev/null -w '%%{http_code}' %s %s://127.0.0.1:%d%s",
              options, scheme, C->fabric_port, path);
    char *output = ocf_test_run (command, curl_status);
    int status = atoi (output);
    free (output);
    return status;
}

//  A chat completion for m1 through A (served by C): the HTTP status.
static long
s_chat_via_a (void)
{
    char url[128];
    snprintf (url, sizeof url, "%s/v1/chat/completions", A->url);
    fabric_response_t response = fabric_http ("POST", url, NULL, "{\"model\": \"m1\", \"messages\": []}");
    long status = response.status;
    if (status != 200)
        fprintf (stderr, "chat through A: %ld %s\n", status, response.body ? response.body : "");
    fabric_response_free (&response);
    return status;
}

Test (proxyd_tls, hops_between_hosts_go_through_the_fabric_listener)
{
    cr_assert_eq (s_chat_via_a (), 200);
    //  The hop is kept alive in A's pool: a connection to C's fabric port, which speaks TLS only.
    char command[200];
    snprintf (command, sizeof command, "ss -Htn state established '( dport = :%d )' | wc -l", C->fabric_port);
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_geq (atoi (output), 1, "no connection from A to C's fabric listener");
    free (output);
    //  A second request reuses it: no new handshake.
    cr_assert_eq (s_chat_via_a (), 200);
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_upstream_connections_total "), 1);
}

//  count streams through A at once, each of whose first token C's backend holds back, so that
//  each needs a connection of its own to C; after a first request, whose connection waits in
//  A's pool.
static void
s_streams_via_a (int count)
{
    char command[700];
    cr_assert_eq (s_chat_via_a (), 200);
    snprintf (command, sizeof command, "for i in $(seq %d); do curl -s -N --max-time 5 -o /dev/null "
              "-H 'content-type: application/json' -H 'x-test-first-token-delay-ms: 500' "
              "-d '{\"model\": \"m1\", \"stream\": true, \"messages\": []}' %s/v1/chat/completions & done; wait",
              count, A->url);
    int status;
    free (ocf_test_run (command, &status));
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_upstream_connections_total "), count);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_requests_total "), count + 1);
}

static void
s_assert_handshakes (int full, int resumed)
{
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_fabric_client_handshakes_total{session=\"full\"} "), full);
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_fabric_client_handshakes_total{session=\"resumed\"} "), resumed);
}

Test (proxyd_tls, a_new_connection_to_a_node_resumes_the_tls_session)
{
    //  One stream takes the pooled connection, the other resumes the session of the first.
    s_streams_via_a (2);
    s_assert_handshakes (1, 1);
}

//  OpenSSL resumes a TLS 1.3 session once, and each handshake leaves h2o's cache with its own
//  session, which cannot resume before its ticket arrives: a burst of new connections made
//  full handshakes after the first. Each now takes a copy of the newest ticket.
Test (proxyd_tls, a_burst_of_new_connections_to_a_node_all_resume)
{
    s_streams_via_a (20);
    s_assert_handshakes (1, 19);
}

//  The ticket keys come from the node key: a host's peers resume with it after it restarts,
//  rather than all making full handshakes with it at once.
Test (proxyd_tls, sessions_resume_across_a_restart_of_the_far_host)
{
    cr_assert_eq (s_chat_via_a (), 200);
    cr_assert_eq (ocf_test_stop (C->proxyd, SIGTERM, 5000), 0);
    fabric_start_proxyd (C);
    cr_assert_eq (s_chat_via_a (), 200);
    s_assert_handshakes (1, 1);
}

//  p2p between hosts goes over the fabric too: C's fabric listener serves its public API under
//  its own p2p route, to members only, and relays nowhere else.
Test (proxyd_tls, p2p_hops_go_through_the_fabric_listener)
{
    char url[300];
    snprintf (url, sizeof url, "%s/v1/p2p/%s/v1/models", A->url, C->id);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200, "%s", response.body);
    cr_assert (strstr (response.body, "\"m1\""), "%s", response.body);
    fabric_response_free (&response);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_requests_total "), 1);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_handshakes_total{result=\"ok\"} "), 1);
    s_write_member_credentials ();
    int curl_status;
    snprintf (url, sizeof url, "/v1/p2p/%s/v1/models", C->id);
    cr_assert_eq (s_fabric_get ("https", "member", url, &curl_status), 200);
    snprintf (url, sizeof url, "/v1/p2p/%s/v1/models", A->id);
    cr_assert_eq (s_fabric_get ("https", "member", url, &curl_status), 404);
    cr_assert_eq (s_fabric_get ("https", NULL, url, &curl_status), 0);
}

Test (proxyd_tls, a_member_reaches_backends_and_nothing_else)
{
    s_write_member_credentials ();
    int curl_status;
    cr_assert_eq (s_fabric_get ("https", "member", "/v1/_service/llm/v1/models", &curl_status), 200);
    cr_assert_eq (s_fabric_get ("https", "member", "/v1/health", &curl_status), 404);
    cr_assert_eq (s_fabric_get ("https", "member", "/v1/chat/completions", &curl_status), 404);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_handshakes_total{result=\"ok\"} "), 3);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_requests_total "), 3);
}

Test (proxyd_tls, the_fabric_listener_refuses_plain_http_no_certificate_and_strangers)
{
    int curl_status;
    cr_assert_eq (s_fabric_get ("http", NULL, "/v1/_service/llm/v1/models", &curl_status), 0);
    cr_assert_neq (curl_status, 0);
    cr_assert_eq (s_fabric_get ("https", NULL, "/v1/_service/llm/v1/models", &curl_status), 0);
    cr_assert_neq (curl_status, 0);
    ocf_identity_t *stranger = ocf_identity_new_ephemeral ();
    s_write_credentials (A, stranger, "stranger");
    ocf_identity_destroy (&stranger);
    cr_assert_eq (s_fabric_get ("https", "stranger", "/v1/_service/llm/v1/models", &curl_status), 0);
    cr_assert_neq (curl_status, 0);
    char log[400];
    snprintf (log, sizeof log, "%s/ocf-proxyd.log", C->node.root);
    char *text = ocf_test_read_file (log);
    cr_assert (strstr (text, "it is not a live member of the table"), "%s", text);
    free (text);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_handshakes_total{result=\"refused\"} "), 1);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_handshakes_total{result=\"failed\"} "), 2);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_handshakes_total{result=\"ok\"} "), 0);
}

//  Connections that never start their handshake are closed after fabric_handshake_timeout
//  (500 ms here), and an event loop runs only so many handshakes at once: the others wait in
//  the listen backlog (a member's burst of new connections is slowed, never refused), and are
//  taken, then timed out in turn, once the first ones are gone.
Test (proxyd_tls, silent_connections_are_closed_and_bounded)
{
    int fds[SILENT_CLIENTS];
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) C->fabric_port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    int64_t started = ocf_test_now_us () / 1000;
    for (int i = 0; i < SILENT_CLIENTS; i++) {
        fds[i] = socket (AF_INET, SOCK_STREAM, 0);
        cr_assert (fds[i] >= 0 && connect (fds[i], (struct sockaddr *) &address, sizeof address) == 0);
    }
    for (int i = 0; i < SILENT_CLIENTS; i++) {
        struct pollfd poll_fd = { .fd = fds[i], .events = POLLIN };
        char byte;
        cr_assert_eq (poll (&poll_fd, 1, 3000), 1, "connection %d still open after 3 s", i);
        cr_assert_leq (read (fds[i], &byte, 1), 0);
        close (fds[i]);
    }
    int64_t took = ocf_test_now_us () / 1000 - started;
    //  Taken at once, every one would go at the first timeout (500 ms); the last ones waited
    //  for a turn, then timed out in it (1,000 ms, give or take the timer's millisecond).
    cr_assert_geq (took, 750, "the last closed after %" PRId64 " ms: they did not wait their turn", took);
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_handshakes_total{result=\"timeout\"} "), SILENT_CLIENTS);
    cr_assert_geq (fabric_metric (C, "ocf_proxyd_fabric_accept_waits_total "), 1);
    //  Members still get through once the silent ones are gone.
    cr_assert_eq (s_chat_via_a (), 200);
}

//  A p2p hop is served on C's fabric listener (it names C), but the request it carries is
//  judged by C as any remote client's: C's own API keys, never local (every host here is on
//  127.0.0.1), /v1/_service refused. A's client is local to A and A has no keys.
TestSuite (proxyd_tls_access, .init = s_setup_keys, .fini = s_teardown, .timeout = 60);

static long
s_via_a (const char *method, const char *path, const char *key, const char *body)
{
    char url[300], authorization[128];
    snprintf (url, sizeof url, "%s/v1/p2p/%s%s", A->url, C->id, path);
    snprintf (authorization, sizeof authorization, "Authorization: Bearer %s", key ? key : "");
    const char *headers[] = { key ? authorization : NULL, NULL };
    fabric_response_t response = fabric_http (method, url, headers, body);
    long status = response.status;
    fabric_response_free (&response);
    return status;
}

Test (proxyd_tls_access, a_p2p_request_is_judged_by_the_far_host)
{
    cr_assert_eq (s_via_a ("GET", "/v1/models", NULL, NULL), 401);
    cr_assert_eq (s_via_a ("GET", "/v1/models", "sk-wrong", NULL), 401);
    cr_assert_eq (s_via_a ("GET", "/v1/models", "sk-good", NULL), 200);
    cr_assert_eq (s_via_a ("GET", "/v1/health", NULL, NULL), 200);
    cr_assert_eq (s_via_a ("GET", "/v1/_service/llm/v1/models", "sk-good", NULL), 403);
    cr_assert_eq (s_via_a ("POST", "/v1/dnt/_node", "sk-good", "{\"service\": []}"), 403);
    //  A member on C's fabric listener, from loopback and without X-Forwarded-For: its hops
    //  need no key, but what a p2p hop carries is neither a hop nor local.
    s_write_member_credentials ();
    int curl_status;
    char path[300];
    cr_assert_eq (s_fabric_get ("https", "member", "/v1/_service/llm/v1/models", &curl_status), 200);
    snprintf (path, sizeof path, "/v1/p2p/%s/v1/models", C->id);
    cr_assert_eq (s_fabric_get ("https", "member", path, &curl_status), 401);
    snprintf (path, sizeof path, "/v1/p2p/%s/v1/_service/llm/v1/models", C->id);
    cr_assert_eq (s_fabric_get ("https", "member", path, &curl_status), 403);
    snprintf (path, sizeof path, "/v1/p2p/%s/v1/dnt/_node", C->id);
    cr_assert_eq (s_fabric_get ("https", "member", path, &curl_status), 403);
    //  Each refusal by C's checks of the requests carried, none by the listener's.
    static const struct {
        const char *reason;
        double count;
    } rejected[] = { { "missing_key", 2 }, { "invalid_key", 1 }, { "not_fabric", 2 }, { "not_admin", 2 }, { "fabric_listener", 0 } };
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
        char sample[128];
        snprintf (sample, sizeof sample, "ocf_proxyd_auth_rejected_total{reason=\"%s\"} ", rejected[i].reason);
        cr_assert_eq (fabric_metric (C, sample), rejected[i].count, "%s", rejected[i].reason);
    }
    cr_assert_eq (fabric_metric (C, "ocf_proxyd_fabric_requests_total "), 10);
}

//  A closed cluster: both hosts read one authorized_keys file, which names A and C.
static void
s_write_authorized (const fabric_host_t *const *hosts, size_t count)
{
    FILE *file = fopen (s_keys, "w");
    cr_assert (file);
    for (size_t i = 0; i < count; i++)
        fprintf (file, "%s\n", hosts[i]->id);
    fclose (file);
}

static void
s_setup_closed (void)
{
    snprintf (s_keys, sizeof s_keys, "/tmp/ocf-tls-authorized-%d", (int) getpid ());
    char extra[160];
    snprintf (extra, sizeof extra, "[gossipd]\nauthorized_keys_file = %s\n", s_keys);
    A = fabric_host_unstarted (&s_fabric, "host-a", ocf_test_free_port (), extra);
    C = fabric_host_unstarted (&s_fabric, "host-c", ocf_test_free_port (), extra);
    fabric_start_tabled (A);
    fabric_start_tabled (C);
    const fabric_host_t *both[] = { A, C };
    s_write_authorized (both, 2);
    fabric_start_proxyd (A);
    fabric_start_proxyd (C);
    const char *m1[] = { "--model", "m1", NULL };
    fabric_service (C, "llm", fabric_backend (&s_fabric, "c1", m1), "model=m1", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (A, "m1", 1, 5000), "host A does not route m1");
}

TestSuite (proxyd_tls_closed, .init = s_setup_closed, .fini = s_teardown, .timeout = 60);

static bool
s_reloaded (void *arg)
{
    char path[400];
    snprintf (path, sizeof path, "%s/ocf-proxyd.log", C->node.root);
    char *log = ocf_test_read_file (path);
    bool reloaded = log && strstr (log, "SIGHUP: authorized keys reloaded");
    free (log);
    return reloaded;
}

Test (proxyd_tls_closed, a_host_struck_off_authorized_keys_loses_the_fabric_at_the_next_reload)
{
    cr_assert_eq (s_chat_via_a (), 200);
    s_write_member_credentials ();
    int curl_status;
    cr_assert_eq (s_fabric_get ("https", "member", "/v1/_service/llm/v1/models", &curl_status), 200);
    //  A is struck off; C reads the file again.
    const fabric_host_t *only_c[] = { C };
    s_write_authorized (only_c, 1);
    kill (C->proxyd, SIGHUP);
    cr_assert (ocf_test_wait_for (s_reloaded, NULL, 5000), "C did not reload");
    //  A's pooled connection to C, made before, serves it no more; nor does a new handshake.
    cr_assert_neq (s_chat_via_a (), 200, "A still reaches C's backend");
    cr_assert_eq (s_fabric_get ("https", "member", "/v1/_service/llm/v1/models", &curl_status), 0);
    cr_assert_geq (fabric_metric (C, "ocf_proxyd_fabric_handshakes_total{result=\"refused\"} "), 1);
}

//  Hops to other hosts stay pooled longer than connections to local backends (a handshake
//  saved on each burst after a pause): A keeps its backends' idle connections 200 ms only.
static void
s_setup_short_keepalive (void)
{
    A = fabric_host (&s_fabric, "host-a", "keepalive_timeout = 200ms\n");
    C = fabric_host (&s_fabric, "host-c", NULL);
    const char *m1[] = { "--model", "m1", NULL };
    fabric_service (C, "llm", fabric_backend (&s_fabric, "c1", m1), "model=m1", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (A, "m1", 1, 5000), "host A does not route m1");
}

TestSuite (proxyd_tls_pool, .init = s_setup_short_keepalive, .fini = s_teardown, .timeout = 60);

Test (proxyd_tls_pool, a_hop_stays_pooled_past_the_local_keepalive)
{
    cr_assert_eq (s_chat_via_a (), 200);
    usleep (600 * 1000);
    cr_assert_eq (s_chat_via_a (), 200);
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_upstream_connections_total "), 1, "the idle hop was closed");
}

/*  The Grafana dashboard (docs/grafana/ocf.json) and the Prometheus rules
    (docs/prometheus/ocf-rules.yml) against a running fabric: one host's four real daemons,
    a backend with metrics, a GPU (a fake nvidia-smi), a completion served; its /metrics page scraped, then
    tests/support/monitoring_check.py has promtool parse every rule and every dashboard
    expression and finds every metric they name on the page. The checker itself is shown to
    refuse an unknown metric and an expression that does not parse.  */
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

static ocf_test_node_t s_node;
static pid_t s_pids[4];
static int s_port;

static void
s_setup (void)
{
    zsys_init ();
    ocf_test_node_init (&s_node, "monitoring");
    int base = ocf_test_free_ports (5);
    cr_assert_gt (base, 0);
    s_port = base;
    //  A GPU host, as nvidia-smi would describe it.
    char smi[400], script[800];
    snprintf (smi, sizeof smi, "%s/nvidia-smi", s_node.root);
    snprintf (script, sizeof script, "#!/bin/sh\ncat '%s/tests/workerd/fixtures/nvidia-smi/h100-80gb-hbm3.csv'\n", OCF_SOURCE_DIR);
    FILE *file = fopen (smi, "w");
    cr_assert_not_null (file);
    fputs (script, file);
    fclose (file);
    chmod (smi, 0755);
    char config[2048];
    snprintf (config, sizeof config,
              "[node]\nname = mon-a\n"
              "[proxyd]\nlisten = 127.0.0.1:%d\nfabric_listen = 127.0.0.1:%d\n"
              "[gossipd]\nbind = 127.0.0.1:%d\nintroducer = 127.0.0.1:%d\n"
              "[workerd]\nhealth_interval = 200ms\nmetrics_interval = 200ms\nnvidia_smi = %s\n"
              "[service.llm]\ncommand = %s --listen 127.0.0.1:%d --model m1\nport = %d\n"
              "identity_group = model=m1\nmetrics_path = /metrics\n",
              base, base + 1, base + 2, base + 3, smi, ocf_test_bin ("ocf-test-backend"), base + 4, base + 4);
    ocf_test_node_config (&s_node, config);
    const char *const daemons[] = { "ocf-tabled", "ocf-gossipd", "ocf-workerd", "ocf-proxyd" };
    for (int index = 0; index < 4; index++) {
        s_pids[index] = ocf_test_start (&s_node, daemons[index], NULL, 10000);
        cr_assert_gt (s_pids[index], 0, "%s did not report READY=1", daemons[index]);
    }
}

static void
s_teardown (void)
{
    for (int index = 3; index >= 0; index--)
        if (s_pids[index] > 0)
            ocf_test_stop (s_pids[index], SIGTERM, 10000);
    ocf_test_node_cleanup (&s_node);
}

TestSuite (proxyd_monitoring, .init = s_setup, .fini = s_teardown, .timeout = 120);

static char *
s_metrics (void)
{
    char command[200];
    int status;
    snprintf (command, sizeof command, "curl -sf http://127.0.0.1:%d/metrics", s_port);
    return ocf_test_run (command, &status);
}

//  Every line of the NULL-terminated list is on the page.
static bool
s_metrics_have (void *arg)
{
    const char *const *lines = arg;
    char *page = s_metrics ();
    bool all = true;
    for (; *lines && all; lines++)
        all = strstr (page, *lines) != NULL;
    free (page);
    return all;
}

//  A sample of ocf_workerd_services_running labelled drain="drained" is on the page.
static bool
s_running_drained (void *arg)
{
    char *page = s_metrics ();
    bool found = false;
    for (char *line = strstr (page, "\nocf_workerd_services_running{"); line && !found;
         line = strstr (line + 1, "\nocf_workerd_services_running{")) {
        char *end = strchr (line + 1, '\n');
        char *label = strstr (line, "drain=\"drained\"");
        found = label && (!end || label < end);
    }
    free (page);
    return found;
}

static char *
s_check (const char *dashboard, const char *rules, const char *metrics, int *status)
{
    char command[2048];
    snprintf (command, sizeof command, "python3 '%s/tests/support/monitoring_check.py' '%s' '%s' '%s' '%s' 2>&1",
              OCF_SOURCE_DIR, dashboard, rules, metrics, s_node.root);
    return ocf_test_run (command, status);
}

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
}

//  Writes a one-panel dashboard whose only query is expr, and asserts the checker
//  rejects it with a message containing reason.
static void
s_assert_dashboard_rejected (const char *name, const char *expr, const char *rules,
                             const char *metrics, const char *reason)
{
    char path[400];
    snprintf (path, sizeof path, "%s/%s", s_node.root, name);
    char dashboard[400];
    snprintf (dashboard, sizeof dashboard, "{\"panels\": [{\"id\": 1, \"title\": \"t\", \"targets\": "
              "[{\"refId\": \"A\", \"expr\": \"%s\"}]}]}", expr);
    s_write (path, dashboard);
    int status;
    char *output = s_check (path, rules, metrics, &status);
    cr_assert_neq (status, 0, "%s", output);
    cr_assert (strstr (output, reason), "%s", output);
    free (output);
}

Test (proxyd_monitoring, dashboard_and_rules_use_exposed_metrics)
{
    //  Every daemon reports, the backend's metrics were read, the model is served.
    const char *const ready[] = {
        "\nocf_daemon_up{daemon=\"tabled\"} 1\n", "\nocf_daemon_up{daemon=\"gossipd\"} 1\n",
        "\nocf_daemon_up{daemon=\"workerd\"} 1\n", "\nocf_workerd_services_kv_cache{",
        "\nocf_workerd_gpu_utilization{index=\"0\",name=\"NVIDIA H100 80GB HBM3\","
        "uuid=\"GPU-00000000-0000-0000-0000-000000000000\"} 100\n",
        "\nocf_proxyd_model_providers{service=\"llm\",model=\"m1\"} 1\n", NULL
    };
    cr_assert (ocf_test_wait_for (s_metrics_have, (void *) ready, 20000), "the fabric did not come up");
    char command[400];
    int status;
    snprintf (command, sizeof command,
              "curl -sf -o /dev/null -w '%%{http_code}' -d '{\"model\": \"m1\", \"messages\": []}' "
              "http://127.0.0.1:%d/v1/chat/completions", s_port);
    char *code = ocf_test_run (command, &status);
    cr_assert_str_eq (code, "200");
    free (code);
    const char *const served[] = { "\nocf_proxyd_requests_total{route=\"chat_completions\",code=\"200\"} 1\n", NULL };
    cr_assert (ocf_test_wait_for (s_metrics_have, (void *) served, 5000));

    char metrics[400], dashboard[400], rules[400];
    snprintf (metrics, sizeof metrics, "%s/metrics.txt", s_node.root);
    char *page = s_metrics ();
    s_write (metrics, page);
    free (page);
    snprintf (dashboard, sizeof dashboard, "%s/docs/grafana/ocf.json", OCF_SOURCE_DIR);
    snprintf (rules, sizeof rules, "%s/docs/prometheus/ocf-rules.yml", OCF_SOURCE_DIR);
    char *output = s_check (dashboard, rules, metrics, &status);
    cr_assert_eq (status, 0, "%s", output);
    cr_assert (strstr (output, "ok: "), "%s", output);
    free (output);

    //  A drained service is labelled so, as the dashboard's drain panel selects it.
    snprintf (command, sizeof command, "'%s' -r '%s' -d workerd DRAIN", ocf_test_bin ("ocfctl"), s_node.run_dir);
    free (ocf_test_run (command, &status));
    cr_assert_eq (status, 0);
    cr_assert (ocf_test_wait_for (s_running_drained, NULL, 10000), "no drained service on /metrics");

    //  The checker fails on a metric no daemon exposes, and on PromQL that does not parse.
    s_assert_dashboard_rejected ("unknown-metric.json", "rate(ocf_tabled_no_such_metric[$__rate_interval])",
                                 rules, metrics, "ocf_tabled_no_such_metric is not exposed");
    s_assert_dashboard_rejected ("bad-promql.json", "sum(rate(ocf_tabled_rows[5m]",
                                 rules, metrics, "promtool check rules");
}

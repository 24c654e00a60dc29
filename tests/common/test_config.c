/*  The shared configuration (common/ocf_config.c): defaults, values, and errors that name
    file, line, section and key.  */
#include "ocf_config.h"

#include <criterion/criterion.h>

static ocf_config_t *
s_load (const char *text)
{
    ocf_config_t *config = ocf_config_new ();
    ocf_config_load_string (config, text, "test.conf");
    ocf_config_finish (config);
    return config;
}

Test (config, empty_file_gives_a_working_single_host_node)
{
    ocf_config_t *config = s_load ("");
    cr_assert_str_eq (ocf_config_errors (config), "");
    cr_assert_str_eq (config->node.state_dir, "/var/lib/ocf");
    cr_assert_str_eq (config->node.run_dir, "/run/ocf");
    cr_assert_str_eq (config->proxyd.listen, "0.0.0.0:8092");
    cr_assert_str_eq (config->gossipd.bind, "0.0.0.0:7946");
    cr_assert_eq (config->tabled.reap_after_ms, 3600 * 1000);
    cr_assert_eq (config->tabled.tombstone_retention_ms, 24 * 3600 * 1000);
    cr_assert_gt (strlen (config->node.name), 0, "the name defaults to the host name");
    cr_assert_gt (strlen (config->node.public_addr), 0);
    cr_assert_eq (config->service_count, 0);
    ocf_config_destroy (&config);
}

Test (config, values_of_every_type)
{
    ocf_config_t *config = s_load (
        "[node]\nname = gpu-1\nlabels = rack=b4, zone=eu\n"
        "[tabled]\nreap_after = 90s\ntombstone_retention = 2h\nmax_message = 8MiB\n"
        "[gossipd]\nphi_threshold = 9.5\nheartbeat_interval = 250ms\n"
        "[proxyd]\npolicy = round_robin\nlisten = [::1]:9000\n"
        "[service.llm]\ncommand = /usr/bin/vllm serve \"meta/llama 3\"\n  --port 8000 --dtype 'auto'\n"
        "port = 8000\nidentity_group = model=llama\nenv = HF_HOME=/data A=b\nstart_timeout = 20min\n");
    cr_assert_str_eq (ocf_config_errors (config), "");
    cr_assert_str_eq (config->node.name, "gpu-1");
    cr_assert_eq (config->tabled.reap_after_ms, 90000);
    cr_assert_eq (config->tabled.tombstone_retention_ms, 7200000);
    cr_assert_eq (config->tabled.max_message, 8 * 1024 * 1024);
    cr_assert_float_eq (config->gossipd.phi_threshold, 9.5, 1e-9);
    cr_assert_eq (config->gossipd.heartbeat_interval_ms, 250);
    cr_assert_str_eq (config->proxyd.policy, "round_robin");
    ocf_service_config_t *service = ocf_config_service (config, "llm");
    cr_assert_not_null (service);
    cr_assert_eq (service->port, 8000);
    cr_assert_eq (service->start_timeout_ms, 20 * 60000);
    char error[128];
    char **argv = ocf_config_split_argv (service->command, error, sizeof error);
    cr_assert_not_null (argv, "%s", error);
    cr_assert_str_eq (argv[0], "/usr/bin/vllm");
    cr_assert_str_eq (argv[2], "meta/llama 3");
    cr_assert_str_eq (argv[3], "--port", "a continuation line appends to the command");
    cr_assert_str_eq (argv[6], "auto");
    cr_assert_null (argv[7]);
    ocf_config_argv_free (&argv);
    ocf_config_destroy (&config);
}

Test (config, errors_name_file_line_section_and_key)
{
    ocf_config_t *config = s_load (
        "[node]\n"                                  //  1
        "name = a\n"                                //  2
        "nmae = b\n"                                //  3: unknown key
        "[tabled]\n"                                //  4
        "reap_after = soon\n"                       //  5: bad duration
        "batch_max = 0\n"                           //  6: out of range
        "[proxyd]\n"                                //  7
        "policy = fastest\n"                        //  8: not an enum value
        "listen = 8092\n"                           //  9: not host:port
        "[bogus]\n"                                 // 10: unknown section
        "x = 1\n"                                   // 11
        "[node]\n"                                  // 12
        "name = c\n"                                // 13: given twice
        "[service.llm]\n"                           // 14: no port
        "command = 'unterminated\n");               // 15
    const char *errors = ocf_config_errors (config);
    cr_assert (strstr (errors, "test.conf:3: [node] nmae: unknown key"), "%s", errors);
    cr_assert (strstr (errors, "test.conf:5: [tabled] reap_after: 'soon' is not a duration"), "%s", errors);
    cr_assert (strstr (errors, "test.conf:6: [tabled] batch_max: '0' is out of range"), "%s", errors);
    cr_assert (strstr (errors, "test.conf:8: [proxyd] policy: 'fastest' is not one of p2c|round_robin|random|local_first"), "%s", errors);
    cr_assert (strstr (errors, "test.conf:9: [proxyd] listen: '8092' is not host:port"), "%s", errors);
    cr_assert (strstr (errors, "test.conf:11: unknown section [bogus]"), "%s", errors);
    cr_assert (strstr (errors, "test.conf:13: [node] name: given twice (first on line 2)"), "%s", errors);
    cr_assert (strstr (errors, "[service.llm] port: missing"), "%s", errors);
    cr_assert (strstr (errors, "[service.llm] command: unterminated ' quote"), "%s", errors);
    ocf_config_destroy (&config);
}

Test (config, overlong_lines_are_refused_not_misread)
{
    char text[600] = "[node]\nname = ";
    memset (text + strlen (text), 'x', 400);
    strcat (text, "\nrun_dir = /tmp/ok\n");
    ocf_config_t *config = s_load (text);
    cr_assert (strstr (ocf_config_errors (config), "test.conf:2: line is longer than"), "%s", ocf_config_errors (config));
    cr_assert_str_eq (config->node.run_dir, "/tmp/ok", "the next line is still read as itself");
    ocf_config_destroy (&config);
}

Test (config, set_overrides_and_reports_bad_assignments)
{
    ocf_config_t *config = s_load ("[proxyd]\nlisten = 0.0.0.0:8092\n");
    cr_assert_eq (ocf_config_set (config, "proxyd.listen=127.0.0.1:9999"), 0);
    cr_assert_str_eq (config->proxyd.listen, "127.0.0.1:9999");
    cr_assert_eq (ocf_config_set (config, "service.llm.port=8001"), 0);
    cr_assert_eq (ocf_config_service (config, "llm")->port, 8001);
    cr_assert_eq (ocf_config_set (config, "proxyd.retries=lots"), 1);
    cr_assert_eq (ocf_config_set (config, "nodot=1"), 1);
    cr_assert_eq (ocf_config_set (config, "node.nokey=1"), 1);
    const char *errors = ocf_config_errors (config);
    cr_assert (strstr (errors, "--set proxyd.retries=lots: [proxyd] retries: 'lots' is not an integer"), "%s", errors);
    cr_assert (strstr (errors, "--set nodot=1: expected section.key=value"), "%s", errors);
    cr_assert (strstr (errors, "--set node.nokey=1: [node] nokey: unknown key"), "%s", errors);
    ocf_config_destroy (&config);
}

Test (config, durations_sizes_and_addresses)
{
    int64_t value;
    cr_assert_eq (ocf_config_parse_duration ("500ms", &value), 0);
    cr_assert_eq (value, 500);
    cr_assert_eq (ocf_config_parse_duration ("1.5s", &value), 0);
    cr_assert_eq (value, 1500);
    cr_assert_eq (ocf_config_parse_duration ("2", &value), 0, "a bare number is seconds");
    cr_assert_eq (value, 2000);
    cr_assert_eq (ocf_config_parse_duration ("1d", &value), 0);
    cr_assert_eq (value, 86400000);
    cr_assert_eq (ocf_config_parse_duration ("-1s", &value), -1);
    cr_assert_eq (ocf_config_parse_duration ("5 parsecs", &value), -1);
    cr_assert_eq (ocf_config_parse_size ("64KiB", &value), 0);
    cr_assert_eq (value, 65536);
    cr_assert_eq (ocf_config_parse_size ("1GB", &value), 0);
    cr_assert_eq (value, 1000000000);
    char host[64];
    int port;
    cr_assert_eq (ocf_config_parse_hostport ("[::1]:8092", host, sizeof host, &port), 0);
    cr_assert_str_eq (host, "::1");
    cr_assert_eq (port, 8092);
    cr_assert_eq (ocf_config_parse_hostport ("::1:8092", host, sizeof host, &port), -1, "IPv6 needs brackets");
    cr_assert_eq (ocf_config_parse_hostport ("host:0", host, sizeof host, &port), -1);
}

//  docs/configuration.md documents every key of the schema, in its section.
Test (config, every_key_is_documented)
{
    char *reference = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&reference, &size);
    ocf_config_print_reference (out);
    fclose (out);
    FILE *file = fopen (OCF_SOURCE_DIR "/docs/configuration.md", "r");
    cr_assert_not_null (file, "docs/configuration.md is missing");
    char *docs = calloc (1, 1 << 20);
    size_t got = fread (docs, 1, (1 << 20) - 1, file);
    docs[got] = '\0';
    fclose (file);
    char section[64] = "";
    for (char *line = strtok (reference, "\n"); line; line = strtok (NULL, "\n")) {
        if (line[0] == '[') {
            char heading[80];
            snprintf (heading, sizeof heading, "## %s", line);
            cr_assert (strstr (docs, heading), "docs/configuration.md lacks the heading \"%s\"", heading);
            snprintf (section, sizeof section, "%s", heading);
            continue;
        }
        char key[64];
        if (line[0] != ' ' || line[2] == ' ' || sscanf (line, " %63s", key) != 1)
            continue;
        char cell[80];
        snprintf (cell, sizeof cell, "| `%s` |", key);
        const char *after = strstr (docs, section);
        const char *next = strstr (after + 3, "\n## ");
        const char *found = strstr (after, cell);
        cr_assert (found && (!next || found < next), "docs/configuration.md lacks %s in %s", cell, section);
    }
    free (docs);
    free (reference);
}

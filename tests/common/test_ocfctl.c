/*  ocfctl for people, against two real ocf-tabled over their real sockets: host A's table holds
    its own row and host B's (copied by MERGE, as gossip would), B marked suspect there. Each
    command's columns are parsed and checked against tabled's LIST, its --json against its
    columns; exit statuses for an unreachable daemon, bad usage and ERR; `events -f` shows
    changes made after it started and stops on Ctrl-C.  */
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <sys/wait.h>

static ocf_test_node_t s_a, s_b;
static pid_t s_tabled_a, s_tabled_b;
static json_t *s_rows;               //  A's LIST (all rows), after the setup

static json_t *
s_call (ocf_test_node_t *node, const char *verb, json_t *body)
{
    bool ok;
    json_t *reply = ocf_test_call (node, "tabled", verb, body, &ok);
    cr_assert (reply && ok, "%s: %s", verb, reply ? json_string_value (json_object_get (reply, "error")) : "no reply");
    return reply;
}

static void
s_service_up (ocf_test_node_t *node, const char *service)
{
    json_decref (s_call (node, "SERVICE.UP", json_pack ("{s:o}", "service", json_loads (service, 0, NULL))));
}

static void
s_setup (void)
{
    zsys_init ();
    ocf_test_node_init (&s_a, "ctl-a");
    ocf_test_node_init (&s_b, "ctl-b");
    ocf_test_node_config (&s_a, "[node]\nname = ctl-a\n[gossipd]\nbind = 127.0.0.1:17801\n");
    ocf_test_node_config (&s_b, "[node]\nname = ctl-b\n[gossipd]\nbind = 127.0.0.1:17802\n");
    s_tabled_a = ocf_test_start (&s_a, "ocf-tabled", NULL, 5000);
    s_tabled_b = ocf_test_start (&s_b, "ocf-tabled", NULL, 5000);
    cr_assert (s_tabled_a > 0 && s_tabled_b > 0, "ocf-tabled did not report READY=1");
    s_service_up (&s_a, "{\"name\": \"llm\", \"identity_group\": [\"model=m1\", \"model=m2\"], \"status\": \"ready\","
                        " \"host\": \"127.0.0.1\", \"port\": 9001, \"load\": {\"inflight\": 2, \"max_inflight\": 8}}");
    s_service_up (&s_a, "{\"name\": \"emb\", \"identity_group\": [\"model=e1\"], \"status\": \"ready\","
                        " \"host\": \"127.0.0.1\", \"port\": 9002}");
    s_service_up (&s_b, "{\"name\": \"llm\", \"identity_group\": [\"model=m1\"], \"status\": \"starting\","
                        " \"host\": \"10.0.0.2\", \"port\": 9001}");
    json_t *page = s_call (&s_b, "LIST", NULL);
    json_t *b = json_array_get (json_object_get (page, "rows"), 0);
    json_t *merge = json_pack ("{s:[O],s:[{s:O,s:O,s:i,s:s}]}", "rows", b, "members", "id", json_object_get (b, "id"),
                               "generation", json_object_get (b, "generation"), "incarnation", 0, "status", "suspect");
    json_decref (s_call (&s_a, "MERGE", merge));
    //  A's gossipd would have measured B: 12.46 ms.
    json_decref (s_call (&s_a, "RTT", json_pack ("{s:{s:f}}", "rtt", json_string_value (json_object_get (b, "id")), 12.46)));
    json_decref (page);
    page = s_call (&s_a, "LIST", NULL);
    s_rows = json_incref (json_object_get (page, "rows"));
    json_decref (page);
    cr_assert_eq (json_array_size (s_rows), 2);
}

static void
s_teardown (void)
{
    json_decref (s_rows);
    ocf_test_stop (s_tabled_a, SIGTERM, 5000);
    ocf_test_stop (s_tabled_b, SIGTERM, 5000);
    ocf_test_node_cleanup (&s_a);
    ocf_test_node_cleanup (&s_b);
}

TestSuite (ocfctl, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  Runs ocfctl with these arguments against a run_dir; returns stdout, the status into *status.
static char *
s_ocfctl (const char *run_dir, const char *arguments, int *status)
{
    char command[1024];
    snprintf (command, sizeof command, "'%s' -r '%s' %s 2>/dev/null", ocf_test_bin ("ocfctl"), run_dir, arguments);
    return ocf_test_run (command, status);
}

//  A table printed by ocfctl: lines of cells separated by two spaces or more (json: array of
//  arrays of strings, the header first).
static json_t *
s_parse_columns (const char *text)
{
    json_t *lines = json_array ();
    char *copy = strdup (text), *saveptr = NULL;
    for (char *line = strtok_r (copy, "\n", &saveptr); line; line = strtok_r (NULL, "\n", &saveptr)) {
        json_t *cells = json_array ();
        char *cell = line;
        while (*cell) {
            char *end = strstr (cell, "  ");
            size_t len = end ? (size_t) (end - cell) : strlen (cell);
            json_array_append_new (cells, json_stringn (cell, len));
            cell += len;
            while (*cell == ' ')
                cell++;
        }
        json_array_append_new (lines, cells);
    }
    free (copy);
    return lines;
}

//  The line whose first two cells are these (NULL when none).
static json_t *
s_line (json_t *lines, const char *first, const char *second)
{
    json_t *line;
    size_t index;
    json_array_foreach (lines, index, line)
        if (strcmp (json_string_value (json_array_get (line, 0)), first) == 0
        &&  strcmp (json_string_value (json_array_get (line, 1)), second) == 0)
            return line;
    return NULL;
}

static void
s_assert_header (json_t *lines, const char *const *headers)
{
    json_t *header = json_array_get (lines, 0);
    size_t count = 0;
    for (; headers[count]; count++)
        cr_assert_str_eq (json_string_value (json_array_get (header, count)), headers[count]);
    cr_assert_eq (json_array_size (header), count);
    json_t *line;
    size_t index;
    json_array_foreach (lines, index, line)
        cr_assert_eq (json_array_size (line), count, "line %zu has %zu cells", index, json_array_size (line));
}

static void
s_assert_cell (json_t *line, size_t column, const char *expected)
{
    cr_assert_not_null (line);
    cr_assert_str_eq (json_string_value (json_array_get (line, column)), expected, "column %zu", column);
}

//  How a JSON value reads in a column, written here again rather than taken from ocfctl.
//  The cells of a line from column first on, one per entry of the NULL-terminated expected.
static void
s_assert_cells (json_t *line, size_t first, const char *const *expected)
{
    for (size_t index = 0; expected[index]; index++)
        s_assert_cell (line, first + index, expected[index]);
}

static void
s_text_of (json_t *value, char *text, size_t size)
{
    if (json_is_string (value))
        snprintf (text, size, "%s", json_string_value (value));
    else
    if (json_is_integer (value))
        snprintf (text, size, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
    else
    if (json_is_real (value))
        snprintf (text, size, "%.1f", json_real_value (value));
    else
    if (json_is_array (value) && json_array_size (value)) {
        text[0] = '\0';
        json_t *item;
        size_t index;
        json_array_foreach (value, index, item) {
            char part[256];
            s_text_of (item, part, sizeof part);
            snprintf (text + strlen (text), size - strlen (text), "%s%s", index ? "," : "", part);
        }
    }
    else
        snprintf (text, size, "-");
}

//  --json says what the columns say: the same objects, in the same order, key by key.
static void
s_assert_json_matches (const char *command, json_t *lines, const char *const *keys)
{
    int status;
    char arguments[128];
    snprintf (arguments, sizeof arguments, "%s --json", command);
    char *output = s_ocfctl (s_a.run_dir, arguments, &status);
    cr_assert_eq (status, 0);
    json_error_t error;
    json_t *objects = json_loads (output, 0, &error);
    cr_assert (json_is_array (objects), "%s --json: %s: %s", command, error.text, output);
    cr_assert_eq (json_array_size (objects) + 1, json_array_size (lines), "%s: as many objects as lines", command);
    json_t *object;
    size_t index;
    json_array_foreach (objects, index, object)
        for (size_t column = 0; keys[column]; column++) {
            char text[1024];
            s_text_of (json_object_get (object, keys[column]), text, sizeof text);
            s_assert_cell (json_array_get (lines, index + 1), column, text);
        }
    json_decref (objects);
    free (output);
}

//  The table a view command prints on A, checked for its exit status, header and number of lines.
static json_t *
s_view_lines (const char *command, const char *const *headers, size_t line_count)
{
    int status;
    char *output = s_ocfctl (s_a.run_dir, command, &status);
    cr_assert_eq (status, 0, "%s", output);
    json_t *lines = s_parse_columns (output);
    s_assert_header (lines, headers);
    cr_assert_eq (json_array_size (lines), line_count, "%s", output);
    free (output);
    return lines;
}

static json_t *
s_row_named (const char *name)
{
    json_t *row;
    size_t index;
    json_array_foreach (s_rows, index, row)
        if (strcmp (json_string_value (json_object_get (row, "name")), name) == 0)
            return row;
    cr_assert_fail ("no row named %s", name);
    return NULL;
}

Test (ocfctl, members)
{
    const char *const headers[] = { "NAME", "ID", "ADDRESS", "STATUS", "GENERATION", "SERVICES", "RTT", NULL };
    json_t *lines = s_view_lines ("members", headers, 3);
    const char *const names[] = { "ctl-a", "ctl-b" }, *const addresses[] = { "127.0.0.1:17801", "127.0.0.1:17802" };
    const char *const statuses[] = { "alive", "suspect" }, *const services[] = { "llm,emb", "llm" };
    const char *const rtts[] = { "-", "12.5" };          //  A itself: never measured
    for (size_t host = 0; host < 2; host++) {
        json_t *row = s_row_named (names[host]), *line = json_array_get (lines, host + 1);
        char generation[32];
        snprintf (generation, sizeof generation, "%" JSON_INTEGER_FORMAT, json_integer_value (json_object_get (row, "generation")));
        s_assert_cells (line, 0, (const char *const[]) { names[host], json_string_value (json_object_get (row, "id")),
                                                         addresses[host], statuses[host], generation, services[host], rtts[host], NULL });
    }
    const char *const keys[] = { "name", "id", "address", "status", "generation", "services", "rtt_ms", NULL };
    s_assert_json_matches ("members", lines, keys);
    json_decref (lines);
}

Test (ocfctl, models)
{
    const char *const headers[] = { "MODEL", "SERVICE", "READY", "PROVIDERS", "HOSTS", NULL };
    json_t *lines = s_view_lines ("models", headers, 4);
    //  m1 is served by both hosts, ready on A only (B's backend is starting).
    json_t *m1 = s_line (lines, "m1", "llm"), *m2 = s_line (lines, "m2", "llm"), *e1 = s_line (lines, "e1", "emb");
    s_assert_cells (m1, 2, (const char *const[]) { "1", "2", "ctl-a,ctl-b", NULL });
    s_assert_cells (m2, 2, (const char *const[]) { "1", "1", "ctl-a", NULL });
    s_assert_cell (e1, 4, "ctl-a");
    const char *const keys[] = { "model", "service", "ready", "providers", "hosts", NULL };
    s_assert_json_matches ("models", lines, keys);
    json_decref (lines);
}

Test (ocfctl, services)
{
    const char *const headers[] = { "HOST", "SERVICE", "STATUS", "ENDPOINT", "INFLIGHT", "MAX", "IDENTITY", NULL };
    json_t *lines = s_view_lines ("services", headers, 4);
    json_t *llm = s_line (lines, "ctl-a", "llm"), *emb = s_line (lines, "ctl-a", "emb"), *b = s_line (lines, "ctl-b", "llm");
    s_assert_cells (llm, 2, (const char *const[]) { "ready", "127.0.0.1:9001", "2", "8", "model=m1,model=m2", NULL });
    s_assert_cell (emb, 4, "-");
    s_assert_cells (b, 2, (const char *const[]) { "starting", "10.0.0.2:9001", NULL });
    const char *const keys[] = { "host", "service", "status", "endpoint", "inflight", "max_inflight", "identity_group", NULL };
    s_assert_json_matches ("services", lines, keys);
    json_decref (lines);
}

Test (ocfctl, exit_statuses)
{
    //  The JSON verbs as before: OK is 0, ERR 1 (its body printed), a bad body 2.
    int status;
    char *output = s_ocfctl (s_a.run_dir, "HELLO", &status);
    cr_assert_eq (status, 0);
    json_t *hello = json_loads (output, 0, NULL);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "name")), "ctl-a");
    json_decref (hello);
    free (output);
    output = s_ocfctl (s_a.run_dir, "NO.SUCH.VERB", &status);
    cr_assert_eq (status, 1);
    cr_assert (strstr (output, "\"error\""), "%s", output);
    free (output);
    free (s_ocfctl (s_a.run_dir, "LIST '{\"live\": '", &status));
    cr_assert_eq (status, 2);
    //  Usage errors of the commands.
    const char *const usage[] = { "members extra", "models --bogus", "events", "-d gossipd services", "", NULL };
    for (size_t index = 0; usage[index]; index++) {
        free (s_ocfctl (s_a.run_dir, usage[index], &status));
        cr_assert_eq (status, 2, "'%s' exits %d", usage[index], status);
    }
    //  No daemon there: 3, for every command.
    char empty[400];
    snprintf (empty, sizeof empty, "%s/nothing-runs-here", s_a.root);
    const char *const unreachable[] = { "members", "models --json", "services", "events -f", "HELLO", NULL };
    for (size_t index = 0; unreachable[index]; index++) {
        char arguments[128];
        snprintf (arguments, sizeof arguments, "-t 300 %s", unreachable[index]);
        output = s_ocfctl (empty, arguments, &status);
        cr_assert_eq (status, 3, "'%s' exits %d", unreachable[index], status);
        cr_assert_str_eq (output, "", "nothing on stdout: %s", output);
        free (output);
    }
}

static const char *s_log_path;

static bool
s_log_has (void *text)
{
    char *log = ocf_test_read_file (s_log_path);
    bool found = log && strstr (log, text);
    free (log);
    return found;
}

//  Starts `ocfctl events -f` (plus arguments) into log and waits until it follows.
static pid_t
s_follow (const char *log, const char *extra)
{
    const char *argv[] = { ocf_test_bin ("ocfctl"), "-r", s_a.run_dir, "events", "-f", extra, NULL };
    pid_t pid = ocf_test_exec (argv, log, NULL);
    s_log_path = log;
    cr_assert (ocf_test_wait_for (s_log_has, "Ctrl-C stops", 5000), "ocfctl did not start following");
    return pid;
}

static void
s_mark (const char *name, const char *status)
{
    json_t *row = s_row_named (name);
    json_decref (s_call (&s_a, "MERGE", json_pack ("{s:[{s:O,s:O,s:i,s:s}]}", "members", "id", json_object_get (row, "id"),
                                                   "generation", json_object_get (row, "generation"), "incarnation", 0,
                                                   "status", status)));
}

Test (ocfctl, events_follow)
{
    char log[400];
    snprintf (log, sizeof log, "%s/events.log", s_a.root);
    pid_t pid = s_follow (log, NULL);
    //  Changes made after it started: B declared dead, A's own record changed; between them
    //  B heard from, which changes nothing in the table (a `seen` event, not shown).
    s_mark ("ctl-b", "dead");
    json_decref (s_call (&s_a, "SEEN", json_pack ("{s:[O]}", "ids", json_object_get (s_row_named ("ctl-b"), "id"))));
    json_decref (s_call (&s_a, "SERVICE.DOWN", json_pack ("{s:s}", "name", "emb")));
    cr_assert (ocf_test_wait_for (s_log_has, "services llm(ready)", 5000), "no row event");
    int status = ocf_test_stop (pid, SIGINT, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "Ctrl-C: exit status 0 (wait status %d)", status);
    char *text = ocf_test_read_file (log);
    json_t *lines = s_parse_columns (strstr (text, "TIME"));
    const char *const headers[] = { "TIME", "SEQ", "TOPIC", "SOURCE", "NAME", "STATUS", "CHANGE", NULL };
    s_assert_header (lines, headers);
    cr_assert_eq (json_array_size (lines), 3, "two events, the seen one not shown: %s", text);
    //  A status event names the node from the table, though it carries only the id.
    s_assert_cell (json_array_get (lines, 1), 2, "status");
    s_assert_cell (json_array_get (lines, 1), 3, "merge");
    s_assert_cell (json_array_get (lines, 1), 4, "ctl-b");
    s_assert_cell (json_array_get (lines, 1), 5, "dead");
    s_assert_cell (json_array_get (lines, 2), 2, "row");
    s_assert_cell (json_array_get (lines, 2), 3, "self");
    s_assert_cell (json_array_get (lines, 2), 4, "ctl-a");
    cr_assert (strstr (json_string_value (json_array_get (json_array_get (lines, 2), 6)), "services llm(ready)"));
    json_decref (lines);
    free (text);

    //  --json: one event a line, as tabled published it, with its topic.
    snprintf (log, sizeof log, "%s/events-json.log", s_a.root);
    pid = s_follow (log, "--json");
    s_mark ("ctl-b", "left");
    cr_assert (ocf_test_wait_for (s_log_has, "\"left\"", 5000), "no status event");
    cr_assert_eq (ocf_test_stop (pid, SIGTERM, 5000), 0);
    text = ocf_test_read_file (log);
    char *line = strchr (text, '\n') + 1;
    json_error_t error;
    json_t *event = json_loads (line, JSON_DISABLE_EOF_CHECK, &error);
    cr_assert_not_null (event, "%s: %s", error.text, line);
    cr_assert_str_eq (json_string_value (json_object_get (event, "topic")), "status");
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (event, "member"), "status")), "left");
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (event, "member"), "id")),
                      json_string_value (json_object_get (s_row_named ("ctl-b"), "id")));
    json_decref (event);
    free (text);
}

//  Completes the words (the last one being completed) with common/ocfctl.bash in plain bash.
static char *
s_complete (const char *words)
{
    char command[1024];
    int status;
    snprintf (command, sizeof command, "bash -c 'source %s/common/ocfctl.bash; COMP_WORDS=(%s); "
              "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _ocfctl; echo \"${COMPREPLY[*]}\"'", OCF_SOURCE_DIR, words);
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "%s", output);
    return output;
}

Test (ocfctl_files, bash_completion_and_man_page)
{
    const char *const cases[][2] = {
        { "ocfctl \"\"", "members models services events drain undrain HELLO GET LIST" },
        { "ocfctl drain --", "--no-wait --stop --json\n" },
        { "ocfctl mo", "models\n" },
        { "ocfctl -r /run/ocf ev", "events\n" },
        { "ocfctl events --", "--follow --json\n" },
        { "ocfctl members --", "--json\n" },
        { "ocfctl -d gossipd \"\"", "HELLO STATS\n" },
        { "ocfctl -d workerd \"\"", "HELLO STATS DRAIN UNDRAIN STOP\n" },
        { "ocfctl --d", "--daemon\n" },
        { "ocfctl -d w", "workerd\n" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char *output = s_complete (cases[index][0]);
        cr_assert (strncmp (output, cases[index][1], strlen (cases[index][1])) == 0, "%s: %s", cases[index][0], output);
        free (output);
    }
    //  The man page formats without a warning.
    char command[512];
    int status;
    snprintf (command, sizeof command, "groff -man -ww -z -Tutf8 '%s/docs/ocfctl.1' 2>&1", OCF_SOURCE_DIR);
    char *output = ocf_test_run (command, &status);
    cr_assert (status == 0 && output[0] == '\0', "%s", output);
    free (output);
}

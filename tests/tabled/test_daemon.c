/*  The real ocf-tabled over its real ipc sockets.  */
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>

static ocf_test_node_t s_node;
static pid_t s_pid;

static void
s_setup (void)
{
    ocf_test_node_init (&s_node, "tabled");
    s_pid = ocf_test_start (&s_node, "ocf-tabled", NULL, 5000);
    cr_assert_gt (s_pid, 0, "ocf-tabled did not report READY=1");
}

static void
s_teardown (void)
{
    ocf_test_stop (s_pid, SIGTERM, 5000);
    ocf_test_node_cleanup (&s_node);
}

TestSuite (tabled_daemon, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (tabled_daemon, hello_names_this_node)
{
    bool ok;
    json_t *reply = ocf_test_call (&s_node, "tabled", "HELLO", NULL, &ok);
    cr_assert (ok);
    cr_assert_eq (strlen (json_string_value (json_object_get (reply, "id"))), 40);
    json_decref (reply);
}

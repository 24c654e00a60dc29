/*  The local message codec (common/ocf_msg.c) and sd_notify (common/ocf_sdnotify.c).  */
#include "ocf_msg.h"
#include "ocf_sdnotify.h"

#include <criterion/criterion.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
s_decode (const char *verb, const char *body, char *error)
{
    ocf_msg_t msg;
    int rc = ocf_msg_decode (&msg, verb, strlen (verb), body, strlen (body), 64, error, 256);
    ocf_msg_clear (&msg);
    return rc;
}

Test (msg, round_trip_carries_the_version)
{
    zmsg_t *zmsg = zmsg_new ();
    ocf_msg_append (zmsg, "SERVICE.UP", json_pack ("{s:s}", "name", "llm"));
    cr_assert_eq (zmsg_size (zmsg), 2);
    cr_assert (zframe_streq (zmsg_first (zmsg), "SERVICE.UP"));
    ocf_msg_t msg;
    char error[256];
    cr_assert_eq (ocf_msg_decode_zmsg (&msg, zmsg, 4096, error, sizeof error), 0, "%s", error);
    cr_assert_str_eq (msg.verb, "SERVICE.UP");
    cr_assert_eq (json_integer_value (json_object_get (msg.body, "v")), OCF_PROTOCOL_VERSION);
    cr_assert_str_eq (json_string_value (json_object_get (msg.body, "name")), "llm");
    ocf_msg_clear (&msg);
    zmsg_destroy (&zmsg);
}

Test (msg, malformed_messages_are_refused_with_a_reason)
{
    char error[256];
    cr_assert_eq (s_decode ("", "{\"v\":1}", error), -1);
    cr_assert (strstr (error, "malformed verb"), "%s", error);
    cr_assert_eq (s_decode ("GET ME", "{\"v\":1}", error), -1);
    cr_assert (strstr (error, "malformed verb"), "%s", error);
    cr_assert_eq (s_decode ("GET", "{\"v\":1", error), -1);
    cr_assert (strstr (error, "GET: body is not valid JSON"), "%s", error);
    cr_assert_eq (s_decode ("GET", "[1]", error), -1);
    cr_assert (strstr (error, "body must be a JSON object"), "%s", error);
    cr_assert_eq (s_decode ("GET", "{}", error), -1);
    cr_assert (strstr (error, "lacks the protocol version"), "%s", error);
    cr_assert_eq (s_decode ("GET", "{\"v\":2}", error), -1);
    cr_assert (strstr (error, "protocol version 2 is not supported"), "%s", error);
    cr_assert_eq (s_decode ("GET", "{\"v\":1,\"a\":1,\"a\":2}", error), -1, "duplicate keys are ambiguous");
    cr_assert_eq (s_decode ("GET", "{\"v\":1,\"padding\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}", error), -1);
    cr_assert (strstr (error, "exceeds the limit of 64"), "%s", error);
    zmsg_t *three = zmsg_new ();
    zmsg_addstr (three, "GET");
    zmsg_addstr (three, "{\"v\":1}");
    zmsg_addstr (three, "extra");
    ocf_msg_t msg;
    cr_assert_eq (ocf_msg_decode_zmsg (&msg, three, 4096, error, sizeof error), -1);
    cr_assert (strstr (error, "expected 2 frames"), "%s", error);
    zmsg_destroy (&three);
}

Test (sdnotify, sends_datagrams_to_the_notify_socket)
{
    char path[] = "/tmp/ocf-test-notify-XXXXXX";
    int temp = mkstemp (path);
    close (temp);
    unlink (path);
    int fd = socket (AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy (addr.sun_path, path);
    cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    setenv ("NOTIFY_SOCKET", path, 1);
    cr_assert_eq (ocf_sdnotify ("READY=1"), 0);
    cr_assert_eq (ocf_sdnotify_status ("serving %d rows", 3), 0);
    char buffer[256];
    ssize_t got = recv (fd, buffer, sizeof buffer - 1, 0);
    buffer[got] = '\0';
    cr_assert_str_eq (buffer, "READY=1");
    got = recv (fd, buffer, sizeof buffer - 1, 0);
    buffer[got] = '\0';
    cr_assert_str_eq (buffer, "STATUS=serving 3 rows");
    setenv ("WATCHDOG_USEC", "6000000", 1);
    unsetenv ("WATCHDOG_PID");
    cr_assert_eq (ocf_sdnotify_watchdog_interval_ms (), 3000, "pings at half the watchdog period");
    setenv ("WATCHDOG_PID", "1", 1);
    cr_assert_eq (ocf_sdnotify_watchdog_interval_ms (), 0, "the watchdog is for another process");
    unsetenv ("NOTIFY_SOCKET");
    cr_assert_eq (ocf_sdnotify ("READY=1"), 0, "no notify socket: nothing to do");
    close (fd);
    unlink (path);
}

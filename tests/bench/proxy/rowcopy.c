/*  rowcopy: gives one tabled the rows another holds, byte for byte, as gossip would.
    Rows are signed over their record's text, so they must travel unchanged: ocfctl prints
    its replies reindented with sorted keys, and what it printed would no longer verify. This
    sends LIST to the first tabled and the reply's text, as it came, as MERGE to the second.
    Build: cc -O2 -o rowcopy tests/bench/proxy/rowcopy.c -lczmq -lzmq
    Usage: rowcopy FROM_RUN_DIR TO_RUN_DIR  */
#include <czmq.h>

static char *
s_call (const char *run_dir, const char *verb, const char *body, size_t size, size_t *reply_size)
{
    char endpoint[4200];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/tabled.api", run_dir);
    zsock_t *client = zsock_new_dealer (endpoint);
    zsock_set_rcvtimeo (client, 5000);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, verb);
    zmsg_addmem (msg, body, size);
    zmsg_send (&msg, client);
    zmsg_t *reply = zmsg_recv (client);
    zsock_destroy (&client);
    if (!reply || !zframe_streq (zmsg_first (reply), "OK")) {
        char *text = reply ? zframe_strdup (zmsg_last (reply)) : NULL;
        fprintf (stderr, "rowcopy: %s to %s failed: %s\n", verb, run_dir, text ? text : "no reply");
        exit (1);
    }
    zframe_t *last = zmsg_last (reply);
    *reply_size = zframe_size (last);
    char *text = malloc (*reply_size + 1);
    memcpy (text, zframe_data (last), *reply_size);
    text[*reply_size] = 0;
    zmsg_destroy (&reply);
    return text;
}

int
main (int argc, char *argv[])
{
    if (argc != 3) {
        fprintf (stderr, "usage: rowcopy FROM_RUN_DIR TO_RUN_DIR\n");
        return 2;
    }
    zsys_init ();
    static const char list[] = "{\"limit\":10000,\"v\":1}";
    size_t size;
    char *rows = s_call (argv[1], "LIST", list, sizeof list - 1, &size);
    char *result = s_call (argv[2], "MERGE", rows, size, &size);
    if (!strstr (result, "\"refused\":0")) {
        fprintf (stderr, "rowcopy: rows refused: %s\n", result);
        return 1;
    }
    free (rows);
    free (result);
    return 0;
}

/*  ocfctl: sends one request to a local daemon's API and prints the reply as JSON.
    For operators and scripts:  ocfctl LIST '{"live":true}'  ·  ocfctl -d gossipd STATS  */
#include "ocf_client.h"
#include "ocf_config.h"

#include <czmq.h>
#include <getopt.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: ocfctl [-c FILE] [-r RUN_DIR] [-d DAEMON] [-t MS] VERB [JSON]\n"
        "Sends VERB with the JSON body (default {}) to a local daemon and prints the reply.\n\n"
        "  -c, --config FILE   configuration file, for [node] run_dir (default %s)\n"
        "  -r, --run-dir DIR   run directory, instead of the configuration's\n"
        "  -d, --daemon NAME   tabled (default), gossipd, proxyd or workerd\n"
        "  -t, --timeout MS    how long to wait for the reply (default 5000)\n"
        "  -h, --help          print this help\n\n"
        "Exit status: 0 on OK, 1 on ERR, 2 on a usage error, 3 when no reply came.\n"
        "Verbs of tabled: HELLO GET LIST PROVIDERS SNAPSHOT DIGEST DELTA STATS SELF.SET\n"
        "SERVICE.UP SERVICE.DOWN SERVICE.LOAD MERGE SEEN LEAVE SELF.RENEW (docs/protocol.md).\n"
        "Verbs of workerd: HELLO STATS DRAIN UNDRAIN, e.g. ocfctl -d workerd -t 600000 DRAIN '{\"wait\": true}'\n"
        "(docs/workerd.md); of gossipd and proxyd: HELLO STATS.\n",
        OCF_CONFIG_DEFAULT_PATH);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "run-dir", required_argument, NULL, 'r' },
        { "daemon", required_argument, NULL, 'd' }, { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    const char *config_path = OCF_CONFIG_DEFAULT_PATH, *run_dir = NULL, *daemon = "tabled";
    bool explicit_config = false;
    int timeout = 5000, option;
    while ((option = getopt_long (argc, argv, "+c:r:d:t:h", options, NULL)) != -1)
        switch (option) {
            case 'c': config_path = optarg; explicit_config = true; break;
            case 'r': run_dir = optarg; break;
            case 'd': daemon = optarg; break;
            case 't': timeout = atoi (optarg); break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return 2;
        }
    if (optind >= argc || argc - optind > 2) {
        s_usage (stderr);
        return 2;
    }
    json_error_t json_error;
    json_t *body = argc - optind == 2 ? json_loads (argv[optind + 1], 0, &json_error) : json_object ();
    if (!json_is_object (body)) {
        fprintf (stderr, "ocfctl: the body must be a JSON object%s%s\n", body ? "" : ": ", body ? "" : json_error.text);
        return 2;
    }
    ocf_config_t *config = ocf_config_new ();
    if (!run_dir && ocf_config_load (config, config_path, explicit_config) > 0) {
        fprintf (stderr, "ocfctl: %s", ocf_config_errors (config));
        return 2;
    }
    char endpoint[4200];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/%s.api", run_dir ? run_dir : config->node.run_dir, daemon);
    ocf_config_destroy (&config);
    zsys_init ();
    ocf_client_t *client = ocf_client_new (endpoint);
    json_t *reply;
    char error[1024];
    int rc = ocf_client_call (client, argv[optind], body, timeout, &reply, error, sizeof error);
    int status = rc == 0 ? 0 : reply ? 1 : 3;
    if (reply) {
        json_object_del (reply, "v");
        json_dumpf (reply, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("\n");
        json_decref (reply);
    }
    if (rc != 0)
        fprintf (stderr, "ocfctl: %s\n", error);
    ocf_client_destroy (&client);
    return status;
}

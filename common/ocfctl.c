/*  ocfctl: the local daemons from a terminal. For people, commands that read ocf-tabled's table
    (`ocfctl members`, `models`, `services`: aligned columns, or --json) and follow its changes
    (`ocfctl events -f`); for scripts, any verb of a daemon's API sent as is, its reply printed
    as JSON: `ocfctl LIST '{"live":true}'`, `ocfctl -d gossipd STATS`. docs/ocfctl.1.  */
#include "ocf_config.h"
#include "ocf_ctl.h"
#include "ocf_ctl_drain.h"
#include "ocf_ctl_events.h"
#include "ocf_ctl_views.h"

#include <czmq.h>
#include <getopt.h>
#include <stdarg.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: ocfctl [OPTION]... COMMAND [--json]\n"
        "       ocfctl [OPTION]... events -f [--json]\n"
        "       ocfctl [OPTION]... drain [--no-wait] [--stop] [SERVICE] [--json]\n"
        "       ocfctl [OPTION]... undrain [SERVICE] [--json]\n"
        "       ocfctl [OPTION]... VERB [JSON]\n"
        "Shows this host's view of the fabric, or sends VERB with the JSON body (default {}) to a\n"
        "local daemon and prints the reply as JSON.\n\nCommands (from ocf-tabled's table):\n");
    for (const ocf_ctl_view_t *view = ocf_ctl_views; view->name; view++)
        fprintf (out, "  %-10s %s\n", view->name, view->summary);
    fprintf (out,
        "  %-10s follows the table's changes as they are committed, until Ctrl-C\n"
        "\nCommands (to ocf-workerd):\n"
        "  drain      takes this host's services (or SERVICE) out of routing and waits until\n"
        "             nothing is in flight (--no-wait: returns at once; --stop: stops the\n"
        "             drained backends too); no timeout unless -t\n"
        "  undrain    puts them back (and starts backends a drain --stop stopped)\n\n"
        "  -c, --config FILE   configuration file, for [node] run_dir (default %s)\n"
        "  -r, --run-dir DIR   run directory, instead of the configuration's\n"
        "  -d, --daemon NAME   for a VERB: tabled (default), gossipd, proxyd or workerd\n"
        "  -t, --timeout MS    how long to wait for a reply (default 5000; drain: none)\n"
        "  -j, --json          commands print JSON (events: one object a line)\n"
        "  -h, --help          print this help\n\n"
        "Exit status: 0 on OK, 1 when the daemon answered ERR, 2 on a usage error, 3 when no\n"
        "reply came (the daemon is not running, or another run_dir).\n"
        "Verbs of tabled: HELLO GET LIST PROVIDERS SNAPSHOT DIGEST DELTA STATS SELF.SET\n"
        "SERVICE.UP SERVICE.DOWN SERVICE.LOAD MERGE SEEN LEAVE SELF.RENEW (docs/protocol.md).\n"
        "Verbs of workerd: HELLO STATS DRAIN UNDRAIN STOP (drain and undrain above send them)\n"
        "(docs/workerd.md); of gossipd and proxyd: HELLO STATS.\n",
        "events -f", OCF_CONFIG_DEFAULT_PATH);
}

static int __attribute__ ((format (printf, 1, 2)))
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "ocfctl: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\nTry 'ocfctl --help'.\n");
    va_end (args);
    return OCF_CTL_USAGE;
}

//  A verb sent as is: the reply printed as JSON, also when it is ERR.
static int
s_verb (const ocf_ctl_t *ctl, const char *daemon, const char *verb, const char *text)
{
    json_error_t json_error;
    json_t *body = text ? json_loads (text, 0, &json_error) : json_object ();
    if (!json_is_object (body)) {
        fprintf (stderr, "ocfctl: the body must be a JSON object%s%s\n", body ? "" : ": ", body ? "" : json_error.text);
        json_decref (body);
        return OCF_CTL_USAGE;
    }
    json_t *reply;
    int status = ocf_ctl_call (ctl, daemon, verb, body, &reply);
    if (reply) {
        json_object_del (reply, "v");
        json_dumpf (reply, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("\n");
        json_decref (reply);
    }
    return status;
}

static int
s_view (const ocf_ctl_t *ctl, const ocf_ctl_view_t *view, bool json)
{
    json_t *rows;
    int status = ocf_ctl_rows (ctl, view->live_only, &rows, NULL, NULL);
    if (status != OCF_CTL_OK)
        return status;
    json_t *objects = view->build (rows);
    if (json) {
        json_dumpf (objects, stdout, JSON_INDENT (2) | JSON_SORT_KEYS);
        printf ("\n");
    }
    else
        ocf_columns_print (stdout, view->columns, objects);
    json_decref (objects);
    json_decref (rows);
    return OCF_CTL_OK;
}

static bool
s_is_drain (const char *name)
{
    return strcmp (name, "drain") == 0 || strcmp (name, "undrain") == 0;
}

//  A command's own options, after its name: --json; -f for events; --no-wait and --stop for
//  drain, which (as undrain) takes a service's name.
static int
s_command (const ocf_ctl_t *ctl, int argc, char **argv, bool json)
{
    enum { NO_WAIT = 256, STOP };
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' }, { "follow", no_argument, NULL, 'f' },
        { "no-wait", no_argument, NULL, NO_WAIT }, { "stop", no_argument, NULL, STOP }, { NULL, 0, NULL, 0 }
    };
    const char *name = argv[0];
    bool events = strcmp (name, "events") == 0, follow = false;
    ocf_ctl_drain_t drain = { .undrain = strcmp (name, "undrain") == 0, .wait = true };
    int option;
    optind = 0;                         //  GNU getopt: start again, on the command's arguments
    while ((option = getopt_long (argc, argv, events ? "jf" : "j", options, NULL)) != -1)
        switch (option) {
            case 'j': json = true; break;
            case 'f': follow = events; break;
            case NO_WAIT: drain.wait = false; break;
            case STOP: drain.stop = true; break;
            default: return s_usage_error ("bad option for %s", name);
        }
    if ((!drain.wait || drain.stop) && strcmp (name, "drain") != 0)
        return s_usage_error ("--no-wait and --stop are options of drain, not of %s", name);
    if (s_is_drain (name) && optind + 1 >= argc) {
        drain.service = optind < argc ? argv[optind] : NULL;
        return ocf_ctl_drain (ctl, &drain, json);
    }
    if (optind < argc)
        return s_usage_error ("%s takes %s", name, s_is_drain (name) ? "one service's name at most" : "no argument");
    if (events && !follow)
        return s_usage_error ("%s: tabled keeps no history of events; 'ocfctl events -f' follows them", name);
    if (events)
        return ocf_ctl_events_follow (ctl, json);
    return s_view (ctl, ocf_ctl_view (name), json);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' }, { "run-dir", required_argument, NULL, 'r' },
        { "daemon", required_argument, NULL, 'd' }, { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    const char *config_path = OCF_CONFIG_DEFAULT_PATH, *run_dir = NULL, *daemon = NULL;
    bool explicit_config = false, json = false;
    int timeout = -1, option;
    while ((option = getopt_long (argc, argv, "+c:r:d:t:jh", options, NULL)) != -1)
        switch (option) {
            case 'c': config_path = optarg; explicit_config = true; break;
            case 'r': run_dir = optarg; break;
            case 'd': daemon = optarg; break;
            case 't': timeout = atoi (optarg); break;
            case 'j': json = true; break;
            case 'h': s_usage (stdout); return OCF_CTL_OK;
            default: s_usage (stderr); return OCF_CTL_USAGE;
        }
    if (optind >= argc)
        return s_usage_error ("%s", "a command or verb is missing");
    const char *verb = argv[optind];
    bool command = ocf_ctl_view (verb) || strcmp (verb, "events") == 0 || s_is_drain (verb);
    if (command && daemon && strcmp (daemon, s_is_drain (verb) ? "workerd" : "tabled") != 0)
        return s_usage_error ("%s %s: -d does not apply", verb, s_is_drain (verb) ? "is ocf-workerd's" : "reads ocf-tabled's table");
    //  A drain waits for the requests in flight: as long as they take, unless told otherwise.
    if (timeout < 0)
        timeout = s_is_drain (verb) ? -1 : 5000;
    if (!command && argc - optind > 2)
        return s_usage_error ("%s", "a verb takes one JSON body at most");
    ocf_config_t *config = ocf_config_new ();
    if (!run_dir && ocf_config_load (config, config_path, explicit_config) > 0) {
        fprintf (stderr, "ocfctl: %s", ocf_config_errors (config));
        ocf_config_destroy (&config);
        return OCF_CTL_USAGE;
    }
    zsys_init ();
    ocf_ctl_t ctl = { .run_dir = run_dir ? run_dir : config->node.run_dir, .timeout_ms = timeout };
    int status = command ? s_command (&ctl, argc - optind, argv + optind, json)
                         : s_verb (&ctl, daemon ? daemon : "tabled", verb, argc - optind == 2 ? argv[optind + 1] : NULL);
    ocf_config_destroy (&config);
    return status;
}

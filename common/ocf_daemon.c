/*  ocf_daemon: common start-up.  */
#include "ocf_daemon.h"
#include "ocf_alloc.h"
#include "ocf_identity.h"
#include "ocf_log.h"
#include "ocf_sdnotify.h"
#include "ocf_statedir.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <string.h>

static void
s_usage (FILE *out, const char *program, const char *summary)
{
    fprintf (out,
        "Usage: %s [-c FILE] [--set section.key=value]... [--check-config]\n"
        "%s\n\n"
        "  -c, --config FILE     configuration file (default %s; a missing default file\n"
        "                        means every key takes its default)\n"
        "  -s, --set S.K=VALUE   override one key, e.g. --set proxyd.listen=127.0.0.1:8092\n"
        "      --check-config    check the configuration, print any errors and exit\n"
        "      --print-config    print the effective configuration and exit\n"
        "      --help-config     print every configuration key with its default and exit\n"
        "      --version         print the version and exit\n"
        "  -h, --help            print this help and exit\n\n"
        "The process does not fork; run it under systemd (Type=notify). SIGTERM stops it cleanly.\n",
        program, summary, OCF_CONFIG_DEFAULT_PATH);
}

ocf_config_t *
ocf_daemon_start (int argc, char **argv, const char *program, const char *summary)
{
    return ocf_daemon_start_checked (argc, argv, program, summary, NULL);
}

//  Where the configuration came from, for ocf_daemon_reload: the path and the overrides are
//  argv's strings, which live as long as the process.
static struct {
    const char *path;
    bool explicit_path;
    char **overrides;
    int override_count;
} s_source;

static ocf_config_t *
s_load (void)
{
    ocf_config_t *config = ocf_config_new ();
    ocf_config_load (config, s_source.path, s_source.explicit_path);
    for (int i = 0; i < s_source.override_count; i++)
        ocf_config_set (config, s_source.overrides[i]);
    ocf_config_finish (config);
    return config;
}

ocf_config_t *
ocf_daemon_reload (void)
{
    ocf_config_t *config = s_load ();
    const char *errors = ocf_config_errors (config);
    if (!*errors)
        return config;
    ocf_log_error ("reload: %s has errors; keeping the configuration in use:", s_source.path);
    char *copy = ocf_strdup (errors), *saveptr = NULL;
    for (char *line = strtok_r (copy, "\n", &saveptr); line; line = strtok_r (NULL, "\n", &saveptr))
        ocf_log_error ("reload: %s", line);
    free (copy);
    ocf_config_destroy (&config);
    return NULL;
}

ocf_config_t *
ocf_daemon_start_checked (int argc, char **argv, const char *program, const char *summary, ocf_daemon_check_fn *own_check)
{
    //  jansson's allocations follow the daemons' policy too (ocf_alloc): a failed one aborts
    //  with a message instead of returning NULL to code that builds replies.
    json_set_alloc_funcs (ocf_malloc, free);
    enum { OPT_CHECK = 256, OPT_PRINT, OPT_REFERENCE, OPT_VERSION };
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "set", required_argument, NULL, 's' },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "print-config", no_argument, NULL, OPT_PRINT },
        { "help-config", no_argument, NULL, OPT_REFERENCE },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    ocf_log_init (program);
    const char *path = OCF_CONFIG_DEFAULT_PATH;
    bool explicit_path = false, check = false, print = false;
    char **overrides = ocf_calloc (argc + 1, sizeof *overrides);
    int override_count = 0, option;
    while ((option = getopt_long (argc, argv, "c:s:h", options, NULL)) != -1) {
        switch (option) {
            case 'c': path = optarg; explicit_path = true; break;
            case 's': overrides[override_count++] = optarg; break;
            case OPT_CHECK: check = true; break;
            case OPT_PRINT: print = true; break;
            case OPT_REFERENCE: ocf_config_print_reference (stdout); exit (0);
            case OPT_VERSION: printf ("%s %s\n", program, OCF_VERSION); exit (0);
            case 'h': s_usage (stdout, program, summary); exit (0);
            default: s_usage (stderr, program, summary); exit (2);
        }
    }
    if (optind < argc) {
        fprintf (stderr, "%s: unexpected argument '%s' (see --help)\n", program, argv[optind]);
        exit (2);
    }
    s_source.path = path;
    s_source.explicit_path = explicit_path;
    s_source.overrides = overrides;
    s_source.override_count = override_count;
    ocf_config_t *config = s_load ();
    char own[1024] = "";
    const char *errors = ocf_config_errors (config);
    if (!*errors && own_check && own_check (config, own, sizeof own - 1) != 0) {
        strcat (own, "\n");
        errors = own;
    }
    if (*errors) {
        fprintf (stderr, "%s: configuration errors:\n%s", program, errors);
        //  Freed before exiting so that leak checkers (ASan builds) keep the exit status.
        ocf_config_destroy (&config);
        exit (check ? 1 : 78);      //  78: EX_CONFIG, which systemd shows as "CONFIG"
    }
    if (print)
        ocf_config_print (config, stdout);
    if (check || print) {
        if (check)
            printf ("%s: configuration OK (%s)\n", program, config->path ? config->path : "defaults only");
        ocf_config_destroy (&config);
        exit (0);
    }
    ocf_log_set_level (ocf_log_level_parse (config->node.log_level));
    //  The daemons handle signals through a signalfd; czmq must not install its own handler.
    zsys_handler_set (NULL);
    zsys_init ();
    return config;
}

const char *
ocf_daemon_endpoint (ocf_config_t *config, const char *name, char *buffer, size_t size)
{
    snprintf (buffer, size, "ipc://%s/%s", config->node.run_dir, name);
    return buffer;
}

ocf_lock_t *
ocf_daemon_claim (ocf_config_t *config, const char *name)
{
    if (ocf_mkdirs (config->node.run_dir, 0755) != 0) {
        ocf_log_error ("cannot create run directory %s: %s", config->node.run_dir, strerror (errno));
        return NULL;
    }
    char path[4200], error[1024];
    if (ocf_statedir_prepare (config->node.state_dir, error, sizeof error) != 0) {
        ocf_log_error ("refusing to start: %s", error);
        return NULL;
    }
    snprintf (path, sizeof path, "%s/%s.lock", config->node.run_dir, name);
    ocf_lock_t *lock = ocf_lock_new (path, error, sizeof error);
    if (!lock)
        ocf_log_error ("refusing to start: %s", error);
    return lock;
}

static int
s_on_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    ocf_sdnotify ("WATCHDOG=1");
    return 0;
}

void
ocf_daemon_watchdog (zloop_t *loop)
{
    int64_t interval = ocf_sdnotify_watchdog_interval_ms ();
    if (interval > 0)
        zloop_timer (loop, (size_t) interval, 0, s_on_watchdog, NULL);
}

/*  ocf-proxyd: the HTTP API of this host: routing, streaming, pooling, retries, table views,
    metrics and the dashboard. The runner: configuration, the instance lock, then ocf_proxyd
    until SIGTERM.  */
#include "ocf_access.h"
#include "ocf_daemon.h"
#include "ocf_lock.h"
#include "ocf_log.h"
#include "ocf_proxyd.h"

#include <sys/resource.h>

int
main (int argc, char **argv)
{
    ocf_config_t *config = ocf_daemon_start_checked (argc, argv, "ocf-proxyd",
                                                     "Routes and streams HTTP requests (OpenAI API included) to the hosts that serve them.",
                                                     ocf_access_check_config);
    char error[1024];
    int status = 1;
    //  Each stream holds two sockets: take every file descriptor the hard limit allows.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit (RLIMIT_NOFILE, &files);
    }
    ocf_lock_t *lock = NULL;
    ocf_proxyd_t *proxyd = NULL;
    lock = ocf_daemon_claim (config, "proxyd");
    if (!lock)
        goto done;
    proxyd = ocf_proxyd_new (config, error, sizeof error);
    if (!proxyd) {
        ocf_log_error ("%s", error);
        goto done;
    }
    status = ocf_proxyd_run (proxyd);
    ocf_proxyd_destroy (&proxyd);
    ocf_log_info ("stopped");
done:
    ocf_lock_destroy (&lock);
    ocf_config_destroy (&config);
    return status;
}

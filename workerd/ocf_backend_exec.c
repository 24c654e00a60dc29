/*  ocf-backend-exec: the ExecStart of ocf-backend@NAME.service (systemd/ocf-backend@.service).
    Reads the spec ocf-workerd wrote (state_dir/backends/NAME.spec, workerd/ocf_launch.h),
    enters its workdir, adds its environment, says who it is in NAME.started (its pid and
    start time stay the backend's across the exec), then execs the backend: the unit's main
    process is the backend itself, its output goes to the unit's journal, and it lives in the
    unit's cgroup, not in ocf-workerd.service's.  */
#include "ocf_launch.h"
#include "ocf_procstat.h"
#include "ocf_statedir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  "ocf-backend-exec: what: why" on stderr (the unit's journal); 127 as a shell would.
static int
s_fail (const char *what, const char *why)
{
    fprintf (stderr, "ocf-backend-exec: %s%s%s\n", what, *why ? ": " : "", why);
    return 127;
}

int
main (int argc, char **argv)
{
    if (argc != 2 || strlen (argv[1]) < 6 || strcmp (argv[1] + strlen (argv[1]) - 5, ".spec") != 0)
        return s_fail ("usage: ocf-backend-exec STATE_DIR/backends/NAME.spec", "");
    const char *path = argv[1];
    size_t size;
    char *text = ocf_statedir_read (path, OCF_LAUNCH_FILE_MAX, &size);
    if (!text)
        return s_fail (path, strerror (errno));
    ocf_launch_spec_t spec;
    char error[512];
    if (ocf_launch_spec_decode (text, size, &spec, error, sizeof error) != 0)
        return s_fail (path, error);
    free (text);
    if (*spec.workdir && chdir (spec.workdir) != 0)
        return s_fail (spec.workdir, strerror (errno));
    for (char **pair = spec.env; *pair; pair++)
        putenv (*pair);
    ocf_procstat_t stat;
    if (ocf_procstat_read (getpid (), &stat) != 0)
        return s_fail ("/proc/self/stat", "cannot read it");
    char started[4200];
    snprintf (started, sizeof started, "%.*s.started", (int) (strlen (path) - 5), path);
    char *answer = ocf_launch_started_encode (getpid (), stat.start_time, spec.nonce);
    if (ocf_statedir_write (started, answer) != 0)
        return s_fail (started, strerror (errno));
    free (answer);
    execvp (spec.argv[0], spec.argv);
    return s_fail (spec.argv[0], strerror (errno));
}

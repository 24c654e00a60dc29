/*  ocf_sdlisten: sd_listen_fds without libsystemd.  */
#include "ocf_sdlisten.h"
#include "ocf_alloc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NAMES 16

static int s_count = -1;
static char *s_names[MAX_NAMES];    //  of the first sockets, from $LISTEN_FDNAMES

int
ocf_sdlisten_fds (void)
{
    if (s_count >= 0)
        return s_count;
    const char *pid = getenv ("LISTEN_PID"), *fds = getenv ("LISTEN_FDS"), *names = getenv ("LISTEN_FDNAMES");
    int count = 0;
    //  LISTEN_PID guards against variables inherited from an activated parent.
    if (pid && fds && atol (pid) == (long) getpid ()) {
        long value = atol (fds);
        count = value > 0 && value < 1024 ? (int) value : 0;
    }
    if (count && names) {
        char *copy = ocf_strdup (names), *saveptr = NULL;
        int i = 0;
        for (char *name = strtok_r (copy, ":", &saveptr); name && i < MAX_NAMES && i < count;
             name = strtok_r (NULL, ":", &saveptr))
            s_names[i++] = ocf_strdup (name);
        free (copy);
    }
    unsetenv ("LISTEN_PID");
    unsetenv ("LISTEN_FDS");
    unsetenv ("LISTEN_FDNAMES");
    s_count = count;
    for (int fd = OCF_SDLISTEN_FIRST_FD; fd < OCF_SDLISTEN_FIRST_FD + count; fd++)
        if (fcntl (fd, F_SETFD, FD_CLOEXEC) != 0) {
            s_count = fd - OCF_SDLISTEN_FIRST_FD;   //  the sockets that are really there
            break;
        }
    return s_count;
}

int
ocf_sdlisten_named (const char *name)
{
    int count = ocf_sdlisten_fds ();
    for (int i = 0; i < count && i < MAX_NAMES; i++)
        if (s_names[i] && strcmp (s_names[i], name) == 0)
            return OCF_SDLISTEN_FIRST_FD + i;
    return -1;
}

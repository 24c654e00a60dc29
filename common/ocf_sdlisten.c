/*  ocf_sdlisten: sd_listen_fds without libsystemd.  */
#include "ocf_sdlisten.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int
ocf_sdlisten_fds (void)
{
    const char *pid = getenv ("LISTEN_PID"), *fds = getenv ("LISTEN_FDS");
    int count = 0;
    //  LISTEN_PID guards against variables inherited from an activated parent.
    if (pid && fds && atol (pid) == (long) getpid ()) {
        long value = atol (fds);
        count = value > 0 && value < 1024 ? (int) value : 0;
    }
    unsetenv ("LISTEN_PID");
    unsetenv ("LISTEN_FDS");
    unsetenv ("LISTEN_FDNAMES");
    for (int fd = OCF_SDLISTEN_FIRST_FD; fd < OCF_SDLISTEN_FIRST_FD + count; fd++)
        if (fcntl (fd, F_SETFD, FD_CLOEXEC) != 0)
            return fd - OCF_SDLISTEN_FIRST_FD;   //  the sockets that are really there
    return count;
}

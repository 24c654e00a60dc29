/*  ocf_sdnotify: sd_notify without libsystemd.  */
#include "ocf_sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
ocf_sdnotify (const char *state)
{
    const char *path = getenv ("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    size_t path_len = strlen (path);
    if ((path[0] != '/' && path[0] != '@') || path_len >= sizeof addr.sun_path)
        return -1;
    memcpy (addr.sun_path, path, path_len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';        //  abstract namespace
    int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    socklen_t addr_len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + path_len);
    //  Never blocks: a notify socket whose reader fell behind (its queue holds a handful of
    //  datagrams) would otherwise freeze the daemon's loop inside a STATUS update.
    ssize_t sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *) &addr, addr_len);
    int saved = errno;
    close (fd);
    errno = saved;
    return sent < 0 ? -1 : 0;
}

int
ocf_sdnotify_status (const char *format, ...)
{
    char state[512] = "STATUS=";
    va_list args;
    va_start (args, format);
    vsnprintf (state + 7, sizeof state - 7, format, args);
    va_end (args);
    return ocf_sdnotify (state);
}

int64_t
ocf_sdnotify_watchdog_interval_ms (void)
{
    const char *usec = getenv ("WATCHDOG_USEC");
    if (!usec)
        return 0;
    //  WATCHDOG_PID, when present, says which process the watchdog is meant for.
    const char *pid = getenv ("WATCHDOG_PID");
    if (pid && atol (pid) != (long) getpid ())
        return 0;
    long long value = atoll (usec);
    return value > 0 ? value / 2000 : 0;
}

/*  ocf_sdlisten: the daemon's side of systemd's socket activation (sd_listen_fds(3)), written
    by hand like ocf_sdnotify. A socket unit opens the listening socket and keeps it across
    restarts of the service, so connections that arrive while the daemon restarts wait in the
    socket's backlog for the next process instead of being refused. A service may be passed
    several sockets; each has a name ($LISTEN_FDNAMES: the socket's FileDescriptorName=, by
    default its unit's name).  */
#ifndef OCF_SDLISTEN_H
#define OCF_SDLISTEN_H

#define OCF_SDLISTEN_FIRST_FD 3  //  systemd passes its sockets as 3, 4, ...

//  How many sockets systemd passed this process: 0 when none were (a daemon started by hand or
//  by a test, or $LISTEN_PID naming another process). The first call unsets $LISTEN_PID,
//  $LISTEN_FDS and $LISTEN_FDNAMES (keeping the names) and marks the sockets close-on-exec, so
//  that nothing this process starts takes them for its own; later calls give the same answer.
//  Call it first before any thread starts.
int ocf_sdlisten_fds (void);
//  The descriptor of the passed socket of that name; -1 when there is none.
int ocf_sdlisten_named (const char *name);

#endif

/*  ocf_portowner: whose are the sockets listening on a service's port?
    A health check that reaches a process other than the backend (an old server still on the
    port, someone else's) would register a service that is not there. After each successful
    check of a launched backend, the LISTEN sockets that accept connections to its host and
    port (ocf_procnet) must be held by the backend's process or its descendants; otherwise
    this names a holder: "pid 4711 (python3)", or "a process of another user" when its
    descriptors cannot be read. Finding holders reads every process's descriptors, so the
    verdict is kept while the set of sockets does not change (one check of a few files).  */
#ifndef OCF_PORTOWNER_H
#define OCF_PORTOWNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OCF_PORTOWNER_MAX_SOCKETS 64

typedef struct {
    pid_t pid;                   //  the backend the verdict is for
    size_t count;
    uint64_t inodes[OCF_PORTOWNER_MAX_SOCKETS];   //  its sockets, when they were all its own
} ocf_portowner_t;

//  Returns 0 when every such socket belongs to pid or a descendant (or none was found:
//  the HTTP check then tells), -1 with the holder described in holder.
int ocf_portowner_check (ocf_portowner_t *self, pid_t pid, const char *host, int port, char *holder, size_t holder_size);

#endif

/*  ocf_procnet: the listening TCP sockets of /proc/net/tcp and /proc/net/tcp6, sans-I/O.
    workerd makes sure that the health check talks to *its* backend: the sockets that accept
    a connection to the service's host and port must belong to the backend's processes. This
    finds those sockets (by inode) in the kernel's tables; ocf_portowner finds who holds them.  */
#ifndef OCF_PROCNET_H
#define OCF_PROCNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The address a health check connects to, as the tables are matched against it.
typedef struct {
    bool any;                    //  host is not an IP literal: every address counts
    bool ipv6;
    unsigned char addr[16];      //  4 bytes for IPv4
} ocf_procnet_target_t;

//  host: the service's host. Returns 0, or -1 when host is an empty string.
int ocf_procnet_target (const char *host, ocf_procnet_target_t *target);
//  Adds to inodes (up to max, the count in *count) the inodes of the LISTEN sockets of one
//  table's text (ipv6: it is tcp6) that accept connections to target on port: bound to that
//  address, or to the wildcard of its family (and, for IPv4, IPv6's: dual-stack). Lines
//  that are not table rows are skipped. Returns how many rows matched.
size_t ocf_procnet_listeners (const char *text, size_t size, bool ipv6, const ocf_procnet_target_t *target, int port,
                              uint64_t *inodes, size_t max, size_t *count);

#endif

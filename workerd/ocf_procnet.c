/*  ocf_procnet: /proc/net/tcp{,6} parser.  */
#include "ocf_procnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LISTEN 0x0A

int
ocf_procnet_target (const char *host, ocf_procnet_target_t *target)
{
    memset (target, 0, sizeof *target);
    if (!*host)
        return -1;
    if (inet_pton (AF_INET, host, target->addr) == 1)
        return 0;
    char bare[64];
    size_t len = strlen (host);
    //  "[::1]" as well as "::1"
    if (host[0] == '[' && len > 2 && len < sizeof bare && host[len - 1] == ']') {
        memcpy (bare, host + 1, len - 2);
        bare[len - 2] = '\0';
        host = bare;
    }
    if (inet_pton (AF_INET6, host, target->addr) == 1)
        target->ipv6 = true;
    else
        target->any = true;
    return 0;
}

//  The kernel prints each 32-bit word of the address as the hex of its in-memory value:
//  reading it back the same way gives the bytes in network order on any endianness.
static bool
s_address (const char *hex, size_t words, unsigned char *addr)
{
    for (size_t i = 0; i < words; i++) {
        char word[9];
        memcpy (word, hex + i * 8, 8);
        word[8] = '\0';
        char *end;
        uint32_t value = (uint32_t) strtoul (word, &end, 16);
        if (*end)
            return false;
        memcpy (addr + i * 4, &value, 4);
    }
    return true;
}

static bool
s_zero (const unsigned char *addr, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (addr[i])
            return false;
    return true;
}

static bool
s_accepts (bool ipv6, const unsigned char *addr, const ocf_procnet_target_t *target)
{
    if (target->any)
        return true;
    if (!ipv6)
        return !target->ipv6 && (s_zero (addr, 4) || memcmp (addr, target->addr, 4) == 0);
    if (s_zero (addr, 16))
        return true;             //  [::] takes IPv4 too unless IPV6_V6ONLY: counted either way
    if (target->ipv6)
        return memcmp (addr, target->addr, 16) == 0;
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp (addr, mapped, 12) == 0 && memcmp (addr + 12, target->addr, 4) == 0;
}

size_t
ocf_procnet_listeners (const char *text, size_t size, bool ipv6, const ocf_procnet_target_t *target, int port,
                       uint64_t *inodes, size_t max, size_t *count)
{
    size_t matched = 0, words = ipv6 ? 4 : 1;
    const char *end = text + size;
    for (const char *line = text; line < end; ) {
        const char *next = memchr (line, '\n', (size_t) (end - line));
        size_t len = next ? (size_t) (next - line) : (size_t) (end - line);
        char row[512];
        if (len < sizeof row) {
            memcpy (row, line, len);
            row[len] = '\0';
            //  sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            char local[64], state[8];
            unsigned long long inode;
            if (sscanf (row, " %*[0-9]: %63s %*s %7s %*s %*s %*s %*s %*s %llu", local, state, &inode) == 3
            &&  strlen (local) == words * 8 + 5 && local[words * 8] == ':' && strtol (state, NULL, 16) == LISTEN) {
                unsigned char addr[16];
                char *stop;
                long listen_port = strtol (local + words * 8 + 1, &stop, 16);
                if (!*stop && listen_port == port && s_address (local, words, addr) && s_accepts (ipv6, addr, target)) {
                    matched++;
                    if (*count < max)
                        inodes[(*count)++] = inode;
                }
            }
        }
        line += len + 1;
    }
    return matched;
}

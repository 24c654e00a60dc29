/*  ocf_node_config: the [node] section.  */
#include "ocf_config.h"
#include "ocf_alloc.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY(field) offsetof (ocf_node_config_t, field)

static const ocf_config_key_t s_keys[] = {
    { "name", OCF_CONFIG_STRING, KEY (name), "", 0, 0, NULL, false,
      "Name shown to people (default: the host name)" },
    { "state_dir", OCF_CONFIG_STRING, KEY (state_dir), "/var/lib/ocf", 0, 0, NULL, false,
      "Directory for table.db and node.key" },
    { "run_dir", OCF_CONFIG_STRING, KEY (run_dir), "/run/ocf", 0, 0, NULL, false,
      "Directory for the local ipc sockets and their lock files" },
    { "public_addr", OCF_CONFIG_STRING, KEY (public_addr), "", 0, 0, NULL, false,
      "Address other hosts use to reach this one (default: first non-loopback IPv4, else 127.0.0.1)" },
    { "labels", OCF_CONFIG_STRING, KEY (labels), "", 0, 0, NULL, true,
      "Labels copied into this node's record: key=value,key=value" },
    { "log_level", OCF_CONFIG_ENUM, KEY (log_level), "info", 0, 0, "err|warning|notice|info|debug", false,
      "Lines above this level are not logged" },
};

static char *
s_first_public_ipv4 (void)
{
    struct ifaddrs *list;
    char address[INET_ADDRSTRLEN] = "127.0.0.1";
    if (getifaddrs (&list) == 0) {
        for (struct ifaddrs *entry = list; entry; entry = entry->ifa_next)
            if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET
            &&  (entry->ifa_flags & IFF_UP) && !(entry->ifa_flags & IFF_LOOPBACK)) {
                inet_ntop (AF_INET, &((struct sockaddr_in *) entry->ifa_addr)->sin_addr, address, sizeof address);
                break;
            }
        freeifaddrs (list);
    }
    return ocf_strdup (address);
}

//  The name and the address default to the host's; run_dir must leave room for socket names.
static void
s_finish (ocf_config_t *config, const char *file)
{
    ocf_node_config_t *node = &config->node;
    if (!*node->name) {
        char host[256] = "localhost";
        gethostname (host, sizeof host - 1);
        free (node->name);
        node->name = ocf_strdup (host);
    }
    if (!*node->public_addr) {
        free (node->public_addr);
        node->public_addr = s_first_public_ipv4 ();
    }
    if (strlen (node->run_dir) > 80)
        ocf_config_error (config, "%s: [node] run_dir: '%s' is too long for ipc socket paths (80 characters at most)",
                          file, node->run_dir);
    ocf_config_check_pairs (config, "[node] labels", node->labels, ",");
}

const ocf_config_section_t ocf_node_config_section = {
    "node", offsetof (ocf_config_t, node), s_keys, sizeof s_keys / sizeof s_keys[0], s_finish
};

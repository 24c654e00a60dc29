/*  ocf_gossipd_config: the [gossipd] section.  */
#include "ocf_config.h"
#include "ocf_alloc.h"
#include "ocf_identity.h"

#include <errno.h>
#include <string.h>

#define KEY(field) offsetof (ocf_gossipd_config_t, field)

static const ocf_config_key_t s_keys[] = {
    { "bind", OCF_CONFIG_HOSTPORT, KEY (bind), "0.0.0.0:7946", 0, 0, NULL, false,
      "TCP address for gossip (CURVE-encrypted)" },
    { "seeds", OCF_CONFIG_STRING, KEY (seeds), "", 0, 0, NULL, true,
      "Comma-separated host:port or pubkey@host:port to join; empty starts a new cluster" },
    { "heartbeat_interval", OCF_CONFIG_DURATION, KEY (heartbeat_interval_ms), "1s", 10, 60000, NULL, false,
      "Interval of heartbeats to each observer" },
    { "observers", OCF_CONFIG_INT, KEY (observers), "3", 1, 16, NULL, false,
      "Observers that watch each node's heartbeats" },
    { "phi_threshold", OCF_CONFIG_DOUBLE, KEY (phi_threshold), "8", 1, 32, NULL, false,
      "Phi accrual threshold for suspecting a node" },
    { "gossip_interval", OCF_CONFIG_DURATION, KEY (gossip_interval_ms), "200ms", 10, 60000, NULL, false,
      "Interval of the IHAVE rounds that repair what the dissemination tree missed" },
    { "fanout", OCF_CONFIG_INT, KEY (fanout), "8", 1, 16, NULL, false,
      "Peers of the active view each IHAVE round goes to" },
    { "anti_entropy_interval", OCF_CONFIG_DURATION, KEY (anti_entropy_interval_ms), "30s", 50, 3600000, NULL, false,
      "Interval of anti-entropy probes (8 bytes of table root) to a random peer of the active view; heartbeats carry the root to observers" },
    { "max_snapshots", OCF_CONFIG_INT, KEY (max_snapshots), "4", 1, 64, NULL, false,
      "Snapshots served at once to joining nodes" },
    { "max_frame", OCF_CONFIG_SIZE, KEY (max_frame), "1MiB", 4096, 64.0 * 1024 * 1024, NULL, false,
      "Largest gossip frame accepted from a peer" },
    { "introducer", OCF_CONFIG_STRING, KEY (introducer), "", 0, 0, NULL, false,
      "host:port answering key requests for plain host:port seeds (default: the bind port + 1; off: none)" },
    { "authorized_keys", OCF_CONFIG_STRING, KEY (authorized_keys), "", 0, 0, NULL, true,
      "Node ids (public keys) allowed in the cluster, comma-separated; empty with no file: any key" },
    { "authorized_keys_file", OCF_CONFIG_STRING, KEY (authorized_keys_file), "", 0, 0, NULL, false,
      "File of allowed node ids, one per line (# comments), added to authorized_keys" },
    { "probe_timeout", OCF_CONFIG_DURATION, KEY (probe_timeout_ms), "500ms", 10, 60000, NULL, false,
      "Time a direct and indirect probe of a silent node has to be answered" },
    { "suspicion_min", OCF_CONFIG_DURATION, KEY (suspicion_min_ms), "1s", 10, 3600000, NULL, false,
      "Suspicion timeout once other observers confirmed it" },
    { "suspicion_max", OCF_CONFIG_DURATION, KEY (suspicion_max_ms), "3s", 10, 3600000, NULL, false,
      "Suspicion timeout without any confirmation" },
    { "phi_min_std", OCF_CONFIG_DURATION, KEY (phi_min_std_ms), "100ms", 1, 60000, NULL, false,
      "Smallest heartbeat deviation phi accrual assumes" },
    { "acceptable_pause", OCF_CONFIG_DURATION, KEY (acceptable_pause_ms), "500ms", 0, 600000, NULL, false,
      "Heartbeat delay phi accrual tolerates before it grows" },
    { "retransmit_mult", OCF_CONFIG_INT, KEY (retransmit_mult), "2", 1, 16, NULL, false,
      "IHAVE sends per rumour: retransmit_mult * ceil(log10(N + 1)), twice that for a death verdict, none for a suspicion" },
    { "flood_limit", OCF_CONFIG_INT, KEY (flood_limit), "5000", 10, 10000000, NULL, false,
      "Messages per second a peer may send before it is cut off for a minute" },
    { "rtt_interval", OCF_CONFIG_DURATION, KEY (rtt_interval_ms), "2s", 0, 3600000, NULL, false,
      "Interval of round-trip pings, each to the peer of the active view measured longest ago (0: none)" },
};

//  [gossipd]: seeds are host:port or pubkey@host:port; the introducer host:port or off.
static void
s_finish (ocf_config_t *self, const char *file)
{
    ocf_gossipd_config_t *gossipd = &self->gossipd;
    char host[256];
    int port;
    char *copy = ocf_strdup (gossipd->seeds), *saveptr = NULL;
    for (char *seed = strtok_r (copy, ", \t", &saveptr); seed; seed = strtok_r (NULL, ", \t", &saveptr)) {
        char key[OCF_NODE_ID_LEN + 1];
        if (ocf_gossipd_config_parse_seed (seed, key, host, sizeof host, &port) != 0)
            ocf_config_error (self, "%s: [gossipd] seeds: '%s' is not host:port or id@host:port (id: a node id, 52 base32 characters)",
                              file, seed);
    }
    free (copy);
    if (*gossipd->introducer && strcmp (gossipd->introducer, "off") != 0
    &&  ocf_config_parse_hostport (gossipd->introducer, host, sizeof host, &port) != 0)
        ocf_config_error (self, "%s: [gossipd] introducer: '%s' is not host:port or off", file, gossipd->introducer);
    copy = ocf_strdup (gossipd->authorized_keys);
    for (char *key = strtok_r (copy, ", \t", &saveptr); key; key = strtok_r (NULL, ", \t", &saveptr))
        if (!ocf_identity_id_valid (key))
            ocf_config_error (self, "%s: [gossipd] authorized_keys: '%s' is not a node id (52 base32 characters)", file, key);
    free (copy);
    if (gossipd->suspicion_min_ms > gossipd->suspicion_max_ms)
        ocf_config_error (self, "%s: [gossipd] suspicion_min is longer than suspicion_max", file);
}

const ocf_config_section_t ocf_gossipd_config_section = {
    "gossipd", offsetof (ocf_config_t, gossipd), s_keys, sizeof s_keys / sizeof s_keys[0], s_finish
};

int
ocf_gossipd_config_parse_seed (const char *text, char *key, char *host_out, size_t host_size, int *port)
{
    //  A node id is exactly OCF_NODE_ID_LEN characters; a host never has an '@'.
    bool keyed = strlen (text) > OCF_NODE_ID_LEN && text[OCF_NODE_ID_LEN] == '@';
    const char *address = keyed ? text + OCF_NODE_ID_LEN + 1 : text;
    key[0] = '\0';
    if (keyed)
        snprintf (key, OCF_NODE_ID_LEN + 1, "%.*s", OCF_NODE_ID_LEN, text);
    if ((keyed && !ocf_identity_id_valid (key)) || strchr (address, '@'))
        return -1;
    return ocf_config_parse_hostport (address, host_out, host_size, port);
}

static int
s_add_keys (zhashx_t *keys, const char *list, const char *where, char *error, size_t error_size)
{
    char *copy = ocf_strdup (list), *saveptr = NULL;
    int rc = 0;
    for (char *key = strtok_r (copy, ", \t\r\n", &saveptr); key && rc == 0; key = strtok_r (NULL, ", \t\r\n", &saveptr)) {
        if (!ocf_identity_id_valid (key)) {
            snprintf (error, error_size, "%s: '%s' is not a node id (52 base32 characters)", where, key);
            rc = -1;
        }
        else
            zhashx_update (keys, key, (void *) "");
    }
    free (copy);
    return rc;
}

int
ocf_gossipd_config_authorized_keys (const ocf_gossipd_config_t *config, zhashx_t *keys, char *error, size_t error_size)
{
    if (s_add_keys (keys, config->authorized_keys, "[gossipd] authorized_keys", error, error_size) != 0)
        return -1;
    if (!*config->authorized_keys_file)
        return 0;
    const char *path = config->authorized_keys_file;
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "[gossipd] authorized_keys_file: cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char line[512];
    int number = 0, rc = 0;
    while (rc == 0 && fgets (line, sizeof line, file)) {
        number++;
        char *text = line + strspn (line, " \t");
        if (*text == '#' || *text == '\n' || !*text)
            continue;
        char where[600];
        snprintf (where, sizeof where, "%s:%d", path, number);
        rc = s_add_keys (keys, text, where, error, error_size);
    }
    fclose (file);
    return rc;
}

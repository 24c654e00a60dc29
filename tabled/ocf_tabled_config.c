/*  ocf_tabled_config: the [tabled] section.  */
#include "ocf_config.h"

#define KEY(field) offsetof (ocf_tabled_config_t, field)

static const ocf_config_key_t s_keys[] = {
    { "tombstone_retention", OCF_CONFIG_DURATION, KEY (tombstone_retention_ms), "24h", 1000, 365 * OCF_CONFIG_DAY_MS, NULL, false,
      "How long tombstones are kept before compaction" },
    { "reap_after", OCF_CONFIG_DURATION, KEY (reap_after_ms), "1h", 1000, 365 * OCF_CONFIG_DAY_MS, NULL, false,
      "A node dead this long is tombstoned" },
    { "checkpoint_interval", OCF_CONFIG_DURATION, KEY (checkpoint_interval_ms), "60s", 100, OCF_CONFIG_DAY_MS, NULL, false,
      "How often the SQLite WAL is checkpointed (TRUNCATE)" },
    { "max_message", OCF_CONFIG_SIZE, KEY (max_message), "4MiB", 1024, 256.0 * 1024 * 1024, NULL, false,
      "Largest request tabled accepts" },
    { "max_record", OCF_CONFIG_SIZE, KEY (max_record), "64KiB", 512, 16.0 * 1024 * 1024, NULL, false,
      "Largest node record tabled accepts" },
    { "batch_max", OCF_CONFIG_INT, KEY (batch_max), "512", 1, 100000, NULL, false,
      "Requests applied in one SQLite transaction under load" },
};

const ocf_config_section_t ocf_tabled_config_section = {
    "tabled", offsetof (ocf_config_t, tabled), s_keys, sizeof s_keys / sizeof s_keys[0], NULL
};

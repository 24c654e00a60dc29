/*  ocf_config_schema: how a section of the configuration file is declared.
    Each section's keys (name, type, default, limits, help) are declared next to the code that
    uses them, in a table of ocf_config_key_t over the section's struct: [node] in
    common/ocf_node_config.c, [tabled] in tabled/ocf_tabled_config.c, [gossipd] in
    gossipd/ocf_gossipd_config.c, [proxyd] in proxyd/ocf_proxyd_config.c, [workerd] and
    [service.NAME] in workerd/ocf_workerd_config.c. Every daemon reads the whole shared file,
    so those tables are all linked into the common library, and ocf_config lists them: an
    unknown key in any section is an error for every daemon, and --help-config prints them
    all.  */
#ifndef OCF_CONFIG_SCHEMA_H
#define OCF_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _ocf_config_t ocf_config_t;

typedef enum {
    OCF_CONFIG_STRING,           //  char *
    OCF_CONFIG_INT,              //  int64_t
    OCF_CONFIG_DURATION,         //  int64_t, milliseconds: 500ms, 30s, 5min, 1h, 1d
    OCF_CONFIG_SIZE,             //  int64_t, bytes: 4096, 64KiB, 16MiB
    OCF_CONFIG_DOUBLE,           //  double
    OCF_CONFIG_ENUM,             //  char *, one of choices
    OCF_CONFIG_HOSTPORT          //  char *, host:port
} ocf_config_type_t;

typedef struct {
    const char *key;
    ocf_config_type_t type;
    size_t offset;               //  into the section's struct
    const char *fallback;        //  default, parsed like a value from the file; NULL = unset
    double min, max;             //  for numbers (durations in ms, sizes in bytes)
    const char *choices;         //  for enums: "a|b|c"
    bool continues;              //  indented continuation lines append to the value
    const char *help;
} ocf_config_key_t;

typedef struct {
    const char *name;            //  "service" stands for every [service.NAME]
    size_t offset;               //  of the section's struct in ocf_config_t (not for service)
    const ocf_config_key_t *keys;
    size_t key_count;
    //  Once every value is read: fills derived defaults and checks keys that depend on each
    //  other, reporting with ocf_config_error (file: the file read, for messages). May be NULL.
    void (*finish) (ocf_config_t *config, const char *file);
} ocf_config_section_t;

#define OCF_CONFIG_DAY_MS (86400.0 * 1000)

//  Adds an error message (one line) to the configuration's errors.
void ocf_config_error (ocf_config_t *config, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
//  Reports each item of list (split at separators) that is not key=value; where starts the
//  message.
void ocf_config_check_pairs (ocf_config_t *config, const char *where, const char *list, const char *separators);

#endif

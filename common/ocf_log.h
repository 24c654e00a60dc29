/*  ocf_log: the one way a daemon writes log lines.
    Lines go to stderr. Under systemd (when $JOURNAL_STREAM names our stderr) each line starts
    with a "<N>" syslog priority so journald files it at the right level and adds the time and
    unit itself; otherwise lines carry a timestamp, the program name and the level.   */
#ifndef OCF_LOG_H
#define OCF_LOG_H

#include <stdbool.h>

typedef enum {
    OCF_LOG_ERR = 3,
    OCF_LOG_WARNING = 4,
    OCF_LOG_NOTICE = 5,
    OCF_LOG_INFO = 6,
    OCF_LOG_DEBUG = 7
} ocf_log_level_t;

//  Sets the program name and detects journald; call once at start.
void ocf_log_init (const char *program);
//  Lines above this level are dropped (default OCF_LOG_INFO).
void ocf_log_set_level (ocf_log_level_t level);
//  Parses "err", "warning", "notice", "info", "debug"; returns -1 on anything else.
int ocf_log_level_parse (const char *text);
bool ocf_log_enabled (ocf_log_level_t level);

void ocf_log (ocf_log_level_t level, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

#define ocf_log_error(...)   ocf_log (OCF_LOG_ERR, __VA_ARGS__)
#define ocf_log_warning(...) ocf_log (OCF_LOG_WARNING, __VA_ARGS__)
#define ocf_log_notice(...)  ocf_log (OCF_LOG_NOTICE, __VA_ARGS__)
#define ocf_log_info(...)    ocf_log (OCF_LOG_INFO, __VA_ARGS__)
#define ocf_log_debug(...)   do { if (ocf_log_enabled (OCF_LOG_DEBUG)) ocf_log (OCF_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif

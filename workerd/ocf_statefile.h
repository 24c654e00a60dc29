/*  ocf_statefile: what the files workerd keeps under state_dir/backends have in common (the
    backend records of ocf_backend_record, the launch specs and started files of ocf_launch):
    each is one JSON object of bounded size, read strictly, and the pids they name are
    checked against the kernel's limit.  */
#ifndef OCF_STATEFILE_H
#define OCF_STATEFILE_H

#include <jansson.h>
#include <stddef.h>

#define OCF_STATEFILE_PID_MAX (1 << 22)   //  the kernel's limit (pid_max) on 64-bit systems

//  The object text holds (at most max bytes, no duplicate keys); NULL with error set otherwise.
json_t *ocf_statefile_parse (const char *text, size_t size, size_t max, char *error, size_t error_size);

#endif

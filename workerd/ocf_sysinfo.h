/*  ocf_sysinfo: this host's CPU count and memory, read from /proc.
    The parsers take the file contents so tests can feed them any text; ocf_sysinfo_read()
    reads the files under a given root (normally "/proc").  */
#ifndef OCF_SYSINFO_H
#define OCF_SYSINFO_H

#include <stdint.h>

//  Online CPUs: the "cpuN" lines of /proc/stat. Returns 0 when there are none.
int ocf_sysinfo_cpus_parse (const char *stat);
//  A field of /proc/meminfo ("MemTotal", "MemAvailable") in MiB. Returns 0 when absent or
//  malformed.
int64_t ocf_sysinfo_memory_mb_parse (const char *meminfo, const char *field);
//  Reads proc_root/stat and proc_root/meminfo: CPUs, MemTotal and what is in use (MemTotal -
//  MemAvailable; 0 when MemAvailable is missing). Returns 0, or -1 when either file is
//  unreadable or yields nothing (the values are then 0).
int ocf_sysinfo_read (const char *proc_root, int *cpus, int64_t *memory_mb, int64_t *memory_used_mb);

#endif

/*  Fuzz target: the Prometheus text reader (workerd/ocf_prom.c), a scraped body in.  */
#include "ocf_prom.h"

#include <stdint.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ocf_prom_load_t load;
    char error[512];
    if (ocf_prom_parse_load ((const char *) data, size, &load, error, sizeof error) == 0
    &&  (load.queue_depth < 0 || (load.has_kv && !(load.kv_cache >= 0 && load.kv_cache <= 1))))
        __builtin_trap ();
    return 0;
}

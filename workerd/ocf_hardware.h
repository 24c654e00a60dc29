/*  ocf_hardware: what this host's record says of its hardware (CPUs, memory, GPUs).
    The figures that move all the time (GPU utilisation, memory in use, temperatures) are
    written only when they moved past a deadband since the value last written. Each change
    of the record is a new version that gossip carries to every host: a busy GPU would
    otherwise rewrite it at every probe, and at 1,000 GPU hosts probed every 10 s that is
    100 row changes a second, for figures nobody routes by. workerd's own /metrics keep the
    figures at full resolution.  */
#ifndef OCF_HARDWARE_H
#define OCF_HARDWARE_H

#include <jansson.h>

//  How far a figure must move before the record shows it.
#define OCF_HARDWARE_UTILIZATION_STEP 10        //  percentage points
#define OCF_HARDWARE_TEMPERATURE_STEP 5         //  degrees C
#define OCF_HARDWARE_MEMORY_PERCENT   5         //  of the total (host or GPU)

//  The hardware object for the record: measured (left untouched) where it moved past a
//  deadband or is new, the value in reported (what the record holds, may be NULL) where
//  it did not. GPUs are matched by uuid, else by index. A new reference.
json_t *ocf_hardware_settle (const json_t *reported, const json_t *measured);

#endif

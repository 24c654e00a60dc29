/*  ocf_gpu: the GPU inventory as nvidia-smi prints it, turned into the record's
    hardware.gpus array. Sans-I/O: the text of

        nvidia-smi --query-gpu=index,name,uuid,memory.total,memory.used,utilization.gpu,temperature.gpu
                   --format=csv,noheader,nounits

    in, a JSON array out, with the field names tabled's `gpus` view reads (index, name, uuid,
    memory_total_mb, memory_used_mb, utilization, temperature). A value nvidia-smi cannot give
    ("[N/A]", "[Not Supported]", any "[...]") becomes null. With MIG enabled nvidia-smi still
    lists the physical GPUs and reports utilization as "[N/A]": kept as it says.  */
#ifndef OCF_GPU_H
#define OCF_GPU_H

#include <jansson.h>
#include <stddef.h>

#define OCF_GPU_QUERY "index,name,uuid,memory.total,memory.used,utilization.gpu,temperature.gpu"
#define OCF_GPU_MAX 256          //  tabled refuses more GPUs per record

//  Parses the output. "No devices were found" (and NVML's "No supported GPUs were found"),
//  anywhere in the text, mean a host without GPUs: an empty array. Returns NULL with the problem (naming the
//  line) in error when the text is anything else than the expected CSV.
json_t *ocf_gpu_parse (const char *text, size_t size, char *error, size_t error_size);

#endif

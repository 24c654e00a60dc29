/*  Fuzz target: the nvidia-smi CSV parser (workerd/ocf_gpu.c), command output in.  */
#include "ocf_gpu.h"

#include <stdint.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error[512];
    json_t *gpus = ocf_gpu_parse ((const char *) data, size, error, sizeof error);
    //  What is accepted must be what tabled's gpus view reads.
    size_t index;
    json_t *gpu;
    json_array_foreach (gpus, index, gpu)
        if (json_object_size (gpu) != 7 || !json_is_integer (json_object_get (gpu, "index")))
            __builtin_trap ();
    json_decref (gpus);
    return 0;
}

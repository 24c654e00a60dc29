/*  Fuzz target: the decoders of a backend unit's files (workerd/ocf_launch.c): the spec
    ocf-backend-exec runs and the answer workerd adopts, whatever the files hold. The first
    byte picks the decoder.  */
#include "ocf_launch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *text = (const char *) data + 1;
    char error[512] = "";
    if (data[0] & 1) {
        pid_t pid;
        uint64_t start_time, nonce;
        if (ocf_launch_started_decode (text, size - 1, &pid, &start_time, &nonce, error, sizeof error) != 0) {
            if (!*error)
                __builtin_trap ();
        }
        else
        if (pid <= 1)
            __builtin_trap ();
        return 0;
    }
    ocf_launch_spec_t spec;
    if (ocf_launch_spec_decode (text, size - 1, &spec, error, sizeof error) != 0) {
        if (!*error || spec.argv)
            __builtin_trap ();   //  a rejection says why and leaves nothing behind
        return 0;
    }
    //  An accepted spec has a program, KEY=VALUE pairs, and encodes back to the same.
    if (!spec.argv[0] || !*spec.argv[0])
        __builtin_trap ();
    for (char **pair = spec.env; *pair; pair++)
        if (!strchr (*pair, '=') || **pair == '=')
            __builtin_trap ();
    char *again = ocf_launch_spec_encode (spec.argv, spec.env, spec.workdir, spec.nonce);
    ocf_launch_spec_t decoded;
    if (ocf_launch_spec_decode (again, strlen (again), &decoded, error, sizeof error) != 0
    ||  strcmp (decoded.argv[0], spec.argv[0]) != 0 || decoded.nonce != spec.nonce)
        __builtin_trap ();
    ocf_launch_spec_clear (&decoded);
    ocf_launch_spec_clear (&spec);
    free (again);
    return 0;
}

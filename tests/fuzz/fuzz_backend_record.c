/*  Fuzz target: the backend record decoder (workerd/ocf_backend_record.c), the text of
    state_dir/backends/NAME.json in: whatever the file holds after a crash, a full disk or a
    hand edit.  */
#include "ocf_backend_record.h"

#include <stdint.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ocf_backend_record_t record;
    char error[512];
    if (ocf_backend_record_decode ((const char *) data, size, &record, error, sizeof error) != 0) {
        if (!*error)
            __builtin_trap ();   //  a rejection always says why
        return 0;
    }
    //  An accepted record encodes back to one that decodes to the same.
    json_t *state = json_pack ("{s:b, s:O?}", "registered", record.registered, "models", record.models);
    char *text = ocf_backend_record_encode (record.service, record.pid, record.start_time, record.port, record.spec,
                                            state);
    ocf_backend_record_t again;
    if (ocf_backend_record_decode (text, strlen (text), &again, error, sizeof error) != 0 || again.pid != record.pid
    ||  again.start_time != record.start_time || again.port != record.port || strcmp (again.service, record.service) != 0
    ||  !json_equal (again.spec, record.spec) || again.registered != record.registered
    ||  (again.models == NULL) != (record.models == NULL) || (again.models && !json_equal (again.models, record.models)))
        __builtin_trap ();
    ocf_backend_record_clear (&again);
    ocf_backend_record_clear (&record);
    json_decref (state);
    free (text);
    return 0;
}

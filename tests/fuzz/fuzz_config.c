/*  Fuzz target: the configuration parser (common/ocf_config.c), INI text in.  */
#include "ocf_config.h"

#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    memcpy (text, data, size);
    text[size] = '\0';
    ocf_config_t *config = ocf_config_new ();
    ocf_config_load_string (config, text, "fuzz.conf");
    ocf_config_finish (config);
    //  Printing exercises every value that was accepted.
    FILE *out = fopen ("/dev/null", "w");
    ocf_config_print (config, out);
    fclose (out);
    ocf_config_destroy (&config);
    free (text);
    return 0;
}

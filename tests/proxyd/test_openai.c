/*  The official OpenAI SDK for Node.js against ocf-proxyd: a request enters at host A and is
    served by a backend behind host B (node/openai_test.mjs holds the checks; ctest installs
    its packages first, from node/package-lock.json).  */
#include "fabric.h"

#include <criterion/criterion.h>
#include <stdio.h>

static fabric_t s_fabric;

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
}

Test (proxyd_openai, official_sdk, .fini = s_teardown, .timeout = 120)
{
    fabric_host_t *a = fabric_host (&s_fabric, "host-a", NULL);
    fabric_host_t *b = fabric_host (&s_fabric, "host-b", NULL);
    const char *m1[] = { "--model", "sdk-model", "--token-delay-ms", "5", NULL };
    fabric_backend_t *backend = fabric_backend (&s_fabric, "sdk-backend", m1);
    fabric_service (b, "llm", backend, "model=sdk-model", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (a, "sdk-model", 1, 5000));
    char command[512];
    snprintf (command, sizeof command, "cd %s && node openai_test.mjs %s/v1 sdk-model sdk-backend 2>&1", OCF_NODE_TEST_DIR, a->url);
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "the OpenAI SDK test failed:\n%s", output);
    cr_log_info ("%s", output);
    free (output);
}

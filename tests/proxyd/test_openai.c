/*  The official OpenAI SDK for Node.js and LangChain's OpenAI chat model against ocf-proxyd:
    requests enter at host A and are served by a backend behind host B, or, for a second
    model, by A's own (node/openai_test.mjs and node/langchain_test.mjs hold the checks; ctest
    installs their packages first, from node/package-lock.json).  */
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
    const char *m2[] = { "--model", "sdk-model-2", NULL };
    fabric_backend_t *backend2 = fabric_backend (&s_fabric, "sdk-backend-2", m2);
    fabric_service (b, "llm", backend, "model=sdk-model", NULL);
    fabric_service (a, "llm", backend2, "model=sdk-model-2", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (a, "sdk-model", 1, 5000));
    cr_assert (fabric_wait_model (a, "sdk-model-2", 1, 5000));
    const char *scripts[][2] = { { "openai_test.mjs", "sdk-model sdk-backend sdk-model-2 sdk-backend-2" },
                                 { "langchain_test.mjs", "sdk-model sdk-backend" } };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        char command[512];
        snprintf (command, sizeof command, "cd %s && node %s %s/v1 %s 2>&1", OCF_NODE_TEST_DIR, scripts[i][0], a->url,
                  scripts[i][1]);
        int status;
        char *output = ocf_test_run (command, &status);
        cr_assert_eq (status, 0, "node %s failed:\n%s", scripts[i][0], output);
        cr_log_info ("%s", output);
        free (output);
    }
}

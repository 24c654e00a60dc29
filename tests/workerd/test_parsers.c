/*  workerd's decoders on real outputs (tests/workerd/fixtures, see its README) and on broken
    ones: nvidia-smi CSV, /v1/models JSON, Prometheus text, /proc, Slurm variables, and the
    bounded line splitter for backend output.  */
#include "ocf_gpu.h"
#include "ocf_hardware.h"
#include "ocf_linebuf.h"
#include "ocf_models.h"
#include "ocf_procnet.h"
#include "ocf_procstat.h"
#include "ocf_prom.h"
#include "ocf_slurm.h"
#include "ocf_strbuf.h"
#include "ocf_sysinfo.h"
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <math.h>
#include <unistd.h>

#define FIXTURES OCF_SOURCE_DIR "/tests/workerd/fixtures"

static char *
s_fixture (const char *name)
{
    char path[512];
    snprintf (path, sizeof path, FIXTURES "/%s", name);
    char *text = ocf_test_read_file (path);
    cr_assert_not_null (text, "missing fixture %s", path);
    return text;
}

static json_t *
s_parse_gpus (const char *fixture, char *error, size_t error_size)
{
    char *text = s_fixture (fixture);
    json_t *gpus = ocf_gpu_parse (text, strlen (text), error, error_size);
    free (text);
    return gpus;
}

//  One GPU of a parse, checked field by field; -1 stands for null.
static void
s_expect_gpu (json_t *gpus, size_t at, int index, const char *name, const char *uuid, long total, long used,
              long utilization, long temperature)
{
    json_t *gpu = json_array_get (gpus, at);
    cr_assert_not_null (gpu);
    cr_assert_eq (json_object_size (gpu), 7, "exactly the fields tabled's gpus view reads");
    cr_assert_eq (json_integer_value (json_object_get (gpu, "index")), index);
    cr_assert_str_eq (json_string_value (json_object_get (gpu, "name")), name);
    cr_assert_str_eq (json_string_value (json_object_get (gpu, "uuid")), uuid);
    const char *keys[] = { "memory_total_mb", "memory_used_mb", "utilization", "temperature" };
    long values[] = { total, used, utilization, temperature };
    for (int i = 0; i < 4; i++) {
        json_t *value = json_object_get (gpu, keys[i]);
        cr_assert_not_null (value, "%s is present", keys[i]);
        if (values[i] < 0)
            cr_assert (json_is_null (value), "%s of GPU %zu is null", keys[i], at);
        else
            cr_assert_eq (json_integer_value (value), values[i], "%s of GPU %zu", keys[i], at);
    }
}

#define MASKED "GPU-00000000-0000-0000-0000-000000000000"

Test (gpu, one_gpu_of_each_kind)
{
    //  Datacenter, MIG enabled (utilization unknown), consumer, and an old GeForce.
    struct { const char *fixture, *name; long total, used, utilization, temperature; } cases[] = {
        { "h100-80gb-hbm3.csv", "NVIDIA H100 80GB HBM3", 81559, 19818, 100, 59 },
        { "l40s.csv", "NVIDIA L40S", 46068, 1235, 9, 54 },
        { "h100-mig.csv", "NVIDIA H100 80GB HBM3", 81559, 11125, -1, 53 },
        { "h200-mig.csv", "NVIDIA H200", 143771, 55, -1, 28 },
        { "rtx-4080-super.csv", "NVIDIA GeForce RTX 4080 SUPER", 16376, 1474, 7, 46 },
        { "rtx-2080-super.csv", "NVIDIA GeForce RTX 2080 SUPER", 8192, 214, 0, 40 },
        { "gtx-770-not-supported.csv", "GeForce GTX 770", -1, -1, -1, 52 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[128], error[512];
        snprintf (path, sizeof path, "nvidia-smi/%s", cases[i].fixture);
        json_t *gpus = s_parse_gpus (path, error, sizeof error);
        cr_assert_not_null (gpus, "%s: %s", cases[i].fixture, error);
        cr_assert_eq (json_array_size (gpus), 1, "%s", cases[i].fixture);
        s_expect_gpu (gpus, 0, 0, cases[i].name, MASKED, cases[i].total, cases[i].used, cases[i].utilization,
                      cases[i].temperature);
        json_decref (gpus);
    }
}

Test (gpu, eight_gpus_in_order)
{
    char error[512];
    json_t *gpus = s_parse_gpus ("nvidia-smi/titan-x-8gpu.csv", error, sizeof error);
    cr_assert_not_null (gpus, "%s", error);
    cr_assert_eq (json_array_size (gpus), 8);
    s_expect_gpu (gpus, 0, 0, "GeForce GTX TITAN X", "GPU-004f693d-767b-b215-b4a9-a18af0ffd643", 12206, 802, 0, 25);
    s_expect_gpu (gpus, 7, 7, "GeForce GTX TITAN X", "GPU-f199c9ea-65d8-5382-aefe-a9e8fb48057b", 12206, 6442, 82, 55);
    json_decref (gpus);
}

Test (gpu, hosts_without_gpus_are_an_empty_list)
{
    const char *fixtures[] = { "nvidia-smi/no-devices.txt", "nvidia-smi/no-supported-gpus.txt" };
    for (size_t i = 0; i < 2; i++) {
        char error[512];
        json_t *gpus = s_parse_gpus (fixtures[i], error, sizeof error);
        cr_assert_not_null (gpus, "%s: %s", fixtures[i], error);
        cr_assert_eq (json_array_size (gpus), 0, "%s", fixtures[i]);
        json_decref (gpus);
    }
}

Test (gpu, driver_failures_are_errors_that_quote_nvidia_smi)
{
    char error[512];
    cr_assert_null (s_parse_gpus ("nvidia-smi/driver-mismatch.txt", error, sizeof error));
    cr_assert (strstr (error, "line 1") && strstr (error, "Driver/library version mismatch"), "%s", error);
    cr_assert_null (s_parse_gpus ("nvidia-smi/driver-not-loaded.txt", error, sizeof error));
    cr_assert (strstr (error, "couldn't communicate with the NVIDIA driver"), "%s", error);
}

Test (gpu, malformed_output)
{
    struct { const char *text; const char *says; } cases[] = {
        { "", "empty output" },
        { "\n\n", "empty output" },
        { "0, A100, GPU-1, 40960, 0, 0\n", "got 6" },
        { "x, A100, GPU-1, 40960, 0, 0, 30\n", "index 'x'" },
        { "0, A100, GPU-1, 40 GiB, 0, 0, 30\n", "memory.total '40 GiB'" },
        { "0, A100, GPU-1, 40960, -5, 0, 30\n", "memory.used '-5'" },
        { "0, A100, GPU-1, 40960, 0, 0, 99999999999999999999999\n", "temperature.gpu" },
        { "0, , GPU-1, 40960, 0, 0, 30\n", "name" },
        { "index, name, uuid, memory.total [MiB], memory.used [MiB], utilization.gpu [%], temperature.gpu\n", "index 'index'" },
        { "0, A100, GPU-1, 40960, 0, 0, 30\n1, A100, GPU-2, 40960\n", "line 2" },
        { "0, A100, GPU-\xd5\xca, 40960, 0, 0, 30\n", "line 1: uuid is not valid UTF-8" },
        { "0, A\xff, GPU-1, 40960, 0, 0, 30\n", "line 1: name is not valid UTF-8" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char error[512] = "";
        json_t *gpus = ocf_gpu_parse (cases[i].text, strlen (cases[i].text), error, sizeof error);
        cr_assert_null (gpus, "case %zu parsed", i);
        cr_assert (strstr (error, cases[i].says), "case %zu: '%s' lacks '%s'", i, error, cases[i].says);
    }
    char nul[] = "0, A100, GPU-1, 40960, 0, 0, 30\n";
    nul[5] = '\0';
    char error[512];
    cr_assert_null (ocf_gpu_parse (nul, sizeof nul - 1, error, sizeof error));
}

Test (gpu, names_with_commas_and_windows_line_ends)
{
    const char *text = "0, Vendor, Model X, GPU-1, 1024, 10, 5, 40\r\n1, Plain, GPU-2, 2048, [N/A], 0, 41\r\n";
    char error[512];
    json_t *gpus = ocf_gpu_parse (text, strlen (text), error, sizeof error);
    cr_assert_not_null (gpus, "%s", error);
    s_expect_gpu (gpus, 0, 0, "Vendor, Model X", "GPU-1", 1024, 10, 5, 40);
    s_expect_gpu (gpus, 1, 1, "Plain", "GPU-2", 2048, -1, 0, 41);
    json_decref (gpus);
}

Test (gpu, at_most_256_gpus)
{
    ocf_strbuf_t text = { 0 };
    for (int i = 0; i < 257; i++)
        ocf_strbuf_printf (&text, "%d, A100, GPU-%d, 40960, 0, 0, 30\n", i, i);
    char error[512];
    cr_assert_null (ocf_gpu_parse (text.data, text.len, error, sizeof error));
    cr_assert (strstr (error, "more than 256"), "%s", error);
    ocf_strbuf_free (&text);
}

//  --------------------------------------------------------------------------

static json_t *
s_parse_models (const char *fixture, char *error, size_t error_size)
{
    char *text = s_fixture (fixture);
    json_t *models = ocf_models_parse (text, strlen (text), 256, error, error_size);
    free (text);
    return models;
}

Test (models, vllm_base_model_and_lora_adapter)
{
    char error[512];
    json_t *models = s_parse_models ("models/vllm.json", error, sizeof error);
    cr_assert_not_null (models, "%s", error);
    cr_assert_str_empty (error);
    cr_assert_eq (json_array_size (models), 2);
    cr_assert_str_eq (json_string_value (json_array_get (models, 0)), "meta-llama/Meta-Llama-3-8B-Instruct");
    cr_assert_str_eq (json_string_value (json_array_get (models, 1)), "sql-lora");
    json_decref (models);
}

Test (models, llamacpp_reads_the_openai_list)
{
    char error[512];
    json_t *models = s_parse_models ("models/llamacpp.json", error, sizeof error);
    cr_assert_not_null (models, "%s", error);
    cr_assert_eq (json_array_size (models), 1);
    cr_assert_str_eq (json_string_value (json_array_get (models, 0)), "Qwen3-8B-Q4_K_M.gguf");
    json_decref (models);
}

Test (models, sorted_unique_and_bounded)
{
    const char *text = "{\"data\":[{\"id\":\"c\"},{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"a\"}]}";
    char error[512];
    json_t *models = ocf_models_parse (text, strlen (text), 2, error, sizeof error);
    cr_assert_not_null (models);
    cr_assert_eq (json_array_size (models), 2);
    cr_assert_str_eq (json_string_value (json_array_get (models, 0)), "a");
    cr_assert_str_eq (json_string_value (json_array_get (models, 1)), "b");
    cr_assert (strstr (error, "1 model left out"), "%s", error);
    json_decref (models);
    text = "{\"data\":[]}";
    models = ocf_models_parse (text, strlen (text), 256, error, sizeof error);
    cr_assert_eq (json_array_size (models), 0, "no model is a valid answer");
    json_decref (models);
}

Test (models, unusable_ids_are_left_out_with_a_warning)
{
    char text[1024];
    char long_id[300];
    memset (long_id, 'x', 251);
    long_id[251] = '\0';
    snprintf (text, sizeof text, "{\"data\":[{\"id\":\"ok\"},{\"id\":\"\"},{\"id\":\"%s\"},{\"id\":\"tab\\there\"}]}",
              long_id);
    char error[512];
    json_t *models = ocf_models_parse (text, strlen (text), 256, error, sizeof error);
    cr_assert_not_null (models);
    cr_assert_eq (json_array_size (models), 1);
    cr_assert_str_eq (json_string_value (json_array_get (models, 0)), "ok");
    cr_assert (strstr (error, "3 model ids left out"), "%s", error);
    json_decref (models);
}

Test (models, malformed_replies)
{
    struct { const char *text; const char *says; } cases[] = {
        { "", "not JSON" },
        { "<html>502 Bad Gateway</html>", "not JSON" },
        { "[]", "\"data\" array" },
        { "{\"object\":\"list\"}", "\"data\" array" },
        { "{\"data\":{}}", "\"data\" array" },
        { "{\"data\":[{\"id\":\"a\"},{\"name\":\"b\"}]}", "data[1]" },
        { "{\"data\":[{\"id\":7}]}", "data[0]" },
        { "{\"data\":[\"a\"]}", "data[0]" },
        { "{\"data\":[{\"id\":\"nul\\u0000id\"}]}", "not JSON" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char error[512] = "";
        json_t *models = ocf_models_parse (cases[i].text, strlen (cases[i].text), 256, error, sizeof error);
        cr_assert_null (models, "case %zu parsed", i);
        cr_assert (strstr (error, cases[i].says), "case %zu: '%s' lacks '%s'", i, error, cases[i].says);
    }
}

//  --------------------------------------------------------------------------

static int
s_parse_load (const char *fixture, ocf_prom_load_t *load, char *error, size_t error_size)
{
    char *text = s_fixture (fixture);
    int rc = ocf_prom_parse_load (text, strlen (text), load, error, error_size);
    free (text);
    return rc;
}

Test (prom, vllm_before_0_10)
{
    ocf_prom_load_t load;
    char error[512];
    cr_assert_eq (s_parse_load ("metrics/vllm-v0.prom", &load, error, sizeof error), 0, "%s", error);
    cr_assert (load.has_queue && load.has_kv);
    cr_assert_eq (load.queue_depth, 0);
    cr_assert_float_eq (load.kv_cache, 0.0, 1e-9);
}

Test (prom, vllm_engines_are_summed_and_the_current_kv_name_wins)
{
    ocf_prom_load_t load;
    char error[512];
    cr_assert_eq (s_parse_load ("metrics/vllm-v1-two-engines.prom", &load, error, sizeof error), 0, "%s", error);
    cr_assert_eq (load.queue_depth, 7, "3 + 4 waiting over both engines");
    cr_assert_float_eq (load.kv_cache, 0.625, 1e-9, "the fuller engine, from vllm:kv_cache_usage_perc");
}

Test (prom, llamacpp_deferred_requests_are_the_queue)
{
    ocf_prom_load_t load;
    char error[512];
    cr_assert_eq (s_parse_load ("metrics/llamacpp.prom", &load, error, sizeof error), 0, "%s", error);
    cr_assert (load.has_queue && !load.has_kv, "current llama.cpp builds export no KV-cache use");
    cr_assert_eq (load.queue_depth, 46);
    cr_assert_eq (s_parse_load ("metrics/llamacpp-with-kv.prom", &load, error, sizeof error), 0, "%s", error);
    cr_assert (load.has_kv);
    cr_assert_eq (load.queue_depth, 1);
    cr_assert_float_eq (load.kv_cache, 0.42, 1e-9);
}

Test (prom, prefix_cache_figures)
{
    //  vLLM V1: counters, one series per engine, summed; the earlier names alongside are
    //  the same counts and are not added again.
    const char *v1 =
        "vllm:num_requests_waiting{engine=\"0\"} 0.0\n"
        "vllm:gpu_prefix_cache_queries_total{engine=\"0\"} 1000.0\n"
        "vllm:prefix_cache_queries_total{engine=\"0\"} 1000.0\n"
        "vllm:prefix_cache_queries_total{engine=\"1\"} 600.0\n"
        "vllm:prefix_cache_hits_total{engine=\"0\"} 700.0\n"
        "vllm:prefix_cache_hits_total{engine=\"1\"} 100.0\n"
        "vllm:gpu_prefix_cache_hits_total{engine=\"0\"} 700.0\n";
    ocf_prom_load_t load;
    char error[512];
    cr_assert_eq (ocf_prom_parse_load (v1, strlen (v1), &load, error, sizeof error), 0, "%s", error);
    cr_assert (load.has_prefix_counters && !load.has_prefix_rate);
    cr_assert_float_eq (load.prefix_queries, 1600, 1e-9);
    cr_assert_float_eq (load.prefix_hits, 800, 1e-9);
    //  Only the earlier names (vLLM 0.8-0.9).
    const char *earlier = "vllm:gpu_prefix_cache_queries_total 10\nvllm:gpu_prefix_cache_hits_total 4\n";
    cr_assert_eq (ocf_prom_parse_load (earlier, strlen (earlier), &load, error, sizeof error), 0, "%s", error);
    cr_assert_float_eq (load.prefix_queries, 10, 1e-9);
    cr_assert_float_eq (load.prefix_hits, 4, 1e-9);
    //  vLLM V0 and SGLang: a rate, the largest series; alone it is enough to read.
    const char *v0 = "vllm:gpu_prefix_cache_hit_rate{model_name=\"a\"} 0.25\nvllm:gpu_prefix_cache_hit_rate{model_name=\"b\"} 0.5\n";
    cr_assert_eq (ocf_prom_parse_load (v0, strlen (v0), &load, error, sizeof error), 0, "%s", error);
    cr_assert (load.has_prefix_rate && !load.has_prefix_counters && !load.has_queue);
    cr_assert_float_eq (load.prefix_hit_rate, 0.5, 1e-9);
    const char *sglang = "sglang:num_queue_reqs{model_name=\"m\"} 3\nsglang:cache_hit_rate{model_name=\"m\"} 1.7\n";
    cr_assert_eq (ocf_prom_parse_load (sglang, strlen (sglang), &load, error, sizeof error), 0, "%s", error);
    cr_assert_float_eq (load.prefix_hit_rate, 1.0, 1e-9, "clamped to 1");
}

Test (prom, format_details)
{
    //  Timestamps, escaped label values, spaces, CRLF, NaN and an exemplar are all valid.
    const char *text =
        "# a comment\r\n"
        "\n"
        "vllm:num_requests_waiting{model_name=\"a \\\"quoted\\\" \\\\ name\\n\",} 2 1700000000000\r\n"
        "vllm:num_requests_waiting { model_name = \"b\" } 1e0\n"
        "vllm:num_requests_waiting{model_name=\"c\"} NaN\n"
        "vllm:kv_cache_usage_perc 1.5 # {trace_id=\"x\"} 1\n"
        "other_metric{le=\"+Inf\"} +Inf\n";
    ocf_prom_load_t load;
    char error[512];
    cr_assert_eq (ocf_prom_parse_load (text, strlen (text), &load, error, sizeof error), 0, "%s", error);
    cr_assert_eq (load.queue_depth, 3);
    cr_assert_float_eq (load.kv_cache, 1.0, 1e-9, "clamped to 1");
}

Test (prom, malformed_text_fails_the_scrape_naming_the_line)
{
    struct { const char *text; const char *says; } cases[] = {
        { "", "none of the known" },
        { "# only comments\n", "none of the known" },
        { "process_open_fds 45\n", "none of the known" },
        { "<html><body>404</body></html>\n", "line 1: expected a metric name" },
        { "vllm:num_requests_waiting\n", "line 1: missing value" },
        { "ok 1\nvllm:num_requests_waiting{a=\"b\" 1\n", "line 2: expected ',' or '}'" },
        { "vllm:num_requests_waiting{a=b} 1\n", "expected =\"value\"" },
        { "vllm:num_requests_waiting{a=\"b} 1\n", "unterminated label value" },
        { "vllm:num_requests_waiting{a=\"\\q\"} 1\n", "bad escape" },
        { "vllm:num_requests_waiting{1a=\"b\"} 1\n", "label name" },
        { "vllm:num_requests_waiting one\n", "not a number" },
        { "vllm:num_requests_waiting 1 2 3\n", "after the timestamp" },
        { "vllm:num_requests_waiting 1 later\n", "after the value" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ocf_prom_load_t load;
        char error[512] = "";
        cr_assert_eq (ocf_prom_parse_load (cases[i].text, strlen (cases[i].text), &load, error, sizeof error), -1,
                      "case %zu parsed", i);
        cr_assert (strstr (error, cases[i].says), "case %zu: '%s' lacks '%s'", i, error, cases[i].says);
    }
}

//  --------------------------------------------------------------------------

Test (sysinfo, proc_stat_and_meminfo)
{
    const char *stat = "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 50 0 25 500 0 0 0 0 0 0\ncpu1 50 0 25 500 0 0 0 0 0 0\n"
                       "cpu15 1 2 3\nintr 12345\nctxt 99\n";
    cr_assert_eq (ocf_sysinfo_cpus_parse (stat), 3);
    cr_assert_eq (ocf_sysinfo_cpus_parse ("intr 1\n"), 0);
    const char *meminfo = "MemTotal:       24683660 kB\nMemFree:        20000000 kB\nMemAvailable:   22000000 kB\n";
    cr_assert_eq (ocf_sysinfo_memory_mb_parse (meminfo, "MemTotal"), 24105);
    cr_assert_eq (ocf_sysinfo_memory_mb_parse (meminfo, "MemAvailable"), 21484);
    cr_assert_eq (ocf_sysinfo_memory_mb_parse ("MemFree: 1 kB\n", "MemTotal"), 0);
    cr_assert_eq (ocf_sysinfo_memory_mb_parse ("MemTotal: lots\n", "MemTotal"), 0);
    cr_assert_eq (ocf_sysinfo_memory_mb_parse ("MemTotalX: 1024 kB\n", "MemTotal"), 0);
}

Test (sysinfo, reads_this_host)
{
    int cpus;
    int64_t memory_mb, memory_used_mb;
    cr_assert_eq (ocf_sysinfo_read ("/proc", &cpus, &memory_mb, &memory_used_mb), 0);
    cr_assert_eq (cpus, (int) sysconf (_SC_NPROCESSORS_ONLN));
    cr_assert_gt (memory_mb, 0);
    cr_assert (memory_used_mb > 0 && memory_used_mb < memory_mb, "used %ld of %ld MiB", (long) memory_used_mb, (long) memory_mb);
    cr_assert_eq (ocf_sysinfo_read ("/nonexistent", &cpus, &memory_mb, &memory_used_mb), -1);
    cr_assert_eq (cpus, 0);
}

//  --------------------------------------------------------------------------

Test (slurm, job_variables_become_labels)
{
    char *envp[] = { "PATH=/usr/bin", "SLURM_JOB_ID=4242", "SLURM_JOB_NAME=vllm-serve", "SLURM_JOB_PARTITION=gpu",
                     "SLURM_NODELIST=gpu[001-004]", "SLURM_NNODES=4", "SLURM_JOB_GPUS=0,1", "SLURM_CPUS_ON_NODE=64",
                     "SLURM_JOB_ACCOUNT=", NULL };
    char skipped[256];
    json_t *labels = ocf_slurm_labels (envp, skipped, sizeof skipped);
    json_t *expected = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s}", "slurm_job_id", "4242", "slurm_job_name", "vllm-serve",
                                  "slurm_job_partition", "gpu", "slurm_job_nodelist", "gpu[001-004]",
                                  "slurm_job_num_nodes", "4", "slurm_job_gpus", "0,1");
    cr_assert (json_equal (labels, expected), "got %s", json_dumps (labels, JSON_COMPACT | JSON_SORT_KEYS));
    cr_assert_str_empty (skipped);
    json_decref (labels);
    json_decref (expected);
    char *outside[] = { "HOME=/root", NULL };
    labels = ocf_slurm_labels (outside, skipped, sizeof skipped);
    cr_assert_eq (json_object_size (labels), 0);
    json_decref (labels);
}

Test (slurm, unusable_values_are_named)
{
    char long_value[400] = "SLURM_JOB_NAME=";
    memset (long_value + 15, 'n', 300);
    long_value[315] = '\0';
    char *envp[] = { long_value, "SLURM_JOB_ID=1\x1b[31m", "SLURM_JOB_PARTITION=gpu", "SLURM_JOB_USER=\xe9ric", NULL };
    char skipped[256];
    json_t *labels = ocf_slurm_labels (envp, skipped, sizeof skipped);
    cr_assert_eq (json_object_size (labels), 1);
    cr_assert_str_eq (skipped, "SLURM_JOB_ID, SLURM_JOB_NAME, SLURM_JOB_USER");
    json_decref (labels);
}

Test (slurm, merge_keeps_other_labels_and_drops_stale_slurm_ones)
{
    json_t *current = json_pack ("{s:s, s:s, s:s}", "rack", "b4", "slurm_job_id", "1", "slurm_job_qos", "high");
    json_t *slurm = json_pack ("{s:s}", "slurm_job_id", "2");
    json_t *merged = ocf_slurm_merge (current, slurm);
    json_t *expected = json_pack ("{s:s, s:s}", "rack", "b4", "slurm_job_id", "2");
    cr_assert (json_equal (merged, expected), "got %s", json_dumps (merged, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref (merged);
    merged = ocf_slurm_merge (NULL, slurm);
    cr_assert (json_equal (merged, slurm));
    json_decref (merged);
    json_decref (expected);
    json_decref (slurm);
    json_decref (current);
}

//  --------------------------------------------------------------------------

typedef struct {
    char lines[8][OCF_LINEBUF_MAX + 1];
    bool continued[8];
    int count;
} collected_t;

static void
s_collect (const char *line, size_t len, bool continued, void *arg)
{
    collected_t *collected = arg;
    cr_assert_lt (collected->count, 8);
    memcpy (collected->lines[collected->count], line, len);
    collected->lines[collected->count][len] = '\0';
    collected->continued[collected->count++] = continued;
}

Test (linebuf, lines_across_pieces)
{
    ocf_linebuf_t buffer = { .len = 0 };
    collected_t got = { .count = 0 };
    ocf_linebuf_feed (&buffer, "INFO loading", 12, s_collect, &got);
    cr_assert_eq (got.count, 0);
    ocf_linebuf_feed (&buffer, " model\r\nnext\n\npartial", 21, s_collect, &got);
    cr_assert_eq (got.count, 3);
    cr_assert_str_eq (got.lines[0], "INFO loading model");
    cr_assert_str_eq (got.lines[1], "next");
    cr_assert_str_eq (got.lines[2], "");
    ocf_linebuf_flush (&buffer, s_collect, &got);
    cr_assert_eq (got.count, 4);
    cr_assert_str_eq (got.lines[3], "partial");
}

Test (linebuf, a_line_without_end_is_cut_not_buffered)
{
    ocf_linebuf_t buffer = { .len = 0 };
    collected_t got = { .count = 0 };
    size_t size = OCF_LINEBUF_MAX * 2 + 10;
    char *data = malloc (size);
    memset (data, 'x', size);
    ocf_linebuf_feed (&buffer, data, size, s_collect, &got);
    cr_assert_eq (got.count, 2);
    cr_assert (got.continued[0] && got.continued[1]);
    cr_assert_eq (strlen (got.lines[0]), OCF_LINEBUF_MAX);
    cr_assert_eq (buffer.len, 10);
    //  A line of exactly the limit is one line, not a piece and an empty line.
    ocf_linebuf_t exact = { .len = 0 };
    collected_t one = { .count = 0 };
    data[OCF_LINEBUF_MAX] = '\n';
    ocf_linebuf_feed (&exact, data, OCF_LINEBUF_MAX + 1, s_collect, &one);
    cr_assert_eq (one.count, 1);
    cr_assert_not (one.continued[0]);
    free (data);
}

//  --------------------------------------------------------------------------
//  /proc/net/tcp{,6}: who may answer a connection to host:port; /proc/PID/stat

static const char *
s_listeners (const char *host, int port)
{
    static char text[256];
    ocf_procnet_target_t target;
    cr_assert_eq (ocf_procnet_target (host, &target), 0);
    uint64_t inodes[8];
    size_t count = 0;
    char *tcp = s_fixture ("proc/net_tcp"), *tcp6 = s_fixture ("proc/net_tcp6");
    ocf_procnet_listeners (tcp, strlen (tcp), false, &target, port, inodes, 8, &count);
    ocf_procnet_listeners (tcp6, strlen (tcp6), true, &target, port, inodes, 8, &count);
    free (tcp);
    free (tcp6);
    text[0] = '\0';
    for (size_t i = 0; i < count; i++)
        snprintf (text + strlen (text), sizeof text - strlen (text), "%s%llu", i ? "," : "", (unsigned long long) inodes[i]);
    return text;
}

Test (procnet, listeners_that_accept_a_connection_to_host_and_port)
{
    //  Its own address and the wildcards (IPv6's too: dual-stack), never an established
    //  connection, another address or another port.
    cr_assert_str_eq (s_listeners ("127.0.0.1", 8000), "1001,1002,2001,2003");
    cr_assert_str_eq (s_listeners ("::1", 8000), "2001,2002");
    cr_assert_str_eq (s_listeners ("[::1]", 8000), "2001,2002");
    cr_assert_str_eq (s_listeners ("127.0.0.2", 8000), "1002,1003,2001");
    cr_assert_str_eq (s_listeners ("localhost", 8000), "1001,1002,1003,2001,2002,2003", "a name: every address");
    cr_assert_str_eq (s_listeners ("127.0.0.1", 8001), "1005");
    cr_assert_str_eq (s_listeners ("127.0.0.1", 9000), "");
}

Test (procnet, this_hosts_tables_parse)
{
    //  Whatever listens here, the real files are read without a row being mistaken.
    ocf_procnet_target_t target;
    ocf_procnet_target ("0.0.0.0", &target);
    char *tcp = ocf_test_read_file ("/proc/net/tcp");
    cr_assert_not_null (tcp);
    uint64_t inodes[4];
    size_t count = 0;
    ocf_procnet_listeners (tcp, strlen (tcp), false, &target, 65536, inodes, 4, &count);
    cr_assert_eq (count, 0, "no port 65536");
    free (tcp);
}

Test (procstat, stat_lines)
{
    ocf_procstat_t stat;
    const char *line = "4711 (my (odd) name) S 1 4711 4711 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10 "
                       "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
    cr_assert_eq (ocf_procstat_parse (line, strlen (line), &stat), 0);
    cr_assert_eq (stat.pid, 4711);
    cr_assert_str_eq (stat.comm, "my (odd) name");
    cr_assert_eq (stat.state, 'S');
    cr_assert_eq (stat.ppid, 1);
    cr_assert_eq (stat.pgrp, 4711);
    cr_assert_eq (stat.start_time, 123456);
    const char *short_line = "4711 (x) S 1 4711";
    cr_assert_eq (ocf_procstat_parse (short_line, strlen (short_line), &stat), -1, "no start time");
    cr_assert_eq (ocf_procstat_parse ("(x) S", 5, &stat), -1);
    cr_assert_eq (ocf_procstat_read (getpid (), &stat), 0);
    cr_assert_eq (stat.pid, getpid ());
    cr_assert_eq (stat.ppid, getppid ());
}

//  A GPU as nvidia-smi reports it, in the record's shape.
static json_t *
s_gpu (const char *uuid, int index, int memory_used, int utilization, int temperature)
{
    return json_pack ("{s:i, s:s, s:s?, s:i, s:i, s:i, s:i}", "index", index, "name", "NVIDIA H100", "uuid", uuid,
                      "memory_total_mb", 80000, "memory_used_mb", memory_used, "utilization", utilization,
                      "temperature", temperature);
}

static json_t *
s_hardware (int memory_used, json_t *gpus)
{
    return json_pack ("{s:i, s:i, s:i, s:o}", "cpus", 64, "memory_mb", 512000, "memory_used_mb", memory_used, "gpus", gpus);
}

Test (hardware, figures_are_written_past_a_deadband_only)
{
    json_t *reported = s_hardware (48000, json_pack ("[o, o]", s_gpu ("GPU-a", 0, 20000, 50, 60), s_gpu (NULL, 1, 0, 0, 30)));
    //  Small moves everywhere (host memory < 5 % of 512 GB, GPU memory < 5 % of 80 GB,
    //  utilisation < 10 points, temperature < 5 degrees): the record stays as it is.
    json_t *measured = s_hardware (70000, json_pack ("[o, o]", s_gpu ("GPU-a", 0, 23000, 59, 64), s_gpu (NULL, 1, 3000, 9, 26)));
    json_t *settled = ocf_hardware_settle (reported, measured);
    cr_assert (json_equal (settled, reported), "%s", json_dumps (settled, JSON_COMPACT));
    json_decref (settled);
    //  Past the deadband, each figure on its own: the moved ones as measured, the rest as reported.
    json_decref (measured);
    measured = s_hardware (80000, json_pack ("[o, o]", s_gpu ("GPU-a", 0, 23900, 40, 63), s_gpu (NULL, 1, 0, 10, 35)));
    settled = ocf_hardware_settle (reported, measured);
    json_t *expected = s_hardware (80000, json_pack ("[o, o]", s_gpu ("GPU-a", 0, 20000, 40, 60), s_gpu (NULL, 1, 0, 10, 35)));
    cr_assert (json_equal (settled, expected), "%s", json_dumps (settled, JSON_COMPACT));
    cr_assert_eq (json_integer_value (json_object_get (json_array_get (json_object_get (measured, "gpus"), 0), "memory_used_mb")), 23900,
                  "measured is left untouched");
    json_decref (settled);
    json_decref (expected);
    json_decref (measured);
    //  A new GPU, a swapped one (other uuid) and a value becoming unknown are written at once.
    measured = s_hardware (48000, json_pack ("[o, o, o]", s_gpu ("GPU-b", 0, 20001, 51, 61), s_gpu (NULL, 1, 0, 0, 30),
                                            s_gpu ("GPU-c", 2, 1, 1, 1)));
    json_object_set_new (json_array_get (json_object_get (measured, "gpus"), 1), "utilization", json_null ());
    settled = ocf_hardware_settle (reported, measured);
    cr_assert (json_equal (settled, measured), "%s", json_dumps (settled, JSON_COMPACT));
    json_decref (settled);
    json_decref (measured);
    //  Nothing reported yet: everything as measured.
    measured = s_hardware (1, json_array ());
    settled = ocf_hardware_settle (NULL, measured);
    cr_assert (json_equal (settled, measured));
    json_decref (settled);
    json_decref (measured);
    json_decref (reported);
}

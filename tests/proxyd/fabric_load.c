/*  fabric_load: client threads under a test's changes to the fabric.  */
#include "fabric_load.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define MAX_RESULTS 8192

typedef struct {
    fabric_load_t *load;
    int index;
} client_t;

struct _fabric_load_t {
    fabric_t *fabric;
    char model[64];
    int long_clients;
    fabric_target_fn *target;
    atomic_bool running;
    int client_count;
    client_t clients[MAX_CLIENTS];
    pthread_t threads[MAX_CLIENTS];
    pthread_mutex_t lock;
    fabric_result_t results[MAX_RESULTS];
    size_t result_count;
};

static void *
s_client (void *arg)
{
    client_t *client = arg;
    fabric_load_t *self = client->load;
    const char *long_stream[] = { "X-Test-Tokens: 100", NULL };
    for (int round = 0; atomic_load (&self->running); round++) {
        const char *path;
        int host = self->target (client->index, round, &path);
        char url[256];
        snprintf (url, sizeof url, "%s%s", self->fabric->hosts[host].url, path);
        fabric_result_t result = { .sent_us = ocf_time_wall_us (), .host = host };
        fabric_stream_t stream = fabric_stream (url, self->model, client->index < self->long_clients ? long_stream : NULL);
        result.ended_us = ocf_time_wall_us ();
        result.status = stream.status;
        result.done = stream.done;
        snprintf (result.backend, sizeof result.backend, "%s", stream.backend);
        pthread_mutex_lock (&self->lock);
        if (self->result_count < MAX_RESULTS)
            self->results[self->result_count++] = result;
        pthread_mutex_unlock (&self->lock);
        //  A 503 says when to come back (Retry-After); clients come back sooner, so that a
        //  test can measure how long the fabric refused.
        if (stream.status == 503)
            usleep (50 * 1000);
    }
    return NULL;
}

fabric_load_t *
fabric_load_start (fabric_t *fabric, const char *model, int clients, int long_clients, fabric_target_fn *target)
{
    cr_assert (clients > 0 && clients <= MAX_CLIENTS);
    fabric_load_t *self = calloc (1, sizeof *self);
    cr_assert_not_null (self);
    self->fabric = fabric;
    snprintf (self->model, sizeof self->model, "%s", model);
    self->long_clients = long_clients;
    self->target = target;
    pthread_mutex_init (&self->lock, NULL);
    atomic_store (&self->running, true);
    for (int i = 0; i < clients; i++) {
        self->clients[i] = (client_t) { self, i };
        cr_assert_eq (pthread_create (&self->threads[i], NULL, s_client, &self->clients[i]), 0);
        self->client_count++;
    }
    return self;
}

const fabric_result_t *
fabric_load_stop (fabric_load_t *self, size_t *count)
{
    atomic_store (&self->running, false);
    for (int i = 0; i < self->client_count; i++)
        pthread_join (self->threads[i], NULL);
    self->client_count = 0;
    *count = self->result_count;
    return self->results;
}

void
fabric_load_destroy (fabric_load_t **self_p)
{
    fabric_load_t *self = *self_p;
    if (!self)
        return;
    size_t count;
    fabric_load_stop (self, &count);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

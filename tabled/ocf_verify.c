/*  ocf_verify: parallel signature checks.  */
#include "ocf_verify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MIN_PARALLEL 8           //  rows below which the caller checks alone

struct _ocf_verify_t {
    pthread_t *threads;
    int thread_count;
    pthread_mutex_t mutex;
    pthread_cond_t work;         //  a job started, or stopping
    pthread_cond_t finished;     //  the last row of a job got its verdict
    uint64_t job;                //  number of the current job (threads wait for a new one)
    bool stopping;
    ocf_row_in_t **rows;
    atomic_size_t count;         //  atomic: a thread late from one job may read it as the next starts
    atomic_size_t next;          //  the next row to take
    atomic_size_t done;          //  rows with a verdict
};

//  Takes rows until none is left; true when this call gave the job's last verdict.
static bool
s_take_rows (ocf_verify_t *self)
{
    bool last = false;
    size_t index;
    while ((index = atomic_fetch_add (&self->next, 1)) < self->count) {
        ocf_row_in_t *row = self->rows[index];
        row->sig_state = ocf_record_verify_row (row) ? OCF_SIG_GOOD : OCF_SIG_BAD;
        last = atomic_fetch_add (&self->done, 1) + 1 == self->count;
    }
    return last;
}

static void *
s_thread (void *arg)
{
    ocf_verify_t *self = arg;
    uint64_t seen = 0;
    pthread_mutex_lock (&self->mutex);
    while (true) {
        while (!self->stopping && self->job == seen)
            pthread_cond_wait (&self->work, &self->mutex);
        if (self->stopping)
            break;
        seen = self->job;
        pthread_mutex_unlock (&self->mutex);
        bool last = s_take_rows (self);
        pthread_mutex_lock (&self->mutex);
        if (last)
            pthread_cond_signal (&self->finished);
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

ocf_verify_t *
ocf_verify_new (int threads)
{
    ocf_verify_t *self = calloc (1, sizeof *self);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->work, NULL);
    pthread_cond_init (&self->finished, NULL);
    self->threads = calloc ((size_t) (threads > 0 ? threads : 1), sizeof (pthread_t));
    for (int i = 0; i < threads; i++)
        if (pthread_create (&self->threads[self->thread_count], NULL, s_thread, self) == 0)
            self->thread_count++;
    return self;
}

void
ocf_verify_destroy (ocf_verify_t **self_p)
{
    ocf_verify_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->mutex);
    self->stopping = true;
    pthread_cond_broadcast (&self->work);
    pthread_mutex_unlock (&self->mutex);
    for (int i = 0; i < self->thread_count; i++)
        pthread_join (self->threads[i], NULL);
    pthread_mutex_destroy (&self->mutex);
    pthread_cond_destroy (&self->work);
    pthread_cond_destroy (&self->finished);
    free (self->threads);
    free (self);
    *self_p = NULL;
}

void
ocf_verify_rows (ocf_verify_t *self, ocf_row_in_t **rows, size_t count)
{
    if (count == 0)
        return;
    pthread_mutex_lock (&self->mutex);
    self->rows = rows;
    atomic_store (&self->count, count);
    atomic_store (&self->next, 0);
    atomic_store (&self->done, 0);
    bool parallel = self->thread_count > 0 && count >= MIN_PARALLEL;
    if (parallel) {
        self->job++;
        pthread_cond_broadcast (&self->work);
    }
    pthread_mutex_unlock (&self->mutex);
    s_take_rows (self);
    //  Threads still checking the rows they took: wait for the last verdict.
    pthread_mutex_lock (&self->mutex);
    while (atomic_load (&self->done) < count)
        pthread_cond_wait (&self->finished, &self->mutex);
    pthread_mutex_unlock (&self->mutex);
}

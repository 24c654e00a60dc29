/*  ocf_verify: parallel signature checks.  */
#include "ocf_verify.h"
#include "ocf_alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define MIN_PARALLEL 8           //  rows below which the caller checks alone
#define CHUNK 4                  //  rows taken at once: their CPU time is read once (a system call)
#define TAIL 16                  //  the last rows of a job are taken one at a time, so that the
                                 //  caller does not wait for a thread finishing a whole chunk

struct _ocf_verify_t {
    pthread_t *threads;
    int thread_count;
    pthread_mutex_t mutex;
    pthread_cond_t work;         //  a job started, or stopping
    pthread_cond_t finished;     //  a verdict the caller waits for, or the last thread left a job
    uint64_t job;                //  number of the current job (threads wait for a new one)
    bool stopping;
    int busy;                    //  threads inside the current job (under mutex): a job's rows are
                                 //  given back only once none is, so no thread outlives its job
    ocf_row_in_t **rows;
    size_t count;                //  set only while busy is 0, under mutex
    atomic_uchar *ready;         //  per row: its sig_state is written (release/acquire)
    size_t ready_size;
    atomic_size_t next;          //  the next row to take
    atomic_bool waiting;         //  the caller sleeps until a verdict comes
    atomic_uint_fast64_t verified, cpu_ns;
};

static uint64_t
s_thread_cpu_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

//  Checks the next untaken rows (up to CHUNK), if any is left; false when none is.
static bool
s_take_rows (ocf_verify_t *self)
{
    size_t chunk = atomic_load (&self->next) + TAIL < self->count ? CHUNK : 1;
    size_t index = atomic_fetch_add (&self->next, chunk);
    if (index >= self->count)
        return false;
    size_t end = index + chunk < self->count ? index + chunk : self->count;
    uint64_t start = s_thread_cpu_ns ();
    for (; index < end; index++) {
        ocf_row_in_t *row = self->rows[index];
        row->sig_state = ocf_record_verify_row (row) ? OCF_SIG_GOOD : OCF_SIG_BAD;
        atomic_store (&self->ready[index], 1);
        if (atomic_load (&self->waiting)) {
            pthread_mutex_lock (&self->mutex);
            pthread_cond_signal (&self->finished);
            pthread_mutex_unlock (&self->mutex);
        }
    }
    atomic_fetch_add (&self->cpu_ns, s_thread_cpu_ns () - start);
    return true;
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
        self->busy++;
        pthread_mutex_unlock (&self->mutex);
        while (s_take_rows (self))
            ;
        pthread_mutex_lock (&self->mutex);
        if (--self->busy == 0)
            pthread_cond_signal (&self->finished);
    }
    pthread_mutex_unlock (&self->mutex);
    return NULL;
}

ocf_verify_t *
ocf_verify_new (int threads)
{
    ocf_verify_t *self = ocf_calloc (1, sizeof *self);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->work, NULL);
    pthread_cond_init (&self->finished, NULL);
    self->threads = ocf_calloc ((size_t) (threads > 0 ? threads : 1), sizeof (pthread_t));
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
    free (self->ready);
    free (self->threads);
    free (self);
    *self_p = NULL;
}

void
ocf_verify_start (ocf_verify_t *self, ocf_row_in_t **rows, size_t count)
{
    pthread_mutex_lock (&self->mutex);
    while (self->busy > 0)       //  only after ocf_verify_finish's caller left early: wait
        pthread_cond_wait (&self->finished, &self->mutex);
    if (count > self->ready_size) {
        free (self->ready);
        self->ready = ocf_malloc (count * sizeof *self->ready);
        self->ready_size = count;
    }
    for (size_t i = 0; i < count; i++)
        atomic_init (&self->ready[i], 0);
    self->rows = rows;
    self->count = count;
    atomic_store (&self->next, 0);
    if (self->thread_count > 0 && count >= MIN_PARALLEL) {
        self->job++;
        pthread_cond_broadcast (&self->work);
    }
    pthread_mutex_unlock (&self->mutex);
}

void
ocf_verify_wait (ocf_verify_t *self, size_t index)
{
    //  Rather than wait, the caller checks untaken rows; it sleeps only when all are taken.
    while (!atomic_load (&self->ready[index]))
        if (!s_take_rows (self)) {
            pthread_mutex_lock (&self->mutex);
            atomic_store (&self->waiting, true);
            while (!atomic_load (&self->ready[index]))
                pthread_cond_wait (&self->finished, &self->mutex);
            atomic_store (&self->waiting, false);
            pthread_mutex_unlock (&self->mutex);
        }
}

void
ocf_verify_finish (ocf_verify_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        ocf_verify_wait (self, i);
    pthread_mutex_lock (&self->mutex);
    while (self->busy > 0)
        pthread_cond_wait (&self->finished, &self->mutex);
    atomic_fetch_add (&self->verified, self->count);
    self->rows = NULL;
    self->count = 0;
    pthread_mutex_unlock (&self->mutex);
}

void
ocf_verify_stats (ocf_verify_t *self, uint64_t *verified, uint64_t *cpu_us)
{
    *verified = atomic_load (&self->verified);
    *cpu_us = atomic_load (&self->cpu_ns) / 1000;
}

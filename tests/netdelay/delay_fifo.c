/*  delay_fifo: ocf-test-netdelay's held packets, a bounded ring in due order.  */
#include "delay_fifo.h"

#include <stdlib.h>

#include "ocf_alloc.h"

typedef struct {
    uint32_t id;
    int64_t due_us;
} held_t;

struct _delay_fifo_t {
    held_t *ring;
    size_t capacity;
    size_t head;        //  index of the oldest held packet
    size_t size;
};

delay_fifo_t *
delay_fifo_new (size_t capacity)
{
    delay_fifo_t *self = ocf_calloc (1, sizeof *self);
    self->ring = ocf_calloc (capacity, sizeof *self->ring);
    self->capacity = capacity;
    return self;
}

void
delay_fifo_destroy (delay_fifo_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->ring);
    free (*self_p);
    *self_p = NULL;
}

bool
delay_fifo_push (delay_fifo_t *self, uint32_t id, int64_t due_us)
{
    if (self->size == self->capacity)
        return false;
    self->ring [(self->head + self->size) % self->capacity] = (held_t) { id, due_us };
    self->size++;
    return true;
}

int64_t
delay_fifo_next_due (delay_fifo_t *self)
{
    return self->size ? self->ring [self->head].due_us : -1;
}

bool
delay_fifo_pop_due (delay_fifo_t *self, int64_t now_us, uint32_t *id)
{
    if (self->size == 0 || self->ring [self->head].due_us > now_us)
        return false;
    *id = self->ring [self->head].id;
    self->head = (self->head + 1) % self->capacity;
    self->size--;
    return true;
}

size_t
delay_fifo_size (delay_fifo_t *self)
{
    return self->size;
}

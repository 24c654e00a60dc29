/*  delay_fifo: ocf-test-netdelay's held packets, sans I/O: a bounded ring of packet ids, each
    with the time it is due to be let through. Every packet is held for the same delay, so
    arrival order is also due order and the head is always the next one due.  */
#ifndef DELAY_FIFO_H
#define DELAY_FIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _delay_fifo_t delay_fifo_t;

//  capacity: packets held at most (> 0).
delay_fifo_t *delay_fifo_new (size_t capacity);
void delay_fifo_destroy (delay_fifo_t **self_p);
//  Holds a packet until due_us (monotonic microseconds, not before the last one pushed).
//  False when the ring is full: the caller lets that packet through at once.
bool delay_fifo_push (delay_fifo_t *self, uint32_t id, int64_t due_us);
//  The head's due time, or -1 when nothing is held.
int64_t delay_fifo_next_due (delay_fifo_t *self);
//  Takes the head into *id when it is due at now_us (INT64_MAX takes whatever is held).
bool delay_fifo_pop_due (delay_fifo_t *self, int64_t now_us, uint32_t *id);
size_t delay_fifo_size (delay_fifo_t *self);

#endif

/*  delay_fifo: packets come out in arrival order once due, and a full ring refuses more.  */
#include "delay_fifo.h"

#include <criterion/criterion.h>

Test (delay_fifo, packets_leave_in_arrival_order_once_due)
{
    delay_fifo_t *fifo = delay_fifo_new (4);
    uint32_t id = 0;
    cr_assert_eq (delay_fifo_next_due (fifo), -1);
    cr_assert_not (delay_fifo_pop_due (fifo, 1000, &id));
    cr_assert (delay_fifo_push (fifo, 7, 20000));
    cr_assert (delay_fifo_push (fifo, 8, 20500));
    cr_assert_eq (delay_fifo_next_due (fifo), 20000);
    cr_assert_not (delay_fifo_pop_due (fifo, 19999, &id), "not before its due time");
    cr_assert (delay_fifo_pop_due (fifo, 20000, &id));
    cr_assert_eq (id, 7);
    cr_assert_not (delay_fifo_pop_due (fifo, 20499, &id));
    cr_assert_eq (delay_fifo_next_due (fifo), 20500);
    cr_assert (delay_fifo_pop_due (fifo, 30000, &id));
    cr_assert_eq (id, 8);
    cr_assert_eq (delay_fifo_size (fifo), 0);
    delay_fifo_destroy (&fifo);
    cr_assert_null (fifo);
}

Test (delay_fifo, a_full_ring_refuses_and_wraps_around_after_pops)
{
    delay_fifo_t *fifo = delay_fifo_new (3);
    uint32_t id;
    for (uint32_t i = 0; i < 3; i++)
        cr_assert (delay_fifo_push (fifo, i, 100 + i));
    cr_assert_not (delay_fifo_push (fifo, 3, 103), "beyond capacity the caller lets it through");
    cr_assert_eq (delay_fifo_size (fifo), 3);
    cr_assert (delay_fifo_pop_due (fifo, 100, &id));
    cr_assert_eq (id, 0);
    cr_assert (delay_fifo_push (fifo, 4, 104));
    const uint32_t expected [] = { 1, 2, 4 };
    for (size_t i = 0; i < 3; i++) {
        cr_assert (delay_fifo_pop_due (fifo, INT64_MAX, &id));
        cr_assert_eq (id, expected [i]);
    }
    cr_assert_not (delay_fifo_pop_due (fifo, INT64_MAX, &id));
    delay_fifo_destroy (&fifo);
}

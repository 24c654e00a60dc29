/*  ocf_loglimit: one line per interval, the events in between counted into the next.  */
#include "ocf_loglimit.h"

#include <criterion/criterion.h>

Test (loglimit, the_first_event_is_logged_then_one_per_interval)
{
    ocf_loglimit_t limit = OCF_LOGLIMIT_INIT (1000);
    uint64_t unlogged = 99;
    cr_assert (ocf_loglimit_pass (&limit, 5000, &unlogged));
    cr_assert_eq (unlogged, 0);
    for (int64_t now = 5001; now < 6000; now += 10)
        cr_assert_not (ocf_loglimit_pass (&limit, now, &unlogged));
    cr_assert (ocf_loglimit_pass (&limit, 6000, &unlogged));
    cr_assert_eq (unlogged, 100, "the 100 events of the interval are counted into the next line");
    cr_assert (ocf_loglimit_pass (&limit, 9000, &unlogged));
    cr_assert_eq (unlogged, 0);
}

Test (loglimit, a_clock_starting_at_zero_still_logs_the_first_event)
{
    ocf_loglimit_t limit = OCF_LOGLIMIT_INIT (1000);
    uint64_t unlogged;
    cr_assert (ocf_loglimit_pass (&limit, 0, &unlogged));
    cr_assert_not (ocf_loglimit_pass (&limit, 999, &unlogged));
}

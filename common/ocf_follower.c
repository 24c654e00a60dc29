/*  ocf_follower: HELLO, LIST pages and the event stream of ocf-tabled, as a state machine.  */
#include "ocf_follower.h"
#include "ocf_alloc.h"
#include "ocf_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    STATE_IDLE,                  //  waiting to try again (next_try)
    STATE_HELLO,                 //  HELLO out; a load follows its answer
    STATE_LOADING,               //  LIST out
    STATE_FOLLOWING              //  loaded; maybe a HELLO out (hello_ms)
} state_t;

//  An event kept during a load.
typedef struct {
    char topic[16];
    json_t *body;
} event_t;

struct _ocf_follower_t {
    ocf_follower_config_t config;
    ocf_follower_handler_t handler;
    state_t state;
    bool out;                    //  a request of ours is out
    bool live;                   //  tabled answered the last request
    bool settled;                //  loaded or found stale once
    int64_t next_try;            //  STATE_IDLE
    int64_t next_hello;          //  STATE_FOLLOWING
    //  The load in progress
    bool first_page;
    uint64_t load_boot, load_seq;
    event_t *buffered;           //  an array kept across loads, so buffering allocates rarely
    size_t buffered_count, buffered_cap;
    bool overflowed;
    //  Following
    uint64_t hello_seq;          //  tabled's seq at the previous HELLO
    ocf_follower_stats_t stats;
};

static uint64_t
s_uint (json_t *body, const char *key)
{
    json_t *value = json_object_get (body, key);
    return json_is_integer (value) && json_integer_value (value) > 0 ? (uint64_t) json_integer_value (value) : 0;
}

static void
s_purge (ocf_follower_t *self)
{
    for (size_t i = 0; i < self->buffered_count; i++)
        json_decref (self->buffered[i].body);
    self->buffered_count = 0;
    self->overflowed = false;
}

static void
s_send (ocf_follower_t *self, const char *verb, json_t *body)
{
    self->out = true;
    self->handler.send (self->handler.arg, verb, body);
}

static void
s_hello (ocf_follower_t *self)
{
    self->state = STATE_HELLO;
    s_send (self, "HELLO", NULL);
}

static void
s_load (ocf_follower_t *self)
{
    self->state = STATE_LOADING;
    self->first_page = true;
    self->hello_seq = 0;
    //  Whatever came before this LIST is in its reply.
    s_purge (self);
    self->stats.loads++;
    s_send (self, "LIST", json_pack ("{s:I}", "limit", (json_int_t) self->config.page_rows));
}

//  Stops following; tries again, from a HELLO, after retry_ms.
static void
s_fail (ocf_follower_t *self, int64_t now, const char *error)
{
    bool report = self->live || !self->settled;
    self->state = STATE_IDLE;
    self->out = false;
    self->live = false;
    self->settled = true;
    self->next_try = now + self->config.retry_ms;
    s_purge (self);
    if (report && self->handler.stale)
        self->handler.stale (self->handler.arg, error);
}

static void
s_restarted (ocf_follower_t *self, uint64_t boot)
{
    ocf_log_info ("tabled restarted (boot %" PRIu64 ", was %" PRIu64 "): reloading the %s", boot,
                  self->state == STATE_LOADING ? self->load_boot : self->stats.boot, self->config.view_name);
    self->stats.reloads++;
    s_hello (self);
}

static void
s_apply (ocf_follower_t *self, const char *topic, json_t *body, uint64_t seq)
{
    self->stats.seq = seq;
    self->stats.events++;
    if (self->handler.event)
        self->handler.event (self->handler.arg, topic, body);
}

static void
s_loaded (ocf_follower_t *self, int64_t now)
{
    self->state = STATE_FOLLOWING;
    self->settled = true;
    self->stats.boot = self->load_boot;
    self->stats.seq = self->load_seq;
    self->next_hello = now + self->config.hello_ms;
    if (self->handler.loaded)
        self->handler.loaded (self->handler.arg);
    //  Events up to the first page's seq are in the load; the rest follow it without a gap.
    bool gap = self->overflowed;
    for (size_t i = 0; i < self->buffered_count; i++) {
        event_t *event = &self->buffered[i];
        uint64_t seq = s_uint (event->body, "seq");
        if (s_uint (event->body, "boot") != self->stats.boot)
            gap = true;
        else
        if (seq > self->stats.seq) {
            gap |= seq != self->stats.seq + 1;
            s_apply (self, event->topic, event->body, seq);
        }
    }
    s_purge (self);
    if (gap) {
        ocf_log_info ("events of tabled were lost during the load: loading the %s again", self->config.view_name);
        self->stats.reloads++;
        s_load (self);
    }
}

static void
s_on_page (ocf_follower_t *self, int64_t now, json_t *page)
{
    uint64_t boot = s_uint (page, "boot");
    if (self->first_page) {
        self->first_page = false;
        self->load_boot = boot;
        self->load_seq = s_uint (page, "seq");
        if (self->handler.load_begin)
            self->handler.load_begin (self->handler.arg, page);
    }
    else
    if (boot != self->load_boot) {
        s_restarted (self, boot);
        return;
    }
    if (self->handler.row) {
        size_t index;
        json_t *row;
        json_array_foreach (json_object_get (page, "rows"), index, row)
            self->handler.row (self->handler.arg, row);
    }
    const char *next = json_string_value (json_object_get (page, "next"));
    if (next)
        s_send (self, "LIST", json_pack ("{s:s, s:I}", "after", next, "limit", (json_int_t) self->config.page_rows));
    else
        s_loaded (self, now);
}

//  A HELLO while following: a restart that published nothing yet, or events lost on the way.
static void
s_on_beat (ocf_follower_t *self, json_t *hello)
{
    uint64_t boot = s_uint (hello, "boot"), seq = s_uint (hello, "seq");
    if (boot != self->stats.boot) {
        s_restarted (self, boot);
        return;
    }
    //  tabled's seq may run ahead of the events on their way to us: only a seq seen one HELLO
    //  ago and still not reached means events were lost.
    if (self->hello_seq > self->stats.seq) {
        ocf_log_info ("tabled was at seq %" PRIu64 " and its events are still at %" PRIu64 ": reloading the %s",
                      self->hello_seq, self->stats.seq, self->config.view_name);
        self->stats.reloads++;
        s_load (self);
        return;
    }
    self->hello_seq = seq;
}

//  --------------------------------------------------------------------------

ocf_follower_t *
ocf_follower_new (const ocf_follower_config_t *config, const ocf_follower_handler_t *handler)
{
    ocf_follower_t *self = ocf_calloc (1, sizeof *self);
    self->config = *config;
    self->handler = *handler;
    self->state = STATE_IDLE;
    self->next_try = INT64_MIN;
    return self;
}

void
ocf_follower_destroy (ocf_follower_t **self_p)
{
    ocf_follower_t *self = *self_p;
    if (!self)
        return;
    s_purge (self);
    free (self->buffered);
    free (self);
    *self_p = NULL;
}

void
ocf_follower_reply (ocf_follower_t *self, int64_t now, bool ok, json_t *body)
{
    if (!self->out)
        return;
    self->out = false;
    if (!ok) {
        self->stats.refused++;
        if (self->state == STATE_FOLLOWING)
            return;              //  a HELLO refused: the events still flow
        const char *error = json_string_value (json_object_get (body, "error"));
        ocf_log_warning ("tabled refused %s: %s", self->state == STATE_HELLO ? "HELLO" : "LIST",
                         error ? error : "a malformed reply");
        s_fail (self, now, error ? error : "a malformed reply");
        return;
    }
    self->live = true;
    switch (self->state) {
        case STATE_HELLO:
            if (self->handler.hello)
                self->handler.hello (self->handler.arg, body);
            s_load (self);
            break;
        case STATE_LOADING:
            s_on_page (self, now, body);
            break;
        case STATE_FOLLOWING:
            s_on_beat (self, body);
            break;
        case STATE_IDLE:
            break;
    }
}

void
ocf_follower_lost (ocf_follower_t *self, int64_t now, const char *error)
{
    s_fail (self, now, error);
}

void
ocf_follower_event (ocf_follower_t *self, int64_t now, const char *topic, json_t *body)
{
    if (self->state == STATE_LOADING) {
        if (self->buffered_count == self->config.max_buffered) {
            self->overflowed = true;
            return;
        }
        if (self->buffered_count == self->buffered_cap) {
            self->buffered_cap = self->buffered_cap ? self->buffered_cap * 2 : 64;
            self->buffered = ocf_realloc (self->buffered, self->buffered_cap * sizeof *self->buffered);
        }
        event_t *event = &self->buffered[self->buffered_count++];
        snprintf (event->topic, sizeof event->topic, "%s", topic);
        event->body = json_incref (body);
        return;
    }
    if (self->state != STATE_FOLLOWING)
        return;                  //  the next load covers it
    uint64_t boot = s_uint (body, "boot"), seq = s_uint (body, "seq");
    if (boot != self->stats.boot)
        s_restarted (self, boot);
    else
    if (seq == self->stats.seq + 1)
        s_apply (self, topic, body, seq);
    else
    if (seq > self->stats.seq) {
        ocf_log_info ("missed events %" PRIu64 "..%" PRIu64 " of tabled: reloading the %s", self->stats.seq + 1, seq - 1,
                      self->config.view_name);
        self->stats.reloads++;
        s_load (self);
    }
    //  else: already applied (from the load)
}

void
ocf_follower_tick (ocf_follower_t *self, int64_t now)
{
    if (self->state == STATE_IDLE && now >= self->next_try)
        s_hello (self);
    else
    if (self->state == STATE_FOLLOWING && self->config.hello_ms > 0 && !self->out && now >= self->next_hello) {
        self->next_hello = now + self->config.hello_ms;
        s_send (self, "HELLO", NULL);
    }
}

bool
ocf_follower_following (ocf_follower_t *self)
{
    return self->state == STATE_FOLLOWING;
}

const ocf_follower_stats_t *
ocf_follower_stats (ocf_follower_t *self)
{
    return &self->stats;
}

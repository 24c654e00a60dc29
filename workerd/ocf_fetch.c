/*  ocf_fetch: libcurl multi_socket driven by zloop.  */
#include "ocf_fetch.h"
#include "ocf_alloc.h"
#include "ocf_strbuf.h"
#include "ocf_time.h"

#include <curl/curl.h>
#include <errno.h>

struct _ocf_fetch_t {
    zloop_t *loop;
    CURLM *multi;
    int timer_id;                //  the armed one-shot timer, -1 when none
    zlistx_t *requests;
};

typedef struct {
    ocf_fetch_t *owner;
    CURL *easy;
    void *handle;                //  in owner->requests
    ocf_fetch_fn *fn;
    void *arg;
    uint64_t tag;
    ocf_strbuf_t body;
    size_t max_body;
    bool too_large;
    char error[CURL_ERROR_SIZE];
} request_t;

static void
s_request_free (request_t **request_p)
{
    request_t *request = *request_p;
    curl_multi_remove_handle (request->owner->multi, request->easy);
    curl_easy_cleanup (request->easy);
    ocf_strbuf_free (&request->body);
    free (request);
    *request_p = NULL;
}

static void
s_complete (ocf_fetch_t *self, request_t *request, CURLcode code)
{
    ocf_fetch_result_t result = { .body = request->body.data ? request->body.data : "", .size = request->body.len };
    curl_off_t total_us = 0;
    curl_easy_getinfo (request->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    result.latency_us = total_us;
    char error[CURL_ERROR_SIZE + 64];
    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo (request->easy, CURLINFO_RESPONSE_CODE, &status);
        result.status = (int) status;
    }
    else {
        long os_errno = 0;
        curl_easy_getinfo (request->easy, CURLINFO_OS_ERRNO, &os_errno);
        result.refused = code == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED;
        if (request->too_large)
            snprintf (error, sizeof error, "response larger than %zu bytes", request->max_body);
        else
            snprintf (error, sizeof error, "%s", *request->error ? request->error : curl_easy_strerror (code));
        result.error = error;
        result.body = "";
        result.size = 0;
    }
    zlistx_detach (self->requests, request->handle);
    request->fn (&result, request->arg, request->tag);
    s_request_free (&request);
}

static void
s_check_done (ocf_fetch_t *self)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (self->multi, &left)))
        if (message->msg == CURLMSG_DONE) {
            request_t *request = NULL;
            curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &request);
            s_complete (self, request, message->data.result);
        }
}

static int
s_on_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    ocf_fetch_t *self = arg;
    int flags = (item->revents & ZMQ_POLLIN ? CURL_CSELECT_IN : 0) | (item->revents & ZMQ_POLLOUT ? CURL_CSELECT_OUT : 0)
              | (item->revents & ZMQ_POLLERR ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action (self->multi, item->fd, flags, &running);
    s_check_done (self);
    return 0;
}

//  curl says which events a socket waits for; zloop pollers cannot be changed, so the
//  socket's poller is replaced.
static int
s_on_socket (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    ocf_fetch_t *self = userp;
    zmq_pollitem_t item = { NULL, fd, 0, 0 };
    if (socketp)
        zloop_poller_end (self->loop, &item);
    if (what == CURL_POLL_REMOVE) {
        curl_multi_assign (self->multi, fd, NULL);
        return 0;
    }
    item.events = (short) ((what & CURL_POLL_IN ? ZMQ_POLLIN : 0) | (what & CURL_POLL_OUT ? ZMQ_POLLOUT : 0));
    zloop_poller (self->loop, &item, s_on_ready, self);
    //  Errors (a refused connection) must reach curl, not make zloop drop the poller.
    zloop_poller_set_tolerant (self->loop, &item);
    curl_multi_assign (self->multi, fd, self);
    return 0;
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    ocf_fetch_t *self = arg;
    //  zloop may still run a timer ended in the same loop iteration: only the armed one counts.
    if (timer_id != self->timer_id)
        return 0;
    self->timer_id = -1;
    int running;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done (self);
    return 0;
}

static int
s_on_timer_change (CURLM *multi, long timeout_ms, void *userp)
{
    ocf_fetch_t *self = userp;
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    self->timer_id = timeout_ms >= 0 ? zloop_timer (self->loop, (size_t) timeout_ms, 1, s_on_timer, self) : -1;
    return 0;
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    request_t *request = arg;
    size_t len = size * count;
    if (request->body.len + len > request->max_body) {
        request->too_large = true;
        return 0;                //  aborts the transfer
    }
    ocf_strbuf_append (&request->body, data, len);
    return len;
}

ocf_fetch_t *
ocf_fetch_new (zloop_t *loop)
{
    ocf_fetch_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->timer_id = -1;
    self->requests = zlistx_new ();
    self->multi = curl_multi_init ();
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_on_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_on_timer_change);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    return self;
}

void
ocf_fetch_destroy (ocf_fetch_t **self_p)
{
    ocf_fetch_t *self = *self_p;
    if (!self)
        return;
    request_t *request;
    while ((request = zlistx_detach (self->requests, NULL)))
        s_request_free (&request);
    zlistx_destroy (&self->requests);
    curl_multi_cleanup (self->multi);
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    free (self);
    *self_p = NULL;
}

int
ocf_fetch_get (ocf_fetch_t *self, const char *url, int64_t timeout_ms, size_t max_body, ocf_fetch_fn *fn, void *arg,
               uint64_t tag)
{
    request_t *request = ocf_calloc (1, sizeof *request);
    request->owner = self;
    request->fn = fn;
    request->arg = arg;
    request->tag = tag;
    request->max_body = max_body;
    request->easy = curl_easy_init ();
    CURL *easy = request->easy;
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (easy, CURLOPT_PROXY, "");
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (easy, CURLOPT_USERAGENT, "ocf-workerd/" OCF_VERSION);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, request);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, request->error);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, request);
    if (curl_multi_add_handle (self->multi, easy) != CURLM_OK) {
        curl_easy_cleanup (easy);
        free (request);
        return -1;
    }
    request->handle = zlistx_add_end (self->requests, request);
    return 0;
}

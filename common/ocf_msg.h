/*  ocf_msg: the local message format between the daemons of one host.
    A message is two ZeroMQ frames: a verb in ASCII ("SERVICE.UP", "OK", "ERR", or an event
    topic such as "row") and a JSON object carrying "v": the protocol version. Replies are
    "OK" or "ERR" + {"error": "..."}. This module validates and converts; it owns no socket.  */
#ifndef OCF_MSG_H
#define OCF_MSG_H

#include <czmq.h>
#include <jansson.h>

#include "ocf_json.h"

#define OCF_PROTOCOL_VERSION 1
#define OCF_VERB_MAX 32

typedef struct {
    char verb[OCF_VERB_MAX + 1];
    json_t *body;                //  a JSON object, owned by the message (NULL after ocf_msg_scan)
    const char *text;            //  the body frame's bytes, valid while that frame lives
    size_t text_len;
    ocf_json_index_t index;      //  where the body's containers end (after ocf_msg_scan)
} ocf_msg_t;

//  Checks and parses a verb frame and a body frame. The verb is 1-32 characters of A-Z, a-z,
//  0-9, '.', '_' or '-'; the body a JSON object of at most max_body bytes with "v" equal to
//  OCF_PROTOCOL_VERSION. Returns 0, or -1 with the problem written into error.
int ocf_msg_decode (ocf_msg_t *msg, const void *verb, size_t verb_size, const void *body,
                    size_t body_size, size_t max_body, char *error, size_t error_size);
//  The same checks without building a jansson tree: the body is validated in place by the
//  scanner (ocf_json.h) and "v" read from it. body stays NULL until ocf_msg_body().
int ocf_msg_scan (ocf_msg_t *msg, const void *verb, size_t verb_size, const void *body, size_t body_size,
                  size_t max_body, char *error, size_t error_size);
//  The body as jansson JSON, parsed on first use after ocf_msg_scan; NULL (with error set)
//  in the rare case jansson refuses what the scanner accepted (a number out of its range).
json_t *ocf_msg_body (ocf_msg_t *msg, char *error, size_t error_size);
//  Decodes a whole multipart message that must hold exactly the two frames.
int ocf_msg_decode_zmsg (ocf_msg_t *msg, zmsg_t *zmsg, size_t max_body, char *error, size_t error_size);
void ocf_msg_clear (ocf_msg_t *msg);

//  Takes the envelope off a request as a ROUTER receives it: [identity][verb][body] from a
//  DEALER, [identity][empty][verb][body] from a REQ, [identity][tags...][empty][verb][body]
//  from a client matching replies by tag. Returns it as the start of the reply (so tags come
//  back), leaving [verb][body].
zmsg_t *ocf_msg_take_envelope (zmsg_t *request);
//  Adds "v" to body (NULL means {}) and appends [verb][json] to zmsg. Takes body's reference.
void ocf_msg_append (zmsg_t *zmsg, const char *verb, json_t *body);
//  Appends [verb][json_text] where json_text is an object that already carries "v".
void ocf_msg_append_raw (zmsg_t *zmsg, const char *verb, const char *json_text, size_t size);
//  Sends [verb][json] on sock. Takes body's reference. Returns 0 or -1.
int ocf_msg_send (zsock_t *sock, const char *verb, json_t *body);
//  An ERR body: {"error": formatted text}.
json_t *ocf_msg_error_body (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

#endif

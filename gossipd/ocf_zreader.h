/*  ocf_zreader: a ZeroMQ socket read in a zloop, watched by its descriptor (ZMQ_FD) as a
    plain file descriptor, not as a socket.
    Why: zmq_poll asks every socket it is given for ZMQ_EVENTS after each of its polls,
    whether anything arrived or not, and each such question is two system calls (libzmq
    polls the socket's mailbox and checks getpid). With six sockets that was ~17 calls per
    turn of gossipd's loop and 90 % of its main thread's system calls in a 128-node split.
    The descriptor signals when the socket's mailbox gets a command (a message arrived on
    an empty pipe), and stays readable until the socket takes its commands in, so:
    * the handler must read until ZMQ_EVENTS (or a read) says nothing waits;
    * a send on the socket may take in that command itself, and then the descriptor stays
      quiet while a message waits: after sending on it from anywhere but its own handler,
      call ocf_zreader_sent, which has the handler run at the loop's next turn.  */
#ifndef OCF_ZREADER_H
#define OCF_ZREADER_H

#include <czmq.h>

typedef struct _ocf_zreader_t ocf_zreader_t;

ocf_zreader_t *ocf_zreader_new (zloop_t *loop, zsock_t *sock, zloop_reader_fn *handler, void *arg);
//  Not from a handler of the running loop: a read it scheduled may be due in the same turn.
void ocf_zreader_destroy (ocf_zreader_t **self_p);
//  Watches sock instead (a socket replaced): the old one may be destroyed afterwards.
void ocf_zreader_set_socket (ocf_zreader_t *self, zsock_t *sock);
//  Something was sent on the socket outside its handler: it is read at the next turn.
void ocf_zreader_sent (ocf_zreader_t *self);

#endif

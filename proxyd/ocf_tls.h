/*  ocf_tls: mutual TLS between the proxyds of a fabric, pinned to node keys.
    Owns this host's TLS credentials, made from its identity (state_dir/node.key) at every
    start: an Ed25519 certificate self-signed by the node key, whose subject CN and DNS
    subjectAltName are the node id. There is no CA: a peer is who its key says, since TLS 1.3
    makes it sign the handshake with that key. The certificate's key is read back as a node id
    and checked against what the caller says may talk to this host (a live member of the
    routing view), against [gossipd] authorized_keys when the cluster is closed, and on the
    client side against the node that was meant (the SNI, which is its id).
    Contexts are per loop (the check reads that loop's view) but share the session-ticket
    keys, so a session made with one loop resumes on any; the keys are derived from the node
    key, so a session also resumes after this host restarts. A resumed session is checked again:
    a ticket does not outlive its holder's membership.  */
#ifndef OCF_TLS_H
#define OCF_TLS_H

#include "ocf_config.h"
#include "ocf_identity.h"

#include <h2o.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _ocf_tls_t ocf_tls_t;

//  Whether the node may talk to this host now (called during handshakes, on the loop's
//  thread); sock is the h2o socket of the connection, on the server side (NULL otherwise).
typedef bool (ocf_tls_member_fn) (void *arg, const char *node_id, h2o_socket_t *sock);

//  Returns NULL with error set when the certificate cannot be made or the authorized keys read.
ocf_tls_t *ocf_tls_new (ocf_identity_t *identity, const ocf_gossipd_config_t *keys, char *error, size_t error_size);
void ocf_tls_destroy (ocf_tls_t **self_p);
//  Reads the authorized keys again (SIGHUP); on error the keys in force stay and error says why.
int ocf_tls_reload_keys (ocf_tls_t *self, const ocf_gossipd_config_t *keys, char *error, size_t error_size);
//  Whether node_id may be a peer as far as authorized_keys go (any thread): always when the
//  cluster is open.
bool ocf_tls_authorized (ocf_tls_t *self, const char *node_id);

//  TLS 1.3 only, a peer certificate required, ALPN http/1.1. The caller frees them
//  (SSL_CTX_free) before ocf_tls_destroy; member(arg) must outlive them.
SSL_CTX *ocf_tls_server_context (ocf_tls_t *self, ocf_tls_member_fn *member, void *arg);
//  With a session cache (h2o's, keyed by server name and port): a new connection to a node
//  resumes the last session, without a full handshake.
SSL_CTX *ocf_tls_client_context (ocf_tls_t *self, ocf_tls_member_fn *member, void *arg);
//  Call before a client handshake of ctx with server_name (a node id) on a connected socket:
//  puts a copy of the node's newest ticket in h2o's cache, where the handshake finds it.
//  OpenSSL uses a TLS 1.3 session for one resumption only, and h2o's cache then holds the
//  connection's own session, which cannot resume until its ticket arrives: without a copy
//  per connection, every connection of a burst but the first made a full handshake. Reusing
//  a ticket lets an observer link the connections (RFC 8446, C.4), which tells nothing here:
//  the SNI names the node in clear already.
void ocf_tls_client_prepare (SSL_CTX *ctx, h2o_socket_t *sock, const char *server_name);

//  The node id a certificate's key makes; false when it is not an Ed25519 key.
bool ocf_tls_certificate_id (X509 *certificate, char id[OCF_NODE_ID_LEN + 1]);
//  A self-signed certificate of an identity, with its private key (tests: a stranger's
//  credentials). NULL on failure.
X509 *ocf_tls_certificate_new (ocf_identity_t *identity, EVP_PKEY **key);

#endif

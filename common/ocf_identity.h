/*  ocf_identity: who this node is, and how anyone checks it.
    One Ed25519 key pair per host, kept in state_dir/node.key (created at first start, mode
    0600). The node id is the public key in lowercase base32 (RFC 4648 alphabet, no padding):
    52 characters from [a-z2-7], safe in URLs, headers, file names, shells and DNS labels, so
    it is also the name in the host's TLS certificate. Everything that proves who a node is
    derives from this one key: row signatures (Ed25519), gossip's CURVE key pair (the same key
    converted to X25519) and proxyd's self-signed TLS certificate.  */
#ifndef OCF_IDENTITY_H
#define OCF_IDENTITY_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCF_NODE_ID_LEN         52      //  base32 of 32 bytes
#define OCF_NODE_KEY_BYTES      32      //  Ed25519 public key
#define OCF_SIGNATURE_BYTES     64      //  Ed25519 signature
#define OCF_SIGNATURE_TEXT_LEN  88      //  base64 (RFC 4648, padded) of a signature

typedef struct _ocf_identity_t ocf_identity_t;

//  Loads state_dir/node.key, creating the directory and the key when missing. A key file
//  from before Ed25519 (a CURVE certificate) is moved to node.key.curve-old and replaced,
//  with a notice in the log. Returns NULL with a message in error when the key cannot be
//  read or written.
ocf_identity_t *ocf_identity_load (const char *state_dir, char *error, size_t error_size);
//  A fresh identity that is never written anywhere (tests, benchmarks).
ocf_identity_t *ocf_identity_new_ephemeral (void);
//  The identity of a 32-byte seed, never written anywhere: the same seed, the same node (the
//  gossip simulator's seeded runs). NULL when libsodium cannot start.
ocf_identity_t *ocf_identity_new_from_seed (const uint8_t seed[32]);
void ocf_identity_destroy (ocf_identity_t **self_p);

const char *ocf_identity_id (ocf_identity_t *self);
//  The 32-byte Ed25519 seed: what OpenSSL takes as the raw private key of an Ed25519 EVP_PKEY.
const uint8_t *ocf_identity_seed (ocf_identity_t *self);
//  len bytes of secret derived from the key for one purpose (context: 8 characters naming
//  it), the same at every start; one purpose's secret tells nothing of another's or the key's.
void ocf_identity_derive_secret (ocf_identity_t *self, const char context[8], uint8_t *secret, size_t len);
//  The CURVE certificate for ZeroMQ, derived from the key (owned by the identity).
zcert_t *ocf_identity_curve (ocf_identity_t *self);
//  Signs len bytes of message.
void ocf_identity_sign (ocf_identity_t *self, const void *message, size_t len, uint8_t signature[OCF_SIGNATURE_BYTES]);

//  Node ids, for anyone.
//  True when text is a well-formed node id (the canonical encoding of some 32-byte key).
bool ocf_identity_id_valid (const char *text);
//  The key a node id names; false when the id is malformed.
bool ocf_identity_id_decode (const char *id, uint8_t key[OCF_NODE_KEY_BYTES]);
void ocf_identity_id_encode (const uint8_t key[OCF_NODE_KEY_BYTES], char id[OCF_NODE_ID_LEN + 1]);
//  The Z85 text of the CURVE public key of the node id (what ZeroMQ's ZAP reports for a
//  peer, and what a client sets as curve_serverkey); false when the id is malformed or not a
//  valid Ed25519 point.
bool ocf_identity_id_curve (const char *id, char curve_z85[41]);
//  True when signature is id's signature of message.
bool ocf_identity_verify (const char *id, const void *message, size_t len, const uint8_t signature[OCF_SIGNATURE_BYTES]);

//  The key file's text, for the loader and its fuzz target: "id <node id>" and
//  "seed <64 hex digits>" lines, '#' comments. Fills seed and returns 0 when the file is
//  well formed and its id is the seed's; -1 with a message in error otherwise.
int ocf_identity_parse (const char *text, size_t len, uint8_t seed[32], char *error, size_t error_size);

#endif

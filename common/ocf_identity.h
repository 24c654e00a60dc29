/*  ocf_identity: who this node is.
    A CURVE keypair kept in state_dir/node.key (created on first start, mode 0600). The node id
    is the Z85 text of the public key (40 characters): the same key authenticates the node to
    its peers, so an id cannot be claimed without its secret.  */
#ifndef OCF_IDENTITY_H
#define OCF_IDENTITY_H

#include <czmq.h>
#include <stdbool.h>

#define OCF_NODE_ID_LEN 40

//  Loads state_dir/node.key, creating the directory and the key when missing.
//  Returns NULL with a message in error when the key cannot be read or written.
zcert_t *ocf_identity_load (const char *state_dir, char *error, size_t error_size);
//  True when text is a well-formed node id (40 Z85 characters).
bool ocf_identity_id_valid (const char *text);
//  Creates a directory and its parents when missing.
int ocf_mkdirs (const char *path, mode_t mode);

#endif

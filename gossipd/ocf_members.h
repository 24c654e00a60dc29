/*  ocf_members: the membership view the protocol core reads.
    Every node this host knows from its table, sorted by id (the ring the dissemination tree is
    laid on), with its membership (generation, incarnation, status) and the endpoint it gossips
    on. The view is a copy of tabled's truth kept by whoever talks to the table (the daemon's
    ocf_bridge, or the simulator's table model); the core only reads it. Read-only sharing
    between several cores is allowed (the simulator shares one view among 10,000 nodes).  */
#ifndef OCF_MEMBERS_H
#define OCF_MEMBERS_H

#include "ocf_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char id[OCF_ID_SIZE];
    uint64_t generation;
    uint64_t incarnation;
    ocf_status_t status;
    char *endpoint;              //  "tcp://host:port", NULL when unknown
} ocf_peer_t;

//  What ocf_members_set changed.
enum {
    OCF_MEMBERS_ADDED = 1,
    OCF_MEMBERS_STATUS = 2,      //  generation, incarnation or status
    OCF_MEMBERS_ENDPOINT = 4
};

typedef struct _ocf_members_t ocf_members_t;

ocf_members_t *ocf_members_new (void);
void ocf_members_destroy (ocf_members_t **self_p);
ocf_members_t *ocf_members_dup (const ocf_members_t *self);

//  Adds or updates a member; endpoint NULL keeps the known one. Returns the change mask.
int ocf_members_set (ocf_members_t *self, const char *id, uint64_t generation, uint64_t incarnation,
                     ocf_status_t status, const char *endpoint);
//  Forgets a member (tombstoned). Returns true when it was known.
bool ocf_members_remove (ocf_members_t *self, const char *id);
void ocf_members_clear (ocf_members_t *self);

size_t ocf_members_size (const ocf_members_t *self);
//  Members alive or suspect.
size_t ocf_members_live (const ocf_members_t *self);
const ocf_peer_t *ocf_members_at (const ocf_members_t *self, size_t index);
const ocf_peer_t *ocf_members_get (const ocf_members_t *self, const char *id);
//  Index of the first member whose id is >= id (the ring position of id).
size_t ocf_members_lower_bound (const ocf_members_t *self, const char *id);
bool ocf_peer_live (const ocf_peer_t *member);

#endif

/*  ocf_apikeys: the client API keys of [proxyd] api_keys_file.
    Owns the file's decoder (fuzzed: tests/fuzz/fuzz_apikeys.c), the set of keys it yields and
    each key's limits and counters. A set is immutable once loaded and shared by every loop
    through counted references; a reload builds a new set, which takes over the counters of
    the keys it keeps (same name), so in-flight streams and rate windows survive a SIGHUP.
    Keys are stored as SHA-256 hashes: a presented bearer token is hashed and looked up.
    File: one key per line, "name sha256:<64 hex digits> [rpm=N] [streams=N]"; '#' starts a
    comment; blank lines are skipped.  */
#ifndef OCF_APIKEYS_H
#define OCF_APIKEYS_H

#include "ocf_promtext.h"

#include <stddef.h>
#include <stdint.h>

#define OCF_APIKEY_NAME_MAX 64
#define OCF_APIKEYS_MAX 65536
#define OCF_APIKEYS_FILE_MAX (16 * 1024 * 1024)

typedef enum {
    OCF_APIKEY_OK = 0,
    OCF_APIKEY_RATE_LIMITED,     //  over rpm: requests per minute
    OCF_APIKEY_STREAMS_LIMITED,  //  over streams: requests in flight at once
    OCF_APIKEY_OUTCOMES
} ocf_apikey_outcome_t;

typedef struct _ocf_apikey_t ocf_apikey_t;
typedef struct _ocf_apikeys_t ocf_apikeys_t;

//  Decodes a keys file's text. name prefixes errors ("name:line: reason"). NULL on error.
ocf_apikeys_t *ocf_apikeys_parse (const char *text, size_t len, const char *name, char *error, size_t error_size);
//  Reads the file and decodes it. NULL with error set when it cannot be read or is malformed.
ocf_apikeys_t *ocf_apikeys_load (const char *path, char *error, size_t error_size);
//  Takes over the counters of the keys of previous (may be NULL) that have the same name.
//  Call before the set is shared.
void ocf_apikeys_inherit (ocf_apikeys_t *self, const ocf_apikeys_t *previous);
ocf_apikeys_t *ocf_apikeys_ref (ocf_apikeys_t *self);
void ocf_apikeys_unref (ocf_apikeys_t **self_p);
size_t ocf_apikeys_count (const ocf_apikeys_t *self);

//  SHA-256 of a token, as the file stores it.
void ocf_apikeys_hash (const char *token, size_t token_len, uint8_t hash[32]);
//  The key of the token, NULL when none.
ocf_apikey_t *ocf_apikeys_find (ocf_apikeys_t *self, const char *token, size_t token_len);
const char *ocf_apikey_name (const ocf_apikey_t *key);
//  Admits a request of the key at now_us (monotonic), any thread. OCF_APIKEY_OK: call
//  ocf_apikey_release when it ends. Over a limit: *retry_after_s says when to come back.
ocf_apikey_outcome_t ocf_apikey_admit (ocf_apikey_t *key, int64_t now_us, int *retry_after_s);
void ocf_apikey_release (ocf_apikey_t *key);

//  Adds the keys' families to a page: requests by key and outcome, streams in flight by key.
void ocf_apikeys_render (const ocf_apikeys_t *self, ocf_promtext_t *page);

#endif

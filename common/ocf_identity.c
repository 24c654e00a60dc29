/*  ocf_identity: the node key pair, its id, and the keys derived from it.  */
#include "ocf_identity.h"
#include "ocf_alloc.h"
#include "ocf_log.h"
#include "ocf_statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _ocf_identity_t {
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];     //  libsodium's: seed then public key
    char id[OCF_NODE_ID_LEN + 1];
    zcert_t *curve;
};

//  --------------------------------------------------------------------------
//  Node ids: lowercase base32, no padding

static const char s_base32[] = "abcdefghijklmnopqrstuvwxyz234567";

void
ocf_identity_id_encode (const uint8_t key[OCF_NODE_KEY_BYTES], char id[OCF_NODE_ID_LEN + 1])
{
    uint32_t buffer = 0;
    int bits = 0;
    size_t out = 0;
    for (size_t i = 0; i < OCF_NODE_KEY_BYTES; i++) {
        buffer = (buffer << 8) | key[i];
        bits += 8;
        while (bits >= 5) {
            id[out++] = s_base32[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        id[out++] = s_base32[(buffer << (5 - bits)) & 31];
    id[out] = '\0';
}

static int
s_base32_value (char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

bool
ocf_identity_id_decode (const char *id, uint8_t key[OCF_NODE_KEY_BYTES])
{
    if (!id)
        return false;
    uint32_t buffer = 0;
    int bits = 0;
    size_t out = 0, i = 0;
    for (; id[i] && i < OCF_NODE_ID_LEN; i++) {
        int value = s_base32_value (id[i]);
        if (value < 0)
            return false;
        buffer = (buffer << 5) | (uint32_t) value;
        bits += 5;
        if (bits >= 8) {
            key[out++] = (uint8_t) (buffer >> (bits - 8));
            bits -= 8;
        }
    }
    //  52 characters carry 260 bits: the 4 left over must be zero, so each key has one id.
    return i == OCF_NODE_ID_LEN && id[i] == '\0' && out == OCF_NODE_KEY_BYTES
        && (buffer & ((1u << bits) - 1)) == 0;
}

bool
ocf_identity_id_valid (const char *text)
{
    uint8_t key[OCF_NODE_KEY_BYTES];
    return ocf_identity_id_decode (text, key);
}

bool
ocf_identity_id_curve (const char *id, char curve_z85[41])
{
    uint8_t key[OCF_NODE_KEY_BYTES], curve[crypto_scalarmult_curve25519_BYTES];
    if (!ocf_identity_id_decode (id, key) || crypto_sign_ed25519_pk_to_curve25519 (curve, key) != 0)
        return false;
    zmq_z85_encode (curve_z85, curve, sizeof curve);
    return true;
}

bool
ocf_identity_verify (const char *id, const void *message, size_t len, const uint8_t signature[OCF_SIGNATURE_BYTES])
{
    uint8_t key[OCF_NODE_KEY_BYTES];
    return ocf_identity_id_decode (id, key)
        && crypto_sign_verify_detached (signature, message, len, key) == 0;
}

//  --------------------------------------------------------------------------
//  The identity

ocf_identity_t *
ocf_identity_new_from_seed (const uint8_t seed[32])
{
    if (sodium_init () < 0)
        return NULL;
    ocf_identity_t *self = ocf_calloc (1, sizeof *self);
    crypto_sign_seed_keypair (self->public_key, self->secret_key, seed);
    ocf_identity_id_encode (self->public_key, self->id);
    uint8_t curve_public[32], curve_secret[32];
    if (crypto_sign_ed25519_pk_to_curve25519 (curve_public, self->public_key) != 0
    ||  crypto_sign_ed25519_sk_to_curve25519 (curve_secret, self->secret_key) != 0) {
        ocf_identity_destroy (&self);
        return NULL;
    }
    self->curve = zcert_new_from (curve_public, curve_secret);
    sodium_memzero (curve_secret, sizeof curve_secret);
    if (!self->curve)
        ocf_identity_destroy (&self);
    return self;
}

ocf_identity_t *
ocf_identity_new_ephemeral (void)
{
    uint8_t seed[32];
    if (sodium_init () < 0)
        return NULL;
    randombytes_buf (seed, sizeof seed);
    ocf_identity_t *self = ocf_identity_new_from_seed (seed);
    sodium_memzero (seed, sizeof seed);
    return self;
}

void
ocf_identity_destroy (ocf_identity_t **self_p)
{
    if (!*self_p)
        return;
    ocf_identity_t *self = *self_p;
    zcert_destroy (&self->curve);
    sodium_memzero (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

const char *
ocf_identity_id (ocf_identity_t *self)
{
    return self->id;
}

const uint8_t *
ocf_identity_seed (ocf_identity_t *self)
{
    return self->secret_key;
}

void
ocf_identity_derive_secret (ocf_identity_t *self, const char context[8], uint8_t *secret, size_t len)
{
    //  crypto_kdf gives at most 64 bytes a call: longer secrets are numbered pieces.
    for (uint64_t piece = 0; len > 0; piece++) {
        size_t size = len < crypto_kdf_BYTES_MAX ? len : crypto_kdf_BYTES_MAX;
        uint8_t buffer[crypto_kdf_BYTES_MAX];
        crypto_kdf_derive_from_key (buffer, crypto_kdf_BYTES_MAX, piece, context, self->secret_key);
        memcpy (secret, buffer, size);
        sodium_memzero (buffer, sizeof buffer);
        secret += size;
        len -= size;
    }
}

zcert_t *
ocf_identity_curve (ocf_identity_t *self)
{
    return self->curve;
}

void
ocf_identity_sign (ocf_identity_t *self, const void *message, size_t len, uint8_t signature[OCF_SIGNATURE_BYTES])
{
    crypto_sign_detached (signature, NULL, message, len, self->secret_key);
}

//  --------------------------------------------------------------------------
//  The key file

int
ocf_identity_parse (const char *text, size_t len, uint8_t seed[32], char *error, size_t error_size)
{
    char id[OCF_NODE_ID_LEN + 1] = "";
    bool have_seed = false;
    size_t line_number = 0;
    for (size_t at = 0; at < len; ) {
        const char *line = text + at;
        const char *end = memchr (line, '\n', len - at);
        size_t line_len = end ? (size_t) (end - line) : len - at;
        at += line_len + 1;
        line_number++;
        if (line_len > 0 && line[line_len - 1] == '\r')
            line_len--;
        if (line_len == 0 || line[0] == '#')
            continue;
        if (line_len == 3 + OCF_NODE_ID_LEN && memcmp (line, "id ", 3) == 0) {
            memcpy (id, line + 3, OCF_NODE_ID_LEN);
            id[OCF_NODE_ID_LEN] = '\0';
        }
        else
        if (line_len == 5 + 64 && memcmp (line, "seed ", 5) == 0
        &&  sodium_hex2bin (seed, 32, line + 5, 64, NULL, NULL, NULL) == 0)
            have_seed = true;
        else {
            snprintf (error, error_size, "line %zu: expected 'id <52 base32 characters>' or 'seed <64 hex digits>'",
                      line_number);
            return -1;
        }
    }
    if (!have_seed || !*id) {
        snprintf (error, error_size, "no %s line", have_seed ? "id" : "seed");
        return -1;
    }
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES], secret_key[crypto_sign_SECRETKEYBYTES];
    char derived[OCF_NODE_ID_LEN + 1];
    crypto_sign_seed_keypair (public_key, secret_key, seed);
    sodium_memzero (secret_key, sizeof secret_key);
    ocf_identity_id_encode (public_key, derived);
    if (strcmp (derived, id) != 0) {
        snprintf (error, error_size, "the id is not the seed's (the file is damaged)");
        return -1;
    }
    return 0;
}

//  The key files of before Ed25519 were czmq CURVE certificates.
static bool
s_is_curve_certificate (const char *text)
{
    return strstr (text, "curve") && strstr (text, "secret-key");
}

//  Writes a new key to path unless a file is there already: the key is written under a
//  temporary name and linked into place, so a crash never leaves half a key behind, and two
//  daemons starting together agree on one key (the second link fails, and it reads the first).
static int
s_create (const char *path, char *error, size_t error_size)
{
    ocf_identity_t *fresh = ocf_identity_new_ephemeral ();
    if (!fresh) {
        snprintf (error, error_size, "cannot initialise libsodium");
        return -1;
    }
    char text[256], hex[65], temp[4200];
    sodium_bin2hex (hex, sizeof hex, fresh->secret_key, 32);
    int text_len = snprintf (text, sizeof text,
                             "# OpenFabric node key (Ed25519): the secret of node %s. Keep it secret.\n"
                             "id %s\nseed %s\n", fresh->id, fresh->id, hex);
    sodium_memzero (hex, sizeof hex);
    ocf_identity_destroy (&fresh);
    snprintf (temp, sizeof temp, "%s.tmp.%d", path, (int) getpid ());
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool written = fd >= 0 && write (fd, text, (size_t) text_len) == text_len && fsync (fd) == 0;
    int saved = errno;
    sodium_memzero (text, sizeof text);
    if (fd >= 0)
        close (fd);
    int rc = written && (link (temp, path) == 0 || errno == EEXIST) ? 0 : -1;
    if (written && rc != 0)
        saved = errno;
    unlink (temp);
    if (rc != 0)
        snprintf (error, error_size, "cannot write %s: %s", path, strerror (saved));
    return rc;
}

ocf_identity_t *
ocf_identity_load (const char *state_dir, char *error, size_t error_size)
{
    char path[4096];
    ocf_statedir_path (state_dir, OCF_STATE_NODE_KEY, path, sizeof path);
    if (ocf_statedir_prepare (state_dir, error, error_size) != 0)
        return NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        char text[1024];
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            if (s_create (path, error, error_size) != 0)
                return NULL;
            continue;
        }
        ssize_t len = fd >= 0 ? read (fd, text, sizeof text - 1) : -1;
        int saved = errno;
        if (fd >= 0)
            close (fd);
        if (len < 0) {
            snprintf (error, error_size, "cannot read %s: %s", path, strerror (saved));
            return NULL;
        }
        text[len] = '\0';
        if (s_is_curve_certificate (text) && attempt == 0) {
            char old[4200];
            snprintf (old, sizeof old, "%s.curve-old", path);
            if (rename (path, old) != 0 && errno != ENOENT) {
                snprintf (error, error_size, "cannot move the old CURVE key %s aside: %s", path, strerror (errno));
                return NULL;
            }
            ocf_log_notice ("%s was a CURVE key of before Ed25519 identities: kept as %s; this node gets a new "
                            "Ed25519 key and a new id (docs/operations.md, \"Upgrading to signed rows\")", path, old);
            continue;
        }
        uint8_t seed[32];
        char reason[256];
        if (ocf_identity_parse (text, (size_t) len, seed, reason, sizeof reason) != 0) {
            snprintf (error, error_size, "%s is not a node key: %s (move it away to create a new identity)",
                      path, reason);
            return NULL;
        }
        ocf_identity_t *self = ocf_identity_new_from_seed (seed);
        sodium_memzero (seed, sizeof seed);
        sodium_memzero (text, sizeof text);
        if (!self)
            snprintf (error, error_size, "cannot derive the keys of %s", path);
        return self;
    }
    snprintf (error, error_size, "cannot create %s", path);
    return NULL;
}

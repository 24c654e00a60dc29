/*  ocf_tls: node-key certificates and the fabric's TLS contexts.  */
#include "ocf_tls.h"
#include "ocf_alloc.h"
#include "ocf_log.h"
#include "ocf_loglimit.h"
#include "ocf_time.h"

#include <h2o.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>

#define VALIDITY_DAYS (100 * 365)    //  the key is the identity: the certificate never needs renewing
#define TICKET_KEYS_BYTES 80         //  name, HMAC and AES keys (SSL_CTX_set_tlsext_ticket_keys)
#define SESSION_CACHE_ENTRIES 4096   //  client side: one per peer node
#define SESSION_LIFETIME_S 3600

struct _ocf_tls_t {
    X509 *certificate;
    EVP_PKEY *key;
    pthread_rwlock_t lock;       //  guards authorized: replaced by a reload, read by every loop
    zhashx_t *authorized;        //  closed cluster: the node ids allowed; empty: any member
    unsigned char ticket_keys[TICKET_KEYS_BYTES];
};

//  What a context checks peers against: its own, freed with the context.
typedef struct {
    ocf_tls_t *tls;
    ocf_tls_member_fn *member;
    void *arg;
    zhashx_t *resumable;         //  client side: "name:port" -> the last session a ticket made
} check_t;

static int s_check_index = -1;
//  Anybody can knock on the fabric port: refusals are logged a line a second.
static ocf_loglimit_t s_refusal_log = OCF_LOGLIMIT_INIT (1000);
static pthread_once_t s_check_once = PTHREAD_ONCE_INIT;

static void
s_check_free (void *parent, void *ptr, CRYPTO_EX_DATA *ad, int index, long argl, void *argp)
{
    check_t *check = ptr;
    if (check)
        zhashx_destroy (&check->resumable);
    free (check);
}

static void
s_session_free (void **item)
{
    SSL_SESSION_free (*item);
    *item = NULL;
}

static void
s_check_index_init (void)
{
    s_check_index = SSL_CTX_get_ex_new_index (0, NULL, NULL, NULL, s_check_free);
}

bool
ocf_tls_certificate_id (X509 *certificate, char id[OCF_NODE_ID_LEN + 1])
{
    EVP_PKEY *key = certificate ? X509_get0_pubkey (certificate) : NULL;
    uint8_t raw[OCF_NODE_KEY_BYTES];
    size_t len = sizeof raw;
    if (!key || EVP_PKEY_get_id (key) != EVP_PKEY_ED25519 || EVP_PKEY_get_raw_public_key (key, raw, &len) != 1
    ||  len != sizeof raw)
        return false;
    ocf_identity_id_encode (raw, id);
    return true;
}

//  Whether the holder of this certificate may talk to this host; why not in reason.
bool
ocf_tls_authorized (ocf_tls_t *self, const char *node_id)
{
    pthread_rwlock_rdlock (&self->lock);
    bool authorized = !zhashx_size (self->authorized) || zhashx_lookup (self->authorized, node_id);
    pthread_rwlock_unlock (&self->lock);
    return authorized;
}

int
ocf_tls_reload_keys (ocf_tls_t *self, const ocf_gossipd_config_t *keys, char *error, size_t error_size)
{
    zhashx_t *authorized = zhashx_new ();
    if (ocf_gossipd_config_authorized_keys (keys, authorized, error, error_size) != 0) {
        zhashx_destroy (&authorized);
        return -1;
    }
    pthread_rwlock_wrlock (&self->lock);
    zhashx_t *previous = self->authorized;
    self->authorized = authorized;
    pthread_rwlock_unlock (&self->lock);
    zhashx_destroy (&previous);
    return 0;
}

static bool
s_peer_allowed (check_t *check, SSL *ssl, X509 *certificate, const char *wanted, const char **reason,
                char id[OCF_NODE_ID_LEN + 1])
{
    *id = '\0';
    if (!ocf_tls_certificate_id (certificate, id))
        *reason = "its certificate does not hold an Ed25519 node key";
    else
    if (wanted && strcmp (wanted, id) != 0)
        *reason = "it is not the node that was meant";
    else
    if (!ocf_tls_authorized (check->tls, id))
        *reason = "its key is not in authorized_keys";
    else
    if (!check->member (check->arg, id, SSL_is_server (ssl) ? BIO_get_data (SSL_get_rbio (ssl)) : NULL))
        *reason = "it is not a live member of the table";
    else
        return true;
    return false;
}

//  Replaces the chain verification: a self-signed leaf is all there is, and its key (proven by
//  the handshake's signature) is the identity checked.
static int
s_verify (X509_STORE_CTX *store, void *arg)
{
    check_t *check = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data (store, SSL_get_ex_data_X509_STORE_CTX_idx ());
    const char *wanted = SSL_is_server (ssl) ? NULL : SSL_get_servername (ssl, TLSEXT_NAMETYPE_host_name);
    const char *reason;
    char id[OCF_NODE_ID_LEN + 1];
    if (s_peer_allowed (check, ssl, X509_STORE_CTX_get0_cert (store), wanted, &reason, id))
        return 1;
    uint64_t unlogged;
    if (ocf_loglimit_pass (&s_refusal_log, ocf_time_mono_ms (), &unlogged))
        ocf_log_warning ("fabric: refused a TLS %s %s: %s (and %" PRIu64 " refusal(s) not logged since the last such line)",
                         SSL_is_server (ssl) ? "client" : "server", *id ? id : "(no node key)", reason, unlogged);
    X509_STORE_CTX_set_error (store, X509_V_ERR_CERT_REJECTED);
    return 0;
}

//  A session ticket is honoured only while its holder is still allowed; otherwise a full
//  handshake checks it again (and refuses it).
static SSL_TICKET_RETURN
s_on_ticket (SSL *ssl, SSL_SESSION *session, const unsigned char *name, size_t name_len, SSL_TICKET_STATUS status, void *arg)
{
    switch (status) {
        case SSL_TICKET_SUCCESS:
        case SSL_TICKET_SUCCESS_RENEW: {
            const char *reason;
            char id[OCF_NODE_ID_LEN + 1];
            if (!s_peer_allowed (arg, ssl, SSL_SESSION_get0_peer (session), NULL, &reason, id))
                return SSL_TICKET_RETURN_IGNORE_RENEW;
            return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
        }
        case SSL_TICKET_FATAL_ERR_MALLOC:
        case SSL_TICKET_FATAL_ERR_OTHER:
            return SSL_TICKET_RETURN_ABORT;
        default:
            return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
}

//  h2o's client cache key of a connection ("server name:port"); false when there is none.
static bool
s_session_key (h2o_socket_t *sock, const char *name, char key[OCF_NODE_ID_LEN + 16])
{
    struct sockaddr_storage address;
    if (!sock || !name || !h2o_socket_getpeername (sock, (struct sockaddr *) &address))
        return false;
    int len = snprintf (key, OCF_NODE_ID_LEN + 16, "%s:%" PRIu16, name,
                        (uint16_t) h2o_socket_getport ((struct sockaddr *) &address));
    return len > 0 && len < OCF_NODE_ID_LEN + 16;
}

//  TLS 1.3 hands a session over after the handshake, in a ticket: it is kept as the node's
//  newest, of which every connection to come takes a copy (ocf_tls_client_prepare).
static int
s_on_new_session (SSL *ssl, SSL_SESSION *session)
{
    check_t *check = SSL_CTX_get_ex_data (SSL_get_SSL_CTX (ssl), s_check_index);
    char key[OCF_NODE_ID_LEN + 16];
    if (!check || !s_session_key (BIO_get_data (SSL_get_rbio (ssl)), SSL_get_servername (ssl, TLSEXT_NAMETYPE_host_name), key))
        return 0;
    if (zhashx_size (check->resumable) >= SESSION_CACHE_ENTRIES && !zhashx_lookup (check->resumable, key))
        zhashx_purge (check->resumable);
    zhashx_update (check->resumable, key, session);
    return 1;                    //  the table holds OpenSSL's reference now
}

void
ocf_tls_client_prepare (SSL_CTX *ctx, h2o_socket_t *sock, const char *server_name)
{
    check_t *check = SSL_CTX_get_ex_data (ctx, s_check_index);
    char key[OCF_NODE_ID_LEN + 16];
    if (!check || !s_session_key (sock, server_name, key))
        return;
    SSL_SESSION *resumable = zhashx_lookup (check->resumable, key);
    if (!resumable)
        return;
    h2o_cache_t *cache = h2o_socket_ssl_get_session_cache (ctx);
    SSL_SESSION *copy = NULL;
    if (time (NULL) >= SSL_SESSION_get_time (resumable) + SSL_SESSION_get_timeout (resumable)
    ||  !(copy = SSL_SESSION_dup (resumable))) {
        zhashx_delete (check->resumable, key);
        return;
    }
    //  h2o's cache is where its handshake looks for a session; it frees the copy.
    h2o_cache_set (cache, h2o_now (h2o_socket_get_loop (sock)), h2o_iovec_init (key, strlen (key)), 0,
                   h2o_iovec_init (copy, 1));
}

//  The method says the side: h2o takes an SSL that does not say client for a server.
static SSL_CTX *
s_context (ocf_tls_t *self, const SSL_METHOD *method, ocf_tls_member_fn *member, void *arg)
{
    pthread_once (&s_check_once, s_check_index_init);
    SSL_CTX *ctx = SSL_CTX_new (method);
    if (!ctx)
        return NULL;
    check_t *check = ocf_malloc (sizeof *check);
    *check = (check_t) { self, member, arg, NULL };
    SSL_CTX_set_ex_data (ctx, s_check_index, check);
    SSL_CTX_set_min_proto_version (ctx, TLS1_3_VERSION);
    SSL_CTX_use_certificate (ctx, self->certificate);
    SSL_CTX_use_PrivateKey (ctx, self->key);
    SSL_CTX_set_cert_verify_callback (ctx, s_verify, check);
    return ctx;
}

SSL_CTX *
ocf_tls_server_context (ocf_tls_t *self, ocf_tls_member_fn *member, void *arg)
{
    static const h2o_iovec_t protocols[] = { { H2O_STRLIT ("http/1.1") }, { NULL, 0 } };
    SSL_CTX *ctx = s_context (self, TLS_server_method (), member, arg);
    if (!ctx)
        return NULL;
    SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    h2o_ssl_register_alpn_protocols (ctx, protocols);
    //  Sessions made with client certificates resume only within a named context.
    SSL_CTX_set_session_id_context (ctx, (const unsigned char *) "ocf-fabric", 10);
    SSL_CTX_set_num_tickets (ctx, 1);
    SSL_CTX_set_timeout (ctx, SESSION_LIFETIME_S);
    SSL_CTX_set_tlsext_ticket_keys (ctx, self->ticket_keys, sizeof self->ticket_keys);
    SSL_CTX_set_session_ticket_cb (ctx, NULL, s_on_ticket, SSL_CTX_get_ex_data (ctx, s_check_index));
    return ctx;
}

SSL_CTX *
ocf_tls_client_context (ocf_tls_t *self, ocf_tls_member_fn *member, void *arg)
{
    SSL_CTX *ctx = s_context (self, TLS_client_method (), member, arg);
    if (!ctx)
        return NULL;
    SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_alpn_protos (ctx, (const unsigned char *) "\x08http/1.1", 9);
    check_t *check = SSL_CTX_get_ex_data (ctx, s_check_index);
    check->resumable = zhashx_new ();
    zhashx_set_destructor (check->resumable, s_session_free);
    SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb (ctx, s_on_new_session);
    h2o_socket_ssl_set_session_cache (ctx, h2o_cache_create (0, SESSION_CACHE_ENTRIES, SESSION_LIFETIME_S * 1000,
                                                             h2o_socket_ssl_destroy_session_cache_entry));
    return ctx;
}

X509 *
ocf_tls_certificate_new (ocf_identity_t *identity, EVP_PKEY **key_p)
{
    const char *id = ocf_identity_id (identity);
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, ocf_identity_seed (identity), 32);
    X509 *certificate = X509_new ();
    BIGNUM *serial = BN_new ();
    X509_NAME *name = X509_NAME_new ();
    char alt_name[OCF_NODE_ID_LEN + 8];
    snprintf (alt_name, sizeof alt_name, "DNS:%s", id);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb (&v3);
    X509V3_set_ctx (&v3, certificate, certificate, NULL, NULL, 0);
    X509_EXTENSION *extension = NULL;
    bool made = key && certificate && serial && name
        && X509_set_version (certificate, 2)
        && BN_rand (serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
        && BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (certificate))
        && X509_gmtime_adj (X509_getm_notBefore (certificate), -86400)
        && X509_time_adj_ex (X509_getm_notAfter (certificate), VALIDITY_DAYS, 0, NULL)
        && X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC, (const unsigned char *) id, -1, -1, 0)
        && X509_set_subject_name (certificate, name) && X509_set_issuer_name (certificate, name)
        && X509_set_pubkey (certificate, key)
        && (extension = X509V3_EXT_conf_nid (NULL, &v3, NID_subject_alt_name, alt_name))
        && X509_add_ext (certificate, extension, -1)
        && X509_sign (certificate, key, NULL) > 0;      //  Ed25519 signs without a separate digest
    X509_EXTENSION_free (extension);
    X509_NAME_free (name);
    BN_free (serial);
    if (!made) {
        X509_free (certificate);
        EVP_PKEY_free (key);
        return NULL;
    }
    *key_p = key;
    return certificate;
}

ocf_tls_t *
ocf_tls_new (ocf_identity_t *identity, const ocf_gossipd_config_t *keys, char *error, size_t error_size)
{
    ocf_tls_t *self = ocf_calloc (1, sizeof *self);
    pthread_rwlock_init (&self->lock, NULL);
    if (ocf_tls_reload_keys (self, keys, error, error_size) != 0) {
        ocf_tls_destroy (&self);
        return NULL;
    }
    self->certificate = ocf_tls_certificate_new (identity, &self->key);
    //  From the node key, so that tickets outlive a restart: peers resume with this host as
    //  soon as it is back, rather than all making full handshakes with it at once. Resumption
    //  still makes a new ECDHE secret (psk_dhe_ke), so holding these keys opens no recorded
    //  traffic; whoever has node.key can be this host anyway.
    ocf_identity_derive_secret (identity, "ocftickt", self->ticket_keys, sizeof self->ticket_keys);
    if (!self->certificate) {
        snprintf (error, error_size, "cannot make the TLS certificate of node %s: %s", ocf_identity_id (identity),
                  ERR_reason_error_string (ERR_get_error ()));
        ocf_tls_destroy (&self);
        return NULL;
    }
    return self;
}

void
ocf_tls_destroy (ocf_tls_t **self_p)
{
    ocf_tls_t *self = *self_p;
    if (!self)
        return;
    X509_free (self->certificate);
    EVP_PKEY_free (self->key);
    zhashx_destroy (&self->authorized);
    pthread_rwlock_destroy (&self->lock);
    OPENSSL_cleanse (self->ticket_keys, sizeof self->ticket_keys);
    free (self);
    *self_p = NULL;
}

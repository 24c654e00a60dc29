/*  ocf_identity: node keypair and id.  */
#include "ocf_identity.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Z85's alphabet is the digits, the letters and these.
static const char s_z85_symbols[] = ".-:+=^!/*?&<>()[]{}@%$#";

bool
ocf_identity_id_valid (const char *text)
{
    if (!text || strlen (text) != OCF_NODE_ID_LEN)
        return false;
    //  Every merged row's id is checked: letters and digits by range, only the symbols by
    //  a search (a search per character was 3 % of a merge).
    for (const char *c = text; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || strchr (s_z85_symbols, *c)))
            return false;
    return true;
}

int
ocf_mkdirs (const char *path, mode_t mode)
{
    char buffer[4096];
    if (snprintf (buffer, sizeof buffer, "%s", path) >= (int) sizeof buffer)
        return -1;
    for (char *slash = buffer + 1; *slash; slash++)
        if (*slash == '/') {
            *slash = '\0';
            if (mkdir (buffer, mode) != 0 && errno != EEXIST)
                return -1;
            *slash = '/';
        }
    if (mkdir (buffer, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

zcert_t *
ocf_identity_load (const char *state_dir, char *error, size_t error_size)
{
    char path[4096], temp[4200];
    snprintf (path, sizeof path, "%s/node.key", state_dir);
    if (ocf_mkdirs (state_dir, 0750) != 0) {
        snprintf (error, error_size, "cannot create state directory %s: %s", state_dir, strerror (errno));
        return NULL;
    }
    if (access (path, F_OK) == 0) {
        zcert_t *cert = zcert_load (path);
        if (!cert || !ocf_identity_id_valid (zcert_public_txt (cert))
        ||  strcmp (zcert_secret_txt (cert), "0000000000000000000000000000000000000000") == 0) {
            snprintf (error, error_size, "%s is not a CURVE secret certificate (move it away to create a new identity)", path);
            zcert_destroy (&cert);
            return NULL;
        }
        return cert;
    }
    //  First start: write the key under a temporary name, then rename, so a crash never
    //  leaves a half-written key behind.
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "created-by", "ocf");
    snprintf (temp, sizeof temp, "%s.tmp.%d", path, (int) getpid ());
    mode_t old_mask = umask (077);
    int rc = zcert_save_secret (cert, temp);
    umask (old_mask);
    if (rc != 0 || rename (temp, path) != 0) {
        snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
        unlink (temp);
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

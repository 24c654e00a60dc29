/*  The node identity (common/ocf_identity.c): ids, signatures, derived keys, the key file.  */
#include "ocf_identity.h"
#include "ocf_statedir.h"
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char s_dir[256];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/ocf-test-identity-XXXXXX");
    cr_assert (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    char command[300];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_assert_eq (system (command), 0);
}

TestSuite (identity, .init = s_setup, .fini = s_teardown);

static void
s_write (const char *name, const char *text)
{
    char path[400];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    cr_assert (file);
    fputs (text, file);
    fclose (file);
}

Test (identity, ids_are_base32_of_the_key_and_round_trip)
{
    uint8_t key[OCF_NODE_KEY_BYTES], back[OCF_NODE_KEY_BYTES];
    for (int i = 0; i < OCF_NODE_KEY_BYTES; i++)
        key[i] = (uint8_t) (i * 37 + 11);
    char id[OCF_NODE_ID_LEN + 1];
    ocf_identity_id_encode (key, id);
    cr_assert_eq (strlen (id), OCF_NODE_ID_LEN);
    cr_assert_eq (strspn (id, "abcdefghijklmnopqrstuvwxyz234567"), OCF_NODE_ID_LEN, "%s", id);
    cr_assert (ocf_identity_id_decode (id, back));
    cr_assert_eq (memcmp (key, back, sizeof key), 0);
    //  RFC 4648's test vector, lowercased: base32("foobar") = "mzxw6ytboi".
    uint8_t foobar[OCF_NODE_KEY_BYTES] = "foobar";
    ocf_identity_id_encode (foobar, id);
    cr_assert (strncmp (id, "mzxw6ytboi", 10) == 0, "%s", id);
}

Test (identity, malformed_ids_are_refused)
{
    ocf_identity_t *identity = ocf_identity_new_ephemeral ();
    char id[OCF_NODE_ID_LEN + 2];
    strcpy (id, ocf_identity_id (identity));
    cr_assert (ocf_identity_id_valid (id));
    const char *bad[] = { "", "short", NULL };
    for (int i = 0; bad[i]; i++)
        cr_assert_not (ocf_identity_id_valid (bad[i]), "'%s'", bad[i]);
    cr_assert_not (ocf_identity_id_valid (NULL));
    char copy[sizeof id];
    strcpy (copy, id);
    copy[3] = 'A';                          //  upper case is not the encoding
    cr_assert_not (ocf_identity_id_valid (copy));
    strcpy (copy, id);
    copy[7] = '1';                          //  not in the alphabet
    cr_assert_not (ocf_identity_id_valid (copy));
    strcpy (copy, id);
    strcat (copy, "a");                     //  too long
    cr_assert_not (ocf_identity_id_valid (copy));
    //  The last character carries one bit: another with the same bit would be a second id
    //  for the same key.
    strcpy (copy, id);
    copy[OCF_NODE_ID_LEN - 1] = copy[OCF_NODE_ID_LEN - 1] == 'a' ? 'b' : (copy[OCF_NODE_ID_LEN - 1] == 'q' ? 'r' : 'b');
    cr_assert_not (ocf_identity_id_valid (copy), "%s", copy);
    ocf_identity_destroy (&identity);
}

Test (identity, signatures_verify_only_for_their_key_and_message)
{
    ocf_identity_t *alice = ocf_identity_new_ephemeral (), *bob = ocf_identity_new_ephemeral ();
    uint8_t signature[OCF_SIGNATURE_BYTES];
    ocf_identity_sign (alice, "row", 3, signature);
    cr_assert (ocf_identity_verify (ocf_identity_id (alice), "row", 3, signature));
    cr_assert_not (ocf_identity_verify (ocf_identity_id (bob), "row", 3, signature));
    cr_assert_not (ocf_identity_verify (ocf_identity_id (alice), "rox", 3, signature));
    signature[10] ^= 1;
    cr_assert_not (ocf_identity_verify (ocf_identity_id (alice), "row", 3, signature));
    cr_assert_not (ocf_identity_verify ("not an id", "row", 3, signature));
    ocf_identity_destroy (&alice);
    ocf_identity_destroy (&bob);
}

Test (identity, the_curve_key_is_derived_from_the_id)
{
    ocf_identity_t *identity = ocf_identity_new_ephemeral ();
    char curve[41];
    cr_assert (ocf_identity_id_curve (ocf_identity_id (identity), curve));
    cr_assert_str_eq (curve, zcert_public_txt (ocf_identity_curve (identity)));
    ocf_identity_destroy (&identity);
}

Test (identity, derived_secrets_depend_on_the_key_and_the_purpose_only)
{
    uint8_t seed[32] = { 1 }, other_seed[32] = { 2 };
    ocf_identity_t *a = ocf_identity_new_from_seed (seed), *again = ocf_identity_new_from_seed (seed);
    ocf_identity_t *other = ocf_identity_new_from_seed (other_seed);
    uint8_t first[80], second[80], purpose[80], stranger[80];
    ocf_identity_derive_secret (a, "ocftickt", first, sizeof first);
    ocf_identity_derive_secret (again, "ocftickt", second, sizeof second);
    ocf_identity_derive_secret (a, "ocfother", purpose, sizeof purpose);
    ocf_identity_derive_secret (other, "ocftickt", stranger, sizeof stranger);
    cr_assert_arr_eq (first, second, sizeof first, "the same key gives the same secret at every start");
    cr_assert_arr_neq (first, purpose, sizeof first);
    cr_assert_arr_neq (first, stranger, sizeof first);
    cr_assert_arr_neq (first, first + 64, 16, "the pieces past 64 bytes are not a repeat");
    cr_assert_arr_neq (first, seed, sizeof seed, "the secret is not the key");
    ocf_identity_destroy (&a);
    ocf_identity_destroy (&again);
    ocf_identity_destroy (&other);
}

Test (identity, the_key_is_created_once_with_mode_0600_and_kept)
{
    char error[512], path[400];
    ocf_identity_t *first = ocf_identity_load (s_dir, error, sizeof error);
    cr_assert (first, "%s", error);
    ocf_statedir_path (s_dir, OCF_STATE_NODE_KEY, path, sizeof path);
    struct stat info;
    cr_assert_eq (stat (path, &info), 0);
    cr_assert_eq (info.st_mode & 0777, 0600, "mode %o", info.st_mode & 0777);
    ocf_identity_t *again = ocf_identity_load (s_dir, error, sizeof error);
    cr_assert (again, "%s", error);
    cr_assert_str_eq (ocf_identity_id (first), ocf_identity_id (again));
    cr_assert_eq (memcmp (ocf_identity_seed (first), ocf_identity_seed (again), 32), 0);
    char *text = ocf_test_read_file (path);
    cr_assert (strstr (text, ocf_identity_id (first)), "the file names its id: %s", text);
    free (text);
    ocf_identity_destroy (&first);
    ocf_identity_destroy (&again);
}

Test (identity, daemons_starting_together_agree_on_one_key)
{
    //  Four processes create the key at once; all must come out with the same id.
    int pipes[2];
    cr_assert_eq (pipe (pipes), 0);
    for (int i = 0; i < 4; i++)
        if (fork () == 0) {
            char error[512];
            ocf_identity_t *identity = ocf_identity_load (s_dir, error, sizeof error);
            if (identity && write (pipes[1], ocf_identity_id (identity), OCF_NODE_ID_LEN) != OCF_NODE_ID_LEN)
                _exit (2);
            _exit (identity ? 0 : 1);
        }
    close (pipes[1]);
    char ids[4][OCF_NODE_ID_LEN + 1] = { { 0 } };
    for (int i = 0; i < 4; i++) {
        int status;
        wait (&status);
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
        cr_assert_eq (read (pipes[0], ids[i], OCF_NODE_ID_LEN), OCF_NODE_ID_LEN);
    }
    close (pipes[0]);
    for (int i = 1; i < 4; i++)
        cr_assert_str_eq (ids[i], ids[0]);
}

Test (identity, an_old_curve_key_is_moved_aside_and_replaced)
{
    s_write ("node.key", "#   ****  Generated on 2026-11-01 by CZMQ  ****\nmetadata\ncurve\n"
                         "    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n"
                         "    secret-key = \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\n");
    char error[512], path[400];
    ocf_identity_t *identity = ocf_identity_load (s_dir, error, sizeof error);
    cr_assert (identity, "%s", error);
    snprintf (path, sizeof path, "%s/node.key.curve-old", s_dir);
    char *old = ocf_test_read_file (path);
    cr_assert (old && strstr (old, "secret-key"), "the old key is kept");
    free (old);
    ocf_identity_destroy (&identity);
}

Test (identity, a_damaged_key_file_is_refused_with_the_reason)
{
    char error[512];
    s_write ("node.key", "id aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                         "seed 0000000000000000000000000000000000000000000000000000000000000000\n");
    cr_assert_null (ocf_identity_load (s_dir, error, sizeof error));
    cr_assert (strstr (error, "not the seed's"), "%s", error);
    s_write ("node.key", "seed 00\n");
    cr_assert_null (ocf_identity_load (s_dir, error, sizeof error));
    cr_assert (strstr (error, "line 1"), "%s", error);
    s_write ("node.key", "");
    cr_assert_null (ocf_identity_load (s_dir, error, sizeof error));
    cr_assert (strstr (error, "no seed line"), "%s", error);
}

Test (identity, a_state_directory_open_to_others_is_tightened_at_start)
{
    ocf_test_node_t node;
    ocf_test_node_init (&node, "private");
    mkdir (node.state_dir, 0700);
    cr_assert_eq (chmod (node.state_dir, 01777), 0);
    pid_t tabled = ocf_test_start (&node, "ocf-tabled", NULL, 10000);
    cr_assert_gt (tabled, 0);
    struct stat info;
    cr_assert_eq (stat (node.state_dir, &info), 0);
    cr_assert_eq (info.st_mode & 07777, 0750, "mode %04o", info.st_mode & 07777);
    char path[400];
    snprintf (path, sizeof path, "%s/ocf-tabled.log", node.root);
    char *log = ocf_test_read_file (path);
    cr_assert (log && strstr (log, "had mode 1777: made 0750"), "%s", log ? log : "");
    free (log);
    cr_assert_eq (ocf_test_stop (tabled, SIGTERM, 5000), 0);
    ocf_test_node_cleanup (&node);
}

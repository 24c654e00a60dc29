/*  Replays fuzz inputs (files, or every file of a directory) through a fuzz target, so the
    seed corpus runs as a regression test in builds without libFuzzer.  */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
s_replay_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return 0;
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    uint8_t *data = malloc (size > 0 ? (size_t) size : 1);
    size_t got = fread (data, 1, (size_t) size, file);
    fclose (file);
    LLVMFuzzerTestOneInput (data, got);
    free (data);
    return 1;
}

int
main (int argc, char **argv)
{
    int replayed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv[i], &st) != 0) {
            fprintf (stderr, "%s: no such file or directory\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR (st.st_mode)) {
            replayed += s_replay_file (argv[i]);
            continue;
        }
        DIR *dir = opendir (argv[i]);
        struct dirent *entry;
        while ((entry = readdir (dir)) != NULL) {
            if (entry->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], entry->d_name);
            replayed += s_replay_file (path);
        }
        closedir (dir);
    }
    printf ("replayed %d inputs\n", replayed);
    return replayed > 0 ? 0 : 1;
}

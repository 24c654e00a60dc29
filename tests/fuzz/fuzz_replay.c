/*  Replays a corpus through a fuzz target without libFuzzer: every file of the directories
    (or files) given, once each. Used by ctest in builds without -DOCF_FUZZ=ON.  */
#include <dirent.h>
#include <stddef.h>
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
    if (!file) {
        fprintf (stderr, "cannot read %s\n", path);
        return -1;
    }
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    uint8_t *data = malloc (size > 0 ? (size_t) size : 1);
    size_t got = fread (data, 1, (size_t) size, file);
    fclose (file);
    LLVMFuzzerTestOneInput (data, got);
    free (data);
    return 0;
}

int
main (int argc, char **argv)
{
    int replayed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat info;
        if (stat (argv[i], &info) != 0) {
            fprintf (stderr, "%s: no such file or directory\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR (info.st_mode)) {
            if (s_replay_file (argv[i]) != 0)
                return 1;
            replayed++;
            continue;
        }
        DIR *dir = opendir (argv[i]);
        struct dirent *entry;
        while (dir && (entry = readdir (dir))) {
            if (entry->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf (path, sizeof path, "%s/%s", argv[i], entry->d_name);
            if (s_replay_file (path) != 0)
                return 1;
            replayed++;
        }
        if (dir)
            closedir (dir);
    }
    printf ("replayed %d input(s)\n", replayed);
    return replayed > 0 ? 0 : 1;
}

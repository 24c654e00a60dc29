/*  ocf_statedir: the layout and the mode of state_dir.  */
#include "ocf_statedir.h"
#include "ocf_alloc.h"
#include "ocf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
ocf_statedir_path (const char *state_dir, ocf_state_file_t file, char *buffer, size_t size)
{
    static const char *names[] = {
        [OCF_STATE_NODE_KEY] = "node.key",
        [OCF_STATE_TABLE_DB] = "table.db",
        [OCF_STATE_KNOWN_SEEDS] = "known_seeds",
        [OCF_STATE_DRAINED] = "drained",
        [OCF_STATE_BACKENDS] = "backends"
    };
    snprintf (buffer, size, "%s/%s", state_dir, names[file]);
    return buffer;
}

const char *
ocf_statedir_backend_path (const char *state_dir, const char *service, const char *suffix, char *buffer, size_t size)
{
    snprintf (buffer, size, "%s/backends/%s%s", state_dir, service, suffix);
    return buffer;
}

int
ocf_statedir_prepare (const char *state_dir, char *error, size_t error_size)
{
    if (ocf_mkdirs (state_dir, 0750) != 0) {
        snprintf (error, error_size, "cannot create state directory %s: %s", state_dir, strerror (errno));
        return -1;
    }
    //  It holds the node's secret key and its table: nobody but its owner and group may write
    //  there, and others may not even look.
    struct stat info;
    if (stat (state_dir, &info) != 0) {
        snprintf (error, error_size, "cannot read state directory %s: %s", state_dir, strerror (errno));
        return -1;
    }
    mode_t mode = info.st_mode & 07777;
    if ((mode & 07027) == 0)
        return 0;
    if (chmod (state_dir, mode & 0750) != 0) {
        snprintf (error, error_size, "state directory %s has mode %04o (others may reach node.key and table.db) "
                  "and cannot be made %04o: %s", state_dir, (unsigned) mode, (unsigned) (mode & 0750), strerror (errno));
        return -1;
    }
    ocf_log_notice ("state directory %s had mode %04o: made %04o (node.key and table.db are this node's alone)",
                    state_dir, (unsigned) mode, (unsigned) (mode & 0750));
    return 0;
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

char *
ocf_statedir_read (const char *path, size_t max, size_t *size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *text = ocf_malloc (max + 1);
    ssize_t got = read (fd, text, max + 1);
    int saved = errno;
    close (fd);
    if (got < 0) {
        free (text);
        errno = saved;
        return NULL;
    }
    *size = (size_t) got;
    return text;
}

int
ocf_statedir_write (const char *path, const char *text)
{
    char temporary[4300];
    if (snprintf (temporary, sizeof temporary, "%s.tmp", path) >= (int) sizeof temporary) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    size_t len = strlen (text);
    bool written = write (fd, text, len) == (ssize_t) len;
    int saved = errno;
    if (close (fd) != 0 && written) {
        written = false;
        saved = errno;
    }
    if (!written || rename (temporary, path) != 0) {
        if (written)
            saved = errno;
        unlink (temporary);
        errno = saved;
        return -1;
    }
    return 0;
}

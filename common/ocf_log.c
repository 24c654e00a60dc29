/*  ocf_log: stderr logging with journald priority prefixes.  */
#include "ocf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *s_program = "ocf";
static ocf_log_level_t s_level = OCF_LOG_INFO;
static bool s_journald = false;

static const char *s_level_names[] = {
    [OCF_LOG_ERR] = "err", [OCF_LOG_WARNING] = "warning", [OCF_LOG_NOTICE] = "notice",
    [OCF_LOG_INFO] = "info", [OCF_LOG_DEBUG] = "debug"
};

//  systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected; we only use
//  priority prefixes when stderr is still that stream (not redirected by a wrapper).
static bool
s_stderr_is_journal (void)
{
    const char *stream = getenv ("JOURNAL_STREAM");
    if (!stream)
        return false;
    unsigned long long dev, ino;
    if (sscanf (stream, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st;
    if (fstat (STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void
ocf_log_init (const char *program)
{
    s_program = program;
    s_journald = s_stderr_is_journal ();
}

void
ocf_log_set_level (ocf_log_level_t level)
{
    s_level = level;
}

int
ocf_log_level_parse (const char *text)
{
    for (int level = OCF_LOG_ERR; level <= OCF_LOG_DEBUG; level++)
        if (strcmp (text, s_level_names[level]) == 0)
            return level;
    return -1;
}

bool
ocf_log_enabled (ocf_log_level_t level)
{
    return level <= s_level;
}

void
ocf_log (ocf_log_level_t level, const char *format, ...)
{
    if (!ocf_log_enabled (level))
        return;
    //  One write per line so lines from concurrent processes never interleave.
    char line[2048];
    int len;
    if (s_journald)
        len = snprintf (line, sizeof line, "<%d>", level);
    else {
        struct timeval now;
        gettimeofday (&now, NULL);
        struct tm tm;
        localtime_r (&now.tv_sec, &tm);
        len = snprintf (line, sizeof line, "%02d:%02d:%02d.%03d %s[%d] %s: ", tm.tm_hour, tm.tm_min,
                        tm.tm_sec, (int) (now.tv_usec / 1000), s_program, (int) getpid (),
                        s_level_names[level]);
    }
    va_list args;
    va_start (args, format);
    int body = vsnprintf (line + len, sizeof line - len - 1, format, args);
    va_end (args);
    len += body < 0 ? 0 : body;
    if (len > (int) sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    if (write (STDERR_FILENO, line, len) < 0) {
        //  Nothing sensible to do when stderr is gone.
    }
}

/* Homes and the locks on them (home.h). */
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int home_dir(const char *given, char *out, size_t size)
{
    const char *env = getenv(HOME_ENV), *home = getenv("HOME");
    int n;

    if (given != NULL && given[0] != '\0')
        n = snprintf(out, size, "%s", given);
    else if (env != NULL && env[0] != '\0')
        n = snprintf(out, size, "%s", env);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(out, size, "%s/.shoal", home);
    else
        return -1;
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int home_open(const char *prog, const char *given, char *out, size_t size)
{
    struct stat st;

    if (home_dir(given, out, size) < 0) {
        fprintf(stderr, "%s: no home folder: no $HOME; pass --home DIR or "
                        "set " HOME_ENV "\n", prog);
        return -1;
    }
    if (mkdir(out, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "%s: home %s: cannot make it (%s)\n", prog, out,
                strerror(errno));
        return -1;
    }
    if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: home %s: not a folder\n", prog, out);
        return -1;
    }
    return 0;
}

const char *home_path(const char *home, const char *name, char *buf,
                      size_t size)
{
    int n = snprintf(buf, size, "%s/%s", home, name);

    return n < 0 || (size_t)n >= size ? NULL : buf;
}

/* The pid holding a flock on fd's file, from /proc/locks ("N: FLOCK
 * ADVISORY WRITE PID MAJ:MIN:INODE START END", device numbers in hex);
 * 0 when it cannot be told. */
static long flock_holder(int fd)
{
    unsigned long long ino;
    unsigned maj, min;
    struct stat st;
    char line[256], kind[16];
    long pid, found = 0;
    FILE *f;

    if (fstat(fd, &st) < 0 || (f = fopen("/proc/locks", "re")) == NULL)
        return 0;
    while (found == 0 && fgets(line, sizeof(line), f) != NULL) {
        /* "->" lines are waiters, not holders */
        if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%llu", kind, &pid, &maj,
                   &min, &ino) == 5 &&
            strcmp(kind, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
            maj == major(st.st_dev) && min == minor(st.st_dev) &&
            pid != (long)getpid())
            found = pid;
    }
    fclose(f);
    return found;
}

/* The pid a lock file's owner wrote in it; 0 when none. */
static long written_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long pid;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return sscanf(buf, "%ld", &pid) == 1 && pid > 0 ? pid : 0;
}

/* "(pid N)" or "" in buf, for a refusal. */
static const char *pid_text(long pid, char *buf, size_t size)
{
    if (pid > 0)
        snprintf(buf, size, " (pid %ld)", pid);
    else
        snprintf(buf, size, "%s", "");
    return buf;
}

/* Takes fd's lock without waiting: 0, 1 when another process holds it, -1
 * on another error (errno). */
static int try_lock(int fd)
{
    int rc;

    do
        rc = flock(fd, LOCK_EX | LOCK_NB);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    return errno == EWOULDBLOCK ? 1 : -1;
}

int home_lock(const char *prog, const char *home, const char *lockname,
              const char *what, int *fd)
{
    char path[4096], pid[64], line[32];
    long holder;
    int rc, n;

    *fd = -1;
    if (home_path(home, lockname, path, sizeof(path)) == NULL) {
        fprintf(stderr, "%s: home %s: path too long\n", prog, home);
        return -1;
    }
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (*fd < 0 || (rc = try_lock(*fd)) < 0) {
        fprintf(stderr, "%s: lock file %s: %s\n", prog, path,
                strerror(errno));
        goto fail;
    }
    if (rc == 1) {
        holder = flock_holder(*fd);
        if (holder == 0)
            holder = written_pid(*fd);
        fprintf(stderr, "%s: home %s is in use by another %s%s: one %s per "
                        "home (--home DIR or " HOME_ENV " picks another; "
                        "lock file %s)\n",
                prog, home, what, pid_text(holder, pid, sizeof(pid)), what,
                path);
        goto fail;
    }
    n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) < 0 || pwrite(*fd, line, (size_t)n, 0) != n) {
        fprintf(stderr, "%s: lock file %s: cannot write it (%s)\n", prog,
                path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    return -1;
}

int key_lock(const char *prog, const char *path, int *fd)
{
    char pid[64];
    int rc;

    /* read only: a key file is 0600 and never written after it is made;
     * O_NONBLOCK: a FIFO in its place must not hang us here */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (*fd < 0)
        return 0; /* missing: made by the node; unreadable: it says why */
    if ((rc = try_lock(*fd)) == 0)
        return 0;
    if (rc == 1)
        fprintf(stderr, "%s: key file %s is in use by another running "
                        "node%s: one node per key (--key FILE picks "
                        "another)\n",
                prog, path, pid_text(flock_holder(*fd), pid, sizeof(pid)));
    else
        fprintf(stderr, "%s: key file %s: cannot lock it (%s)\n", prog, path,
                strerror(errno));
    close(*fd);
    *fd = -1;
    return -1;
}

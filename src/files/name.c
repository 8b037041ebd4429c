/* Which names the service opens, and opening them inside the share only.
 * Names come from the network: "..", absolute paths, NUL bytes and
 * symlinks must never reach a file outside it: every open resolves the
 * name beneath the share's folder, held open, and follows no symlink. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "files/files_internal.h"

int shoal_files_name_ok(const char *name, size_t len)
{
    size_t start = 0;

    if (name == NULL || len == 0 || len > SHOAL_FILES_NAME_MAX ||
        memchr(name, '\0', len) != NULL || memchr(name, '\\', len) != NULL)
        return SHOAL_EINVAL;
    /* every part between slashes: not empty, not "." or ".." */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/')
            continue;
        size_t part = i - start;
        if (part == 0 || (part == 1 && name[start] == '.') ||
            (part == 2 && name[start] == '.' && name[start + 1] == '.'))
            return SHOAL_EINVAL;
        start = i + 1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) /* control */
            return SHOAL_EINVAL;
    return 0;
}

/* The kernel's own check: nothing outside rootfd, no symlink anywhere on
 * the path, resolved in one step so no swap can come between. -ENOSYS or
 * -EPERM (a seccomp filter) when it is not there. */
static int open_openat2(int rootfd, const char *name, int flags)
{
#ifdef SYS_openat2
    struct open_how how;
    long fd;
    int tries = 0;

    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                  RESOLVE_NO_MAGICLINKS;
    /* EAGAIN: a rename raced the lookup; a few more tries, not a spin on
     * a pool thread while something renames without end */
    do
        fd = syscall(SYS_openat2, rootfd, name, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN && ++tries < 8);
    return fd < 0 ? -errno : (int)fd;
#else
    (void)rootfd, (void)name, (void)flags;
    return -ENOSYS;
#endif
}

/* The same without openat2: one component at a time, each folder opened
 * with O_NOFOLLOW from the one before, so a folder swapped for a symlink
 * at any moment is refused, never followed. name has
 * passed shoal_files_name_ok(): no "..", ".", empty parts or leading '/'. */
static int open_walk(int rootfd, const char *name, int flags)
{
    char part[NAME_MAX + 1];
    const char *p = name, *slash;
    int dir = rootfd, fd;

    while ((slash = strchr(p, '/')) != NULL) {
        size_t n = (size_t)(slash - p);
        if (n > NAME_MAX) {
            fd = -ENAMETOOLONG;
            goto out;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        fd = openat(dir, part,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            struct stat st;
            fd = -errno;
            /* O_DIRECTORY on a symlink says ENOTDIR: name it as openat2
             * would */
            if (fd == -ENOTDIR &&
                fstatat(dir, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                fd = -ELOOP;
            goto out;
        }
        if (dir != rootfd)
            close(dir);
        dir = fd;
        p = slash + 1;
    }
    fd = openat(dir, p, flags | O_NOFOLLOW);
    if (fd < 0)
        fd = -errno;
out:
    if (dir != rootfd)
        close(dir);
    return fd;
}

int files_open_beneath(int rootfd, const char *name, int no_openat2)
{
    /* O_NONBLOCK: a FIFO swapped in must not hold a pool thread; reads of
     * a regular file ignore it */
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, fd = -ENOSYS;

    if (shoal_files_name_ok(name, strlen(name)) < 0)
        return -EINVAL;
    if (!no_openat2)
        fd = open_openat2(rootfd, name, flags);
    if (fd == -ENOSYS || fd == -EPERM)
        fd = open_walk(rootfd, name, flags);
    /* a symlink met (ELOOP) or a way out (EXDEV) is a refusal, not an
     * I/O error */
    if (fd == -ELOOP || fd == -EXDEV)
        fd = -EACCES;
    return fd;
}

int files_open_shared(const shoal_files *f, const char *name,
                      uint64_t *size)
{
    struct stat st;
    int fd = files_open_beneath(f->share_fd, name, f->no_openat2);

    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EACCES;
    }
    if (size != NULL)
        *size = (uint64_t)st.st_size;
    return fd;
}

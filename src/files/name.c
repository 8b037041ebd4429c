/* Which names the service opens, and opening them inside the share only.
 * Names come from the network: "..", absolute paths, NUL bytes and
 * symlinks out of the share must never reach a file outside it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int files_inside(const char *root, const char *path)
{
    size_t n = strlen(root);

    return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int files_open_shared(const char *root, const char *name, uint64_t *size)
{
    char path[PATH_MAX], *real;
    struct stat st;
    int fd;

    if (shoal_files_name_ok(name, strlen(name)) < 0)
        return -EINVAL;
    if (snprintf(path, sizeof(path), "%s/%s", root, name) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    if ((real = realpath(path, NULL)) == NULL)
        return -errno;
    if (!files_inside(root, real)) {
        free(real);
        return -EACCES; /* a symlink that leads out of the share */
    }
    /* O_NOFOLLOW: a symlink swapped in since realpath() is refused */
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    free(real);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EACCES;
    }
    if (size != NULL)
        *size = (uint64_t)st.st_size;
    return fd;
}

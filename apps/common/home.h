/* A program's home: the folder its state lives in (a node's key, peer
 * store, API tokens and downloads; a tracker's key and database), and the
 * locks that keep one node to a home and one node to a key file.
 *
 * The locks are flock(2) locks held for the life of the process: they go
 * away with it, however it ends, so a killed node never blocks the next
 * one. A lock file also holds its owner's pid, for people; the pid named
 * in a refusal comes from the kernel's table of locks (/proc/locks) when
 * it can be read there. */
#ifndef SHOAL_APP_HOME_H
#define SHOAL_APP_HOME_H

#include <stddef.h>

#define HOME_ENV "SHOAL_HOME"

/* The home: given (--home) when not NULL, else $SHOAL_HOME when set, else
 * $HOME/.shoal, written to out. 0, or -1 when there is none to be had (no
 * $HOME) or it does not fit. Makes nothing. */
int home_dir(const char *given, char *out, size_t size);

/* home_dir(), then the folder made if missing (0700). 0, or -1 after
 * saying why on stderr, each line starting with "PROG: ". */
int home_open(const char *prog, const char *given, char *out, size_t size);

/* "HOME/NAME" in buf; NULL when it does not fit. */
const char *home_path(const char *home, const char *name, char *buf,
                      size_t size);

/* Locks HOME/LOCKNAME for this process's life and writes its pid there.
 * 0 and *fd (to close once the node is gone), or -1 after saying why on
 * stderr: another process holds the lock (its pid named: WHAT names the
 * kind of program, "node" or "tracker"), or the file cannot be made. */
int home_lock(const char *prog, const char *home, const char *lockname,
              const char *what, int *fd);

/* Locks the key file at path for this process's life (the file itself:
 * nothing is written beside a key). 0 and *fd; *fd is -1 when there is
 * no such file yet (the node creates it: lock it after). -1 after saying
 * why on stderr when another process holds it. Other errors (an
 * unreadable file) are left to the key's loading, which names them. */
int key_lock(const char *prog, const char *path, int *fd);

#endif

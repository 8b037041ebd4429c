/* What the files service's source files share (see include/shoal/files.h).
 * Not installed. The service uses only the public node API. */
#ifndef SHOAL_FILES_INTERNAL_H
#define SHOAL_FILES_INTERNAL_H

#include <stdint.h>

#include "core/bufcache.h"
#include "files/manifest.h"
#include "files/protocol.h"
#include "shoal/files.h"

/* How often the service's one timer looks at its deadlines. */
#define FILES_TICK_MS 100
#define FILES_BUFS_IDLE_MS 2000 /* kept chunk buffers go after this */
/* Query ids remembered, to forward each search once. */
#define FILES_SEEN 1024
#define FILES_SEEN_MS 60000

/* One shared file. */
typedef struct file_entry {
    char *name;
    uint64_t size;
    int64_t mtime_s, mtime_ns;
    /* with size and mtime, what tells a file changed: a write that keeps
     * size and mtime (utimensat back) still moves ctime */
    int64_t ctime_s, ctime_ns;
    uint64_t ino, dev;
    int stale;                /* a chunk read to serve failed its hash:
                               * not served, rehashed by the next scan */
    uint8_t root[FILES_HASH];
    char hash[SHOAL_FILES_HASH_TEXT];
    uint8_t *chunks;          /* nchunks * 32 bytes */
    uint32_t nchunks;
    const char *base;         /* into name: after its last '/' */
    int classic;              /* the file its base name stands for, with
                               * classic peers (files_classic_name) */
} file_entry;

typedef struct files_index {
    file_entry *v;            /* sorted by name */
    size_t n;
    shoal_file_info *info;    /* the public view of v */
    file_entry **by_root;     /* v again, sorted by hash: a chunk request
                               * finds its file in O(log n) */
    file_entry **by_base;     /* v again, by base name, then depth, then
                               * name: FGET of a base name, O(log n) */
} files_index;

typedef struct files_search files_search;   /* search.c */
typedef struct files_transfer files_transfer; /* transfer.c */
typedef struct files_job files_job;         /* serve.c */
typedef struct files_forward files_forward; /* search.c */

/* A name a classic peer said it has (RESP), for later QUER answers. */
typedef struct files_remote {
    char *name;
    char owner[SHOAL_ID_MAX];
} files_remote;

typedef struct files_seen {
    uint64_t qid;
    uint64_t until;
} files_seen;

struct shoal_files {
    shoal_node *node;
    shoal_files_config cfg;
    int classic;
    char *share;              /* real path, or NULL */
    int share_fd;             /* share's folder, open for the service's
                               * life: files are opened beneath it */
    int no_openat2;           /* tests: the component walk instead
                               * (SHOAL_FILES_NO_OPENAT2 in the env) */
    char *downloads;          /* real path, or NULL */
    char *partial;            /* downloads/.shoal-partial */

    files_index index;
    int scanning;             /* a scan is on the thread pool */
    int scan_again;           /* asked for while one ran */
    uint64_t next_scan;       /* loop time */
    struct scan_waiter *scan_waiters;

    shoal_timer *tick;
    files_seen seen[FILES_SEEN];
    size_t seen_next;

    files_remote *remote;     /* classic: names learned from RESP */
    size_t nremote;

    files_search *searches;   /* running */
    files_forward *forwards;  /* FIND requests held while forwarded */
    files_job *jobs;          /* chunk reads held for a request */
    files_transfer **transfers;
    size_t ntransfers;
    unsigned next_transfer_id;
    shoal_transfer_cb on_transfer;
    void *on_transfer_user;

    /* SHOAL_FILES_CHUNK-byte buffers, for the chunks read (serving) and
     * received (downloading): reused, not faulted in afresh each time */
    shoal_bufcache chunk_bufs;

    unsigned pending;         /* requests and thread-pool work in flight */
    int dead;                 /* shoal_files_free() was called */
};

/* files.c */
uint64_t files_now(const shoal_files *f);
/* One more asynchronous operation that will call files_release(). */
void files_hold(shoal_files *f);
/* One fewer; frees f when it is dead and nothing is in flight. */
void files_release(shoal_files *f);
const file_entry *files_find_hash(const shoal_files *f,
                                  const uint8_t root[FILES_HASH]);
const file_entry *files_find_name(const shoal_files *f, const char *name);
/* Classic peers see a file by its base name: the reference GUI saves what
 * it fetches under the name it was given, and cannot make folders. Of the
 * files sharing one base name, the shallowest stands for it (the first in
 * name order among equals: "x.txt" before "a/x.txt", "a/x.txt" before
 * "b/x.txt"); the others are not offered to classic peers at all, as a
 * made-up name ("x (2).txt") could collide with a real one and would not
 * be what the user sees in the share. NULL for those. */
const char *files_classic_name(const file_entry *e);
/* The file a classic FGET names: a base name as above; a name with '/'
 * (what shoal nodes advertised before) is looked up as it is. */
const file_entry *files_find_classic(const shoal_files *f, const char *name);
/* Leading and trailing white space off the key at *key, *len: a key typed
 * with a stray space must still find what it names. */
void files_trim(const char **key, size_t *len);
/* Remembers qid; 0 if it was already seen (and still fresh). */
int files_seen_add(shoal_files *f, uint64_t qid);
/* Where peer p is reached: a multiaddr with /p2p/ (secure) or HOST:PORT. */
void files_peer_addr(const shoal_files *f, const shoal_peer *p, char *out,
                     size_t size);
/* This node's own dialable address (as above). */
void files_self_addr(const shoal_files *f, char *out, size_t size);
/* Does name contain key (case-insensitively unless classic)? The _n form
 * takes a name of n bytes, not NUL-terminated. */
int files_name_matches(const shoal_files *f, const char *name,
                       const char *key, size_t keylen);
int files_name_matches_n(const shoal_files *f, const char *name, size_t n,
                         const char *key, size_t keylen);

/* name.c */
/* Opens name (checked by shoal_files_name_ok) beneath the folder rootfd
 * for reading, following no symlink in any component: openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or where the kernel lacks it (or
 * no_openat2 is set) a walk of openat(O_NOFOLLOW) per component. fd, or
 * -errno (-EACCES for a symlink met or a way out). Blocking: thread pool
 * only. */
int files_open_beneath(int rootfd, const char *name, int no_openat2);
/* files_open_beneath() in f's share, for a regular file only (else
 * -EACCES); *size (may be NULL) gets its size. */
int files_open_shared(const shoal_files *f, const char *name,
                      uint64_t *size);
/* A chunk read to serve did not match the index's hash for the file
 * named root: logs it once for that file, stops serving it and has it
 * rehashed soon. Loop thread. */
void files_mark_stale(shoal_files *f, const char *name,
                      const uint8_t root[FILES_HASH]);

/* search.c */
void files_search_register(shoal_files *f);
void files_search_tick(shoal_files *f, uint64_t now);
void files_search_stop(shoal_files *f);

/* serve.c: MANI, CHNK, FGET */
void files_serve_register(shoal_files *f);
void files_serve_stop(shoal_files *f);

/* transfer.c */
void files_transfer_tick(shoal_files *f, uint64_t now);
void files_transfer_free_all(shoal_files *f);

#endif

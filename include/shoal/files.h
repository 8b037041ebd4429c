/*
 * shoal/files.h: file sharing on a shoal node.
 *
 * A service in the sense of shoal.h: it registers handlers on a node and
 * uses only the public node API. One shoal_files per node. It shares the
 * files under one folder (recursively; names are paths relative to it, with
 * '/' between parts, spaces allowed), finds files on the network, and
 * downloads them.
 *
 * Files are named by content as well as by name. A file is cut into chunks
 * of SHOAL_FILES_CHUNK bytes (the last one shorter); its hash is SHA-256
 * over "shoal-files-1", its size (8 bytes, big-endian) and the SHA-256 of
 * every chunk in order. Its "manifest" is that size and those chunk hashes:
 * whoever holds the manifest can check each chunk on its own, as it
 * arrives, from any holder. Hashes are written as 64 lowercase hex digits.
 *
 * Classic peers see each file by its base name (the reference saves a
 * fetched file under the name it was given and cannot make folders); of
 * several files with one base name, only the shallowest (then the first in
 * name order) is offered to them.
 *
 * Two wires:
 *  - secure mode (the default): typed messages between shoal nodes, on
 *    /shoal/msg/1.0.0 (see src/files/protocol.h): FIND floods a search with
 *    a ttl and duplicate suppression, results carry name, size, hash and
 *    holder; MANI fetches a manifest; CHNK fetches one chunk.
 *  - classic mode: the tutorial's QUER, RESP and FGET, byte for byte
 *    (specs/classic-wire.md), with duplicate suppression, every match
 *    answered, and reads confined to the share.
 *
 * Threads: every function runs on the node's loop thread. Hashing and disk
 * I/O run on libuv's thread pool; the loop never blocks on the disk.
 */
#ifndef SHOAL_FILES_H
#define SHOAL_FILES_H

#include "shoal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHOAL_FILES_CHUNK (1024 * 1024)
#define SHOAL_FILES_HASH_TEXT 65   /* 64 hex digits and a NUL */
#define SHOAL_FILES_NAME_MAX 1024  /* longest relative name, bytes */

typedef struct shoal_files shoal_files;

typedef struct shoal_files_config {
    size_t size;                /* set by its _config_init: leave it */
    const char *share_dir;      /* shared, recursively; NULL: share nothing */
    const char *download_dir;   /* where finished downloads appear; NULL:
                                 * no downloads. Partial ones are kept in
                                 * its ".shoal-partial" folder. */
    uint32_t rescan_ms;         /* the index follows the share this often */
    uint32_t search_timeout_ms; /* a search ends by then */
    int search_ttl;             /* hops a search travels */
    size_t max_results;         /* per search, after merging holders */
    size_t max_files;           /* files indexed, at most */
    size_t max_classic_file;    /* largest file FGET sends (one message):
                                 * raise the node's max_message with it */
    unsigned chunks_in_flight;  /* per download, over all holders */
    unsigned max_transfers;     /* downloads at once */
} shoal_files_config;

/* Defaults: no folders, rescan every 2 s, searches of 3 s and ttl 4 (as the
 * reference GUI), 500 results, 100000 files, 16 MiB FGET files (the node's
 * default max_message), 16 chunks in flight (of 1 MiB; at most twice that
 * held per transfer), 16 transfers. */
SHOAL_EXTERN
void shoal_files_config_init_size(shoal_files_config *cfg, size_t size);
/* What the program calls (any thread): its sizeof goes to the library
 * (shoal.h, "configuration"). */
#define shoal_files_config_init(cfg) \
    shoal_files_config_init_size((cfg), sizeof(*(cfg)))

/* Starts the service on node (secure or classic, as the node is): handlers
 * registered, the share indexed in the background. The config and its
 * strings are copied. SHOAL_EINVAL for a share or download folder that is
 * not a folder. Free it with shoal_files_free() before the node. */
SHOAL_EXTERN
int shoal_files_new(shoal_files **out, shoal_node *node,
                    const shoal_files_config *cfg);
/* Stops every transfer (partial files stay, to resume), removes the
 * handlers, frees f. NULL: nothing. */
SHOAL_EXTERN
void shoal_files_free(shoal_files *f);

/* ------------------------------------------------------------ the share */
typedef struct shoal_file_info {
    const char *name;           /* relative, '/'-separated */
    uint64_t size;
    const char *hash;           /* 64 hex digits */
} shoal_file_info;

/* Files in the index now, in name order. A file appears once it is hashed;
 * hidden names (a leading '.') and symlinks are not shared. A file whose
 * size, mtime, inode change time or inode changed is hashed again at the
 * next scan, and one whose chunk, read to be served, no longer matches its
 * hash is refused (ERRO) at once and rehashed. Borrowed, valid until the
 * index next changes (a rescan, on a later turn of the loop). */
SHOAL_EXTERN
size_t shoal_files_count(const shoal_files *f);
SHOAL_EXTERN
const shoal_file_info *shoal_files_at(const shoal_files *f, size_t index);
/* Rescans the share at once; cb (may be NULL) runs when the index is up to
 * date. For tests and for "I just copied a file in". */
SHOAL_EXTERN
int shoal_files_rescan(shoal_files *f, void (*cb)(shoal_files *f, void *user),
                       void *user);

/* Whether name is one the service would ever open: relative, no "..", "."
 * or empty parts, no NUL or other control bytes, no backslash, at most
 * SHOAL_FILES_NAME_MAX bytes.
 * Names are opened beneath the share's folder, held open, following no
 * symlink in any part (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or
 * an O_NOFOLLOW walk where the kernel lacks it). Returns 0 or SHOAL_EINVAL.
 * Any thread. */
SHOAL_EXTERN
int shoal_files_name_ok(const char *name, size_t len);

/* --------------------------------------------------------------- search */
typedef struct shoal_file_holder {
    const char *peer;           /* peer id (secure) or HOST:PORT (classic) */
    const char *addr;           /* where to reach it: a multiaddr with /p2p/
                                 * or HOST:PORT */
} shoal_file_holder;

typedef struct shoal_search_result {
    const char *name;
    uint64_t size;              /* 0 and hash "" from classic peers: RESP */
    const char *hash;           /* says neither */
    size_t nholders;
    const shoal_file_holder *holders;
} shoal_search_result;

/* Called once when the search ends (its deadline, or every peer answered),
 * with every result merged by hash (by name for classic results), local
 * files included. Borrowed for the call. status 0, or SHOAL_ECANCELED when
 * the service is freed first. */
typedef void (*shoal_search_cb)(shoal_files *f, int status,
                                const shoal_search_result *results,
                                size_t count, void *user);

/* Searches the network for names containing key (case-insensitively in
 * secure mode; as the reference, case-sensitively, in classic mode), or
 * for the file whose hash key is (64 hex digits). White space around key
 * is ignored; SHOAL_EINVAL for a key that is empty then, holds control
 * bytes, or (classic mode: QUER keys are one word) a space. timeout_ms 0:
 * the configured one. cb runs exactly once unless this returns an
 * error. */
SHOAL_EXTERN
int shoal_files_search(shoal_files *f, const char *key, uint32_t timeout_ms,
                       shoal_search_cb cb, void *user);

/* Called as a search finds something: a result new to the search, or one
 * that just gained a holder, with every holder it has so far. Borrowed for
 * the call. It may run before shoal_files_search_stream() returns (local
 * files, names learned earlier); it must not free the service. */
typedef void (*shoal_search_found_cb)(shoal_files *f,
                                      const shoal_search_result *result,
                                      void *user);

/* shoal_files_search(), telling found (may be NULL) of each result as it
 * comes, so that a caller can show it, or start a download, without
 * waiting for the end (a classic search always lasts its whole timeout:
 * RESPs have no end). cb still runs once at the end with every result.
 * found never runs after cb. */
SHOAL_EXTERN
int shoal_files_search_stream(shoal_files *f, const char *key,
                              uint32_t timeout_ms,
                              shoal_search_found_cb found,
                              shoal_search_cb cb, void *user);

/* ------------------------------------------------------------ transfers */
enum shoal_transfer_state {
    SHOAL_TRANSFER_SEARCHING = 0, /* looking for holders */
    SHOAL_TRANSFER_RUNNING = 1,
    SHOAL_TRANSFER_DONE = 2,      /* verified and in place */
    SHOAL_TRANSFER_FAILED = 3,    /* see error */
};

typedef struct shoal_transfer_info {
    unsigned id;                /* 1, 2, ...: stable for the service's life */
    int state;                  /* enum shoal_transfer_state */
    int error;                  /* when FAILED: why (SHOAL_ENOENT: nobody
                                 * has it; UV_ENOSPC: the disk is full) */
    const char *name;           /* as it will appear in download_dir */
    const char *hash;           /* "" until known (classic: never) */
    const char *path;           /* the finished file, once DONE */
    uint64_t size, received;    /* bytes verified so far */
    uint64_t resumed;           /* of those, found on disk at the start */
    size_t nholders;            /* holders in use */
    double rate;                /* bytes per second, recent */
    uint64_t started_ms, ended_ms; /* uv_now() times; ended 0 if running */
} shoal_transfer_info;

/* Starts downloading what: a hash (64 hex digits) or a name. A name is
 * looked up by search first and must match one file exactly (one hash);
 * several files of that name: SHOAL_EEXIST through the transfer's error.
 * The download starts on the first holder found (RUNNING from then), and
 * holders found later join it, for a hash and in classic mode; a name in
 * secure mode waits for the search to end (every peer answered, or the
 * timeout), to know that it names one file.
 * A transfer whose partial file is on disk resumes: chunks already
 * verified are checked again, not fetched again. *id (may be NULL) gets
 * the transfer's id. SHOAL_EINVAL: no download folder, or a bad name.
 * SHOAL_ENOBUFS: max_transfers are running. */
SHOAL_EXTERN
int shoal_files_get(shoal_files *f, const char *what, unsigned *id);

/* Transfers started since the service began, oldest first. Borrowed, valid
 * until the next turn of the loop. */
SHOAL_EXTERN
size_t shoal_transfer_count(const shoal_files *f);
SHOAL_EXTERN
int shoal_transfer_at(const shoal_files *f, size_t index,
                      shoal_transfer_info *out);
/* The transfer with this id: 0 or SHOAL_ENOENT. */
SHOAL_EXTERN
int shoal_transfer_get(const shoal_files *f, unsigned id,
                       shoal_transfer_info *out);

/* Called when a transfer changes state (not for progress). NULL: none. */
typedef void (*shoal_transfer_cb)(shoal_files *f,
                                  const shoal_transfer_info *info,
                                  void *user);
SHOAL_EXTERN
void shoal_files_on_transfer(shoal_files *f, shoal_transfer_cb cb,
                             void *user);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_FILES_H */

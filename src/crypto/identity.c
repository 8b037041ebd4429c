/* Ed25519 identities, their libp2p protobuf encodings, peer ids and the key
 * file (src/crypto/identity.h; libp2p specs: peer-ids/peer-ids.md).
 *
 * Encodings are held to the one canonical form: a PublicKey is exactly
 * 08 01 12 20 <32 bytes>, a PrivateKey exactly 08 01 12 40 <64 bytes>.
 * protobuf-c reads them; a message that reads but does not pack back to
 * the same bytes (unknown fields, repeated fields, trailing bytes,
 * non-minimal varints) is refused, so that one key has one encoding and one
 * peer id. */
#include "crypto/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/base58.h"
#include "core/varint.h"
#include "proto/keys.pb-c.h"
#include "shoal.h"

#define MH_IDENTITY 0x00
#define MH_SHA256 0x12
#define SHA256_LEN 32
#define IDENTITY_MAX 42       /* keys up to this size are inlined */
#define CID_V1 1
#define CODEC_LIBP2P_KEY 0x72
#define PRIVKEY_PB_LEN SHOAL_PRIVKEY_PB_LEN /* 08 01 12 40 + 64 bytes */
#define KEYFILE_MAX 4096      /* more than this is not a key file */

static int sodium_ready(void)
{
    return sodium_init() < 0 ? SHOAL_ENOMEM : 0; /* 1: already done */
}

/* ------------------------------------------------------------------ keys */

int shoal_identity_generate(shoal_identity *id)
{
    if (id == NULL)
        return SHOAL_EINVAL;
    if (sodium_ready() < 0)
        return SHOAL_ENOMEM;
    crypto_sign_keypair(id->pk, id->sk);
    return 0;
}

void shoal_identity_sign(const shoal_identity *id, const uint8_t *msg,
                         size_t len, uint8_t sig[SHOAL_ED25519_SIG])
{
    static const uint8_t empty[1];

    crypto_sign_detached(sig, NULL, msg != NULL ? msg : empty, len, id->sk);
}

int shoal_pubkey_verify(const uint8_t pk[SHOAL_ED25519_PK],
                        const uint8_t *msg, size_t len,
                        const uint8_t sig[SHOAL_ED25519_SIG])
{
    static const uint8_t empty[1];

    if (pk == NULL || sig == NULL || (msg == NULL && len != 0))
        return SHOAL_EPROTO;
    if (sodium_ready() < 0)
        return SHOAL_ENOMEM;
    return crypto_sign_verify_detached(sig, msg != NULL ? msg : empty, len,
                                       pk) == 0
               ? 0
               : SHOAL_EPROTO;
}

size_t shoal_pubkey_encode(const uint8_t pk[SHOAL_ED25519_PK], uint8_t *out)
{
    Shoal__Pb__PublicKey msg = SHOAL__PB__PUBLIC_KEY__INIT;
    uint8_t key[SHOAL_ED25519_PK];

    memcpy(key, pk, sizeof(key));
    msg.type = SHOAL__PB__KEY_TYPE__Ed25519;
    msg.data.data = key;
    msg.data.len = sizeof(key);
    return shoal__pb__public_key__pack(&msg, out);
}

int shoal_pubkey_decode(const uint8_t *in, size_t len,
                        uint8_t pk[SHOAL_ED25519_PK])
{
    Shoal__Pb__PublicKey *msg;
    uint8_t key[SHOAL_ED25519_PK], canon[SHOAL_PUBKEY_PB_MAX];
    int rc = SHOAL_EPROTO;

    if (in == NULL || len == 0 || len > SHOAL_PUBKEY_PB_MAX)
        return SHOAL_EPROTO;
    msg = shoal__pb__public_key__unpack(NULL, len, in);
    if (msg == NULL)
        return SHOAL_EPROTO;
    if (msg->type == SHOAL__PB__KEY_TYPE__Ed25519 &&
        msg->data.len == SHOAL_ED25519_PK) {
        memcpy(key, msg->data.data, sizeof(key));
        if (shoal_pubkey_encode(key, canon) == len &&
            memcmp(canon, in, len) == 0) {
            memcpy(pk, key, sizeof(key));
            rc = 0;
        }
    }
    shoal__pb__public_key__free_unpacked(msg, NULL);
    return rc;
}

/* The PrivateKey protobuf of a secret key (seed || public key). */
size_t shoal_identity_encode(const uint8_t sk[SHOAL_ED25519_SK],
                             uint8_t out[PRIVKEY_PB_LEN])
{
    Shoal__Pb__PrivateKey msg = SHOAL__PB__PRIVATE_KEY__INIT;
    uint8_t key[SHOAL_ED25519_SK];
    size_t n;

    memcpy(key, sk, sizeof(key));
    msg.type = SHOAL__PB__KEY_TYPE__Ed25519;
    msg.data.data = key;
    msg.data.len = sizeof(key);
    if (shoal__pb__private_key__get_packed_size(&msg) != PRIVKEY_PB_LEN)
        n = 0; /* cannot happen: the sizes are fixed */
    else
        n = shoal__pb__private_key__pack(&msg, out);
    sodium_memzero(key, sizeof(key));
    return n;
}

/* Reads a PrivateKey protobuf into id; the public half must be the one the
 * seed gives. */
int shoal_identity_decode(const uint8_t *in, size_t len, shoal_identity *id)
{
    Shoal__Pb__PrivateKey *msg;
    uint8_t canon[PRIVKEY_PB_LEN], pk[SHOAL_ED25519_PK], sk[SHOAL_ED25519_SK];
    int rc = SHOAL_EPROTO;

    if (len != PRIVKEY_PB_LEN)
        return SHOAL_EPROTO;
    msg = shoal__pb__private_key__unpack(NULL, len, in);
    if (msg == NULL)
        return SHOAL_EPROTO;
    if (msg->type == SHOAL__PB__KEY_TYPE__Ed25519 &&
        msg->data.len == SHOAL_ED25519_SK &&
        shoal_identity_encode(msg->data.data, canon) == len &&
        sodium_memcmp(canon, in, len) == 0) {
        /* the seed is the key; the rest must follow from it */
        crypto_sign_seed_keypair(pk, sk, msg->data.data);
        if (sodium_memcmp(pk, msg->data.data + crypto_sign_SEEDBYTES,
                          SHOAL_ED25519_PK) == 0) {
            memcpy(id->pk, pk, sizeof(pk));
            memcpy(id->sk, sk, sizeof(sk));
            rc = 0;
        }
    }
    if (msg->data.data != NULL)
        sodium_memzero(msg->data.data, msg->data.len);
    shoal__pb__private_key__free_unpacked(msg, NULL);
    sodium_memzero(canon, sizeof(canon));
    sodium_memzero(sk, sizeof(sk));
    return rc;
}

/* -------------------------------------------------------------- key file */

static int sys_error(void)
{
    return uv_translate_sys_error(errno);
}

/* Sets why (when not NULL) and returns rc. */
static int key_why(int rc, char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int key_why(int rc, char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && size > 0) {
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Reads the key file: UV_ENOENT when there is none; on any failure why
 * (may be NULL) says what is wrong with it, for a person. */
static int key_file_load(const char *path, shoal_identity *id, char *why,
                         size_t whysize)
{
    uint8_t buf[KEYFILE_MAX + 1];
    struct stat st;
    size_t n = 0;
    int fd, rc;

    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return key_why(sys_error(), why, whysize, "cannot open it (%s)",
                       strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = key_why(sys_error(), why, whysize, "cannot read it (%s)",
                     strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return key_why(SHOAL_EPROTO, why, whysize, "not a regular file");
    }
    if ((st.st_mode & 077) != 0) { /* a secret others can read: not ours */
        close(fd);
        return key_why(UV_EPERM, why, whysize,
                       "can be read by others (mode %04o): refusing it "
                       "(chmod 600 it)", (unsigned)(st.st_mode & 07777));
    }
    while (n < sizeof(buf)) {
        ssize_t got = read(fd, buf + n, sizeof(buf) - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = key_why(sys_error(), why, whysize, "cannot read it (%s)",
                         strerror(errno));
            close(fd);
            sodium_memzero(buf, n);
            return rc;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (n != PRIVKEY_PB_LEN)
        rc = key_why(SHOAL_EPROTO, why, whysize,
                     "not a shoal key (bad length: %s%zu bytes, a key "
                     "file has %d)", n > KEYFILE_MAX ? "over " : "",
                     n > KEYFILE_MAX ? (size_t)KEYFILE_MAX : n,
                     PRIVKEY_PB_LEN);
    else if ((rc = shoal_identity_decode(buf, n, id)) < 0)
        key_why(rc, why, whysize,
                "not a shoal key (not a libp2p Ed25519 private key)");
    sodium_memzero(buf, n);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t put = write(fd, p, len);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return sys_error();
        p += put;
        len -= (size_t)put;
    }
    return 0;
}

/* Makes a rename or link in path's folder durable; best effort (not every
 * file system can sync a folder). */
static void sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;

    if (slash == NULL)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return;
    fd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Creates the key file with a new key: written in full to a temporary file
 * beside it (O_CREAT | O_EXCL, mode 0600), synced, then put in place in one
 * step, so the file is either absent or complete. It is linked in place
 * rather than renamed so that a key file another process made meanwhile is
 * never overwritten (UV_EEXIST then, and the caller loads that one); rename
 * is the fallback on file systems without hard links. */
static int key_file_create(const char *path, shoal_identity *id)
{
    uint8_t pb[PRIVKEY_PB_LEN], rnd[8];
    char hex[2 * sizeof(rnd) + 1];
    size_t plen = strlen(path), tlen = plen + sizeof(".tmp-") + sizeof(hex);
    char *tmp = malloc(tlen);
    int fd = -1, rc, tries;

    if (tmp == NULL)
        return SHOAL_ENOMEM;
    if ((rc = shoal_identity_generate(id)) < 0)
        goto out;
    if (shoal_identity_encode(id->sk, pb) != sizeof(pb)) {
        rc = SHOAL_EPROTO;
        goto out;
    }
    for (tries = 0; fd < 0 && tries < 16; tries++) {
        randombytes_buf(rnd, sizeof(rnd));
        sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
        snprintf(tmp, tlen, "%s.tmp-%s", path, hex);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  0600);
        if (fd < 0 && errno != EEXIST && errno != EINTR) {
            rc = sys_error();
            goto out;
        }
    }
    if (fd < 0) {
        rc = UV_EEXIST;
        goto out;
    }
    rc = write_all(fd, pb, sizeof(pb));
    if (rc == 0 && fsync(fd) != 0)
        rc = sys_error();
    if (close(fd) != 0 && rc == 0)
        rc = sys_error();
    if (rc == 0) {
        if (link(tmp, path) == 0) {
            rc = 0;
        } else if (errno == EEXIST) {
            rc = UV_EEXIST;
        } else if (errno == EPERM || errno == ENOTSUP || errno == ENOSYS ||
                   errno == EOPNOTSUPP || errno == EMLINK) {
            /* no hard links here: rename, after one more look */
            if (access(path, F_OK) == 0)
                rc = UV_EEXIST;
            else if (rename(tmp, path) != 0)
                rc = sys_error();
        } else {
            rc = sys_error();
        }
    }
    (void)unlink(tmp); /* gone already after a rename */
    if (rc == 0)
        sync_folder(path);
out:
    sodium_memzero(pb, sizeof(pb));
    if (rc < 0)
        sodium_memzero(id, sizeof(*id));
    free(tmp);
    return rc;
}

int shoal_identity_load_or_create(const char *path, shoal_identity *id)
{
    int rc = SHOAL_EINVAL, tries;

    if (path == NULL || path[0] == '\0' || id == NULL)
        return SHOAL_EINVAL;
    if (sodium_ready() < 0)
        return SHOAL_ENOMEM;
    /* Another process may create the file between our look and our write;
     * then its key is the one to use. */
    for (tries = 0; tries < 3; tries++) {
        rc = key_file_load(path, id, NULL, 0);
        if (rc != UV_ENOENT)
            return rc;
        rc = key_file_create(path, id);
        if (rc != UV_EEXIST)
            return rc;
    }
    return rc;
}

/* For a key file that is not there yet: 0 when the folder it goes in is
 * one, else why it cannot be made. */
static int key_folder_check(const char *path, char *why, size_t size)
{
    const char *slash = strrchr(path, '/');
    struct stat st;
    char *dir;
    int rc = 0;

    if (why != NULL && size > 0)
        why[0] = '\0';
    if (slash == NULL || slash == path)
        return 0;
    if ((dir = strndup(path, (size_t)(slash - path))) == NULL)
        return SHOAL_ENOMEM;
    if (stat(dir, &st) != 0)
        rc = key_why(sys_error(), why, size, "cannot create it: folder %s: "
                     "%s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = key_why(UV_ENOTDIR, why, size, "cannot create it: %s is not a "
                     "folder", dir);
    free(dir);
    return rc;
}

int shoal_key_file_check(const char *path, char *why, size_t size)
{
    shoal_identity id;
    int rc;

    if (why != NULL && size > 0)
        why[0] = '\0';
    if (path == NULL || path[0] == '\0')
        return key_why(SHOAL_EINVAL, why, size, "no path");
    if (sodium_ready() < 0)
        return SHOAL_ENOMEM;
    rc = key_file_load(path, &id, why, size);
    sodium_memzero(&id, sizeof(id));
    if (rc == UV_ENOENT) /* made at start, if its folder is there */
        return key_folder_check(path, why, size);
    return rc;
}

/* -------------------------------------------------------------- peer ids */

void shoal_peerid_from_pubkey(const uint8_t pk[SHOAL_ED25519_PK],
                              shoal_peerid *out)
{
    uint8_t pb[SHOAL_PUBKEY_PB_MAX];
    size_t len = shoal_pubkey_encode(pk, pb);

    if (len <= IDENTITY_MAX) {
        out->bytes[0] = MH_IDENTITY;
        out->bytes[1] = (uint8_t)len; /* < 0x80: one varint byte */
        memcpy(out->bytes + 2, pb, len);
        out->len = 2 + len;
    } else {
        out->bytes[0] = MH_SHA256;
        out->bytes[1] = SHA256_LEN;
        crypto_hash_sha256(out->bytes + 2, pb, len);
        out->len = 2 + SHA256_LEN;
    }
}

/* Checks that b[0..n) is one whole multihash a peer id can be: identity
 * (1..42 bytes) or SHA-256. On success *digest is where the digest
 * starts and *code the hash function. */
static int multihash_check(const uint8_t *b, size_t n, uint64_t *code,
                           size_t *digest)
{
    uint64_t dlen;
    int u1, u2;

    if (n < 2 || n > SHOAL_PEERID_MAX)
        return SHOAL_EBADADDR;
    u1 = shoal_varint_decode(b, n, code);
    if (u1 <= 0)
        return SHOAL_EBADADDR;
    u2 = shoal_varint_decode(b + u1, n - (size_t)u1, &dlen);
    if (u2 <= 0 || dlen != n - (size_t)u1 - (size_t)u2)
        return SHOAL_EBADADDR;
    if (*code == MH_IDENTITY) {
        if (dlen == 0 || dlen > IDENTITY_MAX)
            return SHOAL_EBADADDR;
    } else if (*code == MH_SHA256) {
        if (dlen != SHA256_LEN)
            return SHOAL_EBADADDR;
    } else {
        return SHOAL_EBADADDR;
    }
    *digest = (size_t)u1 + (size_t)u2;
    return 0;
}

/* RFC 4648 base32, lower case, no padding; the unused bits of the last
 * character must be zero and no character may be wholly unused. Returns
 * the byte count or -1. */
static int base32_decode(const char *s, uint8_t *out, size_t size)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;

    for (; *s != '\0'; s++) {
        unsigned v;
        if (*s >= 'a' && *s <= 'z')
            v = (unsigned)(*s - 'a');
        else if (*s >= '2' && *s <= '7')
            v = (unsigned)(*s - '2') + 26;
        else
            return -1;
        acc = (acc << 5) | v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n == size)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 5 || acc != 0)
        return -1;
    return (int)n;
}

int shoal_peerid_parse(const char *text, shoal_peerid *out)
{
    uint8_t buf[SHOAL_PEERID_TEXT_MAX];
    const uint8_t *mh = buf;
    size_t tlen, mhlen, digest;
    uint64_t code;
    int n;

    if (text == NULL || out == NULL)
        return SHOAL_EBADADDR;
    tlen = strnlen(text, SHOAL_PEERID_TEXT_MAX + 1);
    if (tlen == 0 || tlen > SHOAL_PEERID_TEXT_MAX)
        return SHOAL_EBADADDR;
    if (text[0] == 'b') { /* multibase base32: a CIDv1 */
        uint64_t version, codec;
        int u1, u2;
        n = base32_decode(text + 1, buf, sizeof(buf));
        if (n <= 0)
            return SHOAL_EBADADDR;
        u1 = shoal_varint_decode(buf, (size_t)n, &version);
        if (u1 <= 0 || version != CID_V1)
            return SHOAL_EBADADDR;
        u2 = shoal_varint_decode(buf + u1, (size_t)(n - u1), &codec);
        if (u2 <= 0 || codec != CODEC_LIBP2P_KEY)
            return SHOAL_EBADADDR;
        mh = buf + u1 + u2;
        mhlen = (size_t)(n - u1 - u2);
    } else { /* a bare base58btc multihash: "1..." or "Qm..." */
        n = shoal_base58_decode(text, buf, SHOAL_PEERID_MAX);
        if (n <= 0)
            return SHOAL_EBADADDR;
        mhlen = (size_t)n;
    }
    if (multihash_check(mh, mhlen, &code, &digest) < 0)
        return SHOAL_EBADADDR;
    memcpy(out->bytes, mh, mhlen);
    out->len = mhlen;
    return 0;
}

int shoal_peerid_format(const shoal_peerid *id, char *out, size_t size)
{
    if (id == NULL || out == NULL || id->len == 0 ||
        id->len > SHOAL_PEERID_MAX)
        return SHOAL_EINVAL;
    return shoal_base58_encode(id->bytes, id->len, out, size);
}

int shoal_peerid_equal(const shoal_peerid *a, const shoal_peerid *b)
{
    return a->len == b->len && a->len <= SHOAL_PEERID_MAX &&
           memcmp(a->bytes, b->bytes, a->len) == 0;
}

int shoal_peerid_pubkey(const shoal_peerid *id,
                        uint8_t pk[SHOAL_ED25519_PK])
{
    uint64_t code;
    size_t digest;

    if (id == NULL || multihash_check(id->bytes, id->len, &code, &digest) < 0)
        return SHOAL_EPROTO;
    if (code == MH_SHA256)
        return SHOAL_ENOENT;
    return shoal_pubkey_decode(id->bytes + digest, id->len - digest, pk) < 0
               ? SHOAL_EPROTO
               : 0;
}

/* ------------------------------------------------------------ public API */

int shoal_peer_id_to_bytes(const char *text, uint8_t *out, size_t size)
{
    shoal_peerid id;

    if (text == NULL || shoal_peerid_parse(text, &id) < 0)
        return SHOAL_EBADADDR;
    if (id.len > size)
        return SHOAL_EINVAL;
    memcpy(out, id.bytes, id.len);
    return (int)id.len;
}

int shoal_peer_id_to_text(const uint8_t *bytes, size_t len, char *out,
                          size_t size)
{
    shoal_peerid id;
    char text[SHOAL_PEERID_TEXT_MAX];
    int n;

    /* only what parses back is a peer id: check by a round trip */
    if (len == 0 || len > sizeof(id.bytes))
        return SHOAL_EBADADDR;
    memcpy(id.bytes, bytes, len);
    id.len = len;
    if ((n = shoal_peerid_format(&id, text, sizeof(text))) < 0 ||
        shoal_peerid_parse(text, &id) < 0 || id.len != len)
        return SHOAL_EBADADDR;
    if ((size_t)n >= size)
        return SHOAL_EINVAL;
    memcpy(out, text, (size_t)n + 1);
    return n;
}

/*
 * snapshot/: the lowest layer of airlock. It holds the small helpers every
 * other folder uses (allocation, growable buffers, paths, the record
 * encoding), the SHA-256 wrapper, and the store: the LMDB index and, later,
 * the zstd packs and checkpoints. It knows nothing of sessions, sandboxes or
 * terminals.
 *
 * Conventions:
 * - Allocation wrappers never return NULL; they abort on exhaustion.
 * - A fallible function returns -1 (or NULL) and sets *cause to a message
 *   allocated with xmalloc that the caller frees; 0 means success. Functions
 *   that look something up return 1 for "not found".
 * - Messages in *cause are lower case and name the path or key involved; the
 *   caller prefixes them with "airlock: WHAT: ".
 */
#ifndef AIRLOCK_SNAPSHOT_H
#define AIRLOCK_SNAPSHOT_H

#include <sys/types.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PRINTFLIKE(a, b) __attribute__((format(printf, a, b)))
#define NORETURN __attribute__((noreturn))

/* xmalloc.c */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
void *xmemdup(const void *, size_t);
char *xasprintf(const char *, ...) PRINTFLIKE(1, 2);
char *xvasprintf(const char *, va_list) PRINTFLIKE(1, 0);
/* For the impossible only: prints "airlock: fatal: ..." and aborts. */
NORETURN void fatalx(const char *, ...) PRINTFLIKE(1, 2);
/* free() that clears the pointer; for __attribute__((cleanup)). */
void freep(void *);
#define AUTOFREE __attribute__((cleanup(freep)))

/* buf.c
 *
 * A growable byte buffer. Invariant: data is never NULL and data[len] is
 * always '\0', so a buf can be used as a C string when it holds no NUL.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap; /* 0 while data points at the shared empty string */
};
extern char buf_empty[];
#define BUF_INIT { buf_empty, 0, 0 }
void buf_init(struct buf *);
void buf_grow(struct buf *, size_t extra);
void buf_add(struct buf *, const void *, size_t);
void buf_addstr(struct buf *, const char *);
void buf_addch(struct buf *, int);
void buf_printf(struct buf *, const char *, ...) PRINTFLIKE(2, 3);
void buf_vprintf(struct buf *, const char *, va_list) PRINTFLIKE(2, 0);
void buf_reset(struct buf *);
void buf_free(struct buf *);
/* Returns the data (caller frees) and leaves the buf empty. */
char *buf_detach(struct buf *, size_t *len);

/* path.c */
/* a + "/" + b, without doubling the slash. */
char *path_join(const char *a, const char *b);
/* 1 when path equals dir or lies below it (both absolute, normalised). */
int path_is_under(const char *path, const char *dir);
/* Creates dir and its parents with mode; 0 or -1 with *cause. */
int path_mkdirs(const char *dir, mode_t mode, char **cause);
/* Removes a tree without following symlinks; 0 or -1 with *cause. */
int path_remove_tree(const char *path, char **cause);
/* Reads a whole (small) file; NULL with *cause on error. */
char *path_read_file(const char *path, size_t max, size_t *len, char **cause);
/* Writes a file atomically (temp + fsync + rename); 0 or -1 with *cause. */
int path_write_file(const char *path, const void *, size_t, mode_t, char **cause);

/* record.c
 *
 * The encoding of values in the index: a sequence of fields, each a u64
 * (8 bytes big endian) or a length-prefixed byte string. Readers check every
 * bound: a short or malformed record is an error, never a crash.
 */
void rec_put_u64(struct buf *, uint64_t);
void rec_put_bytes(struct buf *, const void *, size_t);
void rec_put_str(struct buf *, const char *); /* NULL is stored as absent */
struct rec_reader {
	const unsigned char *p;
	size_t left;
	int error;
};
void rec_reader_init(struct rec_reader *, const void *, size_t);
uint64_t rec_get_u64(struct rec_reader *);
/* Returns a new NUL-terminated copy, or NULL for an absent string. */
char *rec_get_str(struct rec_reader *);
/* Points into the record; *len set. NULL on error. */
const void *rec_get_bytes(struct rec_reader *, size_t *len);
/* Big-endian helpers for fixed-width keys. */
void be32_put(unsigned char *, uint32_t);
uint32_t be32_get(const unsigned char *);
void be64_put(unsigned char *, uint64_t);
uint64_t be64_get(const unsigned char *);

/* hash.c: SHA-256 through libcrypto (the only file that includes OpenSSL) */
#define HASH_LEN 32
#define HASH_HEX_LEN 64
struct hash_ctx;
struct hash_ctx *hash_new(void);
void hash_update(struct hash_ctx *, const void *, size_t);
void hash_final(struct hash_ctx *, unsigned char out[HASH_LEN]);
void hash_free(struct hash_ctx *);
void hash_buffer(const void *, size_t, unsigned char out[HASH_LEN]);
void hash_hex(const unsigned char in[HASH_LEN], char out[HASH_HEX_LEN + 1]);

/* zstd.c: zstd frames (the only file that includes zstd.h) */
/* Receives decompressed bytes; returns 0 to go on, -1 (with *cause) to stop. */
typedef int (*zstd_sink)(const void *, size_t, void *arg, char **cause);
/*
 * Reads size bytes from in_fd and appends them to out_fd as one zstd frame
 * (level, content size and checksum in the frame; threads > 0 uses that many
 * zstd workers), hashing them with SHA-256 on the way. Returns 0 with *ulen
 * and *clen set, or -1 with *cause; errno is EAGAIN when the input did not
 * have exactly size bytes (a file changed while read: read it again).
 * On error, out_fd may hold a partial frame: the caller truncates it.
 */
int zstd_frame_write(int in_fd, uint64_t size, int out_fd, int level,
    int threads, unsigned char hash[HASH_LEN], uint64_t *ulen, uint64_t *clen,
    char **cause);
/* Decompresses the frame of clen bytes at offset in fd into sink, checking
 * the frame's checksum. 0, or -1 with *cause (corrupt, truncated, I/O). */
int zstd_frame_read(int fd, uint64_t offset, uint64_t clen, zstd_sink sink,
    void *arg, char **cause);

/* index.c: the LMDB index (the only file that includes lmdb.h)
 *
 * One LMDB environment per store, opened with MDB_NOSUBDIR. Named databases
 * are fixed; keys are opaque bytes ordered by memcmp. Several processes may
 * use the same index at once: readers never block, writers take turns.
 */
enum index_db {
	INDEX_SESSIONS,
	INDEX_CHECKPOINTS,
	INDEX_ENTRIES,
	INDEX_BLOBS,
	INDEX_APPROVALS,
	INDEX_PROMOTIONS,
	INDEX_JOURNAL,
	INDEX_META,
	INDEX_NDB
};
#define INDEX_FORMAT_VERSION 1
struct index;
struct index_txn;
/*
 * Opens (creating when missing) the index at path, creates the named
 * databases and checks the format version in meta. Returns 0, or -1 with
 * *cause (unreadable file, version from a newer airlock, LMDB error).
 */
int index_open(const char *path, struct index **, char **cause);
void index_close(struct index *);
/* A read transaction; 0 or -1 with *cause. End it with index_txn_abort. */
int index_read_begin(struct index *, struct index_txn **, char **cause);
void index_txn_abort(struct index_txn *);
/*
 * Runs fn inside one write transaction and commits it. When the map is full
 * the transaction is aborted, the map grown, and fn run again from the
 * start, so fn must not have effects outside the transaction. fn returns 0 to
 * commit, -1 (with *cause) to abort. Returns 0 once committed, else -1.
 */
typedef int (*index_write_fn)(struct index_txn *, void *arg, char **cause);
int index_write(struct index *, index_write_fn, void *arg, char **cause);
/* Returns 0 and points *val into the map (valid until the txn ends), 1 when
 * the key is absent, -1 with *cause on error. */
int index_get(struct index_txn *, enum index_db, const void *key, size_t klen,
    const void **val, size_t *vlen, char **cause);
int index_put(struct index_txn *, enum index_db, const void *key, size_t klen,
    const void *val, size_t vlen, char **cause);
/* 0 when deleted, 1 when absent, -1 on error. */
int index_del(struct index_txn *, enum index_db, const void *key, size_t klen,
    char **cause);
/*
 * Calls fn for every key starting with prefix (plen 0: all), in key order
 * (reverse order when reverse is set). fn returns 0 to go on, 1 to stop, -1
 * for an error (with *cause). Returns 0, or -1.
 */
typedef int (*index_walk_fn)(const void *key, size_t klen, const void *val,
    size_t vlen, void *arg, char **cause);
int index_walk(struct index_txn *, enum index_db, const void *prefix,
    size_t plen, int reverse, index_walk_fn fn, void *arg, char **cause);
/* Only for tests: the map size to start with (bytes). */
void index_set_initial_mapsize(size_t);

/* store.c
 *
 * The store of one real tree: $AIRLOCK_HOME, else $XDG_STATE_HOME/airlock,
 * else ~/.local/state/airlock; then <tree-id>/ below it, where tree-id is the
 * tree's base name and the first 16 hex digits of the SHA-256 of its path.
 */
struct store {
	char *dir;   /* the tree's store directory */
	struct index *index;
};
/* The root holding every tree's store; NULL with *cause when $HOME is unset. */
char *store_root(char **cause);
/* The directory of tree's store below root. */
char *store_dir_for_tree(const char *root, const char *tree);
/* Opens the store at dir, creating it when create is set. 0, 1 when it does
 * not exist and create is not set, or -1 with *cause. */
int store_open(const char *dir, int create, struct store **, char **cause);
void store_close(struct store *);

/* store.c (continued): one writer of packs at a time, across processes */
/* Takes the store's exclusive write lock (blocking); 0 or -1. */
int store_lock(struct store *, char **cause);
void store_unlock(struct store *);

/* pack.c: append-only pack files packs/NNNNNNNN.zst of zstd frames */
#define PACK_MAX_SIZE ((uint64_t)1 << 30)  /* start a new pack past this */
struct blob_ref {
	uint32_t pack;
	uint64_t offset;
	uint64_t clen;    /* compressed bytes in the pack */
	uint64_t size;    /* content bytes */
};
struct pack_writer;
/* Opens the newest pack for appending (a new one past PACK_MAX_SIZE). The
 * caller holds the store lock until the writer is closed. 0 or -1. */
int pack_writer_open(struct store *, struct pack_writer **, char **cause);
/*
 * Appends size bytes read from fd as one frame and fills hash and ref.
 * -1 with errno EAGAIN when fd did not have exactly size bytes (nothing is
 * left appended); -1 with another errno on failure (ENOSPC for a full disk).
 */
int pack_writer_add(struct pack_writer *, int fd, uint64_t size, int threads,
    unsigned char hash[HASH_LEN], struct blob_ref *, char **cause);
/* Removes the last frame added (a duplicate of a stored blob). */
int pack_writer_undo(struct pack_writer *, const struct blob_ref *,
    char **cause);
/* fsyncs what was appended (the pack and its directory). */
int pack_writer_sync(struct pack_writer *, char **cause);
void pack_writer_close(struct pack_writer *);
/* Decompresses a blob into sink. 0, or -1 (missing pack, corrupt frame). */
int pack_read(struct store *, const struct blob_ref *, zstd_sink, void *arg,
    char **cause);

/* blob.c: content-addressed blobs (the "blobs" database) */
/* 0 and *ref when stored, 1 when not, -1 on error. */
int blob_find(struct index_txn *, const unsigned char hash[HASH_LEN],
    struct blob_ref *, char **cause);
int blob_put(struct index_txn *, const unsigned char hash[HASH_LEN],
    const struct blob_ref *, char **cause);
/* Streams a blob's content into sink and checks its SHA-256. */
int blob_read(struct store *, const unsigned char hash[HASH_LEN], zstd_sink,
    void *arg, char **cause);
/* A blob's content in memory (at most max bytes, else an error). */
char *blob_read_buf(struct store *, const unsigned char hash[HASH_LEN],
    size_t max, size_t *len, char **cause);
/* Writes a blob's content to fd. */
int blob_write_fd(struct store *, const unsigned char hash[HASH_LEN], int fd,
    char **cause);

/* checkpoint.c
 *
 * A checkpoint is the manifest of a scratch (an overlay upper dir) at one
 * moment, numbered 0, 1, 2 ... per owner (a 4-byte id: the session). Keys:
 * checkpoints = owner + number (big endian); entries = owner + number + path;
 * bases = entries with number CKPT_BASES. A checkpoint exists once its
 * transaction commits; pack bytes are fsynced before.
 */
#define CKPT_BASES UINT32_MAX
#define CKPT_NONE UINT32_MAX
#define CKPT_BASE_MAX_SIZE ((uint64_t)64 << 20) /* bigger bases: hash only */
enum mentry_kind {
	MENTRY_FILE,
	MENTRY_DIR,
	MENTRY_SYMLINK,
	MENTRY_WHITEOUT,
	MENTRY_SPECIAL,   /* fifo, socket, device: recorded, never restored */
	MENTRY_ABSENT,    /* bases only: the real tree had nothing there */
};
struct mentry {
	char *path;        /* relative to the tree, any bytes but NUL */
	size_t pathlen;
	enum mentry_kind kind;
	uint32_t mode;     /* st_mode */
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint64_t ino;
	int opaque;        /* directories that replaced the lower one */
	int has_content;   /* files: hash names a stored blob (bases may not) */
	unsigned char hash[HASH_LEN];
	char *target;      /* symlinks */
	uint64_t rdev;     /* specials */
};
struct manifest {
	struct mentry *v;  /* sorted by path, bytewise */
	size_t n;
};
struct ckpt {
	uint32_t number;
	int64_t time;          /* unix seconds */
	char *reason;          /* "start", "exit", "agent", "user", "rollback" ... */
	char *label;           /* may be NULL */
	uint64_t added, modified, deleted;  /* against the previous checkpoint */
	uint64_t bytes;        /* compressed bytes this checkpoint added */
	uint64_t entries;
	uint32_t restored_from;  /* rollback: the checkpoint it equals */
};
struct ckpt_options {
	const char *reason;
	const char *label;
	int threads;           /* zstd workers for large files (0: none) */
	int force;             /* record even when nothing changed */
	uint32_t restored_from;
};
/*
 * Walks upper (never lower, except to capture bases of paths that appear
 * for the first time), stores new content, and commits the manifest as the
 * next checkpoint of owner. Reuses the previous entry when inode, size,
 * mtime and ctime match; re-reads a file that changed while read. Returns 0
 * with *out filled, 1 when nothing changed since the last checkpoint (no new
 * one unless opts->force), -1 with *cause (ENOSPC: "no space left ...").
 */
int checkpoint_take(struct store *, uint32_t owner, const char *upper,
    const char *lower, const struct ckpt_options *, struct ckpt *out,
    char **cause);
/* All checkpoints of owner, oldest first. */
int checkpoint_list(struct store *, uint32_t owner, struct ckpt **, size_t *,
    char **cause);
/* 0, 1 when there is no such checkpoint, -1. */
int checkpoint_get(struct store *, uint32_t owner, uint32_t number,
    struct ckpt *, char **cause);
int checkpoint_manifest(struct store *, uint32_t owner, uint32_t number,
    struct manifest *, char **cause);
/* The base of a path (what the real tree had when the path first appeared
 * in a checkpoint): 0, 1 when none was captured, -1. */
int checkpoint_base(struct store *, uint32_t owner, const char *path,
    size_t pathlen, struct mentry *, char **cause);
/* Removes every checkpoint, entry and base of owner (blobs stay for gc). */
int checkpoint_forget(struct store *, uint32_t owner, char **cause);
/* Finds path in a manifest (binary search); NULL when absent. */
const struct mentry *manifest_find(const struct manifest *, const char *path,
    size_t pathlen);
void mentry_free(struct mentry *);
void manifest_free(struct manifest *);
void ckpt_free(struct ckpt *);

/* restore.c */
/*
 * Makes upper (not mounted) equal to m: removes what m lacks, writes files
 * from their blobs, directories with their modes, symlinks, whiteouts (char
 * devices 0:0) and opaque markers (xattr "trusted.overlay.opaque", or
 * "user.overlay.opaque" when userxattr is set). Leaves files whose inode,
 * size, mtime and ctime still match. 0 or -1.
 */
int restore_upper(struct store *, const char *upper, const struct manifest *m,
    int userxattr, char **cause);

/* gc.c */
struct gc_report {
	uint64_t blobs;          /* unreferenced blobs removed */
	uint64_t bytes;          /* bytes of packs freed */
	uint64_t packs_rewritten;
	uint64_t packs_removed;
};
/* Reclaims blobs no manifest or base references, repacks packs that are
 * mostly dead, and drops unreferenced tails. dry_run: report only. */
int store_gc(struct store *, int dry_run, struct gc_report *, char **cause);

/* fsck.c */
/* Verifies every blob against its hash and every manifest reference;
 * appends one line per problem to problems. Returns the number of problems,
 * or -1 when the check itself failed. */
int store_fsck(struct store *, struct buf *problems, char **cause);

#endif

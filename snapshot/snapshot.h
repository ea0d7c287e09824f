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
#include <pthread.h>
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
/*
 * The compact fields of format 2 records: unsigned LEB128 varints (7 bits
 * a byte, low first, at most 10 bytes, no needless trailing zero byte),
 * signed ones zigzagged, byte strings as a varint of length + 1 (0:
 * absent) then the bytes, and raw bytes of a known length. Readers reject
 * overlong and overflowing varints.
 */
void rec_put_uvar(struct buf *, uint64_t);
void rec_put_svar(struct buf *, int64_t);
void rec_put_vbytes(struct buf *, const void *, size_t);
void rec_put_vstr(struct buf *, const char *); /* NULL is stored as absent */
uint64_t rec_get_uvar(struct rec_reader *);
int64_t rec_get_svar(struct rec_reader *);
/* Points into the record; NULL for absent (error not set) or on error. */
const void *rec_get_vbytes(struct rec_reader *, size_t *len);
/* A new NUL-terminated copy, NULL when absent (a NUL inside: error). */
char *rec_get_vstr(struct rec_reader *);
/* Points at the next n bytes (NULL and error when fewer are left). */
const void *rec_get_fixed(struct rec_reader *, size_t n);
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
/* Hashes what fd holds from where it is to its end; *size (may be NULL)
 * the bytes read. 0, or -1 with errno. */
int hash_fd(int fd, unsigned char out[HASH_LEN], uint64_t *size);
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
/* Compresses n bytes of memory as one frame (level, content size and
 * checksum in the frame), appended to out. 0, or -1 with *cause. */
int zstd_frame_compress(const void *, size_t n, int level, struct buf *out,
    char **cause);
/* Frees what this thread kept for its next frame (a thread that wrote or
 * read frames calls it before it exits). */
void zstd_thread_done(void);
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
/* Format 2: entries and blobs are written as compact records (format 1's
 * are still read); a store opened by this airlock is marked 2, so an
 * older one refuses it rather than misread it. */
#define INDEX_FORMAT_VERSION 2
struct index;
struct index_txn;
/*
 * Opens (creating when missing) the index at path, creates the named
 * databases and checks the format version in meta (an older one is
 * raised to INDEX_FORMAT_VERSION). Returns 0, or -1 with *cause
 * (unreadable file, version from a newer airlock, LMDB error).
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
	/* store_lock: <dir>/lock while held (else -1), how deep, and a
	 * recursive mutex so threads of one process take turns too. */
	int lock_fd;
	unsigned int lock_depth;
	pthread_mutex_t lock_mutex;
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
/*
 * Takes the store's exclusive write lock (blocking): flock on <dir>/lock
 * plus a recursive mutex, so nested calls in one thread are fine and other
 * threads and processes wait. Every writer of packs or blobs (checkpoint,
 * gc, fsck) holds it; readers (list, log, diff) never take it and never
 * block. 0, or -1 with *cause (the lock file cannot be created).
 * Caveat: flock belongs to the open file; a child forked while the lock is
 * held keeps it until the child exits or execs (the fd is O_CLOEXEC).
 */
int store_lock(struct store *, char **cause);
void store_unlock(struct store *);

/* pack.c: append-only pack files packs/NNNNNNNN.zst of zstd frames
 *
 * A pack is a plain concatenation of independent zstd frames (level
 * PACK_LEVEL, content size and checksum in each), so `zstd -dc` reads it.
 * Pack numbers only grow (1, 2, ...): a number is never reused. Bytes no
 * blob references (a crashed or failed writer, dead blobs) are reclaimed by
 * store_gc and reported by store_fsck as a note.
 */
#define PACK_MAX_SIZE ((uint64_t)1 << 30)  /* start a new pack past this */
#define PACK_LEVEL 3
struct blob_ref {
	uint32_t pack;
	uint64_t offset;
	uint64_t clen;    /* compressed bytes in the pack */
	uint64_t size;    /* content bytes */
};
struct pack_writer;
/* Creates packs/ and the first, empty pack when missing, and makes them
 * durable (fsync of packs/ and of the store): store_open does it for a
 * new store, so that its first checkpoint appends as every later one
 * does. 0 or -1. */
int pack_init(struct store *, char **cause);
/* Opens the newest pack for appending (a new one past PACK_MAX_SIZE). The
 * caller holds the store lock until the writer is closed. 0 or -1. */
int pack_writer_open(struct store *, struct pack_writer **, char **cause);
/* The same, but always starts a new pack (gc copies live frames there). */
int pack_writer_new(struct store *, struct pack_writer **, char **cause);
/*
 * Appends size bytes read from fd as one frame and fills hash and ref.
 * -1 with errno EAGAIN when fd did not have exactly size bytes (nothing is
 * left appended); -1 with another errno on failure (ENOSPC for a full disk,
 * EFBIG past RLIMIT_FSIZE): the partial frame is truncated away.
 */
int pack_writer_add(struct pack_writer *, int fd, uint64_t size, int threads,
    unsigned char hash[HASH_LEN], struct blob_ref *, char **cause);
/* Appends n bytes of memory (their hash known to the caller, which
 * looked it up first) as one frame and fills ref. A small frame is
 * gathered in memory (up to 256 KiB of them) and written with the others
 * by a later call or pack_writer_sync at the latest, so a write error can
 * come from a later call. 0, or -1 with errno (ENOSPC, EFBIG, ...):
 * nothing of the failed write is left appended. */
int pack_writer_add_data(struct pack_writer *, const void *, size_t n,
    struct blob_ref *, char **cause);
/* Appends a frame compressed already (zstd_frame_compress of size
 * bytes, at PACK_LEVEL); the same results as pack_writer_add_data. */
int pack_writer_add_frame(struct pack_writer *, const void *frame,
    size_t clen, uint64_t size, struct blob_ref *, char **cause);
/* Copies the frame at from (in any pack) to the end of this one, as is;
 * fills *to. 0, or -1 (nothing is left appended). */
int pack_writer_copy(struct pack_writer *, const struct blob_ref *from,
    struct blob_ref *to, char **cause);
/* Removes the last frame added (a duplicate of a stored blob), gathered or
 * written; -1 when ref is not the last frame of this writer. */
int pack_writer_undo(struct pack_writer *, const struct blob_ref *,
    char **cause);
/* Drops the gathered frames and truncates away everything this writer
 * appended (an aborted checkpoint). */
int pack_writer_discard(struct pack_writer *, char **cause);
/* Bytes this writer appended so far, gathered ones included (after undo
 * and discard). */
uint64_t pack_writer_appended(const struct pack_writer *);
/* Writes the gathered frames, then fsyncs what was appended (the pack and
 * its directory): before the index commit that names them. -1 with errno
 * (ENOSPC, EFBIG, ...) when the write fails: the pack is cut back. */
int pack_writer_sync(struct pack_writer *, char **cause);
void pack_writer_close(struct pack_writer *);
/* Decompresses a blob into sink. 0, or -1 (missing pack: errno ENOENT;
 * corrupt or truncated frame). The sink may have received some bytes. */
int pack_read(struct store *, const struct blob_ref *, zstd_sink, void *arg,
    char **cause);
/* "packs/NNNNNNNN.zst" (relative to the store; caller frees). */
char *pack_name(uint32_t);
/* The packs on disk, sorted by number, with their sizes. 0 or -1. */
struct pack_info {
	uint32_t number;
	uint64_t size;
};
int pack_list(struct store *, struct pack_info **, size_t *, char **cause);
/* Shrinks a pack to size bytes, or deletes it (size 0 and not the newest
 * pack, which is only emptied so its number is not reused). 0 or -1. */
int pack_shrink(struct store *, uint32_t pack, uint64_t size, char **cause);

/* blob.c: content-addressed blobs (the "blobs" database)
 *
 * Key: the SHA-256 of the content (HASH_LEN bytes). Value: a record of
 * version, pack, offset, clen, size. Callers that add blobs hold the store
 * lock (the pack writer needs it) and put the blob in the same transaction
 * as the first entry that references it.
 */
/* 0 and *ref when stored, 1 when not, -1 on error (a corrupt record). */
int blob_find(struct index_txn *, const unsigned char hash[HASH_LEN],
    struct blob_ref *, char **cause);
int blob_put(struct index_txn *, const unsigned char hash[HASH_LEN],
    const struct blob_ref *, char **cause);
/* Decodes a blob record (for walks of the blobs database). 0 or -1. */
int blob_decode(const void *val, size_t vlen, struct blob_ref *);
/* Streams a blob's content into sink and checks its SHA-256 and size
 * (a mismatch is an error after the sink saw the bytes: write to a
 * temporary and throw it away on error). Looks the blob up again once
 * when its pack vanished (gc moved it meanwhile). 0, or -1 (not stored,
 * missing pack, corrupt). Needs no lock. */
int blob_read(struct store *, const unsigned char hash[HASH_LEN], zstd_sink,
    void *arg, char **cause);
/* A blob's content in memory (at most max bytes, else an error); the
 * result is NUL-terminated (not counted in *len). */
char *blob_read_buf(struct store *, const unsigned char hash[HASH_LEN],
    size_t max, size_t *len, char **cause);
/* Writes a blob's content to fd. */
int blob_write_fd(struct store *, const unsigned char hash[HASH_LEN], int fd,
    char **cause);
/* A set of hashes in memory, each with a ref and flags for the caller
 * (checkpoint's new blobs, gc's marks, fsck's bad blobs). Zero it to start.
 * Items move when the set grows: do not keep pointers across blob_set_add.
 * Walk it over v[0 .. cap) where used is set. */
struct blob_set_item {
	unsigned char hash[HASH_LEN];
	struct blob_ref ref;
	int used;
	int flags;
};
struct blob_set {
	struct blob_set_item *v;
	size_t n, cap;
};
struct blob_set_item *blob_set_find(const struct blob_set *,
    const unsigned char hash[HASH_LEN]);
/* The item of hash, added (zeroed, *added set) when it was not there. */
struct blob_set_item *blob_set_add(struct blob_set *,
    const unsigned char hash[HASH_LEN], int *added);
void blob_set_free(struct blob_set *);

/* checkpoint.c
 *
 * A checkpoint is the manifest of a scratch (an overlay upper dir) at one
 * moment, numbered 0, 1, 2 ... per owner (a 4-byte id: the session). Keys:
 * checkpoints = owner + number (big endian); entries = owner + number + path;
 * bases = entries with number CKPT_BASES. A checkpoint exists once its
 * transaction commits; pack bytes are fsynced before.
 *
 * The entries of checkpoint N hold either the whole manifest (a keyframe)
 * or only what changed since N-1 (changed entries and deletion markers), so
 * a turn that changed ten files stores ten entries. Read manifests with
 * checkpoint_manifest, never from the entries database directly.
 */
#define CKPT_BASES UINT32_MAX
#define CKPT_NONE UINT32_MAX
/* Entries under number CKPT_PINS (key owner + CKPT_PINS + any name, value
 * from mentry_encode) belong to no checkpoint; gc keeps their blobs alive
 * and fsck checks them, checkpoint_forget removes them with the owner. For
 * blobs kept outside checkpoints (promotion records, ...). */
#define CKPT_PINS (UINT32_MAX - 1)
/* Entries under these numbers: copies of the real tree a rollback made in
 * the scratch, as the scratch has them and as the real tree did (copies.c).
 * Checkpoint numbers stay below both. */
#define CKPT_COPIES (UINT32_MAX - 2)
#define CKPT_COPIES_REAL (UINT32_MAX - 3)
#define CKPT_BASE_MAX_SIZE ((uint64_t)64 << 20) /* bigger bases: hash only */
#define CKPT_THREADS_MIN_SIZE ((uint64_t)8 << 20) /* zstd workers above */
enum mentry_kind {
	MENTRY_FILE,
	MENTRY_DIR,
	MENTRY_SYMLINK,
	MENTRY_WHITEOUT,
	MENTRY_SPECIAL,   /* fifo, socket, device: recorded; restore makes
			     fifos and sockets again, never devices */
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
	unsigned char hash[HASH_LEN]; /* files: the content's SHA-256, also for
	                               * bases too big to store; zero when the
	                               * file could not be read */
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
	char *note;            /* what could not be recorded fully, or NULL */
};
struct ckpt_options {
	const char *reason;
	const char *label;
	int threads;           /* zstd workers for files > 8 MiB (0: none) */
	int force;             /* record even when nothing changed */
	uint32_t restored_from;  /* CKPT_NONE, except for a rollback */
	/* a rollback's: the paths it made the real tree's by copying them
	 * into the merged view (copies.c) */
	const char *const *copied;
	size_t ncopied;
};
/* checkpoint-take.c */
/*
 * Walks upper (never lower, except to capture bases of paths that appear
 * for the first time), stores new content, and commits the manifest as the
 * next checkpoint of owner. Reuses the previous entry when inode, size,
 * mtime and ctime match; re-reads a file that changed while read. Returns 0
 * with *out filled, 1 when nothing changed since the last checkpoint (no new
 * one unless opts->force), -1 with *cause (ENOSPC: "no space left ...").
 * *out is zeroed unless 0 is returned (ckpt_free is always safe).
 *
 * Takes the store lock for its duration. lower may be NULL (no bases),
 * opts NULL (no reason, no label, no threads, not forced).
 * The counts in *out cover entries other than directories: a path that
 * appears is added, one that goes (or becomes a whiteout) deleted, one whose
 * kind, mode, content or target changed modified. "Nothing changed" compares
 * those too: a touched file (same content, new mtime) is no change.
 * A file that keeps changing while read is recorded as last read and named
 * in out->note; one that cannot be read at all (not ours, mode 0 and not
 * ours to chmod) is recorded without content (has_content 0) and named in
 * out->note. A file or directory the caller owns but cannot read is made
 * readable for the moment it is read, then put back (its ctime changes).
 * On error nothing is committed and the pack bytes appended are truncated.
 */
int checkpoint_take(struct store *, uint32_t owner, const char *upper,
    const char *lower, const struct ckpt_options *, struct ckpt *out,
    char **cause);

/* checkpoint.c (continued) */
/* All checkpoints of owner, oldest first. */
int checkpoint_list(struct store *, uint32_t owner, struct ckpt **, size_t *,
    char **cause);
/* 0, 1 when there is no such checkpoint, -1. */
int checkpoint_get(struct store *, uint32_t owner, uint32_t number,
    struct ckpt *, char **cause);
/* The whole manifest of a checkpoint. 0, -1 (also when there is no such
 * checkpoint). */
int checkpoint_manifest(struct store *, uint32_t owner, uint32_t number,
    struct manifest *, char **cause);
/* The same inside a transaction the caller holds (fsck, gc). */
int checkpoint_manifest_txn(struct index_txn *, uint32_t owner,
    uint32_t number, struct manifest *, char **cause);
/* The records inside a transaction, for checkpoint-take.c. A checkpoint's
 * chain says where its manifest starts: the keyframe (a whole manifest)
 * and the number of changed entries stored since. */
struct ckpt_chain {
	uint32_t keyframe;
	uint64_t length;
};
/* The newest checkpoint of owner into *number (CKPT_NONE: none). 0, -1. */
int checkpoint_last_txn(struct index_txn *, uint32_t owner, uint32_t *number,
    char **cause);
/* 0, 1 when absent, -1 (a corrupt record). */
int checkpoint_get_txn(struct index_txn *, uint32_t owner, uint32_t number,
    struct ckpt *, struct ckpt_chain *, char **cause);
int checkpoint_put_txn(struct index_txn *, uint32_t owner,
    const struct ckpt *, const struct ckpt_chain *, char **cause);
/* The base of a path (what the real tree had when the path first appeared
 * in a checkpoint): 0, 1 when none was captured, -1. */
int checkpoint_base(struct store *, uint32_t owner, const char *path,
    size_t pathlen, struct mentry *, char **cause);
/* Keeps only the newest checkpoint of owner (its manifest rewritten
 * whole; bases and pins stay): retention for sessions that ended. *kept is
 * its number, *dropped how many older ones went. Blobs stay for gc. 0 or
 * -1. */
int checkpoint_prune(struct store *, uint32_t owner, uint32_t *kept,
    uint32_t *dropped, char **cause);
/* Removes every checkpoint, entry and base of owner (blobs stay for gc). */
int checkpoint_forget(struct store *, uint32_t owner, char **cause);
/* Finds path in a manifest (binary search); NULL when absent. */
const struct mentry *manifest_find(const struct manifest *, const char *path,
    size_t pathlen);
void mentry_free(struct mentry *);
void manifest_free(struct manifest *);
void ckpt_free(struct ckpt *);

/* manifest.c: the records behind checkpoints (used by checkpoint, gc, fsck) */
#define MENTRY_KEY_LEN 8   /* owner + number, then the path */
/* Bytewise path order (a prefix sorts first), as in the index. */
int mentry_cmp(const struct mentry *, const struct mentry *);
/* 1 when a and b hold the same thing (kind, mode, size, content, target,
 * opaque, rdev), times and inode aside. */
int mentry_same(const struct mentry *a, const struct mentry *b);
/* Copies src into dst (new path and target). */
void mentry_copy(struct mentry *dst, const struct mentry *src);
void mentry_encode(struct buf *, const struct mentry *);
/* The deletion marker of a path in an incremental checkpoint. */
void mentry_encode_gone(struct buf *, const char *path, size_t pathlen);
/* Decodes an entry (key and value) into e, path included (free it with
 * mentry_free). *gone is set for the deletion markers of incremental
 * checkpoints (only e->path is set then). 0 or -1 (corrupt). */
int mentry_decode(const void *key, size_t klen, const void *val, size_t vlen,
    struct mentry *e, int *gone);
/* Key of an entry: owner, number, then the path; a path longer than LMDB
 * keys allow is keyed by its start and its SHA-256 (so keys of long paths
 * do not sort like the paths: sort after reading). */
void mentry_key(struct buf *, uint32_t owner, uint32_t number,
    const char *path, size_t pathlen);
/* Appends a copy of e; manifest_sort puts them in order afterwards. */
void manifest_add(struct manifest *, const struct mentry *e);
void manifest_sort(struct manifest *);
/* One line of a path fit for messages: printable bytes as they are, the
 * rest as \ooo octal escapes. */
void manifest_quote(struct buf *, const char *path, size_t pathlen);

/* dirtree.c: directory trees read through directory fds
 *
 * Paths are relative ("a/b", no leading slash), any bytes but NUL and any
 * length: syscalls only ever see one name under a directory fd, or a
 * relative path opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
 * in pieces shorter than PATH_MAX. Symlinks are never followed, fifos and
 * devices never opened.
 */
#define DIRTREE_UPPER 0x1     /* an overlay upper: whiteouts, opaque dirs */
#define DIRTREE_OPEN_UP 0x2   /* leave u+rwx on directories opened up */
/* Opens path below rootfd with flags (O_RDONLY, O_DIRECTORY, O_PATH ...);
 * "" is rootfd itself. The fd, or -1 with errno (ELOOP: a symlink on the
 * way, EXDEV: an escape). Where openat2 is missing (ENOSYS: old kernels,
 * valgrind) it walks one component at a time with O_NOFOLLOW instead. */
int dirtree_open(int rootfd, const char *path, size_t len, int flags);
/* Fills e (not its path) from the entry name in dirfd: kind, mode, size,
 * times, inode, symlink target, rdev; with DIRTREE_UPPER also whiteouts
 * (a 0:0 char device, or an empty file with *.overlay.whiteout) and opaque
 * directories (*.overlay.opaque = "y"). 0, 1 when it vanished, -1. */
int dirtree_stat(int dirfd, const char *name, int flags, struct mentry *e,
    char **cause);
/* Directories opened up by dirtree_scan, with the modes to put back. */
struct dirtree_undo {
	struct dirtree_undo_dir {
		char *path;
		size_t len;
		mode_t mode;
	} *v;
	size_t n;
};
/*
 * Lists everything below rootfd (not the root itself) into m, sorted by
 * path, file entries without content. A directory the caller cannot read
 * but owns is opened up (u+rx; u+rwx with DIRTREE_OPEN_UP) and added to
 * undo, so the caller can read below it and put it back with dirtree_undo
 * (undo NULL: put back before returning). One it still cannot read is named
 * in note (a line each) when note is not NULL, else an error. shown names
 * the tree in messages. 0 or -1.
 */
int dirtree_scan(int rootfd, const char *shown, int flags, struct buf *note,
    struct dirtree_undo *undo, struct manifest *m, char **cause);
/* Puts the modes back (children first) and empties undo. */
void dirtree_undo(int rootfd, struct dirtree_undo *undo);
/* Keeps the parent directory of the last path open, for walks in order,
 * and the directories above it, so that the next path's parent is opened
 * from its nearest open ancestor, one component at a time. */
#define DIRTREE_PARENT_DEPTH 32  /* deeper parents are opened whole */
struct dirtree_parent {
	int rootfd;
	int fd;        /* -1 when none, or when the last lookup failed */
	int error;     /* errno of the last failed lookup */
	char *path;    /* the parent held (or that failed) */
	size_t len;
	/* Open ancestors: up[i] is the directory path[0 .. upend[i]) */
	int up[DIRTREE_PARENT_DEPTH];
	size_t upend[DIRTREE_PARENT_DEPTH];
	size_t nup;
};
void dirtree_parent_init(struct dirtree_parent *, int rootfd);
/* The fd of path's parent directory (-1 with errno) and *name, its last
 * component (points into path). */
int dirtree_parent_open(struct dirtree_parent *, const char *path,
    size_t len, const char **name);
/* Forgets the cached fd (after removing or renaming directories). */
void dirtree_parent_reset(struct dirtree_parent *);
/* "/proc/self/fd/N/name" for the *xattr calls on any kind of entry without
 * opening it (caller frees). */
char *dirtree_proc_path(int dirfd, const char *name);

/* copies.c: copies of the real tree a rollback made in the scratch
 *
 * The checkpoint a rollback appends stands for the checkpoint rolled back
 * to, in which the real tree showed through where the rollback copied it
 * into the merged view: such copies, found equal to the real tree's
 * entries, are taken out of its manifest, and their stat and the real
 * entries' kept so that the checkpoints after it take them out again as
 * long as neither changed.
 */
struct copies {
	struct manifest up, real;          /* recorded, by path */
	struct manifest new_up, new_real;  /* found by this checkpoint */
	struct manifest gone;              /* records no longer copies */
	struct manifest bases;             /* for paths found without one:
					      the real entries (files hashed,
					      has_content 0) */
};
/* Whether a path has a base already (bases are captured once). */
struct copies_bases {
	int (*has)(void *arg, const struct mentry *);
	void *arg;
};
int copies_load(struct index_txn *, uint32_t owner, struct copies *,
    char **cause);
/*
 * Takes out of m (a scan of the scratch at upperfd, sorted) the copies:
 * recorded ones whose stat and real entry's stat did not move, and entries
 * at or below roots equal to the real tree's (lowerp); a directory only
 * with everything below it, nothing below a directory that is not one, nor
 * below an opaque directory that stays. A path found a copy that has no
 * base gets the real entry as its base (in bases). *taken counts them. 0
 * or -1.
 */
int copies_filter(struct copies *, struct manifest *m, int upperfd,
    struct dirtree_parent *lowerp, const char *const *roots, size_t nroots,
    const struct copies_bases *, size_t *taken, char **cause);
/* Writes the records found, deletes those no longer copies. 0 or -1. */
int copies_put(struct index_txn *, uint32_t owner, const struct copies *,
    char **cause);
void copies_free(struct copies *);

/* restore.c */
/*
 * Makes upper (not mounted) equal to m: removes what m lacks, writes files
 * from their blobs, directories with their modes, symlinks, whiteouts (char
 * devices 0:0) and opaque markers (xattr "trusted.overlay.opaque", or
 * "user.overlay.opaque" when userxattr is set). Leaves files whose inode,
 * size, mtime and ctime still match. 0 or -1.
 *
 * Files are written to a temporary in their directory and renamed over the
 * old one (holes stay holes); symlinks are never followed; a directory
 * without permissions is opened up first. Entries m records but cannot
 * restore stay as upper has them: specials (never created) and files
 * recorded without content. Modes and mtimes are put back as recorded.
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
 * mostly dead, and drops unreferenced tails. dry_run: report only.
 *
 * Holds the store lock. Live blobs are those an entry of any owner
 * references (every checkpoint, base and pin of every session): a blob kept
 * anywhere else (promotion records, ...) must be pinned (CKPT_PINS), or gc
 * reclaims it. A pack with more than half its bytes dead is
 * copied (live frames only) to a new pack; the old one is deleted once the
 * new references are committed. 0 or -1. */
int store_gc(struct store *, int dry_run, struct gc_report *, char **cause);

/* fsck.c */
/* Verifies every blob against its hash and every manifest reference;
 * appends one line per problem to problems. Returns the number of problems,
 * or -1 when the check itself failed.
 *
 * Holds the store lock. Problems: a missing pack, a corrupt or truncated
 * blob, a record that does not decode, and each path whose content is lost
 * ("session 3 checkpoints 2-5: a/b: blob 1f2e... is missing"). Pack bytes no
 * blob references are appended as "note: ..." lines (gc reclaims them) and
 * are not counted. */
int store_fsck(struct store *, struct buf *problems, char **cause);

#endif

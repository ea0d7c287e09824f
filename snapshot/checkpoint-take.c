/*
 * Taking a checkpoint: walk the scratch, reuse what the previous checkpoint
 * read when a file's inode, size, mtime and ctime match, store new content
 * (deduplicated), capture the real tree's content of paths that appear for
 * the first time (their bases), and commit only the entries that changed
 * (with a whole manifest now and then).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

#define CKPT_READ_TRIES 4        /* reads of a file that keeps changing */
#define CKPT_CHAIN_MAX 256       /* incremental checkpoints between wholes */
#define CKPT_BLOB_NEW 0x1        /* blob_set flag: appended, to be put */
#define CKPT_BLOB_QUEUED 0x2     /* blob_set flag: its frame is not written yet */
#define CKPT_QUEUE_LEN 32        /* small contents read ahead of the compressor */
#define CKPT_QUEUE_AFTER 64      /* small frames compressed here before */
#define CKPT_SMALL_MAX ((size_t)1 << 20) /* read whole: hash before compressing */

/*
 * With zstd workers allowed (opts->threads), once a checkpoint has many
 * small files, their contents are compressed on a second thread while this one reads and hashes the next files. This
 * thread writes the frames to the pack, in order, and so keeps the pack
 * writer and the blob set to itself.
 */
struct ckpt_job {
	unsigned char hash[HASH_LEN];
	struct buf data;           /* the content */
	struct buf frame;          /* compressed by the worker */
	char *path;                /* for messages */
	size_t pathlen;
	char *why;                 /* the worker failed */
	int cancelled;             /* changed while read (this thread's) */
};

struct ckpt_queue {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ckpt_job job[CKPT_QUEUE_LEN];
	uint64_t submitted, compressed, written;
	uint64_t want;             /* this thread waits for compressed >= want */
	int idle;                  /* the worker waits for a job */
	int stop;
};

/*
 * Bases too big to store are only hashed, on a thread of their own that
 * starts before the scratch's files are read: hashing the real file then
 * overlaps compressing its new version. The hash is used only when the
 * file held still meanwhile.
 */
struct ckpt_prehash {
	char *path;
	size_t pathlen;
	int fd;
	struct stat before;
	unsigned char hash[HASH_LEN];
	int rc;                    /* of ckpt_hash_fd */
};

/*
 * The real tree at a path new in this checkpoint, looked up once, before
 * the scratch's files are read: for its base, the hash of a big one on the
 * side, and the counts.
 */
struct ckpt_real {
	struct mentry e;           /* kind MENTRY_ABSENT: nothing there */
	int base;                  /* no base is stored yet: capture one */
	int unreadable;            /* its parent directory cannot be read */
};

struct ckpt_take {
	struct store *st;
	uint32_t owner;
	const struct ckpt_options *opts;
	const char *upper;
	int upperfd, lowerfd;
	struct index_txn *rtxn;
	struct pack_writer *pw;
	int has_prev;
	struct ckpt prev;
	struct ckpt_chain prev_chain;
	struct manifest prevm, cur, bases;
	struct copies copies;        /* of the real tree, by rollbacks */
	struct blob_set blobs;       /* appended by this checkpoint */
	uint64_t bytes;
	struct buf data;             /* a small file's content, reused */
	struct ckpt_queue *queue;    /* NULL: compress on this thread */
	uint64_t inline_frames;      /* compressed on this thread */
	struct ckpt_real *real;      /* sorted by path */
	size_t nreal, realcap;
	struct ckpt_prehash *pre;    /* big bases being hashed */
	size_t npre;
	pthread_t pre_thread;
	int pre_running;
	struct buf note;
	struct dirtree_parent lowerp, upperp;
	struct dirtree_undo undo;    /* scratch dirs opened up to read */
};

/* What the entries of one checkpoint are: a delta, or a whole manifest. */
struct ckpt_delta {
	const struct mentry *e;
	int gone;
};

struct ckpt_commit {
	struct ckpt_take *t;
	uint32_t number;
	int64_t time;
	uint64_t added, modified, deleted;
	struct ckpt_chain chain;
	struct ckpt_delta *delta;
	size_t ndelta;
};

/* Storing content. */

static void
ckpt_note(struct ckpt_take *t, const struct mentry *e, const char *what)
{
	manifest_quote(&t->note, e->path, e->pathlen);
	buf_printf(&t->note, ": %s\n", what);
}

static int
ckpt_store_error(const struct mentry *e, int error, char *why, char **cause)
{
	struct buf q = BUF_INIT;

	manifest_quote(&q, e->path, e->pathlen);
	if (error == ENOSPC || error == EDQUOT || error == EFBIG)
		*cause = xasprintf("%s while storing %s (%s)", error == EFBIG ?
		    "file too large" : "no space left on device", q.data, why);
	else
		*cause = xasprintf("cannot store %s: %s", q.data, why);
	buf_free(&q);
	free(why);
	errno = error;
	return -1;
}

/* Notes a frame this checkpoint appended, for its commit. */
static void
ckpt_stored(struct ckpt_take *t, const unsigned char hash[HASH_LEN],
    const struct blob_ref *ref)
{
	struct blob_set_item *it;
	int added;

	it = blob_set_add(&t->blobs, hash, &added);
	it->ref = *ref;
	it->flags |= CKPT_BLOB_NEW;
	t->bytes += ref->clen;
}

/* 0 when the blob is stored (or appended by this checkpoint), 1 if not. */
static int
ckpt_blob_known(struct ckpt_take *t, const unsigned char hash[HASH_LEN],
    char **cause)
{
	struct blob_set_item *it = blob_set_find(&t->blobs, hash);
	struct blob_ref old;

	if (it != NULL && (it->flags & CKPT_BLOB_NEW))
		return 0;
	return blob_find(t->rtxn, hash, &old, cause);
}

/* A big file: compressed while it is read (the hash known only at the
 * end), undone when the blob turns out to be stored. */
static int
ckpt_store_stream(struct ckpt_take *t, int fd, struct mentry *e,
    int *appended, char **cause)
{
	struct blob_ref ref;
	char *why = NULL;
	int threads = 0, rc;

	if (t->pw == NULL && pack_writer_open(t->st, &t->pw, cause) != 0)
		return -1;
	if (e->size > CKPT_THREADS_MIN_SIZE && t->opts->threads > 0)
		threads = t->opts->threads;
	if (pack_writer_add(t->pw, fd, e->size, threads, e->hash, &ref,
	    &why) != 0) {
		if (errno != EAGAIN)
			return ckpt_store_error(e, errno, why, cause);
		free(why);
		errno = EAGAIN;
		return -1;
	}
	rc = ckpt_blob_known(t, e->hash, cause);
	if (rc == 0)
		return pack_writer_undo(t->pw, &ref, cause);
	if (rc < 0)
		return -1;
	ckpt_stored(t, e->hash, &ref);
	*appended = 1;
	return 0;
}

/* Reads exactly size bytes of fd into t->data; -1 with errno EAGAIN when
 * the file has another size now. One byte more is asked for, so a read
 * that stops at size is at the end (a file that grows later shows in the
 * fstat after the read). */
static int
ckpt_read_small(struct buf *b, int fd, size_t size, char **cause)
{
	size_t want = size + 1, got = 0;
	ssize_t n;
	int error;

	buf_reset(b);
	buf_grow(b, want);
	while (got < size) {
		n = read(fd, b->data + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = errno;
			*cause = xasprintf("cannot read: %s", strerror(error));
			errno = error;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != size) {
		errno = EAGAIN;
		return -1;
	}
	b->len = got;
	b->data[got] = '\0';
	return 0;
}

static void *
ckpt_queue_main(void *arg)
{
	struct ckpt_queue *q = arg;
	struct ckpt_job *j;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (q->compressed == q->submitted && !q->stop) {
			q->idle = 1;
			pthread_cond_wait(&q->cond, &q->lock);
			q->idle = 0;
		}
		if (q->compressed == q->submitted)
			break;
		j = &q->job[q->compressed % CKPT_QUEUE_LEN];
		pthread_mutex_unlock(&q->lock);
		buf_reset(&j->frame);
		if (zstd_frame_compress(j->data.data,
		    j->data.len, PACK_LEVEL, &j->frame, &j->why) != 0 &&
		    j->why == NULL)
			j->why = xstrdup("compression failed");
		pthread_mutex_lock(&q->lock);
		/* Wakes the writer only for what it waits for: a wake-up per
		 * frame would cost as much as a small file's compression. */
		if (++q->compressed == q->want)
			pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	zstd_thread_done();
	return NULL;
}

/* Starts the compressing thread; no queue (compress here) if it cannot. */
static void
ckpt_queue_start(struct ckpt_take *t)
{
	struct ckpt_queue *q = xcalloc(1, sizeof *q);
	int i;

	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	for (i = 0; i < CKPT_QUEUE_LEN; i++) {
		buf_init(&q->job[i].data);
		buf_init(&q->job[i].frame);
	}
	if (pthread_create(&q->thread, NULL, ckpt_queue_main, q) != 0) {
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return;
	}
	t->queue = q;
}

/* Ends the thread; unwritten frames are dropped. */
static void
ckpt_queue_stop(struct ckpt_take *t)
{
	struct ckpt_queue *q = t->queue;
	int i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	for (i = 0; i < CKPT_QUEUE_LEN; i++) {
		buf_free(&q->job[i].data);
		buf_free(&q->job[i].frame);
		free(q->job[i].path);
		free(q->job[i].why);
	}
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
	t->queue = NULL;
}

/* Writes the oldest queued frame to the pack, once it is compressed. */
static int
ckpt_queue_write_one(struct ckpt_take *t, char **cause)
{
	struct ckpt_queue *q = t->queue;
	struct ckpt_job *j = &q->job[q->written % CKPT_QUEUE_LEN];
	struct blob_set_item *it;
	struct blob_ref ref;
	struct mentry e;
	char *why = NULL;

	pthread_mutex_lock(&q->lock);
	if (q->compressed == q->written) {
		/* Half a queue at a time, or the last frames. */
		q->want = q->written + CKPT_QUEUE_LEN / 2;
		if (q->want > q->submitted || q->stop)
			q->want = q->written + 1;
		while (q->compressed < q->want)
			pthread_cond_wait(&q->cond, &q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	q->written++;
	if (j->cancelled)
		return 0;
	memset(&e, 0, sizeof e);
	e.path = j->path;
	e.pathlen = j->pathlen;
	if (j->why != NULL) {
		why = j->why;
		j->why = NULL;
		return ckpt_store_error(&e, EIO, why, cause);
	}
	if (pack_writer_add_frame(t->pw, j->frame.data, j->frame.len,
	    j->data.len, &ref, &why) != 0)
		return ckpt_store_error(&e, errno, why, cause);
	it = blob_set_find(&t->blobs, j->hash);
	it->ref = ref;
	it->flags &= ~CKPT_BLOB_QUEUED;
	t->bytes += ref.clen;
	return 0;
}

/* Writes every queued frame (before the pack is synced or streamed to). */
static int
ckpt_queue_flush(struct ckpt_take *t, char **cause)
{
	while (t->queue != NULL && t->queue->written < t->queue->submitted)
		if (ckpt_queue_write_one(t, cause) != 0)
			return -1;
	return 0;
}

/* A free job to read into, writing out the oldest when all are busy. */
static struct ckpt_job *
ckpt_queue_slot(struct ckpt_take *t, char **cause)
{
	struct ckpt_queue *q = t->queue;

	if (q->submitted - q->written == CKPT_QUEUE_LEN &&
	    ckpt_queue_write_one(t, cause) != 0)
		return NULL;
	return &q->job[q->submitted % CKPT_QUEUE_LEN];
}

static void
ckpt_queue_submit(struct ckpt_take *t, struct ckpt_job *j,
    const struct mentry *e)
{
	struct ckpt_queue *q = t->queue;
	struct blob_set_item *it;
	int added;

	memcpy(j->hash, e->hash, HASH_LEN);
	free(j->path);
	j->path = xmemdup(e->path, e->pathlen);
	j->pathlen = e->pathlen;
	j->cancelled = 0;
	it = blob_set_add(&t->blobs, e->hash, &added);
	it->flags |= CKPT_BLOB_NEW | CKPT_BLOB_QUEUED;
	pthread_mutex_lock(&q->lock);
	q->submitted++;
	if (q->idle)
		pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/*
 * Appends the content of fd as a new blob unless it is stored already.
 * *appended is set when a frame stays in the pack, or is queued for it
 * (undo it with ckpt_unstore). -1 with errno EAGAIN when the file changed
 * size.
 */
static int
ckpt_store_fd(struct ckpt_take *t, int fd, struct mentry *e, int *appended,
    char **cause)
{
	struct ckpt_job *j = NULL;
	struct blob_ref ref;
	struct buf *data = &t->data;
	char *why = NULL;
	int rc;

	*appended = 0;
	if (e->size > CKPT_SMALL_MAX) {
		if (ckpt_queue_flush(t, cause) != 0)
			return -1;
		return ckpt_store_stream(t, fd, e, appended, cause);
	}
	/* A thread pays off for many files, not for a turn's few edits. */
	if (t->queue == NULL && t->opts->threads > 0 &&
	    t->inline_frames >= CKPT_QUEUE_AFTER)
		ckpt_queue_start(t);
	if (t->queue != NULL) {
		if ((j = ckpt_queue_slot(t, cause)) == NULL)
			return -1;
		data = &j->data;
	}
	/* Small: hashed first, so that a stored blob costs no compression. */
	if (ckpt_read_small(data, fd, (size_t)e->size, &why) != 0) {
		if (errno == EAGAIN)
			return -1;
		return ckpt_store_error(e, errno, why, cause);
	}
	hash_buffer(data->data, data->len, e->hash);
	rc = ckpt_blob_known(t, e->hash, cause);
	if (rc <= 0)
		return rc;
	if (t->pw == NULL && pack_writer_open(t->st, &t->pw, cause) != 0)
		return -1;
	*appended = 1;
	if (j != NULL) {
		ckpt_queue_submit(t, j, e);
		return 0;
	}
	if (pack_writer_add_data(t->pw, data->data, data->len, &ref,
	    &why) != 0)
		return ckpt_store_error(e, errno, why, cause);
	ckpt_stored(t, e->hash, &ref);
	t->inline_frames++;
	return 0;
}

static int
ckpt_unstore(struct ckpt_take *t, const struct mentry *e, char **cause)
{
	struct blob_set_item *it = blob_set_find(&t->blobs, e->hash);
	struct ckpt_queue *q = t->queue;

	/* Queued: it is the last job, and nothing of it is written yet. */
	if (it->flags & CKPT_BLOB_QUEUED) {
		q->job[(q->submitted - 1) % CKPT_QUEUE_LEN].cancelled = 1;
		it->flags &= ~(CKPT_BLOB_NEW | CKPT_BLOB_QUEUED);
		return 0;
	}
	if (pack_writer_undo(t->pw, &it->ref, cause) != 0)
		return -1;
	it->flags &= ~CKPT_BLOB_NEW;
	t->bytes -= it->ref.clen;
	return 0;
}

/* Hashes exactly size bytes of fd (bases too big to store). */
static int
ckpt_hash_fd(int fd, struct mentry *e, char **cause)
{
	struct hash_ctx *h = hash_new();
	char *chunk = xmalloc(128 * 1024);
	uint64_t done = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, 128 * 1024);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || done + (uint64_t)n > e->size)
			break;
		hash_update(h, chunk, (size_t)n);
		done += (uint64_t)n;
	}
	free(chunk);
	if (n < 0) {
		*cause = xasprintf("cannot read: %s", strerror(errno));
		hash_free(h);
		return -1;
	}
	hash_final(h, e->hash);
	hash_free(h);
	if (n != 0 || done != e->size) {
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

static int64_t
ckpt_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void
ckpt_set_stat(struct mentry *e, const struct stat *sb)
{
	e->mode = sb->st_mode;
	e->size = (uint64_t)sb->st_size;
	e->mtime_ns = ckpt_ns(&sb->st_mtim);
	e->ctime_ns = ckpt_ns(&sb->st_ctim);
	e->ino = sb->st_ino;
}

static int
ckpt_stat_moved(const struct stat *a, const struct stat *b)
{
	return a->st_size != b->st_size || a->st_ino != b->st_ino ||
	    ckpt_ns(&a->st_mtim) != ckpt_ns(&b->st_mtim) ||
	    ckpt_ns(&a->st_ctim) != ckpt_ns(&b->st_ctim);
}

/*
 * Opens a regular file below rootfd for reading. A file of ours without
 * read permission in the scratch is made readable for the open and put
 * back (the real tree is never changed). -1 with errno.
 */
static int
ckpt_open_file(int rootfd, const struct mentry *e, int may_chmod)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
	int fd, pfd, error;
	struct stat sb;
	char *proc;

	fd = dirtree_open(rootfd, e->path, e->pathlen, flags);
	if (fd != -1 || errno != EACCES || !may_chmod)
		return fd;
	pfd = dirtree_open(rootfd, e->path, e->pathlen, O_PATH | O_NOFOLLOW);
	if (pfd == -1)
		return -1;
	if (fstat(pfd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || (sb.st_mode & S_IRUSR)) {
		close(pfd);
		errno = EACCES;
		return -1;
	}
	proc = xasprintf("/proc/self/fd/%d", pfd);
	fd = -1;
	if (chmod(proc, (sb.st_mode | S_IRUSR) & 07777) == 0) {
		fd = open(proc, flags & ~O_NOFOLLOW);
		error = errno;
		chmod(proc, sb.st_mode & 07777);
		errno = error;
	}
	free(proc);
	error = errno;
	close(pfd);
	errno = error;
	return fd;
}

enum ckpt_read_how { CKPT_STORE, CKPT_HASH_ONLY };

/* Sorts out why a file could not be opened (see ckpt_read_once). */
static int
ckpt_open_failed(const struct mentry *e, char **cause)
{
	struct buf q = BUF_INIT;
	int error = errno;

	switch (error) {
	case EACCES:
	case EPERM:
		return 3;
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case ENXIO:
	case EXDEV:
		return 2;
	}
	manifest_quote(&q, e->path, e->pathlen);
	*cause = xasprintf("cannot open %s: %s", q.data, strerror(error));
	buf_free(&q);
	return -1;
}

/*
 * One read of a file: stores (or hashes) its content and checks it did not
 * change meanwhile. 0 done, 1 changed (read again), 2 not a regular file
 * any more or gone, 3 unreadable, 4 done although it changed (the last
 * try), -1 error.
 */
static int
ckpt_read_once(struct ckpt_take *t, int rootfd, struct mentry *e,
    enum ckpt_read_how how, int last, char **cause)
{
	struct stat before, after;
	int fd, rc, appended = 0;

	fd = ckpt_open_file(rootfd, e, rootfd == t->upperfd);
	if (fd == -1)
		return ckpt_open_failed(e, cause);
	if (fstat(fd, &before) != 0 || !S_ISREG(before.st_mode)) {
		close(fd);
		return 2;
	}
	ckpt_set_stat(e, &before);
	if (how == CKPT_STORE)
		rc = ckpt_store_fd(t, fd, e, &appended, cause);
	else
		rc = ckpt_hash_fd(fd, e, cause);
	if (rc != 0) {
		rc = errno == EAGAIN ? 1 : -1;
		close(fd);
		return rc;
	}
	rc = fstat(fd, &after);
	close(fd);
	if (rc == 0 && !ckpt_stat_moved(&before, &after))
		return 0;
	if (last)
		return 4;
	if (appended && ckpt_unstore(t, e, cause) != 0)
		return -1;
	return 1;
}

/* Reads a file until it holds still; 1 when it is no regular file now. */
static int
ckpt_read_file(struct ckpt_take *t, int rootfd, struct mentry *e,
    enum ckpt_read_how how, char **cause)
{
	int try, rc = 1;

	for (try = 0; try < CKPT_READ_TRIES && rc == 1; try++)
		rc = ckpt_read_once(t, rootfd, e, how,
		    try == CKPT_READ_TRIES - 1, cause);
	if (rc == 4) {
		ckpt_note(t, e, "kept changing while read; recorded as last "
		    "read");
		rc = 0;
	}
	e->has_content = rc == 0 && how == CKPT_STORE;
	if (rc == 1 || rc == 3) {
		memset(e->hash, 0, HASH_LEN);
		ckpt_note(t, e, rc == 1 ? "kept changing while read; "
		    "recorded without content" : "cannot be read; recorded "
		    "without content");
		return 0;
	}
	return rc == 2 ? 1 : rc;
}

/* Stats e again (it changed kind while we looked); 1 when it is gone. */
static int
ckpt_restat(struct ckpt_take *t, struct dirtree_parent *p, int flags,
    struct mentry *e, char **cause)
{
	const char *name;
	char *why = NULL;
	int pfd, rc;

	free(e->target);
	e->target = NULL;
	pfd = dirtree_parent_open(p, e->path, e->pathlen, &name);
	if (pfd == -1)
		return 1;
	rc = dirtree_stat(pfd, name, flags, e, &why);
	if (rc < 0)
		return ckpt_store_error(e, EIO, why, cause);
	return rc;
}

/* The scratch's content: reuse what the previous checkpoint read. */
static int
ckpt_fill_file(struct ckpt_take *t, struct mentry *e, char **cause)
{
	const struct mentry *p = manifest_find(&t->prevm, e->path, e->pathlen);
	int rc, tries;

	if (p != NULL && p->kind == MENTRY_FILE && p->has_content &&
	    p->ino == e->ino && p->size == e->size &&
	    p->mtime_ns == e->mtime_ns && p->ctime_ns == e->ctime_ns &&
	    p->mode == e->mode) {
		memcpy(e->hash, p->hash, HASH_LEN);
		e->has_content = 1;
		return 0;
	}
	for (tries = 0; tries < CKPT_READ_TRIES; tries++) {
		rc = ckpt_read_file(t, t->upperfd, e, CKPT_STORE, cause);
		if (rc != 1)
			return rc;
		rc = ckpt_restat(t, &t->upperp, DIRTREE_UPPER, e, cause);
		if (rc != 0 || e->kind != MENTRY_FILE)
			return rc;
	}
	ckpt_note(t, e, "kept changing kind while read; recorded without "
	    "content");
	return 0;
}

/* Drops the entries marked gone (kind MENTRY_ABSENT) from cur. */
static void
ckpt_compact(struct manifest *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->n; i++) {
		if (m->v[i].kind == MENTRY_ABSENT)
			mentry_free(&m->v[i]);
		else
			m->v[n++] = m->v[i];
	}
	m->n = n;
}

static int
ckpt_fill(struct ckpt_take *t, char **cause)
{
	size_t i;
	int rc, dropped = 0;

	for (i = 0; i < t->cur.n; i++) {
		struct mentry *e = &t->cur.v[i];

		if (e->kind != MENTRY_FILE)
			continue;
		rc = ckpt_fill_file(t, e, cause);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			e->kind = MENTRY_ABSENT;
			dropped = 1;
		}
	}
	if (dropped)
		ckpt_compact(&t->cur);
	return 0;
}

/* Bases. */

static int
ckpt_has_base(struct ckpt_take *t, const struct mentry *e, char **cause)
{
	struct buf key = BUF_INIT;
	const void *val;
	size_t vlen;
	int rc;

	mentry_key(&key, t->owner, CKPT_BASES, e->path, e->pathlen);
	rc = index_get(t->rtxn, INDEX_ENTRIES, key.data, key.len, &val, &vlen,
	    cause);
	buf_free(&key);
	return rc < 0 ? -1 : rc == 0;
}

/*
 * A base of the same size as the scratch's file at its path, which is
 * stored by now: hashed first, and when it is the same content (a copy of
 * the real file, as a live rollback makes), not compressed and stored
 * again. 0 when b is done, 1 to store it, 2 when it is no file now, -1.
 */
static int
ckpt_base_as_scratch(struct ckpt_take *t, const struct mentry *e,
    struct mentry *b, char **cause)
{
	static const unsigned char none[HASH_LEN];
	int rc;

	if (e->kind != MENTRY_FILE || !e->has_content || e->size != b->size ||
	    b->size > CKPT_BASE_MAX_SIZE)
		return 1;
	rc = ckpt_read_file(t, t->lowerfd, b, CKPT_HASH_ONLY, cause);
	if (rc != 0)
		return rc < 0 ? -1 : 2;
	if (memcmp(b->hash, e->hash, HASH_LEN) == 0) {
		b->has_content = 1;
		return 0;
	}
	/* unreadable: recorded (and noted) without content already */
	return memcmp(b->hash, none, HASH_LEN) == 0 ? 0 : 1;
}

static void *
ckpt_prehash_main(void *arg)
{
	struct ckpt_take *t = arg;
	struct mentry e;
	char *why = NULL;
	size_t i;

	for (i = 0; i < t->npre; i++) {
		memset(&e, 0, sizeof e);
		e.size = (uint64_t)t->pre[i].before.st_size;
		t->pre[i].rc = ckpt_hash_fd(t->pre[i].fd, &e, &why);
		memcpy(t->pre[i].hash, e.hash, HASH_LEN);
		free(why);
		why = NULL;
	}
	return NULL;
}

/* Queues the real file of r, a base too big to store, to be hashed on
 * the side. Anything odd is left to ckpt_capture_base. */
static void
ckpt_prehash_add(struct ckpt_take *t, const struct ckpt_real *r)
{
	struct ckpt_prehash *p;
	struct stat sb;
	int fd;

	if ((fd = ckpt_open_file(t->lowerfd, &r->e, 0)) == -1)
		return;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return;
	}
	t->pre = xreallocarray(t->pre, t->npre + 1, sizeof *t->pre);
	p = &t->pre[t->npre++];
	memset(p, 0, sizeof *p);
	p->path = xmemdup(r->e.path, r->e.pathlen);
	p->pathlen = r->e.pathlen;
	p->fd = fd;
	p->before = sb;
	p->rc = -1;
}

static void
ckpt_prehash_wait(struct ckpt_take *t)
{
	if (t->pre_running)
		pthread_join(t->pre_thread, NULL);
	t->pre_running = 0;
}

/* The hash of b's real file from the thread, if it is still that file. */
static int
ckpt_prehash_take(struct ckpt_take *t, struct mentry *b)
{
	struct ckpt_prehash *p = NULL;
	struct stat after;
	size_t i;

	for (i = 0; i < t->npre && p == NULL; i++)
		if (t->pre[i].pathlen == b->pathlen &&
		    memcmp(t->pre[i].path, b->path, b->pathlen) == 0)
			p = &t->pre[i];
	if (p == NULL)
		return -1;
	ckpt_prehash_wait(t);
	if (p->rc != 0 || fstat(p->fd, &after) != 0 ||
	    ckpt_stat_moved(&p->before, &after) ||
	    (uint64_t)after.st_ino != b->ino ||
	    (uint64_t)after.st_size != b->size ||
	    ckpt_ns(&after.st_mtim) != b->mtime_ns ||
	    ckpt_ns(&after.st_ctim) != b->ctime_ns)
		return -1;
	ckpt_set_stat(b, &after);
	memcpy(b->hash, p->hash, HASH_LEN);
	b->has_content = 0;
	return 0;
}

static void
ckpt_prehash_free(struct ckpt_take *t)
{
	size_t i;

	ckpt_prehash_wait(t);
	for (i = 0; i < t->npre; i++) {
		close(t->pre[i].fd);
		free(t->pre[i].path);
	}
	free(t->pre);
	t->pre = NULL;
	t->npre = 0;
}

/*
 * Looks up the real tree at every path new since the previous checkpoint
 * (one stat each, from the nearest open ancestor) and starts hashing the
 * big files among those that need a base.
 */
static int
ckpt_real_plan(struct ckpt_take *t, char **cause)
{
	struct ckpt_real *r;
	const char *name;
	char *why = NULL;
	size_t i;
	int pfd, rc;

	if (t->lowerfd == -1)
		return 0;
	for (i = 0; i < t->cur.n; i++) {
		const struct mentry *e = &t->cur.v[i];

		if (manifest_find(&t->prevm, e->path, e->pathlen) != NULL)
			continue;
		if ((rc = ckpt_has_base(t, e, cause)) < 0)
			return -1;
		if (t->nreal == t->realcap) {
			t->realcap = t->realcap == 0 ? 64 : t->realcap * 2;
			t->real = xreallocarray(t->real, t->realcap,
			    sizeof *t->real);
		}
		r = &t->real[t->nreal++];
		memset(r, 0, sizeof *r);
		r->base = rc == 0;
		r->e.path = xmemdup(e->path, e->pathlen + 1);
		r->e.pathlen = e->pathlen;
		r->e.kind = MENTRY_ABSENT;
		pfd = dirtree_parent_open(&t->lowerp, e->path, e->pathlen, &name);
		if (pfd == -1) {
			r->unreadable = errno == EACCES;
			continue;
		}
		rc = dirtree_stat(pfd, name, 0, &r->e, &why);
		if (rc < 0) {
			/* only a base needs it: the counts take nothing */
			if (r->base)
				return ckpt_store_error(e, EIO, why, cause);
			free(why);
			why = NULL;
			r->e.kind = MENTRY_ABSENT;
		} else if (rc == 1) {
			/* gone meanwhile (a link between its stat and its
			 * readlink): absent, never a link without a target */
			free(r->e.target);
			r->e.target = NULL;
			r->e.kind = MENTRY_ABSENT;
		}
		if (rc == 0 && r->base && r->e.kind == MENTRY_FILE &&
		    r->e.size > CKPT_BASE_MAX_SIZE)
			ckpt_prehash_add(t, r);
	}
	if (t->npre > 0 &&
	    pthread_create(&t->pre_thread, NULL, ckpt_prehash_main, t) == 0)
		t->pre_running = 1;
	return 0;
}

/* The real tree's entry of a path new in this checkpoint, or NULL. */
static const struct ckpt_real *
ckpt_real_find(const struct ckpt_take *t, const struct mentry *e)
{
	size_t lo = 0, hi = t->nreal;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = mentry_cmp(e, &t->real[mid].e);

		if (c == 0)
			return &t->real[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void
ckpt_real_free(struct ckpt_take *t)
{
	size_t i;

	for (i = 0; i < t->nreal; i++)
		mentry_free(&t->real[i].e);
	free(t->real);
	t->real = NULL;
	t->nreal = t->realcap = 0;
}

/* The base of e's path: what the real tree held there (r). */
static int
ckpt_capture_base(struct ckpt_take *t, const struct ckpt_real *r,
    const struct mentry *e, char **cause)
{
	struct mentry b = r->e;   /* path and target stay r's */
	int rc;

	if (r->unreadable) {
		ckpt_note(t, e, "its real parent directory cannot be read; "
		    "no base");
		return 0;
	}
	if (b.kind == MENTRY_FILE) {
		/* a big one hashed on the side, else the same content as the
		 * scratch's (not stored twice), else read */
		if (b.size > CKPT_BASE_MAX_SIZE && ckpt_prehash_take(t, &b) == 0)
			rc = 0;
		else if ((rc = ckpt_base_as_scratch(t, e, &b, cause)) == 1)
			rc = ckpt_read_file(t, t->lowerfd, &b, b.size <=
			    CKPT_BASE_MAX_SIZE ? CKPT_STORE : CKPT_HASH_ONLY,
			    cause);
		else if (rc == 2)
			rc = 1;
		if (rc < 0)
			return -1;
		if (rc == 1)   /* changed kind under us: no base this time */
			return 0;
	}
	manifest_add(&t->bases, &b);
	return 0;
}

static int
ckpt_bases(struct ckpt_take *t, char **cause)
{
	const struct mentry *e;
	size_t i;

	for (i = 0; i < t->nreal; i++) {
		if (!t->real[i].base)
			continue;
		/* gone from the scratch while it was read: no base */
		e = manifest_find(&t->cur, t->real[i].e.path,
		    t->real[i].e.pathlen);
		if (e != NULL && ckpt_capture_base(t, &t->real[i], e,
		    cause) != 0)
			return -1;
	}
	return 0;
}

/* What changed. */

enum ckpt_seen { CKPT_NOTHING, CKPT_GONE, CKPT_THERE };

/* How a path looks through the overlay, for the counts. */
static enum ckpt_seen
ckpt_seen(const struct mentry *e)
{
	if (e == NULL || e->kind == MENTRY_DIR)
		return CKPT_NOTHING;
	return e->kind == MENTRY_WHITEOUT ? CKPT_GONE : CKPT_THERE;
}

/* How a path without an entry looks: the real tree's file, or nothing. */
static enum ckpt_seen
ckpt_seen_real(struct ckpt_take *t, const struct mentry *e)
{
	const struct ckpt_real *r = ckpt_real_find(t, e);
	const char *name;
	struct stat st;
	int pfd;

	if (r != NULL)
		return r->unreadable || r->e.kind == MENTRY_ABSENT ||
		    r->e.kind == MENTRY_DIR ? CKPT_NOTHING : CKPT_THERE;
	pfd = dirtree_parent_open(&t->lowerp, e->path, e->pathlen, &name);
	if (pfd == -1 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    S_ISDIR(st.st_mode))
		return CKPT_NOTHING;
	return CKPT_THERE;
}

/* Counts one path for the turn: a file the agent first touched that the
 * real tree has is modified, not added; going back to the real file is a
 * modification too. */
static void
ckpt_count(struct ckpt_commit *c, const struct mentry *p,
    const struct mentry *e)
{
	enum ckpt_seen was = ckpt_seen(p), is = ckpt_seen(e);

	if (p == NULL && is != CKPT_NOTHING)
		was = ckpt_seen_real(c->t, e);
	else if (e == NULL && was != CKPT_NOTHING)
		is = ckpt_seen_real(c->t, p);
	if (was == CKPT_THERE && is == CKPT_THERE && (p == NULL || e == NULL)) {
		c->modified++;
		return;
	}

	if (was == is) {
		if (is == CKPT_THERE && !mentry_same(p, e))
			c->modified++;
	} else if (is == CKPT_THERE || was == CKPT_GONE)
		c->added++;
	else
		c->deleted++;
}

static int
ckpt_identical(const struct mentry *a, const struct mentry *b)
{
	return mentry_same(a, b) && a->mtime_ns == b->mtime_ns &&
	    a->ctime_ns == b->ctime_ns && a->ino == b->ino;
}

static void
ckpt_delta_add(struct ckpt_commit *c, const struct mentry *e, int gone)
{
	c->delta = xreallocarray(c->delta, c->ndelta + 1, sizeof *c->delta);
	c->delta[c->ndelta].e = e;
	c->delta[c->ndelta].gone = gone;
	c->ndelta++;
}

/* Merges the previous and the new manifest: counts and delta. Returns 1
 * when something changed. */
static int
ckpt_compare(struct ckpt_take *t, struct ckpt_commit *c)
{
	const struct manifest *a = &t->prevm, *b = &t->cur;
	size_t i = 0, j = 0;
	int changed = 0, d;

	while (i < a->n || j < b->n) {
		if (i == a->n)
			d = 1;
		else if (j == b->n)
			d = -1;
		else
			d = mentry_cmp(&a->v[i], &b->v[j]);
		if (d < 0) {
			ckpt_count(c, &a->v[i], NULL);
			ckpt_delta_add(c, &a->v[i++], 1);
			changed = 1;
		} else if (d > 0) {
			ckpt_count(c, NULL, &b->v[j]);
			ckpt_delta_add(c, &b->v[j++], 0);
			changed = 1;
		} else {
			ckpt_count(c, &a->v[i], &b->v[j]);
			changed |= !mentry_same(&a->v[i], &b->v[j]);
			if (!ckpt_identical(&a->v[i], &b->v[j]))
				ckpt_delta_add(c, &b->v[j], 0);
			i++;
			j++;
		}
	}
	return changed;
}

/* A whole manifest now and then keeps loading one cheap. */
static void
ckpt_plan_delta(struct ckpt_take *t, struct ckpt_commit *c)
{
	size_t i;

	c->chain.keyframe = t->prev_chain.keyframe;
	c->chain.length = t->prev_chain.length + c->ndelta;
	if (t->has_prev && c->number - c->chain.keyframe <= CKPT_CHAIN_MAX &&
	    c->chain.length <= t->cur.n + 64)
		return;
	c->chain.keyframe = c->number;
	c->chain.length = 0;
	free(c->delta);
	c->delta = NULL;
	c->ndelta = 0;
	for (i = 0; i < t->cur.n; i++)
		ckpt_delta_add(c, &t->cur.v[i], 0);
}

/* The commit (no effect outside the transaction: it runs again when the
 * map grows). */

static int
ckpt_put_entries(struct index_txn *txn, struct ckpt_commit *c,
    char **cause)
{
	struct buf key = BUF_INIT, val = BUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; i < c->ndelta && rc == 0; i++) {
		const struct mentry *e = c->delta[i].e;

		mentry_key(&key, c->t->owner, c->number, e->path, e->pathlen);
		buf_reset(&val);
		if (c->delta[i].gone)
			mentry_encode_gone(&val, e->path, e->pathlen);
		else
			mentry_encode(&val, e);
		rc = index_put(txn, INDEX_ENTRIES, key.data, key.len, val.data,
		    val.len, cause);
	}
	for (i = 0; i < c->t->bases.n && rc == 0; i++) {
		const struct mentry *b = &c->t->bases.v[i];

		mentry_key(&key, c->t->owner, CKPT_BASES, b->path, b->pathlen);
		buf_reset(&val);
		mentry_encode(&val, b);
		rc = index_put(txn, INDEX_ENTRIES, key.data, key.len, val.data,
		    val.len, cause);
	}
	buf_free(&key);
	buf_free(&val);
	return rc;
}

static int
ckpt_hash_cmp(const void *a, const void *b)
{
	const struct blob_set_item *const *x = a, *const *y = b;

	return memcmp((*x)->hash, (*y)->hash, HASH_LEN);
}

/* In hash order: LMDB fills its pages as it goes, where random order
 * leaves them a third empty. */
static int
ckpt_put_blobs(struct index_txn *txn, struct ckpt_take *t, char **cause)
{
	const struct blob_set_item **v;
	size_t i, n = 0;
	int rc = 0;

	v = xreallocarray(NULL, t->blobs.n + 1, sizeof *v);
	for (i = 0; i < t->blobs.cap; i++) {
		const struct blob_set_item *it = &t->blobs.v[i];

		if (it->used && (it->flags & CKPT_BLOB_NEW))
			v[n++] = it;
	}
	qsort(v, n, sizeof *v, ckpt_hash_cmp);
	for (i = 0; i < n && rc == 0; i++)
		rc = blob_put(txn, v[i]->hash, &v[i]->ref, cause);
	free(v);
	return rc;
}

static void
ckpt_fill_out(struct ckpt_commit *c, struct ckpt *out)
{
	const struct ckpt_options *o = c->t->opts;

	memset(out, 0, sizeof *out);
	out->number = c->number;
	out->time = c->time;
	out->reason = o->reason == NULL ? NULL : xstrdup(o->reason);
	out->label = o->label == NULL ? NULL : xstrdup(o->label);
	out->added = c->added;
	out->modified = c->modified;
	out->deleted = c->deleted;
	out->bytes = c->t->bytes;
	out->entries = c->t->cur.n;
	out->restored_from = o->restored_from;
	out->note = c->t->note.len == 0 ? NULL : xstrdup(c->t->note.data);
}

static int
ckpt_commit_txn(struct index_txn *txn, void *arg, char **cause)
{
	struct ckpt_commit *c = arg;
	struct ckpt rec;
	uint32_t last;
	int rc;

	if (checkpoint_last_txn(txn, c->t->owner, &last, cause) != 0)
		return -1;
	if (last != (c->t->has_prev ? c->t->prev.number : CKPT_NONE)) {
		*cause = xasprintf("session %u: another checkpoint was taken "
		    "meanwhile", c->t->owner);
		return -1;
	}
	if (ckpt_put_blobs(txn, c->t, cause) != 0 ||
	    ckpt_put_entries(txn, c, cause) != 0 ||
	    copies_put(txn, c->t->owner, &c->t->copies, cause) != 0)
		return -1;
	ckpt_fill_out(c, &rec);
	rc = checkpoint_put_txn(txn, c->t->owner, &rec, &c->chain, cause);
	ckpt_free(&rec);
	return rc;
}

/* The whole. */

static int
ckpt_open_root(const char *path, const char *what, char **cause)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		*cause = xasprintf("cannot open the %s %s: %s", what, path,
		    strerror(errno));
	return fd;
}

static int
ckpt_load_prev(struct ckpt_take *t, char **cause)
{
	uint32_t last;

	if (checkpoint_last_txn(t->rtxn, t->owner, &last, cause) != 0)
		return -1;
	if (last == CKPT_NONE)
		return 0;
	if (last >= CKPT_COPIES_REAL - 1) {
		*cause = xasprintf("session %u has no checkpoint numbers left",
		    t->owner);
		return -1;
	}
	if (checkpoint_get_txn(t->rtxn, t->owner, last, &t->prev,
	    &t->prev_chain, cause) != 0)
		return -1;
	t->has_prev = 1;
	return checkpoint_manifest_txn(t->rtxn, t->owner, last, &t->prevm, cause);
}

static int
ckpt_copies_has_base(void *arg, const struct mentry *e)
{
	struct ckpt_take *t = arg;
	char *why = NULL;
	int rc = ckpt_has_base(t, e, &why);

	/* an index that cannot tell: take it as based (nothing captured) */
	free(why);
	return rc != 0;
}

/* Takes the copies of the real tree out of the scan (copies.c); bases for
 * those found without one. */
static int
ckpt_copies(struct ckpt_take *t, char **cause)
{
	struct copies_bases has = { ckpt_copies_has_base, t };
	size_t taken, i;

	if (t->lowerfd == -1)
		return 0;
	if (copies_load(t->rtxn, t->owner, &t->copies, cause) != 0 ||
	    copies_filter(&t->copies, &t->cur, t->upperfd, &t->lowerp,
	    t->opts->copied, t->opts->ncopied, &has, &taken, cause) != 0)
		return -1;
	for (i = 0; i < t->copies.bases.n; i++) {
		struct mentry *b = &t->copies.bases.v[i];

		b->has_content = 0;
		manifest_add(&t->bases, b);
	}
	return 0;
}

/* Everything before the commit. 0, 1 when nothing changed, -1. */
static int
ckpt_prepare(struct ckpt_take *t, struct ckpt_commit *c, char **cause)
{
	int changed;

	if (index_read_begin(t->st->index, &t->rtxn, cause) != 0 ||
	    ckpt_load_prev(t, cause) != 0)
		return -1;
	if (dirtree_scan(t->upperfd, t->upper, DIRTREE_UPPER, &t->note,
	    &t->undo, &t->cur, cause) != 0 ||
	    ckpt_copies(t, cause) != 0 ||
	    ckpt_real_plan(t, cause) != 0 ||
	    ckpt_fill(t, cause) != 0 || ckpt_bases(t, cause) != 0 ||
	    ckpt_queue_flush(t, cause) != 0)
		return -1;
	ckpt_queue_stop(t);
	ckpt_prehash_free(t);
	index_txn_abort(t->rtxn);
	t->rtxn = NULL;
	c->number = t->has_prev ? t->prev.number + 1 : 0;
	changed = ckpt_compare(t, c);
	if (t->has_prev && !changed && !t->opts->force)
		return 1;
	ckpt_plan_delta(t, c);
	/* No frame stayed: nothing to make durable before the commit. */
	if (t->pw != NULL && pack_writer_appended(t->pw) > 0 &&
	    pack_writer_sync(t->pw, cause) != 0) {
		int error = errno;

		/* the gathered frames are written here: a full disk said
		 * as it is said while a file is stored */
		if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
			char *why = *cause;

			*cause = xasprintf("%s while writing the pack (%s)",
			    error == EFBIG ? "file too large" :
			    "no space left on device", why);
			free(why);
		}
		errno = error;
		return -1;
	}
	return 0;
}

static void
ckpt_take_free(struct ckpt_take *t)
{
	ckpt_queue_stop(t);
	ckpt_prehash_free(t);
	index_txn_abort(t->rtxn);
	pack_writer_close(t->pw);
	ckpt_free(&t->prev);
	manifest_free(&t->prevm);
	manifest_free(&t->cur);
	manifest_free(&t->bases);
	copies_free(&t->copies);
	ckpt_real_free(t);
	blob_set_free(&t->blobs);
	buf_free(&t->data);
	buf_free(&t->note);
	dirtree_parent_reset(&t->lowerp);
	dirtree_parent_reset(&t->upperp);
	if (t->upperfd != -1) {
		dirtree_undo(t->upperfd, &t->undo);
		close(t->upperfd);
	}
	if (t->lowerfd != -1)
		close(t->lowerfd);
}

static int
ckpt_take_locked(struct ckpt_take *t, struct ckpt *out, char **cause)
{
	struct ckpt_commit c;
	char *why = NULL;
	int rc;

	memset(&c, 0, sizeof c);
	c.t = t;
	c.time = (int64_t)time(NULL);
	rc = ckpt_prepare(t, &c, cause);
	if (rc == 0 && index_write(t->st->index, ckpt_commit_txn, &c,
	    cause) != 0)
		rc = -1;
	if (rc == 0)
		ckpt_fill_out(&c, out);
	/* Nothing committed: the appended frames are garbage. */
	if (rc != 0 && t->pw != NULL && pack_writer_discard(t->pw, &why) != 0)
		free(why);
	free(c.delta);
	return rc;
}

int
checkpoint_take(struct store *st, uint32_t owner, const char *upper,
    const char *lower, const struct ckpt_options *opts, struct ckpt *out,
    char **cause)
{
	static const struct ckpt_options defaults = { NULL, NULL, 0, 0,
	    CKPT_NONE, NULL, 0 };
	struct ckpt_take t;
	int rc = -1;

	if (opts == NULL)
		opts = &defaults;
	memset(out, 0, sizeof *out);
	memset(&t, 0, sizeof t);
	buf_init(&t.data);
	t.st = st;
	t.owner = owner;
	t.opts = opts;
	t.upper = upper;
	t.lowerfd = -1;
	t.upperfd = ckpt_open_root(upper, "scratch", cause);
	if (t.upperfd == -1)
		return -1;
	if (lower != NULL &&
	    (t.lowerfd = ckpt_open_root(lower, "real tree", cause)) == -1) {
		close(t.upperfd);
		return -1;
	}
	dirtree_parent_init(&t.lowerp, t.lowerfd);
	dirtree_parent_init(&t.upperp, t.upperfd);
	if (store_lock(st, cause) == 0) {
		rc = ckpt_take_locked(&t, out, cause);
		ckpt_take_free(&t);
		store_unlock(st);
	} else
		ckpt_take_free(&t);
	return rc;
}

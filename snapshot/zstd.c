/*
 * zstd frames: the only file that includes zstd.h. Each blob is one
 * independent frame with its content size and checksum. Small contents are
 * compressed from memory; big files are compressed while they are streamed
 * (never read whole into memory) and hashed on the way, on a thread of
 * their own.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "snapshot/snapshot.h"

#define ZSTD_CHUNK (128 * 1024)
#define ZSTD_BIG_CHUNK (1024 * 1024)        /* reads of hashed-aside files */
#define ZSTD_RING 4                         /* chunks the hasher may lag */
#define ZSTD_HASHER_MIN ((uint64_t)8 << 20) /* hash on a thread above */

/*
 * What a thread keeps from one frame to the next: creating a context and
 * two 128 KiB buffers (which malloc maps and unmaps) for every frame cost
 * more than compressing a small file. Kept until the thread exits.
 */
static _Thread_local ZSTD_CCtx *zstd_cctx;
static _Thread_local char *zstd_ibuf, *zstd_obuf;
/* The same for reading frames (a rollback reads one per file); busy while
 * a read uses them: a sink that reads a frame itself gets its own. */
static _Thread_local ZSTD_DCtx *zstd_dctx;
static _Thread_local char *zstd_dibuf, *zstd_dobuf;
static _Thread_local int zstd_dbusy;

static int
zstd_fail(const char *what, size_t rc, char **cause)
{
	*cause = xasprintf("%s: %s", what, ZSTD_getErrorName(rc));
	errno = EIO;
	return -1;
}

/* The thread's context, parameters reset; threads > 0: a context of its
 * own with that many workers (zstd_cctx_done frees it). */
static ZSTD_CCtx *
zstd_cctx_get(int level, int threads, size_t *rc)
{
	ZSTD_CCtx *cctx;

	if (threads > 0)
		cctx = ZSTD_createCCtx();
	else {
		if (zstd_cctx == NULL)
			zstd_cctx = ZSTD_createCCtx();
		cctx = zstd_cctx;
	}
	if (cctx == NULL)
		fatalx("cannot create a zstd context");
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	*rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(*rc))
		*rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	/* Worker threads are optional: a libzstd without them still works. */
	if (!ZSTD_isError(*rc) && threads > 0)
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, threads);
	return cctx;
}

static void
zstd_cctx_done(ZSTD_CCtx *cctx)
{
	if (cctx != zstd_cctx)
		ZSTD_freeCCtx(cctx);
}

int
zstd_frame_compress(const void *src, size_t n, int level, struct buf *out,
    char **cause)
{
	ZSTD_CCtx *cctx;
	size_t rc;

	cctx = zstd_cctx_get(level, 0, &rc);
	if (ZSTD_isError(rc))
		return zstd_fail("zstd parameters", rc, cause);
	buf_grow(out, ZSTD_compressBound(n));
	rc = ZSTD_compress2(cctx, out->data + out->len, out->cap - out->len - 1,
	    src, n);
	if (ZSTD_isError(rc))
		return zstd_fail("zstd compression", rc, cause);
	out->len += rc;
	out->data[out->len] = '\0';
	return 0;
}

void
zstd_thread_done(void)
{
	ZSTD_freeCCtx(zstd_cctx);
	zstd_cctx = NULL;
	free(zstd_ibuf);
	free(zstd_obuf);
	zstd_ibuf = zstd_obuf = NULL;
	ZSTD_freeDCtx(zstd_dctx);
	zstd_dctx = NULL;
	free(zstd_dibuf);
	free(zstd_dobuf);
	zstd_dibuf = zstd_dobuf = NULL;
}

static int
zstd_write_all(int fd, const void *p, size_t n, char **cause)
{
	const char *at = p;

	while (n > 0) {
		ssize_t w = write(fd, at, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int error = errno;

			*cause = xasprintf("cannot write: %s", strerror(error));
			errno = error;
			return -1;
		}
		at += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Feeds one input chunk (or the end) through the compressor to out_fd. */
static int
zstd_push(ZSTD_CCtx *cctx, const void *p, size_t n, ZSTD_EndDirective end,
    char *obuf, int out_fd, uint64_t *clen, char **cause)
{
	ZSTD_inBuffer in = { p, n, 0 };
	size_t left;

	do {
		ZSTD_outBuffer out = { obuf, ZSTD_CHUNK, 0 };

		left = ZSTD_compressStream2(cctx, &out, &in, end);
		if (ZSTD_isError(left))
			return zstd_fail("zstd compression", left, cause);
		if (zstd_write_all(out_fd, obuf, out.pos, cause) != 0)
			return -1;
		*clen += out.pos;
	} while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

/*
 * SHA-256 of a big file on a second thread, a few chunks behind the
 * compressor: the hash then costs no time of the compressing thread. The
 * reader fills chunk[posted % ZSTD_RING] once the hasher is done with it.
 */
struct zstd_hasher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct hash_ctx *hash;
	char *chunk[ZSTD_RING];
	size_t len[ZSTD_RING];
	uint64_t posted, hashed;
	int done;
};

static void *
zstd_hasher_main(void *arg)
{
	struct zstd_hasher *zh = arg;
	size_t i;

	pthread_mutex_lock(&zh->lock);
	for (;;) {
		while (zh->hashed == zh->posted && !zh->done)
			pthread_cond_wait(&zh->cond, &zh->lock);
		if (zh->hashed == zh->posted)
			break;
		i = zh->hashed % ZSTD_RING;
		pthread_mutex_unlock(&zh->lock);
		hash_update(zh->hash, zh->chunk[i], zh->len[i]);
		pthread_mutex_lock(&zh->lock);
		zh->hashed++;
		pthread_cond_broadcast(&zh->cond);
	}
	pthread_mutex_unlock(&zh->lock);
	return NULL;
}

/* Starts the hasher; 0 when no thread could be started (hash inline). */
static int
zstd_hasher_start(struct zstd_hasher *zh, struct hash_ctx *h)
{
	int i;

	memset(zh, 0, sizeof *zh);
	zh->hash = h;
	pthread_mutex_init(&zh->lock, NULL);
	pthread_cond_init(&zh->cond, NULL);
	for (i = 0; i < ZSTD_RING; i++)
		zh->chunk[i] = xmalloc(ZSTD_BIG_CHUNK);
	if (pthread_create(&zh->thread, NULL, zstd_hasher_main, zh) == 0)
		return 1;
	for (i = 0; i < ZSTD_RING; i++)
		free(zh->chunk[i]);
	pthread_cond_destroy(&zh->cond);
	pthread_mutex_destroy(&zh->lock);
	return 0;
}

/* The chunk to read into next, once the hasher is done with it. */
static char *
zstd_hasher_slot(struct zstd_hasher *zh)
{
	pthread_mutex_lock(&zh->lock);
	while (zh->posted - zh->hashed >= ZSTD_RING)
		pthread_cond_wait(&zh->cond, &zh->lock);
	pthread_mutex_unlock(&zh->lock);
	return zh->chunk[zh->posted % ZSTD_RING];
}

static void
zstd_hasher_post(struct zstd_hasher *zh, size_t n)
{
	pthread_mutex_lock(&zh->lock);
	zh->len[zh->posted % ZSTD_RING] = n;
	zh->posted++;
	pthread_cond_broadcast(&zh->cond);
	pthread_mutex_unlock(&zh->lock);
}

/* Waits until everything posted is hashed and ends the thread. */
static void
zstd_hasher_stop(struct zstd_hasher *zh)
{
	int i;

	pthread_mutex_lock(&zh->lock);
	zh->done = 1;
	pthread_cond_broadcast(&zh->cond);
	pthread_mutex_unlock(&zh->lock);
	pthread_join(zh->thread, NULL);
	for (i = 0; i < ZSTD_RING; i++)
		free(zh->chunk[i]);
	pthread_cond_destroy(&zh->cond);
	pthread_mutex_destroy(&zh->lock);
}

/* Reads up to want bytes (fewer only at the end of the file). */
static ssize_t
zstd_read_chunk(int fd, char *p, size_t want)
{
	size_t got = 0;
	ssize_t n;

	while (got < want) {
		n = read(fd, p + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
zstd_frame_write(int in_fd, uint64_t size, int out_fd, int level, int threads,
    unsigned char hash[HASH_LEN], uint64_t *ulen, uint64_t *clen, char **cause)
{
	struct hash_ctx *h = hash_new();
	struct zstd_hasher zh;
	ZSTD_CCtx *cctx;
	size_t rc, chunk = ZSTD_CHUNK;
	ssize_t n;
	char *ibuf;
	int error = -1, saved = EIO, aside = 0;

	*ulen = 0;
	*clen = 0;
	if (zstd_ibuf == NULL) {
		zstd_ibuf = xmalloc(ZSTD_CHUNK);
		zstd_obuf = xmalloc(ZSTD_CHUNK);
	}
	cctx = zstd_cctx_get(level, threads, &rc);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setPledgedSrcSize(cctx, size);
	if (ZSTD_isError(rc)) {
		zstd_fail("zstd parameters", rc, cause);
		goto out;
	}
	if (size >= ZSTD_HASHER_MIN && zstd_hasher_start(&zh, h)) {
		aside = 1;
		chunk = ZSTD_BIG_CHUNK;
	}
	for (;;) {
		ibuf = aside ? zstd_hasher_slot(&zh) : zstd_ibuf;
		n = zstd_read_chunk(in_fd, ibuf, chunk);
		if (n < 0) {
			saved = errno;
			*cause = xasprintf("cannot read: %s", strerror(saved));
			goto out;
		}
		if (n == 0 || *ulen + (uint64_t)n > size)
			break;
		if (aside)
			zstd_hasher_post(&zh, (size_t)n);
		else
			hash_update(h, ibuf, (size_t)n);
		*ulen += (uint64_t)n;
		if (zstd_push(cctx, ibuf, (size_t)n, ZSTD_e_continue, zstd_obuf,
		    out_fd, clen, cause) != 0) {
			saved = errno;
			goto out;
		}
	}
	if (n != 0 || *ulen != size) {
		/* The file changed size while it was read. */
		*cause = xstrdup("changed while read");
		saved = EAGAIN;
		goto out;
	}
	if (zstd_push(cctx, NULL, 0, ZSTD_e_end, zstd_obuf, out_fd, clen,
	    cause) != 0) {
		saved = errno;
		goto out;
	}
	if (aside) {
		zstd_hasher_stop(&zh);
		aside = 0;
	}
	hash_final(h, hash);
	error = 0;
out:
	if (aside)
		zstd_hasher_stop(&zh);
	hash_free(h);
	zstd_cctx_done(cctx);
	if (error != 0)
		errno = saved;
	return error;
}

int
zstd_frame_read(int fd, uint64_t offset, uint64_t clen, zstd_sink sink,
    void *arg, char **cause)
{
	int kept = !zstd_dbusy;
	ZSTD_DCtx *dctx;
	char *ibuf, *obuf;
	uint64_t done = 0;
	size_t rc = 1;
	int error = -1;

	if (kept) {
		if (zstd_dctx == NULL) {
			zstd_dctx = ZSTD_createDCtx();
			zstd_dibuf = xmalloc(ZSTD_CHUNK);
			zstd_dobuf = xmalloc(ZSTD_CHUNK);
		}
		zstd_dbusy = 1;
		dctx = zstd_dctx;
		ibuf = zstd_dibuf;
		obuf = zstd_dobuf;
	} else {
		dctx = ZSTD_createDCtx();
		ibuf = xmalloc(ZSTD_CHUNK);
		obuf = xmalloc(ZSTD_CHUNK);
	}
	if (dctx == NULL)
		fatalx("cannot create a zstd context");
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
	while (done < clen) {
		size_t want = clen - done < ZSTD_CHUNK ? (size_t)(clen - done) :
		    ZSTD_CHUNK;
		ssize_t n = pread(fd, ibuf, want, (off_t)(offset + done));
		ZSTD_inBuffer in;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*cause = xasprintf("cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0) {
			*cause = xstrdup("the pack ends inside a blob");
			goto out;
		}
		done += (uint64_t)n;
		in = (ZSTD_inBuffer){ ibuf, (size_t)n, 0 };
		while (in.pos < in.size) {
			ZSTD_outBuffer out = { obuf, ZSTD_CHUNK, 0 };

			rc = ZSTD_decompressStream(dctx, &out, &in);
			if (ZSTD_isError(rc)) {
				zstd_fail("corrupt blob", rc, cause);
				goto out;
			}
			if (out.pos > 0 && sink(obuf, out.pos, arg, cause) != 0)
				goto out;
			if (rc == 0 && in.pos < in.size) {
				*cause = xstrdup("corrupt blob: data after the frame");
				goto out;
			}
		}
	}
	/* Flush what the decoder still holds. */
	while (rc != 0) {
		ZSTD_inBuffer in = { NULL, 0, 0 };
		ZSTD_outBuffer out = { obuf, ZSTD_CHUNK, 0 };

		rc = ZSTD_decompressStream(dctx, &out, &in);
		if (ZSTD_isError(rc)) {
			zstd_fail("corrupt blob", rc, cause);
			goto out;
		}
		if (out.pos == 0 && rc != 0) {
			*cause = xstrdup("corrupt blob: truncated frame");
			goto out;
		}
		if (out.pos > 0 && sink(obuf, out.pos, arg, cause) != 0)
			goto out;
	}
	error = 0;
out:
	if (kept)
		zstd_dbusy = 0;
	else {
		ZSTD_freeDCtx(dctx);
		free(ibuf);
		free(obuf);
	}
	return error;
}

/*
 * zstd frames: the only file that includes zstd.h. Each blob is one
 * independent frame with its content size and checksum, compressed while it
 * is streamed (never read whole into memory) and hashed on the way.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "snapshot/snapshot.h"

#define ZSTD_CHUNK (128 * 1024)

static int
zstd_fail(const char *what, size_t rc, char **cause)
{
	*cause = xasprintf("%s: %s", what, ZSTD_getErrorName(rc));
	errno = EIO;
	return -1;
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

int
zstd_frame_write(int in_fd, uint64_t size, int out_fd, int level, int threads,
    unsigned char hash[HASH_LEN], uint64_t *ulen, uint64_t *clen, char **cause)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	struct hash_ctx *h = hash_new();
	char *ibuf = xmalloc(ZSTD_CHUNK), *obuf = xmalloc(ZSTD_CHUNK);
	size_t rc;
	ssize_t n;
	int error = -1, saved = EIO;

	*ulen = 0;
	*clen = 0;
	if (cctx == NULL)
		fatalx("cannot create a zstd context");
	rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(rc))
		rc = ZSTD_CCtx_setPledgedSrcSize(cctx, size);
	/* Worker threads are optional: a libzstd without them still works. */
	if (!ZSTD_isError(rc) && threads > 0)
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, threads);
	if (ZSTD_isError(rc)) {
		zstd_fail("zstd parameters", rc, cause);
		goto out;
	}
	for (;;) {
		n = read(in_fd, ibuf, ZSTD_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			*cause = xasprintf("cannot read: %s", strerror(saved));
			goto out;
		}
		if (n == 0 || *ulen + (uint64_t)n > size)
			break;
		hash_update(h, ibuf, (size_t)n);
		*ulen += (uint64_t)n;
		if (zstd_push(cctx, ibuf, (size_t)n, ZSTD_e_continue, obuf,
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
	if (zstd_push(cctx, NULL, 0, ZSTD_e_end, obuf, out_fd, clen, cause) != 0) {
		saved = errno;
		goto out;
	}
	hash_final(h, hash);
	error = 0;
out:
	hash_free(h);
	ZSTD_freeCCtx(cctx);
	free(ibuf);
	free(obuf);
	if (error != 0)
		errno = saved;
	return error;
}

int
zstd_frame_read(int fd, uint64_t offset, uint64_t clen, zstd_sink sink,
    void *arg, char **cause)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	char *ibuf = xmalloc(ZSTD_CHUNK), *obuf = xmalloc(ZSTD_CHUNK);
	uint64_t done = 0;
	size_t rc = 1;
	int error = -1;

	if (dctx == NULL)
		fatalx("cannot create a zstd context");
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
	ZSTD_freeDCtx(dctx);
	free(ibuf);
	free(obuf);
	return error;
}

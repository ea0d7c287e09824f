/*
 * Pack files: packs/NNNNNNNN.zst, append-only concatenations of zstd frames.
 * A writer appends under the store lock; readers open a pack per read.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

#define PACK_COPY_CHUNK (256 * 1024)
/* Small frames are gathered and written together: a write per frame cost
 * as much as compressing a small file. Nothing reads a frame before
 * pack_writer_sync, which writes what is gathered first. */
#define PACK_GATHER (256 * 1024)

struct pack_writer {
	struct store *st;
	uint32_t pack;
	int fd;
	char *name;       /* packs/NNNNNNNN.zst, for messages */
	uint64_t start;   /* the size when opened */
	uint64_t end;     /* the size now, with what is gathered */
	int created;      /* a new file: its directory needs an fsync */
	struct buf frame; /* pack_writer_add_data's, reused */
	struct buf out;   /* frames gathered, not written yet (end - out.len
			     is the size of the file) */
};

char *
pack_name(uint32_t number)
{
	return xasprintf("packs/%08u.zst", number);
}

static char *
pack_path(struct store *st, uint32_t number)
{
	char *name = pack_name(number), *path = path_join(st->dir, name);

	free(name);
	return path;
}

/* The number of a pack file name, or 0 when it is not one. */
static uint32_t
pack_parse_name(const char *name)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < 8; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		n = n * 10 + (uint32_t)(name[i] - '0');
	}
	if (strcmp(name + 8, ".zst") != 0)
		return 0;
	return n;
}

static int
pack_info_cmp(const void *a, const void *b)
{
	const struct pack_info *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

int
pack_list(struct store *st, struct pack_info **out, size_t *n, char **cause)
{
	char *dir = path_join(st->dir, "packs");
	struct pack_info *v = NULL;
	struct dirent *de;
	struct stat sb;
	size_t count = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT) {
			free(dir);
			return 0;
		}
		*cause = xasprintf("cannot read %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		uint32_t number = pack_parse_name(de->d_name);

		if (number == 0 ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		v = xreallocarray(v, count + 1, sizeof *v);
		v[count].number = number;
		v[count].size = (uint64_t)sb.st_size;
		count++;
	}
	closedir(d);
	free(dir);
	if (count > 0)
		qsort(v, count, sizeof *v, pack_info_cmp);
	*out = v;
	*n = count;
	return 0;
}

/* The highest pack number on disk (0: none) and its size. */
static int
pack_newest(struct store *st, uint32_t *number, uint64_t *size, char **cause)
{
	struct pack_info *v;
	size_t n;

	if (pack_list(st, &v, &n, cause) != 0)
		return -1;
	*number = n > 0 ? v[n - 1].number : 0;
	*size = n > 0 ? v[n - 1].size : 0;
	free(v);
	return 0;
}

static int
pack_writer_start(struct store *st, uint32_t number, int create,
    struct pack_writer **out, char **cause)
{
	struct pack_writer *pw;
	char *path = pack_path(st, number);
	struct stat sb;
	int fd, flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;

	fd = open(path, flags | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd == -1 || fstat(fd, &sb) != 0) {
		*cause = xasprintf("cannot open %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		free(path);
		return -1;
	}
	free(path);
	pw = xcalloc(1, sizeof *pw);
	pw->st = st;
	pw->pack = number;
	pw->fd = fd;
	pw->name = pack_name(number);
	pw->start = pw->end = (uint64_t)sb.st_size;
	pw->created = create;
	buf_init(&pw->frame);
	buf_init(&pw->out);
	*out = pw;
	return 0;
}

static int
pack_sync_path(const char *dir, char **cause)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd == -1 || fsync(fd) != 0) {
		*cause = xasprintf("cannot sync %s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	return rc;
}

int
pack_init(struct store *st, char **cause)
{
	char *dir = path_join(st->dir, "packs"), *path = pack_path(st, 1);
	int fd, rc = -1;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		*cause = xasprintf("cannot create %s: %s", dir, strerror(errno));
	else if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1 && errno != EEXIST)
		*cause = xasprintf("cannot create %s: %s", path, strerror(errno));
	else {
		if (fd != -1)
			close(fd);
		if (pack_sync_path(dir, cause) == 0 &&
		    pack_sync_path(st->dir, cause) == 0)
			rc = 0;
	}
	free(path);
	free(dir);
	return rc;
}

static int
pack_writer_begin(struct store *st, int fresh, struct pack_writer **out,
    char **cause)
{
	char *dir = path_join(st->dir, "packs");
	uint32_t number;
	uint64_t size;
	int rc = 0;

	/* a store made before pack_init was: the same, once */
	if (access(dir, F_OK) != 0)
		rc = pack_init(st, cause);
	free(dir);
	if (rc != 0 || pack_newest(st, &number, &size, cause) != 0)
		return -1;
	if (number == UINT32_MAX) {
		*cause = xstrdup("no pack numbers left");
		return -1;
	}
	if (number == 0 || fresh || size >= PACK_MAX_SIZE)
		return pack_writer_start(st, number + 1, 1, out, cause);
	return pack_writer_start(st, number, 0, out, cause);
}

int
pack_writer_open(struct store *st, struct pack_writer **out, char **cause)
{
	return pack_writer_begin(st, 0, out, cause);
}

int
pack_writer_new(struct store *st, struct pack_writer **out, char **cause)
{
	return pack_writer_begin(st, 1, out, cause);
}

/* Cuts the pack back to size after a failed append; keeps errno. */
static void
pack_writer_cut(struct pack_writer *pw, uint64_t size)
{
	int error = errno;

	if (ftruncate(pw->fd, (off_t)size) == 0)
		pw->end = size;
	errno = error;
}

static int pack_write_all(int, const char *, size_t);

/* Writes the frames gathered. On failure they are cut away with the rest
 * of the file's tail: the caller's checkpoint fails. */
static int
pack_writer_flush(struct pack_writer *pw, char **cause)
{
	uint64_t size = pw->end - pw->out.len;
	int error;

	if (pw->out.len == 0)
		return 0;
	if (pack_write_all(pw->fd, pw->out.data, pw->out.len) != 0) {
		error = errno;
		pw->end = size;
		pack_writer_cut(pw, size);
		buf_reset(&pw->out);
		*cause = xasprintf("%s: cannot write: %s", pw->name,
		    strerror(error));
		errno = error;
		return -1;
	}
	buf_reset(&pw->out);
	return 0;
}

int
pack_writer_add(struct pack_writer *pw, int fd, uint64_t size, int threads,
    unsigned char hash[HASH_LEN], struct blob_ref *ref, char **cause)
{
	uint64_t ulen, clen;
	char *why = NULL;
	int error;

	if (pack_writer_flush(pw, cause) != 0)
		return -1;
	if (zstd_frame_write(fd, size, pw->fd, PACK_LEVEL, threads, hash, &ulen,
	    &clen, &why) != 0) {
		error = errno;
		pack_writer_cut(pw, pw->end);
		if (error == EAGAIN)
			*cause = why;
		else {
			*cause = xasprintf("%s: %s", pw->name, why);
			free(why);
		}
		errno = error;
		return -1;
	}
	ref->pack = pw->pack;
	ref->offset = pw->end;
	ref->clen = clen;
	ref->size = ulen;
	pw->end += clen;
	return 0;
}

static int
pack_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
pack_writer_add_frame(struct pack_writer *pw, const void *frame, size_t clen,
    uint64_t size, struct blob_ref *ref, char **cause)
{
	int error;

	if (pw->out.len + clen <= PACK_GATHER)
		buf_add(&pw->out, frame, clen);
	else if (pack_writer_flush(pw, cause) != 0)
		return -1;
	else if (clen <= PACK_GATHER)
		buf_add(&pw->out, frame, clen);
	else if (pack_write_all(pw->fd, frame, clen) != 0) {
		error = errno;
		pack_writer_cut(pw, pw->end);
		*cause = xasprintf("%s: cannot write: %s", pw->name,
		    strerror(error));
		errno = error;
		return -1;
	}
	ref->pack = pw->pack;
	ref->offset = pw->end;
	ref->clen = clen;
	ref->size = size;
	pw->end += clen;
	return 0;
}

int
pack_writer_add_data(struct pack_writer *pw, const void *data, size_t n,
    struct blob_ref *ref, char **cause)
{
	char *why = NULL;

	buf_reset(&pw->frame);
	if (zstd_frame_compress(data, n, PACK_LEVEL, &pw->frame, &why) != 0) {
		*cause = xasprintf("%s: %s", pw->name, why);
		free(why);
		return -1;
	}
	return pack_writer_add_frame(pw, pw->frame.data, pw->frame.len, n, ref,
	    cause);
}

static int
pack_copy_bytes(int in, uint64_t offset, uint64_t len, int out, char **cause)
{
	char *chunk = xmalloc(PACK_COPY_CHUNK);
	uint64_t done = 0;
	int error = 0;

	while (done < len && error == 0) {
		size_t want = len - done < PACK_COPY_CHUNK ?
		    (size_t)(len - done) : PACK_COPY_CHUNK;
		ssize_t n = pread(in, chunk, want, (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*cause = xasprintf("cannot read: %s", n == 0 ?
			    "the pack ends inside a blob" : strerror(errno));
			error = n == 0 ? EIO : errno;
		} else if (pack_write_all(out, chunk, (size_t)n) != 0) {
			error = errno;
			*cause = xasprintf("cannot write: %s", strerror(error));
		} else
			done += (uint64_t)n;
	}
	free(chunk);
	errno = error;
	return error == 0 ? 0 : -1;
}

int
pack_writer_copy(struct pack_writer *pw, const struct blob_ref *from,
    struct blob_ref *to, char **cause)
{
	char *path, *why = NULL;
	int fd, error;

	if (pack_writer_flush(pw, cause) != 0)
		return -1;
	path = pack_path(pw->st, from->pack);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		error = errno;
		*cause = xasprintf("cannot open %s: %s", path, strerror(error));
		free(path);
		errno = error;
		return -1;
	}
	if (pack_copy_bytes(fd, from->offset, from->clen, pw->fd, &why) != 0) {
		error = errno;
		pack_writer_cut(pw, pw->end);
		*cause = xasprintf("cannot copy from %s to %s: %s", path,
		    pw->name, why);
		free(why);
		free(path);
		close(fd);
		errno = error;
		return -1;
	}
	free(path);
	close(fd);
	*to = *from;
	to->pack = pw->pack;
	to->offset = pw->end;
	pw->end += from->clen;
	return 0;
}

int
pack_writer_undo(struct pack_writer *pw, const struct blob_ref *ref,
    char **cause)
{
	if (ref->pack != pw->pack || ref->offset + ref->clen != pw->end ||
	    ref->offset < pw->start) {
		*cause = xasprintf("%s: cannot undo a frame that is not the "
		    "last one written", pw->name);
		return -1;
	}
	if (ref->clen <= pw->out.len) {   /* gathered: not written yet */
		pw->out.len -= (size_t)ref->clen;
		pw->end = ref->offset;
		return 0;
	}
	if (pack_writer_flush(pw, cause) != 0)
		return -1;
	if (ftruncate(pw->fd, (off_t)ref->offset) != 0) {
		*cause = xasprintf("cannot truncate %s: %s", pw->name,
		    strerror(errno));
		return -1;
	}
	pw->end = ref->offset;
	return 0;
}

int
pack_writer_discard(struct pack_writer *pw, char **cause)
{
	pw->end -= pw->out.len;
	buf_reset(&pw->out);
	if (pw->end == pw->start)
		return 0;
	if (ftruncate(pw->fd, (off_t)pw->start) != 0) {
		*cause = xasprintf("cannot truncate %s: %s", pw->name,
		    strerror(errno));
		return -1;
	}
	pw->end = pw->start;
	return 0;
}

uint64_t
pack_writer_appended(const struct pack_writer *pw)
{
	return pw->end - pw->start;
}

static int
pack_sync_dir(struct store *st, char **cause)
{
	char *dir = path_join(st->dir, "packs");
	int rc = pack_sync_path(dir, cause);

	free(dir);
	return rc;
}

int
pack_writer_sync(struct pack_writer *pw, char **cause)
{
	if (pack_writer_flush(pw, cause) != 0)
		return -1;
	if (fdatasync(pw->fd) != 0) {
		*cause = xasprintf("cannot sync %s: %s", pw->name,
		    strerror(errno));
		return -1;
	}
	if (pw->created) {
		if (pack_sync_dir(pw->st, cause) != 0)
			return -1;
		pw->created = 0;
	}
	return 0;
}

void
pack_writer_close(struct pack_writer *pw)
{
	if (pw == NULL)
		return;
	close(pw->fd);
	free(pw->name);
	buf_free(&pw->frame);
	buf_free(&pw->out);
	free(pw);
}

int
pack_read(struct store *st, const struct blob_ref *ref, zstd_sink sink,
    void *arg, char **cause)
{
	char *name = pack_name(ref->pack), *path = path_join(st->dir, name);
	char *why = NULL;
	int fd, rc, error;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd == -1) {
		error = errno;
		if (error == ENOENT)
			*cause = xasprintf("%s is missing", name);
		else
			*cause = xasprintf("cannot open %s: %s", name,
			    strerror(error));
		free(name);
		errno = error;
		return -1;
	}
	rc = zstd_frame_read(fd, ref->offset, ref->clen, sink, arg, &why);
	error = errno;
	close(fd);
	if (rc != 0) {
		*cause = xasprintf("%s at offset %llu: %s", name,
		    (unsigned long long)ref->offset, why);
		free(why);
		errno = error == ENOENT ? EIO : error;
	}
	free(name);
	return rc;
}

int
pack_shrink(struct store *st, uint32_t pack, uint64_t size, char **cause)
{
	char *path = pack_path(st, pack);
	uint32_t newest;
	uint64_t newest_size;
	int rc;

	if (pack_newest(st, &newest, &newest_size, cause) != 0) {
		free(path);
		return -1;
	}
	if (size == 0 && pack != newest)
		rc = unlink(path);
	else
		rc = truncate(path, (off_t)size);
	if (rc != 0 && errno != ENOENT) {
		*cause = xasprintf("cannot %s %s: %s", size == 0 &&
		    pack != newest ? "remove" : "truncate", path,
		    strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

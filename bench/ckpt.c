/*
 * The checkpoint benchmark's helper (bench/bench.py runs it; not installed,
 * not part of make check). A checkpoint is taken by the supervisor in its
 * own process, so this times checkpoint_take and restore_upper themselves,
 * on a scratch laid out as an overlay leaves it after one turn.
 *
 *   ckpt gen FILE SIZE SEED
 *	a file of SIZE bytes of text-like content (words from a fixed
 *	vocabulary, picked by a PRNG seeded with SEED)
 *   ckpt gentree DIR NFILES PERDIR MINSIZE MAXSIZE SEED
 *	NFILES such files in DIR/dNNNN/, PERDIR to a directory, each of a
 *	size in [MINSIZE, MAXSIZE]
 *   ckpt floor DIR
 *	the floor of a checkpoint of DIR: walks it (a stat of every entry)
 *	and reads and compresses every regular file with zstd -3 on one core,
 *	its size pledged as zstd -3 does; prints one JSON object (wall and CPU
 *	milliseconds, bytes read and compressed)
 *   ckpt take STORE UPPER STAGED LOWER THREADS
 *	opens (creates) the store STORE, takes checkpoint 0 of the empty
 *	scratch UPPER, fills UPPER with the turn's result from STAGED (hard
 *	links, so STAGED can be used again), then times checkpoint_take of the
 *	turn (THREADS zstd workers for big files) and the ended session's
 *	rollback (the manifest of checkpoint 0 and restore_upper); prints one
 *	JSON object. An earlier session (1) of one small file in the same
 *	store (scratch UPPER.warm) comes first, checkpointed and rolled back:
 *	the timings are those of a warm process, and the store is one that
 *	has been used, as a project's store is after its first session
 *   ckpt threads
 *	the zstd workers a session's supervisor gives its checkpoints
 *
 * The floor calls libzstd directly: airlock's zstd.c also hashes, and the
 * floor is the compression alone.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "snapshot/snapshot.h"
#include "core/core.h"

#define GEN_WORDS 1024
#define GEN_CHUNK (1 << 20)
#define GEN_BACK 32
#define FLOOR_CHUNK (128 * 1024)

struct gen {
	uint64_t state;
	char *words[GEN_WORDS];
	size_t lens[GEN_WORDS];
};

static NORETURN void
ckpt_die(const char *what, const char *why)
{
	fprintf(stderr, "ckpt: %s: %s\n", what, why);
	exit(1);
}

static double
ckpt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this process, every thread (zstd's workers too). */
static double
ckpt_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static uint64_t
gen_next(struct gen *g)
{
	/* xorshift64* */
	g->state ^= g->state >> 12;
	g->state ^= g->state << 25;
	g->state ^= g->state >> 27;
	return g->state * UINT64_C(2685821657736338717);
}

/* The vocabulary is the same for every seed: only the choice of words
 * varies, as in a real tree's files. */
static void
gen_init(struct gen *g, uint64_t seed)
{
	static const char letters[] = "etaoinshrdlucmfwypvbgkjqxz_";
	size_t i, j, len;

	g->state = UINT64_C(0x9e3779b97f4a7c15);
	for (i = 0; i < GEN_WORDS; i++) {
		len = 2 + gen_next(g) % 9;
		g->words[i] = xmalloc(len + 1);
		for (j = 0; j < len; j++) {
			/* skewed towards the first letters, like text */
			uint64_t r = gen_next(g) % 27;

			g->words[i][j] = letters[(r * r) / 27];
		}
		g->words[i][len] = '\0';
		g->lens[i] = len;
	}
	g->state = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
	if (g->state == 0)
		g->state = 1;
}

static void
gen_free(struct gen *g)
{
	size_t i;

	for (i = 0; i < GEN_WORDS; i++)
		free(g->words[i]);
}

/*
 * Fills p with n bytes of lines of words: common words far more often than
 * rare ones, and now and then a line seen shortly before, so that zstd -3
 * finds in it about what it finds in source code (a ratio near 5, some
 * 200 MB/s on one core).
 */
static void
gen_fill(struct gen *g, char *p, size_t n)
{
	size_t at = 0, start, len, w, words, back[GEN_BACK], nback = 0;
	size_t backlen[GEN_BACK], i;
	uint64_t r;

	while (at < n) {
		r = gen_next(g);
		start = at;
		if (nback > 0 && r % 10 < 5) {
			i = (r >> 8) % nback;
			len = backlen[i];
			if (len > n - at)
				len = n - at;
			memmove(p + at, p + back[i], len);
			at += len;
			continue;
		}
		for (i = (r >> 4) % 4; i > 0 && at < n; i--)
			p[at++] = '\t';
		for (words = 2 + (r >> 8) % 9; words > 0 && at < n; words--) {
			r = gen_next(g);
			/* the product of uniform picks favours small ones */
			w = (r % GEN_WORDS) * ((r >> 16) % GEN_WORDS) / GEN_WORDS *
			    ((r >> 32) % GEN_WORDS) / GEN_WORDS;
			len = g->lens[w];
			if (len > n - at)
				len = n - at;
			memcpy(p + at, g->words[w], len);
			at += len;
			if (at < n)
				p[at++] = words > 1 ? ' ' : '\n';
		}
		i = nback < GEN_BACK ? nback++ : (r >> 40) % GEN_BACK;
		back[i] = start;
		backlen[i] = at - start;
	}
}

static void
gen_file(struct gen *g, int dirfd, const char *name, uint64_t size,
    char *chunk)
{
	uint64_t left = size;
	size_t n;
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (fd == -1)
		ckpt_die(name, strerror(errno));
	while (left > 0) {
		n = left > GEN_CHUNK ? GEN_CHUNK : (size_t)left;
		gen_fill(g, chunk, n);
		if (write(fd, chunk, n) != (ssize_t)n)
			ckpt_die(name, strerror(errno));
		left -= n;
	}
	if (close(fd) != 0)
		ckpt_die(name, strerror(errno));
}

static uint64_t
ckpt_number(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0')
		ckpt_die(s, "not a number");
	return v;
}

static int
ckpt_gen(int argc, char **argv)
{
	struct gen g;
	char *chunk;

	if (argc != 5)
		ckpt_die("gen", "usage: gen FILE SIZE SEED");
	gen_init(&g, ckpt_number(argv[4]));
	chunk = xmalloc(GEN_CHUNK);
	gen_file(&g, AT_FDCWD, argv[2], ckpt_number(argv[3]), chunk);
	free(chunk);
	gen_free(&g);
	return 0;
}

static int
ckpt_gentree(int argc, char **argv)
{
	struct gen g;
	uint64_t nfiles, perdir, min, max, i, size;
	char *chunk, *error = NULL, name[32];
	int rootfd, dirfd = -1;

	if (argc != 8)
		ckpt_die("gentree", "usage: gentree DIR NFILES PERDIR MINSIZE "
		    "MAXSIZE SEED");
	nfiles = ckpt_number(argv[3]);
	perdir = ckpt_number(argv[4]);
	min = ckpt_number(argv[5]);
	max = ckpt_number(argv[6]);
	if (perdir == 0 || max < min)
		ckpt_die("gentree", "bad sizes");
	gen_init(&g, ckpt_number(argv[7]));
	if (path_mkdirs(argv[2], 0755, &error) != 0)
		ckpt_die(argv[2], error);
	rootfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd == -1)
		ckpt_die(argv[2], strerror(errno));
	chunk = xmalloc(GEN_CHUNK);
	for (i = 0; i < nfiles; i++) {
		if (i % perdir == 0) {
			if (dirfd != -1)
				close(dirfd);
			snprintf(name, sizeof name, "d%04" PRIu64, i / perdir);
			if (mkdirat(rootfd, name, 0755) != 0 && errno != EEXIST)
				ckpt_die(name, strerror(errno));
			dirfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			if (dirfd == -1)
				ckpt_die(name, strerror(errno));
		}
		size = min + gen_next(&g) % (max - min + 1);
		snprintf(name, sizeof name, "f%06" PRIu64 ".txt", i);
		gen_file(&g, dirfd, name, size, chunk);
	}
	if (dirfd != -1)
		close(dirfd);
	close(rootfd);
	free(chunk);
	gen_free(&g);
	return 0;
}

/* The floor: what any checkpoint of this scratch must do at least. */
struct floor {
	ZSTD_CCtx *cctx;
	char *in, *out;
	size_t outsize;
	uint64_t entries, files, bytes, compressed;
};

static void
floor_file(struct floor *f, int dirfd, const char *name)
{
	ZSTD_inBuffer in;
	ZSTD_outBuffer out;
	ZSTD_EndDirective end;
	struct stat sb;
	ssize_t n;
	size_t left;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &sb) != 0)
		ckpt_die(name, strerror(errno));
	/* the size known, zstd sizes its tables to it, as zstd -3 does */
	ZSTD_CCtx_reset(f->cctx, ZSTD_reset_session_only);
	ZSTD_CCtx_setPledgedSrcSize(f->cctx, (unsigned long long)sb.st_size);
	do {
		n = read(fd, f->in, FLOOR_CHUNK);
		if (n < 0)
			ckpt_die(name, strerror(errno));
		f->bytes += (uint64_t)n;
		end = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
		in.src = f->in;
		in.size = (size_t)n;
		in.pos = 0;
		do {
			out.dst = f->out;
			out.size = f->outsize;
			out.pos = 0;
			left = ZSTD_compressStream2(f->cctx, &out, &in, end);
			if (ZSTD_isError(left))
				ckpt_die(name, ZSTD_getErrorName(left));
			f->compressed += out.pos;
		} while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
	} while (n > 0);
	close(fd);
	f->files++;
}

static void
floor_walk(struct floor *f, int dirfd)
{
	struct dirent *d;
	struct stat sb;
	DIR *list;
	int fd;

	if ((list = fdopendir(dirfd)) == NULL)
		ckpt_die("floor", strerror(errno));
	while ((errno = 0, d = readdir(list)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			ckpt_die(d->d_name, strerror(errno));
		f->entries++;
		if (S_ISDIR(sb.st_mode)) {
			fd = openat(dirfd, d->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1)
				ckpt_die(d->d_name, strerror(errno));
			floor_walk(f, fd);
		} else if (S_ISREG(sb.st_mode))
			floor_file(f, dirfd, d->d_name);
	}
	if (errno != 0)
		ckpt_die("floor", strerror(errno));
	closedir(list);
}

static int
ckpt_floor(int argc, char **argv)
{
	struct floor f;
	double t0, t1, c0, c1;
	int fd;

	if (argc != 3)
		ckpt_die("floor", "usage: floor DIR");
	memset(&f, 0, sizeof f);
	f.cctx = ZSTD_createCCtx();
	f.in = xmalloc(FLOOR_CHUNK);
	f.outsize = ZSTD_CStreamOutSize();
	f.out = xmalloc(f.outsize);
	ZSTD_CCtx_setParameter(f.cctx, ZSTD_c_compressionLevel, PACK_LEVEL);
	ZSTD_CCtx_setParameter(f.cctx, ZSTD_c_checksumFlag, 1);
	/* warm, as the checkpoints timed against it are */
	memset(f.in, 'x', FLOOR_CHUNK);
	ZSTD_compress2(f.cctx, f.out, f.outsize, f.in, 4096);
	c0 = ckpt_cpu_ms();
	t0 = ckpt_now_ms();
	fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		ckpt_die(argv[2], strerror(errno));
	floor_walk(&f, fd);
	t1 = ckpt_now_ms();
	c1 = ckpt_cpu_ms();
	printf("{\"floor_ms\": %.3f, \"floor_cpu_ms\": %.3f, \"entries\": %"
	    PRIu64 ", \"files\": %" PRIu64 ", \"bytes\": %" PRIu64 ", "
	    "\"compressed\": %" PRIu64 "}\n", t1 - t0, c1 - c0, f.entries,
	    f.files, f.bytes, f.compressed);
	ZSTD_freeCCtx(f.cctx);
	free(f.in);
	free(f.out);
	return 0;
}

/* Fills the directory to (open) with what from holds: directories,
 * whiteouts and symlinks made anew, files hard linked. */
static void
take_link_tree(int from, int to)
{
	struct dirent *d;
	struct stat sb;
	char target[4096];
	ssize_t n;
	DIR *list;
	int a, b;

	if ((list = fdopendir(from)) == NULL)
		ckpt_die("link", strerror(errno));
	while ((errno = 0, d = readdir(list)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fstatat(from, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			ckpt_die(d->d_name, strerror(errno));
		if (S_ISDIR(sb.st_mode)) {
			if (mkdirat(to, d->d_name, sb.st_mode & 07777) != 0)
				ckpt_die(d->d_name, strerror(errno));
			a = openat(from, d->d_name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			b = openat(to, d->d_name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			if (a == -1 || b == -1)
				ckpt_die(d->d_name, strerror(errno));
			take_link_tree(a, b);
			close(b);
		} else if (S_ISCHR(sb.st_mode)) {
			if (mknodat(to, d->d_name, sb.st_mode, sb.st_rdev) != 0)
				ckpt_die(d->d_name, strerror(errno));
		} else if (S_ISLNK(sb.st_mode)) {
			n = readlinkat(from, d->d_name, target,
			    sizeof target - 1);
			if (n < 0)
				ckpt_die(d->d_name, strerror(errno));
			target[n] = '\0';
			if (symlinkat(target, to, d->d_name) != 0)
				ckpt_die(d->d_name, strerror(errno));
		} else if (linkat(from, d->d_name, to, d->d_name, 0) != 0)
			ckpt_die(d->d_name, strerror(errno));
	}
	if (errno != 0)
		ckpt_die("link", strerror(errno));
	closedir(list);
}

/* Bytes of the files below dir: apparent sizes, and disk blocks. */
struct take_du {
	uint64_t size, disk;
};

static void
take_du(int dirfd, struct take_du *du)
{
	struct dirent *d;
	struct stat sb;
	DIR *list;
	int fd;

	if ((list = fdopendir(dirfd)) == NULL)
		ckpt_die("du", strerror(errno));
	while ((d = readdir(list)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0 ||
		    fstatat(dirfd, d->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		du->disk += (uint64_t)sb.st_blocks * 512;
		if (S_ISDIR(sb.st_mode)) {
			fd = openat(dirfd, d->d_name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			if (fd != -1)
				take_du(fd, du);
		} else
			du->size += (uint64_t)sb.st_size;
	}
	closedir(list);
}

static void
take_du_path(const char *path, struct take_du *du)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		ckpt_die(path, strerror(errno));
	memset(du, 0, sizeof *du);
	take_du(fd, du);
}

/* Entries left in the scratch after the rollback (there should be none). */
static int
take_left(const char *upper)
{
	struct dirent *d;
	DIR *list = opendir(upper);
	int n = 0;

	if (list == NULL)
		ckpt_die(upper, strerror(errno));
	while ((d = readdir(list)) != NULL) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			n++;
	}
	closedir(list);
	return n;
}

static void
take_json_string(const char *s)
{
	putchar('"');
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

/*
 * An earlier session (1; the timed one is 2, as sessions are numbered in
 * order) in the same store: a checkpoint and rollback of one small file,
 * and the checkpoint a rollback appends. So this process is as warm as a
 * supervisor after its first turn (the first checkpoint of a process also
 * pays for libcrypto's initialisation, about 2 ms here, and first page
 * faults in the libraries), and the store one that has been used: a
 * project's store holds all its sessions, and only the very first commits
 * of a new store find no freed pages in LMDB to reuse (each commit copies
 * the pages it changes; a new store's index grows by those, some 16 kB, on
 * its first commits). Returns the milliseconds the checkpoint and rollback
 * took.
 */
static double
take_warm_up(const char *store_dir, const char *upper)
{
	AUTOFREE char *wupper = xasprintf("%s.warm", upper);
	AUTOFREE char *file = path_join(wupper, "warm.txt");
	struct ckpt_options o;
	struct manifest m = { 0 };
	struct store *st;
	struct ckpt c;
	char *cause = NULL;
	double t0, t1;

	if (store_open(store_dir, 1, &st, &cause) != 0)
		ckpt_die(store_dir, cause);
	if (mkdir(wupper, 0755) != 0)
		ckpt_die(wupper, strerror(errno));
	memset(&o, 0, sizeof o);
	o.restored_from = CKPT_NONE;
	if (checkpoint_take(st, 1, wupper, NULL, &o, &c, &cause) < 0)
		ckpt_die("warm-up", cause);
	ckpt_free(&c);
	if (path_write_file(file, "warm\n", 5, 0644, &cause) != 0)
		ckpt_die(file, cause);
	t0 = ckpt_now_ms();
	if (checkpoint_take(st, 1, wupper, NULL, &o, &c, &cause) != 0 ||
	    checkpoint_manifest(st, 1, 0, &m, &cause) != 0 ||
	    restore_upper(st, wupper, &m, geteuid() != 0, &cause) != 0)
		ckpt_die("warm-up", cause != NULL ? cause : "nothing changed");
	t1 = ckpt_now_ms();
	ckpt_free(&c);
	/* the checkpoint a rollback appends, equal to 0 */
	o.force = 1;
	o.restored_from = 0;
	if (checkpoint_take(st, 1, wupper, NULL, &o, &c, &cause) != 0)
		ckpt_die("warm-up", cause);
	ckpt_free(&c);
	manifest_free(&m);
	store_close(st);
	if (path_remove_tree(wupper, &cause) != 0)
		ckpt_die("warm-up", cause);
	return t1 - t0;
}

static int
ckpt_take(int argc, char **argv)
{
	struct ckpt_options o;
	struct ckpt c0, c;
	struct manifest m = { 0 };
	struct store *st;
	char *cause = NULL;
	const char *store_dir, *upper, *staged, *lower;
	struct take_du before, after;
	double t0, t1, t2, t3, t4, t5, c2, c3, cold;
	int from, to, rc;

	if (argc != 7)
		ckpt_die("take", "usage: take STORE UPPER STAGED LOWER THREADS");
	store_dir = argv[2];
	upper = argv[3];
	staged = argv[4];
	lower = argv[5];
	cold = take_warm_up(store_dir, upper);
	if (store_open(store_dir, 1, &st, &cause) != 0)
		ckpt_die(store_dir, cause);
	if (mkdir(upper, 0755) != 0)
		ckpt_die(upper, strerror(errno));

	memset(&o, 0, sizeof o);
	o.reason = "start";
	o.restored_from = CKPT_NONE;
	t0 = ckpt_now_ms();
	if (checkpoint_take(st, 2, upper, lower, &o, &c0, &cause) < 0)
		ckpt_die("checkpoint 0", cause);
	t1 = ckpt_now_ms();

	from = open(staged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	to = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (from == -1 || to == -1)
		ckpt_die(staged, strerror(errno));
	take_link_tree(from, to);
	close(to);
	sync();

	take_du_path(store_dir, &before);
	o.reason = "bench";
	o.threads = (int)ckpt_number(argv[6]);
	c2 = ckpt_cpu_ms();
	t2 = ckpt_now_ms();
	rc = checkpoint_take(st, 2, upper, lower, &o, &c, &cause);
	t3 = ckpt_now_ms();
	c3 = ckpt_cpu_ms();
	if (rc != 0)
		ckpt_die("checkpoint 1", rc < 0 ? cause : "nothing changed");
	take_du_path(store_dir, &after);

	t4 = ckpt_now_ms();
	if (checkpoint_manifest(st, 2, 0, &m, &cause) != 0 ||
	    restore_upper(st, upper, &m, geteuid() != 0, &cause) != 0)
		ckpt_die("rollback", cause);
	t5 = ckpt_now_ms();

	printf("{\"cold_ms\": %.3f, \"ckpt0_ms\": %.3f, \"take_ms\": %.3f, "
	    "\"take_cpu_ms\": %.3f, \"rollback_ms\": %.3f, "
	    "\"bytes\": %" PRIu64 ", \"store_growth\": %" PRIu64 ", "
	    "\"store_disk_growth\": %" PRId64 ", "
	    "\"added\": %" PRIu64 ", \"modified\": %" PRIu64 ", "
	    "\"deleted\": %" PRIu64 ", \"entries\": %" PRIu64 ", "
	    "\"left\": %d, \"note\": ", cold, t1 - t0, t3 - t2, c3 - c2, t5 - t4,
	    c.bytes,
	    after.size - before.size, (int64_t)(after.disk - before.disk),
	    c.added, c.modified, c.deleted, c.entries, take_left(upper));
	take_json_string(c.note);
	printf("}\n");
	manifest_free(&m);
	ckpt_free(&c0);
	ckpt_free(&c);
	store_close(st);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		ckpt_die("usage", "ckpt gen|gentree|floor|take|threads ...");
	if (strcmp(argv[1], "gen") == 0)
		return ckpt_gen(argc, argv);
	if (strcmp(argv[1], "gentree") == 0)
		return ckpt_gentree(argc, argv);
	if (strcmp(argv[1], "floor") == 0)
		return ckpt_floor(argc, argv);
	if (strcmp(argv[1], "take") == 0)
		return ckpt_take(argc, argv);
	if (strcmp(argv[1], "threads") == 0) {
		printf("%d\n", session_checkpoint_threads());
		return 0;
	}
	ckpt_die(argv[1], "unknown command");
}

#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The live rollback plan on hand-built manifests over a real tree in a
 * temporary directory: the exact operations, and that applying them
 * (warden_apply, on a plain directory that stands for the merged view)
 * gives exactly the target view. Also the operations' wire format with
 * hostile records, and warden_apply against planted symlinks.
 */

struct fx {
	char *base;
	char *lower;
	int lowerfd;
	/* contents by hash, for FILE operations and materialized views */
	unsigned char (*hashes)[HASH_LEN];
	char **contents;
	size_t ncontents;
};

static struct fx *fx_now;

/* Removes a tree through fds, making directories writable first. */
static void
rm_at(int at, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return;
	fchmodat(at, name, 0700, 0);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rm_at(dirfd(d), de->d_name);
	}
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

static void
put_file(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char *path = path_join(dir, rel);
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(path);
}

static void
put_dir(const char *dir, const char *rel, mode_t mode)
{
	char *path = path_join(dir, rel);

	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, mode), 0);
	free(path);
}

static void
put_link(const char *dir, const char *rel, const char *target)
{
	char *path = path_join(dir, rel);

	assert_int_equal(symlink(target, path), 0);
	free(path);
}

static void
fx_content(struct fx *fx, const char *content, unsigned char hash[HASH_LEN])
{
	hash_buffer(content, strlen(content), hash);
	fx->hashes = xreallocarray(fx->hashes, fx->ncontents + 1,
	    sizeof *fx->hashes);
	fx->contents = xreallocarray(fx->contents, fx->ncontents + 1,
	    sizeof *fx->contents);
	memcpy(fx->hashes[fx->ncontents], hash, HASH_LEN);
	fx->contents[fx->ncontents++] = xstrdup(content);
}

static const char *
fx_lookup(const struct fx *fx, const unsigned char hash[HASH_LEN])
{
	size_t i;

	for (i = 0; i < fx->ncontents; i++) {
		if (memcmp(fx->hashes[i], hash, HASH_LEN) == 0)
			return fx->contents[i];
	}
	fail_msg("no content for a hash");
	return NULL;
}

static int
fx_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *fx = xcalloc(1, sizeof *fx);

	fx->base = xasprintf("%s/test_rollback.XXXXXX", tmp != NULL &&
	    *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(fx->base) == NULL)
		return -1;
	fx->lower = path_join(fx->base, "lower");
	put_dir(fx->base, "lower", 0755);
	put_file(fx->lower, "a.txt", "hello\n", 0644);
	put_dir(fx->lower, "empty", 0755);
	put_link(fx->lower, "link", "a.txt");
	put_link(fx->lower, "out", "/etc");
	put_file(fx->lower, "run.sh", "#!/bin/sh\necho hi\n", 0755);
	put_dir(fx->lower, "src", 0755);
	put_dir(fx->lower, "src/deep", 0755);
	put_file(fx->lower, "src/deep/lines.txt", "one\n", 0644);
	put_file(fx->lower, "src/main.c", "int main;\n", 0644);
	fx->lowerfd = open(fx->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fx->lowerfd < 0)
		return -1;
	fx_now = fx;
	*state = fx;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *fx = *state;
	size_t i;

	close(fx->lowerfd);
	rm_at(AT_FDCWD, fx->base);
	for (i = 0; i < fx->ncontents; i++)
		free(fx->contents[i]);
	free(fx->contents);
	free(fx->hashes);
	free(fx->lower);
	free(fx->base);
	free(fx);
	fx_now = NULL;
	return 0;
}

/* Manifest builders: one entry each, then m_done sorts. */
static void
m_add(struct manifest *m, const char *path, enum mentry_kind kind,
    mode_t mode)
{
	struct mentry e;

	memset(&e, 0, sizeof e);
	e.path = (char *)path;
	e.pathlen = strlen(path);
	e.kind = kind;
	e.mode = mode;
	manifest_add(m, &e);
}

static void
m_file(struct manifest *m, const char *path, const char *content,
    mode_t mode)
{
	struct mentry *e;

	m_add(m, path, MENTRY_FILE, S_IFREG | mode);
	e = &m->v[m->n - 1];
	e->size = strlen(content);
	e->has_content = 1;
	fx_content(fx_now, content, e->hash);
}

static void
m_dir(struct manifest *m, const char *path, mode_t mode, int opaque)
{
	m_add(m, path, MENTRY_DIR, S_IFDIR | mode);
	m->v[m->n - 1].opaque = opaque;
}

static void
m_link(struct manifest *m, const char *path, const char *target)
{
	m_add(m, path, MENTRY_SYMLINK, S_IFLNK | 0777);
	m->v[m->n - 1].target = xstrdup(target);
}

static void
m_white(struct manifest *m, const char *path)
{
	m_add(m, path, MENTRY_WHITEOUT, S_IFCHR);
}

/* An expected operation. */
struct want {
	enum rollback_kind kind;
	const char *path;
	uint32_t mode;       /* MKDIR, CHMOD, FILE */
	const char *data;    /* FILE: content; SYMLINK: target */
};

static void
ops_print(const struct rollback_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		print_message("  %s \"%s\" %04o %s\n",
		    rollback_kind_name(p->v[i].kind), p->v[i].path,
		    (unsigned)p->v[i].mode,
		    p->v[i].target != NULL ? p->v[i].target : "");
}

static void
check_ops(const struct rollback_plan *p, const struct want *w, size_t n)
{
	unsigned char hash[HASH_LEN];
	size_t i;
	int ok = p->n == n;

	for (i = 0; ok && i < n; i++) {
		const struct rollback_op *op = &p->v[i];

		ok = op->kind == w[i].kind && strcmp(op->path, w[i].path) == 0;
		if (ok && (op->kind == ROLLBACK_MKDIR ||
		    op->kind == ROLLBACK_CHMOD || op->kind == ROLLBACK_FILE ||
		    op->kind == ROLLBACK_SPECIAL))
			ok = op->mode == w[i].mode;
		if (ok && op->kind == ROLLBACK_SYMLINK)
			ok = strcmp(op->target, w[i].data) == 0;
		if (ok && op->kind == ROLLBACK_FILE) {
			hash_buffer(w[i].data, strlen(w[i].data), hash);
			ok = memcmp(op->hash, hash, HASH_LEN) == 0;
		}
	}
	if (!ok) {
		print_message("the plan was:\n");
		ops_print(p);
		fail_msg("not the expected %zu operations", n);
	}
}

/* Copies the tree at from/name to to/name (files, dirs, links, modes). */
static void
copy_at(int from, int to, const char *name)
{
	struct stat sb;
	struct dirent *de;
	char target[4096], chunk[4096];
	ssize_t n;
	int in, out, sub;
	DIR *d;

	assert_int_equal(fstatat(from, name, &sb, AT_SYMLINK_NOFOLLOW), 0);
	if (S_ISLNK(sb.st_mode)) {
		n = readlinkat(from, name, target, sizeof target - 1);
		assert_true(n > 0);
		target[n] = '\0';
		assert_int_equal(symlinkat(target, to, name), 0);
	} else if (S_ISREG(sb.st_mode)) {
		in = openat(from, name, O_RDONLY);
		out = openat(to, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(in >= 0 && out >= 0);
		while ((n = read(in, chunk, sizeof chunk)) > 0)
			assert_int_equal(write(out, chunk, (size_t)n), n);
		assert_int_equal(fchmod(out, sb.st_mode & 07777), 0);
		close(in);
		close(out);
	} else if (S_ISDIR(sb.st_mode)) {
		assert_int_equal(mkdirat(to, name, 0700), 0);
		sub = openat(to, name, O_RDONLY | O_DIRECTORY);
		in = openat(from, name, O_RDONLY | O_DIRECTORY);
		assert_true(sub >= 0 && in >= 0);
		d = fdopendir(in);
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0)
				copy_at(dirfd(d), sub, de->d_name);
		}
		closedir(d);
		assert_int_equal(fchmod(sub, sb.st_mode & 07777), 0);
		close(sub);
	}
}

/* Empties a directory (an opaque one hides what lies below). */
static void
empty_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rm_at(dirfd(d), de->d_name);
	}
	closedir(d);
}

/* Copies every child of the directory from into the directory to. */
static void
copy_children(int from, int to)
{
	struct dirent *de;
	DIR *d = fdopendir(dup(from));

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			copy_at(dirfd(d), to, de->d_name);
	}
	closedir(d);
}

/* Applies one manifest entry to dir, as an overlay upper shows it. */
static void
materialize_entry(struct fx *fx, const char *dir, const struct mentry *e)
{
	char *path = path_join(dir, e->path);
	struct stat sb;
	int exists = lstat(path, &sb) == 0;

	if (e->kind == MENTRY_DIR && exists && S_ISDIR(sb.st_mode)) {
		if (e->opaque)
			empty_dir(path);
	} else {
		if (exists)
			rm_at(AT_FDCWD, path);
		switch (e->kind) {
		case MENTRY_DIR:
			assert_int_equal(mkdir(path, 0700), 0);
			break;
		case MENTRY_FILE:
			put_file(dir, e->path, fx_lookup(fx, e->hash), 0600);
			break;
		case MENTRY_SYMLINK:
			assert_int_equal(symlink(e->target, path), 0);
			break;
		case MENTRY_SPECIAL:
			/* devices stand for what a rollback never makes */
			if (S_ISFIFO(e->mode) || S_ISSOCK(e->mode))
				assert_int_equal(mknod(path, e->mode & S_IFMT,
				    0), 0);
			break;
		default:
			break;
		}
	}
	if (e->kind == MENTRY_DIR || e->kind == MENTRY_FILE ||
	    (e->kind == MENTRY_SPECIAL && (S_ISFIFO(e->mode) ||
	    S_ISSOCK(e->mode))))
		assert_int_equal(chmod(path, e->mode & 07777), 0);
	free(path);
}

/* base/name becomes the view of m over the real tree (a fresh copy). */
static char *
materialize(struct fx *fx, const struct manifest *m, const char *name)
{
	char *dir = path_join(fx->base, name);
	int to, from;
	size_t i;

	rm_at(AT_FDCWD, dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	to = open(dir, O_RDONLY | O_DIRECTORY);
	from = open(fx->lower, O_RDONLY | O_DIRECTORY);
	assert_true(to >= 0 && from >= 0);
	copy_children(from, to);
	close(from);
	close(to);
	for (i = 0; i < m->n; i++)
		materialize_entry(fx, dir, &m->v[i]);
	return dir;
}

static int
fingerprint_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line per entry below dir: path, type, mode, content or target. */
static void
fingerprint_walk(const char *dir, const char *rel, char ***lines, size_t *n)
{
	char *path = rel[0] != '\0' ? path_join(dir, rel) : xstrdup(dir);
	char target[4096], *content, *child, *cause = NULL;
	struct dirent *de;
	struct stat sb;
	size_t len;
	ssize_t tn;
	DIR *d;

	assert_int_equal(lstat(path, &sb), 0);
	*lines = xreallocarray(*lines, *n + 1, sizeof **lines);
	if (S_ISLNK(sb.st_mode)) {
		tn = readlink(path, target, sizeof target - 1);
		assert_true(tn > 0);
		target[tn] = '\0';
		(*lines)[(*n)++] = xasprintf("%s l %s", rel, target);
	} else if (S_ISREG(sb.st_mode)) {
		content = path_read_file(path, 1 << 20, &len, &cause);
		assert_non_null(content);
		(*lines)[(*n)++] = xasprintf("%s f %04o %s", rel,
		    (unsigned)(sb.st_mode & 07777), content);
		free(content);
	} else if (!S_ISDIR(sb.st_mode)) {
		(*lines)[(*n)++] = xasprintf("%s %s %04o", rel,
		    S_ISFIFO(sb.st_mode) ? "p" : S_ISSOCK(sb.st_mode) ? "s" :
		    "?", (unsigned)(sb.st_mode & 07777));
	} else {
		(*lines)[(*n)++] = xasprintf("%s d %04o", rel,
		    (unsigned)(sb.st_mode & 07777));
		d = opendir(path);
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0 ||
			    strncmp(de->d_name, ".airlock-rollback-", 18) == 0)
				continue;
			child = rel[0] != '\0' ? xasprintf("%s/%s", rel,
			    de->d_name) : xstrdup(de->d_name);
			fingerprint_walk(dir, child, lines, n);
			free(child);
		}
		closedir(d);
	}
	free(path);
}

static char *
fingerprint(const char *dir)
{
	struct buf b = BUF_INIT;
	char **lines = NULL;
	size_t n = 0, i;

	fingerprint_walk(dir, "", &lines, &n);
	qsort(lines, n, sizeof *lines, fingerprint_cmp);
	for (i = 0; i < n; i++) {
		buf_addstr(&b, lines[i]);
		buf_addch(&b, '\n');
		free(lines[i]);
	}
	free(lines);
	return buf_detach(&b, NULL);
}

/* Applies a plan to dir (the merged view stand-in) with warden_apply. */
static void
apply_plan(struct fx *fx, const struct rollback_plan *p, const char *dir)
{
	const char *content;
	char *cause = NULL;
	size_t i;
	int root = open(dir, O_PATH | O_DIRECTORY), fd;

	assert_true(root >= 0);
	for (i = 0; i < p->n; i++) {
		fd = -1;
		if (p->v[i].kind == ROLLBACK_FILE) {
			content = fx_lookup(fx, p->v[i].hash);
			fd = memfd_create("test", MFD_CLOEXEC);
			assert_true(fd >= 0);
			assert_int_equal(write(fd, content, strlen(content)),
			    (ssize_t)strlen(content));
		}
		if (warden_apply(root, fx->lowerfd, &p->v[i], fd, &cause) != 0)
			fail_msg("%s %s: %s", rollback_kind_name(p->v[i].kind),
			    p->v[i].path, cause);
		if (fd >= 0)
			close(fd);
	}
	close(root);
}

/*
 * Plans cur -> to, checks the exact operations, then applies them to the
 * view of cur and checks that it became the view of to.
 */
static void
scenario(struct fx *fx, struct manifest *cur, struct manifest *to,
    const struct want *w, size_t n, int apply)
{
	struct rollback_plan p;
	char *cause = NULL, *now, *want, *got, *expected;

	manifest_sort(cur);
	manifest_sort(to);
	if (rollback_plan_make(cur, to, fx->lower, NULL, &p, &cause) != 0)
		fail_msg("plan: %s", cause);
	check_ops(&p, w, n);
	if (apply) {
		now = materialize(fx, cur, "merged");
		want = materialize(fx, to, "want");
		apply_plan(fx, &p, now);
		got = fingerprint(now);
		expected = fingerprint(want);
		assert_string_equal(got, expected);
		free(got);
		free(expected);
		free(now);
		free(want);
	}
	rollback_plan_free(&p);
	manifest_free(cur);
	manifest_free(to);
}

#define N(w) (sizeof (w) / sizeof *(w))

static void
test_same(void **state)
{
	struct manifest cur = { 0 }, to = { 0 };

	scenario(*state, &cur, &to, NULL, 0, 1);
	m_file(&cur, "a.txt", "changed\n", 0644);
	m_dir(&cur, "src", 0755, 0);
	m_white(&cur, "src/main.c");
	m_file(&to, "a.txt", "changed\n", 0644);
	m_dir(&to, "src", 0755, 0);
	m_white(&to, "src/main.c");
	scenario(*state, &cur, &to, NULL, 0, 1);
	/* an upper copy equal to the real file is no difference */
	m_file(&cur, "a.txt", "hello\n", 0644);
	scenario(*state, &cur, &to, NULL, 0, 1);
}

/* Back to checkpoint 0: the agent's edits, additions and deletions go. */
static void
add_edits(struct manifest *m)
{
	m_file(m, "a.txt", "changed\n", 0644);
	m_white(m, "link");
	m_file(m, "new.txt", "new\n", 0644);
	m_dir(m, "newdir", 0755, 0);
	m_dir(m, "newdir/sub", 0700, 0);
	m_file(m, "newdir/sub/f", "x\n", 0600);
}

static void
test_undo_edits(void **state)
{
	static const struct want w[] = {
		{ ROLLBACK_LOWER, "a.txt", 0, NULL },
		{ ROLLBACK_LOWER, "link", 0, NULL },
		{ ROLLBACK_REMOVE, "new.txt", 0, NULL },
		{ ROLLBACK_REMOVE, "newdir", 0, NULL },
	};
	struct manifest cur = { 0 }, to = { 0 };

	add_edits(&cur);
	scenario(*state, &cur, &to, w, N(w), 1);
}

/* The bases the planner is given: one for a.txt, or an error. */
struct bases_fx {
	struct mentry base;   /* a.txt's */
	int rc;               /* what get returns for a.txt */
	int calls;
};

static int
bases_get(void *arg, const char *path, struct mentry *e, char **cause)
{
	struct bases_fx *b = arg;

	b->calls++;
	if (strcmp(path, "a.txt") != 0)
		return 1;
	if (b->rc < 0) {
		*cause = xstrdup("the base of a.txt is corrupt");
		return -1;
	}
	if (b->rc == 0)
		mentry_copy(e, &b->base);
	return b->rc;
}

/* Plans cur -> {} (the real tree) with bases; the number of operations. */
static size_t
plan_with_bases(struct fx *fx, const char *content, struct bases_fx *b,
    char **cause)
{
	struct rollback_bases bases = { bases_get, b };
	struct manifest cur = { 0 }, to = { 0 };
	struct rollback_plan p;
	size_t n;

	m_file(&cur, "a.txt", content, 0644);
	manifest_sort(&cur);
	if (rollback_plan_make(&cur, &to, fx->lower, &bases, &p, cause) != 0)
		n = (size_t)-1;
	else {
		n = p.n;
		if (n == 1) {
			assert_int_equal(p.v[0].kind, ROLLBACK_LOWER);
			assert_string_equal(p.v[0].path, "a.txt");
		}
		rollback_plan_free(&p);
	}
	manifest_free(&cur);
	return n;
}

/*
 * A real file of the same size as the scratch's is compared through its
 * base when it is still as the base recorded it (inode, size, mtime,
 * ctime), and read otherwise. The base here says "HELLO\n" while the real
 * file holds "hello\n": the plan shows which was believed.
 */
static void
test_bases(void **state)
{
	struct fx *fx = *state;
	struct bases_fx b;
	struct stat sb;
	char *cause = NULL, *path = path_join(fx->lower, "a.txt");

	assert_int_equal(lstat(path, &sb), 0);
	memset(&b, 0, sizeof b);
	b.base.path = xstrdup("a.txt");
	b.base.pathlen = 5;
	b.base.kind = MENTRY_FILE;
	b.base.mode = sb.st_mode;
	b.base.size = (uint64_t)sb.st_size;
	b.base.ino = (uint64_t)sb.st_ino;
	b.base.mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
	    sb.st_mtim.tv_nsec;
	b.base.ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 +
	    sb.st_ctim.tv_nsec;
	hash_buffer("HELLO\n", 6, b.base.hash);

	/* the real file as its base recorded it: the base is believed */
	assert_int_equal(plan_with_bases(fx, "HELLO\n", &b, &cause), 0);
	assert_int_equal(b.calls, 1);
	assert_int_equal(plan_with_bases(fx, "hallo\n", &b, &cause), 1);
	/* changed since (its mtime, or its inode): it is read */
	b.base.mtime_ns++;
	assert_int_equal(plan_with_bases(fx, "HELLO\n", &b, &cause), 1);
	assert_int_equal(plan_with_bases(fx, "hello\n", &b, &cause), 0);
	b.base.mtime_ns--;
	b.base.ino++;
	assert_int_equal(plan_with_bases(fx, "HELLO\n", &b, &cause), 1);
	b.base.ino--;
	/* a base that could not be read (zero hash): the file is read */
	memset(b.base.hash, 0, HASH_LEN);
	assert_int_equal(plan_with_bases(fx, "hello\n", &b, &cause), 0);
	/* no base: read */
	b.rc = 1;
	assert_int_equal(plan_with_bases(fx, "hello\n", &b, &cause), 0);
	assert_int_equal(plan_with_bases(fx, "HELLO\n", &b, &cause), 1);
	/* sizes differ: no base asked for, nothing read */
	b.calls = 0;
	assert_int_equal(plan_with_bases(fx, "hello, world\n", &b, &cause),
	    1);
	assert_int_equal(b.calls, 0);
	/* a corrupt base fails the plan */
	b.rc = -1;
	assert_int_equal(plan_with_bases(fx, "HELLO\n", &b, &cause),
	    (size_t)-1);
	assert_string_equal(cause, "the base of a.txt is corrupt");
	free(cause);
	mentry_free(&b.base);
	free(path);
}

static void
test_redo_edits(void **state)
{
	static const struct want w[] = {
		{ ROLLBACK_FILE, "a.txt", 0644, "changed\n" },
		{ ROLLBACK_REMOVE, "link", 0, NULL },
		{ ROLLBACK_FILE, "new.txt", 0644, "new\n" },
		{ ROLLBACK_MKDIR, "newdir", 0755, NULL },
		{ ROLLBACK_MKDIR, "newdir/sub", 0700, NULL },
		{ ROLLBACK_FILE, "newdir/sub/f", 0600, "x\n" },
	};
	struct manifest cur = { 0 }, to = { 0 };

	add_edits(&to);
	scenario(*state, &cur, &to, w, N(w), 1);
}

/* Modes only: a directory in both states stays, its mode changes. */
static void
test_modes(void **state)
{
	static const struct want w[] = {
		{ ROLLBACK_CHMOD, "run.sh", 0755, NULL },
		{ ROLLBACK_CHMOD, "src", 0755, NULL },
	};
	static const struct want back[] = {
		{ ROLLBACK_CHMOD, "run.sh", 0644, NULL },
		{ ROLLBACK_CHMOD, "src", 0700, NULL },
	};
	struct manifest cur = { 0 }, to = { 0 };

	m_dir(&cur, "src", 0700, 0);
	m_file(&cur, "run.sh", "#!/bin/sh\necho hi\n", 0644);
	scenario(*state, &cur, &to, w, N(w), 1);
	m_dir(&to, "src", 0700, 0);
	m_file(&to, "run.sh", "#!/bin/sh\necho hi\n", 0644);
	scenario(*state, &cur, &to, back, N(back), 1);
}

/* rm -rf of a directory, undone: one copy of the whole tree. */
static void
test_deleted_dir(void **state)
{
	static const struct want w[] = {
		{ ROLLBACK_LOWER, "src", 0, NULL },
	};
	static const struct want again[] = {
		{ ROLLBACK_REMOVE, "src", 0, NULL },
	};
	struct manifest cur = { 0 }, to = { 0 };

	m_white(&cur, "src");
	scenario(*state, &cur, &to, w, N(w), 1);
	m_white(&to, "src");
	scenario(*state, &cur, &to, again, N(again), 1);
}

/* A directory made opaque (deleted and made again) and back. */
static void
test_opaque(void **state)
{
	static const struct want undo[] = {
		{ ROLLBACK_LOWER, "src/deep", 0, NULL },
		{ ROLLBACK_LOWER, "src/main.c", 0, NULL },
		{ ROLLBACK_REMOVE, "src/new", 0, NULL },
	};
	static const struct want redo[] = {
		{ ROLLBACK_REMOVE, "src/deep", 0, NULL },
		{ ROLLBACK_REMOVE, "src/main.c", 0, NULL },
		{ ROLLBACK_FILE, "src/new", 0644, "n\n" },
	};
	struct manifest cur = { 0 }, to = { 0 };

	m_dir(&cur, "src", 0755, 1);
	m_file(&cur, "src/new", "n\n", 0644);
	scenario(*state, &cur, &to, undo, N(undo), 1);
	m_dir(&to, "src", 0755, 1);
	m_file(&to, "src/new", "n\n", 0644);
	scenario(*state, &cur, &to, redo, N(redo), 1);
}

/* A deleted directory back as a plain (not opaque) one with a new file:
 * the real files below must show again. */
static void
test_whiteout_to_dir(void **state)
{
	static const struct want w[] = {
		{ ROLLBACK_MKDIR, "src", 0755, NULL },
		{ ROLLBACK_LOWER, "src/deep", 0, NULL },
		{ ROLLBACK_LOWER, "src/main.c", 0, NULL },
		{ ROLLBACK_FILE, "src/new", 0644, "n\n" },
	};
	static const struct want partial[] = {
		{ ROLLBACK_LOWER, "src/deep", 0, NULL },
		{ ROLLBACK_LOWER, "src/main.c", 0, NULL },
		{ ROLLBACK_FILE, "src/new", 0644, "n\n" },
	};
	struct manifest cur = { 0 }, to = { 0 };

	m_white(&cur, "src");
	m_dir(&to, "src", 0755, 0);
	m_file(&to, "src/new", "n\n", 0644);
	scenario(*state, &cur, &to, w, N(w), 1);
	/* the directory in both, one child deleted and one changed */
	m_dir(&cur, "src", 0755, 0);
	m_white(&cur, "src/deep");
	m_file(&cur, "src/main.c", "changed\n", 0644);
	m_dir(&to, "src", 0755, 0);
	m_file(&to, "src/new", "n\n", 0644);
	scenario(*state, &cur, &to, partial, N(partial), 1);
}

static void
add_types(struct manifest *m)
{
	m_dir(m, "a.txt", 0755, 1);
	m_file(m, "a.txt/x", "x\n", 0644);
	m_file(m, "empty", "was a dir\n", 0644);
	m_link(m, "src", "a.txt");
}

static void
test_types(void **state)
{
	static const struct want undo[] = {
		{ ROLLBACK_REMOVE, "a.txt", 0, NULL },
		{ ROLLBACK_LOWER, "a.txt", 0, NULL },
		{ ROLLBACK_REMOVE, "empty", 0, NULL },
		{ ROLLBACK_LOWER, "empty", 0, NULL },
		{ ROLLBACK_REMOVE, "src", 0, NULL },
		{ ROLLBACK_LOWER, "src", 0, NULL },
	};
	static const struct want redo[] = {
		{ ROLLBACK_REMOVE, "a.txt", 0, NULL },
		{ ROLLBACK_MKDIR, "a.txt", 0755, NULL },
		{ ROLLBACK_FILE, "a.txt/x", 0644, "x\n" },
		{ ROLLBACK_REMOVE, "empty", 0, NULL },
		{ ROLLBACK_FILE, "empty", 0644, "was a dir\n" },
		{ ROLLBACK_REMOVE, "src", 0, NULL },
		{ ROLLBACK_SYMLINK, "src", 0, "a.txt" },
	};
	struct manifest cur = { 0 }, to = { 0 };

	add_types(&cur);
	scenario(*state, &cur, &to, undo, N(undo), 1);
	add_types(&to);
	scenario(*state, &cur, &to, redo, N(redo), 1);
}

/* The real tree's symlinks are copied as links, never followed, and
 * nothing is looked up through them. */
static void
test_lower_symlinks(void **state)
{
	static const struct want w[] = {
		{ ROLLBACK_REMOVE, "link", 0, NULL },
		{ ROLLBACK_LOWER, "link", 0, NULL },
		{ ROLLBACK_LOWER, "out", 0, NULL },
	};
	struct manifest cur = { 0 }, to = { 0 };

	m_dir(&cur, "link", 0755, 1);
	m_file(&cur, "link/f", "f\n", 0644);
	m_file(&cur, "out", "o\n", 0644);
	scenario(*state, &cur, &to, w, N(w), 1);
}

/* Names with any byte but NUL. */
static void
test_hostile_names(void **state)
{
	static const struct want undo[] = {
		{ ROLLBACK_REMOVE, "bad\377name", 0, NULL },
		{ ROLLBACK_REMOVE, "new\nline", 0, NULL },
		{ ROLLBACK_REMOVE, "sp ace", 0, NULL },
		{ ROLLBACK_REMOVE, "src/-rf", 0, NULL },
	};
	static const struct want redo[] = {
		{ ROLLBACK_FILE, "bad\377name", 0644, "b\n" },
		{ ROLLBACK_FILE, "new\nline", 0644, "n\n" },
		{ ROLLBACK_FILE, "sp ace", 0644, "s\n" },
		{ ROLLBACK_FILE, "src/-rf", 0600, "r\n" },
	};
	struct manifest cur = { 0 }, to = { 0 };

	m_file(&cur, "new\nline", "n\n", 0644);
	m_file(&cur, "bad\377name", "b\n", 0644);
	m_file(&cur, "sp ace", "s\n", 0644);
	m_dir(&cur, "src", 0755, 0);
	m_file(&cur, "src/-rf", "r\n", 0600);
	scenario(*state, &cur, &to, undo, N(undo), 1);
	m_file(&to, "new\nline", "n\n", 0644);
	m_file(&to, "bad\377name", "b\n", 0644);
	m_file(&to, "sp ace", "s\n", 0644);
	m_dir(&to, "src", 0755, 0);
	m_file(&to, "src/-rf", "r\n", 0600);
	scenario(*state, &cur, &to, redo, N(redo), 1);
}

/* Fifos and sockets come back, exactly (type and mode, whatever the
 * umask); devices are never made; files recorded without content stay as
 * they are. */
static void
test_specials(void **state)
{
	static const struct want make[] = {
		{ ROLLBACK_SPECIAL, "fifo", S_IFIFO | 0604, NULL },
		{ ROLLBACK_SPECIAL, "src/sock", S_IFSOCK | 0777, NULL },
	};
	static const struct want remove[] = {
		{ ROLLBACK_REMOVE, "dev", 0, NULL },
		{ ROLLBACK_REMOVE, "fifo", 0, NULL },
		{ ROLLBACK_REMOVE, "src/sock", 0, NULL },
	};
	static const struct want change[] = {
		{ ROLLBACK_SPECIAL, "a.txt", S_IFIFO | 0600, NULL },
		{ ROLLBACK_REMOVE, "empty", 0, NULL },
		{ ROLLBACK_SPECIAL, "empty", S_IFSOCK | 0644, NULL },
		{ ROLLBACK_CHMOD, "fifo", 0640, NULL },
		{ ROLLBACK_SPECIAL, "src/sock", S_IFIFO | 0644, NULL },
	};
	struct manifest cur = { 0 }, to = { 0 };

	m_add(&to, "dev", MENTRY_SPECIAL, S_IFCHR | 0644);
	m_add(&to, "fifo", MENTRY_SPECIAL, S_IFIFO | 0604);
	m_dir(&to, "src", 0755, 0);
	m_add(&to, "src/sock", MENTRY_SPECIAL, S_IFSOCK | 0777);
	scenario(*state, &cur, &to, make, N(make), 1);
	m_add(&cur, "dev", MENTRY_SPECIAL, S_IFBLK | 0644);
	m_add(&cur, "fifo", MENTRY_SPECIAL, S_IFIFO | 0604);
	m_dir(&cur, "src", 0755, 0);
	m_add(&cur, "src/sock", MENTRY_SPECIAL, S_IFSOCK | 0777);
	scenario(*state, &cur, &to, remove, N(remove), 1);
	/* over a file of the real tree, a directory, a fifo, a socket */
	m_add(&cur, "fifo", MENTRY_SPECIAL, S_IFIFO | 0600);
	m_dir(&cur, "src", 0755, 0);
	m_add(&cur, "src/sock", MENTRY_SPECIAL, S_IFSOCK | 0600);
	m_add(&to, "a.txt", MENTRY_SPECIAL, S_IFIFO | 0600);
	m_add(&to, "empty", MENTRY_SPECIAL, S_IFSOCK | 0644);
	m_add(&to, "fifo", MENTRY_SPECIAL, S_IFIFO | 0640);
	m_dir(&to, "src", 0755, 0);
	m_add(&to, "src/sock", MENTRY_SPECIAL, S_IFIFO | 0644);
	scenario(*state, &cur, &to, change, N(change), 1);
	m_add(&to, "a.txt", MENTRY_FILE, S_IFREG | 0644);
	scenario(*state, &cur, &to, NULL, 0, 0);
}

static void
check_decode_bad(const struct buf *b, size_t len)
{
	struct rollback_op op;
	char *cause = NULL;

	assert_int_equal(rollback_op_decode(b->data, len, &op, &cause), -1);
	assert_string_equal(cause, "a malformed rollback operation");
	assert_null(op.path);
	free(cause);
}

static void
encode_raw(struct buf *b, uint64_t kind, uint64_t mode, const char *path,
    size_t hlen, const char *target)
{
	static const unsigned char hash[64];

	buf_reset(b);
	rec_put_u64(b, 1);
	rec_put_u64(b, kind);
	rec_put_u64(b, mode);
	rec_put_str(b, path);
	rec_put_bytes(b, hash, hlen);
	rec_put_str(b, target);
}

static void
test_codec(void **state)
{
	static const char *const bad_paths[] = {
		"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", ".",
		"..", "a/", "a/..",
	};
	static const uint64_t bad_special[] = {
		0644, S_IFCHR | 0644, S_IFBLK | 0644, S_IFREG | 0644,
		S_IFDIR | 0755, S_IFLNK | 0777, S_IFIFO | S_IFCHR | 0644,
		S_IFIFO | 0200000 | 0644, (uint64_t)S_IFIFO << 32,
		((uint64_t)1 << 32) | S_IFIFO | 0644, S_IFMT | 0644,
	};
	struct rollback_op op, back;
	struct buf b = BUF_INIT;
	char *cause = NULL;
	size_t i;

	memset(&op, 0, sizeof op);
	op.kind = ROLLBACK_SYMLINK;
	op.path = "dir/new\nline";
	op.mode = 0;
	op.target = "../../etc/passwd";
	rollback_op_encode(&b, &op);
	assert_int_equal(rollback_op_decode(b.data, b.len, &back, &cause), 0);
	assert_int_equal(back.kind, ROLLBACK_SYMLINK);
	assert_string_equal(back.path, "dir/new\nline");
	assert_string_equal(back.target, "../../etc/passwd");
	rollback_op_clear(&back);
	/* truncated anywhere, or with a byte too many */
	for (i = 0; i < b.len; i++)
		check_decode_bad(&b, i);
	buf_addch(&b, 0);
	check_decode_bad(&b, b.len);
	for (i = 0; i < sizeof bad_paths / sizeof *bad_paths; i++) {
		encode_raw(&b, ROLLBACK_REMOVE, 0, bad_paths[i], HASH_LEN, NULL);
		check_decode_bad(&b, b.len);
	}
	encode_raw(&b, ROLLBACK_REMOVE, 0, NULL, HASH_LEN, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, 99, 0, "a", HASH_LEN, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_FILE, 010000, "a", HASH_LEN, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_FILE, 0644, "a", HASH_LEN - 1, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_SYMLINK, 0, "a", HASH_LEN, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_SYMLINK, 0, "a", HASH_LEN, "");
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_REMOVE, 0, "a", HASH_LEN, "t");
	check_decode_bad(&b, b.len);
	/* a NUL inside the path */
	buf_reset(&b);
	rec_put_u64(&b, 1);
	rec_put_u64(&b, ROLLBACK_REMOVE);
	rec_put_u64(&b, 0);
	rec_put_bytes(&b, "a\0b", 3);
	rec_put_bytes(&b, "0123456789abcdef0123456789abcdef", HASH_LEN);
	rec_put_str(&b, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_FILE, 04755, "a/b c", HASH_LEN, NULL);
	assert_int_equal(rollback_op_decode(b.data, b.len, &back, &cause), 0);
	assert_int_equal(back.mode, 04755);
	rollback_op_clear(&back);
	/* file type bits: a fifo's or a socket's, on a special only */
	for (i = 0; i < sizeof bad_special / sizeof *bad_special; i++) {
		encode_raw(&b, ROLLBACK_SPECIAL, bad_special[i], "a", HASH_LEN,
		    NULL);
		check_decode_bad(&b, b.len);
	}
	encode_raw(&b, ROLLBACK_FILE, S_IFIFO | 0644, "a", HASH_LEN, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_CHMOD, S_IFSOCK | 0644, "a", HASH_LEN, NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_SPECIAL, S_IFIFO | 0644, "a", HASH_LEN, "t");
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_SPECIAL + 1, S_IFIFO | 0644, "a", HASH_LEN,
	    NULL);
	check_decode_bad(&b, b.len);
	encode_raw(&b, ROLLBACK_SPECIAL, S_IFSOCK | 04755, "a", HASH_LEN, NULL);
	assert_int_equal(rollback_op_decode(b.data, b.len, &back, &cause), 0);
	assert_int_equal(back.kind, ROLLBACK_SPECIAL);
	assert_int_equal(back.mode, S_IFSOCK | 04755);
	rollback_op_clear(&back);
	encode_raw(&b, ROLLBACK_SPECIAL, S_IFIFO, "a", HASH_LEN, NULL);
	assert_int_equal(rollback_op_decode(b.data, b.len, &back, &cause), 0);
	assert_int_equal(back.mode, S_IFIFO);
	rollback_op_clear(&back);
	buf_free(&b);
}

/* warden_apply never goes through a symlink the agent planted. */
static void
test_apply_planted(void **state)
{
	struct fx *fx = *state;
	char *merged = path_join(fx->base, "merged");
	char *outside = path_join(fx->base, "outside");
	char *cause = NULL, *before, *after;
	struct rollback_op op;
	int root, fd;

	put_dir(fx->base, "merged", 0755);
	put_dir(fx->base, "outside", 0755);
	put_file(outside, "secret", "keep\n", 0600);
	put_link(merged, "evil", outside);
	put_link(merged, "rel", "../outside");
	put_dir(merged, "dir", 0755);
	before = fingerprint(outside);
	root = open(merged, O_PATH | O_DIRECTORY);
	fd = memfd_create("test", MFD_CLOEXEC);
	assert_int_equal(write(fd, "pwned\n", 6), 6);
	memset(&op, 0, sizeof op);
	op.mode = 0644;
	op.kind = ROLLBACK_FILE;
	op.path = "evil/secret";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, fd, &cause), -1);
	assert_non_null(strstr(cause, "evil/secret"));
	free(cause);
	op.path = "rel/new";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, fd, &cause), -1);
	free(cause);
	op.kind = ROLLBACK_MKDIR;
	op.path = "evil/d";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, -1, &cause), -1);
	free(cause);
	op.kind = ROLLBACK_CHMOD;
	op.mode = 0777;
	op.path = "evil";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, -1, &cause), -1);
	free(cause);
	op.kind = ROLLBACK_LOWER;
	op.path = "evil/src";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, -1, &cause), -1);
	free(cause);
	op.kind = ROLLBACK_SPECIAL;
	op.mode = S_IFIFO | 0644;
	op.path = "evil/fifo";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, -1, &cause), -1);
	free(cause);
	/* never a device, even when the decoder is bypassed */
	op.mode = S_IFCHR | 0666;
	op.path = "null";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, -1, &cause), -1);
	free(cause);
	op.path = "evil";
	op.kind = ROLLBACK_REMOVE;
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, -1, &cause), 0);
	after = fingerprint(outside);
	assert_string_equal(before, after);
	free(after);
	/* a file over a planted link replaces the link itself */
	op.kind = ROLLBACK_FILE;
	op.mode = 0600;
	op.path = "rel";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, fd, &cause), 0);
	after = fingerprint(outside);
	assert_string_equal(before, after);
	free(after);
	/* a file over a directory is refused; no temporary stays */
	op.path = "dir";
	assert_int_equal(warden_apply(root, fx->lowerfd, &op, fd, &cause), -1);
	free(cause);
	after = fingerprint(merged);
	assert_string_equal(after, " d 0755\ndir d 0755\nrel f 0600 pwned\n\n");
	free(after);
	free(before);
	close(fd);
	close(root);
	free(merged);
	free(outside);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_same, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_undo_edits, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_bases, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_redo_edits, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_modes, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_deleted_dir, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_opaque, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_whiteout_to_dir, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_types, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_lower_symlinks, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_names, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_specials, fx_setup,
		    fx_teardown),
		cmocka_unit_test(test_codec),
		cmocka_unit_test_setup_teardown(test_apply_planted, fx_setup,
		    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

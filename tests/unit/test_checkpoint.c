/* Unit tests of checkpoints and restore: scratch dirs built by hand with
 * what an untrusted program may write, a real store in /tmp. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/snaptest.h"

struct fixture {
	char *dir;
	char *store;
	char *upper;
	char *lower;
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	f->dir = snaptest_tmpdir("ckpt");
	f->store = path_join(f->dir, "store");
	f->upper = path_join(f->dir, "upper");
	f->lower = path_join(f->dir, "lower");
	snaptest_mkdir(f->dir, "upper", 0755);
	snaptest_mkdir(f->dir, "lower", 0755);
	f->st = snaptest_store(f->store);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	snaptest_rm(f->dir);
	free(f->dir);
	free(f->store);
	free(f->upper);
	free(f->lower);
	free(f);
	index_set_initial_mapsize((size_t)64 << 20);
	return 0;
}

static const struct mentry *
find(const struct manifest *m, const char *path)
{
	return manifest_find(m, path, strlen(path));
}

static void
manifest_of(struct fixture *f, uint32_t owner, uint32_t n, struct manifest *m)
{
	char *cause = NULL;

	if (checkpoint_manifest(f->st, owner, n, m, &cause) != 0)
		fail_msg("checkpoint_manifest: %s", cause);
}

static char *
content_of(struct fixture *f, const struct mentry *e)
{
	char *cause = NULL, *data;
	size_t len;

	assert_non_null(e);
	assert_int_equal(e->kind, MENTRY_FILE);
	assert_true(e->has_content);
	data = blob_read_buf(f->st, e->hash, SIZE_MAX, &len, &cause);
	if (data == NULL)
		fail_msg("blob_read_buf: %s", cause);
	return data;
}

/* Manifests equal in content: same paths, each mentry_same. */
static void
assert_same_manifest(const struct manifest *a, const struct manifest *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(mentry_cmp(&a->v[i], &b->v[i]), 0);
		if (!mentry_same(&a->v[i], &b->v[i]))
			fail_msg("entry %s differs", a->v[i].path);
	}
}

static void
test_hostile_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct manifest m0, m2;
	struct ckpt c;
	char *before, *after, *path, *cause = NULL;
	const struct mentry *e;

	snaptest_hostile(f->upper);
	free(snaptest_deep(f->upper, "at the bottom\n"));
	before = snaptest_listing(f->upper, 1);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.number, 0);
	if (c.note != NULL)
		fail_msg("note: %s", c.note);
	ckpt_free(&c);
	/* Reading did not change what it read (modes put back). */
	after = snaptest_listing(f->upper, 1);
	assert_string_equal(before, after);
	free(after);
	manifest_of(f, 1, 0, &m0);
	assert_int_equal(find(&m0, "fifo")->kind, MENTRY_SPECIAL);
	assert_int_equal(find(&m0, "sock")->kind, MENTRY_SPECIAL);
	assert_int_equal(find(&m0, "deleted")->kind, MENTRY_WHITEOUT);
	assert_int_equal(find(&m0, "xdeleted")->kind, MENTRY_WHITEOUT);
	assert_true(find(&m0, "opq")->opaque);
	assert_false(find(&m0, "dir")->opaque);
	assert_string_equal(find(&m0, "link-out")->target, "/etc/passwd");
	assert_int_equal(find(&m0, "empty-dir")->kind, MENTRY_DIR);
	e = find(&m0, "secret");
	assert_true(e->has_content);
	assert_int_equal(e->mode & 07777, 0);
	path = content_of(f, e);
	assert_string_equal(path, "unreadable\n");
	free(path);
	path = content_of(f, find(&m0, "line\nbreak"));
	assert_string_equal(path, "newline in the name\n");
	free(path);
	assert_true(find(&m0, "locked/inner/file")->has_content);

	/* Change everything but the specials. */
	snaptest_write_str(f->upper, "plain.txt", "changed\n");
	path = path_join(f->upper, "line\nbreak");
	unlink(path);
	free(path);
	path = path_join(f->upper, "deleted");
	unlink(path);
	free(path);
	snaptest_write_str(f->upper, "deleted", "now a file\n");
	path = path_join(f->upper, "opq");
	assert_int_equal(lremovexattr(path, geteuid() == 0 ?
	    "trusted.overlay.opaque" : "user.overlay.opaque"), 0);
	free(path);
	snaptest_symlink(f->upper, "link-out", "/elsewhere");
	path = path_join(f->upper, "dir/sub/tool");
	chmod(path, 0644);
	free(path);
	path = path_join(f->upper, "dir");
	snaptest_rm(path);
	free(path);
	snaptest_write_str(f->upper, "dir", "a file where a directory was\n");
	path = path_join(f->upper, "empty-dir");
	rmdir(path);
	free(path);
	snaptest_write_str(f->upper, "new/deep/file", "new\n");
	snaptest_whiteout(f->upper, "plain-gone");
	path = path_join(f->upper, "ro-dir");
	chmod(path, 0755);
	free(path);
	snaptest_write_str(f->upper, "ro-dir/file", "written\n");
	/* The tree past PATH_MAX goes (its top has 200 'a's). */
	path = xcalloc(1, 201);
	memset(path, 'a', 200);
	after = path_join(f->upper, path);
	snaptest_rm(after);
	free(after);
	free(path);
	after = snaptest_listing(f->upper, 1);
	assert_string_not_equal(before, after);
	free(after);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.number, 1);
	ckpt_free(&c);

	/* Back to checkpoint 0. */
	if (restore_upper(f->st, f->upper, &m0, geteuid() != 0, &cause) != 0)
		fail_msg("restore_upper: %s", cause);
	after = snaptest_listing(f->upper, 1);
	assert_string_equal(before, after);
	free(after);
	path = snaptest_deep_read(f->upper);
	assert_string_equal(path, "at the bottom\n");
	free(path);
	/* A checkpoint now holds what checkpoint 0 held. */
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.number, 2);
	ckpt_free(&c);
	manifest_of(f, 1, 2, &m2);
	assert_same_manifest(&m0, &m2);
	manifest_free(&m2);
	manifest_free(&m0);
	/* Nothing changed since: no checkpoint. */
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 1);
	assert_int_equal(c.number, 0);
	free(before);
}

static void
write_files(const char *upper, int n, int gen)
{
	char rel[64], data[4096];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(rel, sizeof rel, "d%d/file%d", i % 7, i);
		snaptest_random(data, sizeof data, (uint32_t)(i + 1000 * gen));
		snaptest_write(upper, rel, data, sizeof data, 0644);
	}
}

static void
test_incremental(void **state)
{
	struct fixture *f = *state;
	struct ckpt c;
	uint64_t bytes, grew;
	char data[50000];

	write_files(f->upper, 50, 0);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.added, 50);
	assert_int_equal(c.bytes, snaptest_pack_bytes(f->store));
	ckpt_free(&c);
	bytes = snaptest_pack_bytes(f->store);
	/* Unchanged: no checkpoint, not a byte appended. */
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 1);
	assert_int_equal(snaptest_pack_bytes(f->store), bytes);
	/* Forced: a checkpoint, still no content read again. */
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 1, &c), 0);
	assert_int_equal(c.number, 1);
	assert_int_equal(c.bytes, 0);
	assert_int_equal(c.added + c.modified + c.deleted, 0);
	ckpt_free(&c);
	/* One changed file adds its own bytes only. */
	snaptest_random(data, sizeof data, 99);
	snaptest_write(f->upper, "d3/file3", data, sizeof data, 0644);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	grew = snaptest_pack_bytes(f->store) - bytes;
	assert_int_equal(c.bytes, grew);
	assert_true(grew > sizeof data && grew < sizeof data + 200);
	assert_int_equal(c.modified, 1);
	assert_int_equal(c.added, 0);
	assert_int_equal(c.deleted, 0);
	assert_int_equal(c.entries, 57);
	ckpt_free(&c);
	/* A touched file (same content, new mtime) is no change. */
	bytes = snaptest_pack_bytes(f->store);
	snaptest_write(f->upper, "d3/file3", data, sizeof data, 0644);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 1);
	assert_int_equal(snaptest_pack_bytes(f->store), bytes);
}

static void
test_dedupe(void **state)
{
	struct fixture *f = *state;
	struct ckpt c;
	char data[30000];
	uint64_t one, bytes;

	snaptest_random(data, sizeof data, 5);
	snaptest_write(f->upper, "a", data, sizeof data, 0644);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	one = snaptest_pack_bytes(f->store);
	/* The same content under two more names, in a new checkpoint. */
	snaptest_write(f->upper, "b", data, sizeof data, 0644);
	snaptest_write(f->upper, "sub/c", data, sizeof data, 0600);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.bytes, 0);
	assert_int_equal(c.added, 2);
	ckpt_free(&c);
	assert_int_equal(snaptest_pack_bytes(f->store), one);
	/* Two equal new files in one checkpoint store one frame. */
	snaptest_random(data, sizeof data, 6);
	snaptest_write(f->upper, "x", data, sizeof data, 0644);
	snaptest_write(f->upper, "y", data, sizeof data, 0644);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	bytes = snaptest_pack_bytes(f->store) - one;
	assert_int_equal(c.bytes, bytes);
	assert_true(bytes > sizeof data && bytes < sizeof data + 200);
	ckpt_free(&c);
	/* Another owner with the same content stores nothing. */
	assert_int_equal(snaptest_take(f->st, 2, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.bytes, 0);
	ckpt_free(&c);
}

static void
test_bases(void **state)
{
	struct fixture *f = *state;
	struct mentry b;
	struct ckpt c;
	char *cause = NULL, *data, *path, *big;
	unsigned char zeros[HASH_LEN];
	struct hash_ctx *h;
	int fd;

	snaptest_write_str(f->lower, "a.txt", "old real content\n");
	snaptest_write_str(f->lower, "gone/x", "x\n");
	snaptest_write_str(f->lower, "gone/y/z", "z\n");
	snaptest_symlink(f->lower, "ln", "a.txt");
	snaptest_write_str(f->lower, "target/inside", "through a symlink\n");
	snaptest_symlink(f->lower, "via", "target");
	/* A big real file: its base keeps only the hash. */
	path = path_join(f->lower, "big");
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(ftruncate(fd, (off_t)CKPT_BASE_MAX_SIZE + 1), 0);
	close(fd);
	free(path);
	snaptest_write_str(f->upper, "big", "rewritten small\n");

	snaptest_write_str(f->upper, "a.txt", "agent's content\n");
	snaptest_whiteout(f->upper, "gone");
	snaptest_write_str(f->upper, "ln", "a file over the link\n");
	snaptest_write_str(f->upper, "new.txt", "brand new\n");
	snaptest_write_str(f->upper, "via/inside", "must not look through\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	/* The real tree had a.txt, big and ln: modified; new.txt and
	 * via/inside (the real one is behind a symlink) are new. */
	assert_int_equal(c.added, 2);
	assert_int_equal(c.modified, 3);
	assert_int_equal(c.deleted, 1); /* gone */
	ckpt_free(&c);

	assert_int_equal(checkpoint_base(f->st, 1, "a.txt", 5, &b, &cause), 0);
	data = content_of(f, &b);
	assert_string_equal(data, "old real content\n");
	free(data);
	mentry_free(&b);
	assert_int_equal(checkpoint_base(f->st, 1, "gone", 4, &b, &cause), 0);
	assert_int_equal(b.kind, MENTRY_DIR);
	mentry_free(&b);
	assert_int_equal(checkpoint_base(f->st, 1, "gone/x", 6, &b, &cause), 1);
	assert_int_equal(checkpoint_base(f->st, 1, "ln", 2, &b, &cause), 0);
	assert_int_equal(b.kind, MENTRY_SYMLINK);
	assert_string_equal(b.target, "a.txt");
	mentry_free(&b);
	assert_int_equal(checkpoint_base(f->st, 1, "new.txt", 7, &b, &cause), 0);
	assert_int_equal(b.kind, MENTRY_ABSENT);
	mentry_free(&b);
	/* via is a symlink in the real tree: never followed. */
	assert_int_equal(checkpoint_base(f->st, 1, "via/inside", 10, &b,
	    &cause), 0);
	assert_int_equal(b.kind, MENTRY_ABSENT);
	mentry_free(&b);
	assert_int_equal(checkpoint_base(f->st, 1, "big", 3, &b, &cause), 0);
	assert_int_equal(b.kind, MENTRY_FILE);
	assert_false(b.has_content);
	assert_int_equal(b.size, CKPT_BASE_MAX_SIZE + 1);
	h = hash_new();
	big = xcalloc(1, CKPT_BASE_MAX_SIZE + 1);
	hash_update(h, big, CKPT_BASE_MAX_SIZE + 1);
	hash_final(h, zeros);
	hash_free(h);
	free(big);
	assert_memory_equal(b.hash, zeros, HASH_LEN);
	mentry_free(&b);

	/* The real tree changes later: the base stays what it was. */
	snaptest_write_str(f->lower, "a.txt", "the user edited it\n");
	snaptest_write_str(f->upper, "a.txt", "agent again\n");
	snaptest_write_str(f->lower, "new.txt", "now real too\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	ckpt_free(&c);
	assert_int_equal(checkpoint_base(f->st, 1, "a.txt", 5, &b, &cause), 0);
	data = content_of(f, &b);
	assert_string_equal(data, "old real content\n");
	free(data);
	mentry_free(&b);
	assert_int_equal(checkpoint_base(f->st, 1, "new.txt", 7, &b, &cause), 0);
	assert_int_equal(b.kind, MENTRY_ABSENT);
	mentry_free(&b);
}

static void
test_counts(void **state)
{
	struct fixture *f = *state;
	struct ckpt c;
	char *path;

	snaptest_write_str(f->upper, "keep", "k\n");
	snaptest_write_str(f->upper, "edit", "1\n");
	snaptest_write_str(f->upper, "drop", "d\n");
	snaptest_write_str(f->upper, "dir/in", "i\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.added, 4);
	assert_int_equal(c.modified + c.deleted, 0);
	ckpt_free(&c);
	snaptest_write_str(f->upper, "edit", "2\n");
	path = path_join(f->upper, "drop");
	unlink(path);
	free(path);
	snaptest_whiteout(f->upper, "real-file-deleted");
	snaptest_write_str(f->upper, "fresh", "f\n");
	path = path_join(f->upper, "keep");
	chmod(path, 0600);
	free(path);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.added, 1);
	assert_int_equal(c.modified, 2);    /* edit, keep's mode */
	assert_int_equal(c.deleted, 2);     /* drop, the whiteout */
	assert_int_equal(c.number, 1);
	assert_string_equal(c.reason, "test");
	ckpt_free(&c);
	/* A whiteout going away brings the real file back: added. */
	path = path_join(f->upper, "real-file-deleted");
	unlink(path);
	free(path);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.added, 1);
	assert_int_equal(c.modified + c.deleted, 0);
	ckpt_free(&c);
}

static void
test_list_get(void **state)
{
	struct fixture *f = *state;
	struct ckpt_options o = { "agent", "turn one", 0, 1, CKPT_NONE,
	    NULL, 0 };
	struct ckpt c, *v;
	char *cause = NULL;
	size_t n;

	assert_int_equal(checkpoint_take(f->st, 7, f->upper, NULL, &o, &c,
	    &cause), 0);
	ckpt_free(&c);
	o.reason = "rollback";
	o.label = NULL;
	o.restored_from = 0;
	assert_int_equal(checkpoint_take(f->st, 7, f->upper, NULL, &o, &c,
	    &cause), 0);
	ckpt_free(&c);
	assert_int_equal(checkpoint_list(f->st, 7, &v, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].reason, "agent");
	assert_string_equal(v[0].label, "turn one");
	assert_int_equal(v[0].restored_from, CKPT_NONE);
	assert_string_equal(v[1].reason, "rollback");
	assert_null(v[1].label);
	assert_int_equal(v[1].restored_from, 0);
	assert_true(v[1].time > 1600000000);
	ckpt_free(&v[0]);
	ckpt_free(&v[1]);
	free(v);
	assert_int_equal(checkpoint_get(f->st, 7, 1, &c, &cause), 0);
	assert_int_equal(c.number, 1);
	ckpt_free(&c);
	assert_int_equal(checkpoint_get(f->st, 7, 2, &c, &cause), 1);
	assert_int_equal(checkpoint_get(f->st, 8, 0, &c, &cause), 1);
	assert_int_equal(checkpoint_list(f->st, 8, &v, &n, &cause), 0);
	assert_int_equal(n, 0);
	free(v);
	/* Forgetting removes checkpoints and entries. */
	assert_int_equal(checkpoint_forget(f->st, 7, &cause), 0);
	assert_int_equal(checkpoint_get(f->st, 7, 0, &c, &cause), 1);
}

/* Many small turns cross whole-manifest boundaries; every manifest must
 * still read back as it was taken. */
static void
test_many_turns(void **state)
{
	struct fixture *f = *state;
	struct manifest want[90], m;
	struct ckpt c;
	char rel[32], *cause = NULL;
	int i, fd;

	snaptest_write_str(f->upper, "stay", "s\n");
	for (i = 0; i < 90; i++) {
		snprintf(rel, sizeof rel, "f%d", i % 5);
		snaptest_write(f->upper, rel, &i, sizeof i, 0644);
		if (i % 10 == 9) {
			char *gone;

			snprintf(rel, sizeof rel, "f%d", (i / 10) % 5);
			gone = path_join(f->upper, rel);
			snaptest_rm(gone);
			free(gone);
		}
		assert_int_equal(snaptest_take(f->st, 3, f->upper, NULL, 1, &c),
		    0);
		assert_int_equal(c.number, (uint32_t)i);
		ckpt_free(&c);
		fd = open(f->upper, O_RDONLY | O_DIRECTORY);
		assert_int_equal(dirtree_scan(fd, f->upper, DIRTREE_UPPER, NULL,
		    NULL, &want[i], &cause), 0);
		close(fd);
	}
	for (i = 0; i < 90; i++) {
		size_t j;

		manifest_of(f, 3, (uint32_t)i, &m);
		assert_int_equal(m.n, want[i].n);
		for (j = 0; j < m.n; j++) {
			assert_string_equal(m.v[j].path, want[i].v[j].path);
			assert_int_equal(m.v[j].mtime_ns, want[i].v[j].mtime_ns);
		}
		manifest_free(&m);
		manifest_free(&want[i]);
	}
}

static void
test_restore_basics(void **state)
{
	struct fixture *f = *state;
	struct manifest m;
	struct ckpt c;
	struct stat before, after;
	char *path, *cause = NULL;

	snaptest_write_str(f->upper, "same", "untouched\n");
	snaptest_write_str(f->upper, "edit", "v1\n");
	path = path_join(f->upper, "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	free(path);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	manifest_of(f, 1, 0, &m);
	path = path_join(f->upper, "same");
	assert_int_equal(lstat(path, &before), 0);
	free(path);
	snaptest_write_str(f->upper, "edit", "v2\n");
	path = path_join(f->upper, "fifo");
	snaptest_rm(path);
	free(path);
	path = path_join(f->upper, "same");
	assert_int_equal(restore_upper(f->st, f->upper, &m, geteuid() != 0,
	    &cause), 0);
	/* The unchanged file was left alone (same inode and ctime). */
	assert_int_equal(lstat(path, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_ctim.tv_nsec, after.st_ctim.tv_nsec);
	free(path);
	path = path_join(f->upper, "edit");
	assert_int_equal(lstat(path, &after), 0);
	assert_int_equal(after.st_size, 3);
	free(path);
	/* A fifo the agent made comes back as it was. */
	path = path_join(f->upper, "fifo");
	assert_int_equal(lstat(path, &after), 0);
	assert_true(S_ISFIFO(after.st_mode));
	assert_int_equal(after.st_mode & 07777, 0600);
	free(path);
	manifest_free(&m);
	/* A manifest with a bad path is refused before anything changes. */
	m.v = xcalloc(1, sizeof *m.v);
	m.n = 1;
	m.v[0].path = xstrdup("../escape");
	m.v[0].pathlen = 9;
	m.v[0].kind = MENTRY_DIR;
	m.v[0].mode = S_IFDIR | 0755;
	assert_int_equal(restore_upper(f->st, f->upper, &m, 1, &cause), -1);
	assert_non_null(strstr(cause, "bad manifest entry"));
	free(cause);
	path = path_join(f->upper, "edit");
	assert_int_equal(lstat(path, &after), 0);
	free(path);
	manifest_free(&m);
}

static void
test_sparse(void **state)
{
	struct fixture *f = *state;
	struct ckpt_options o = { "test", NULL, 2, 0, CKPT_NONE,
	    NULL, 0 };
	const char *env = getenv("AIRLOCK_TEST_SPARSE_MB");
	off_t size = (off_t)(env != NULL ? atoi(env) : 2048) << 20;
	struct manifest m;
	struct stat sb;
	struct ckpt c;
	char *path, *cause = NULL, tail[4];
	int fd;

	path = path_join(f->upper, "sparse");
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "end", 3, size - 3), 3);
	close(fd);
	if (checkpoint_take(f->st, 1, f->upper, NULL, &o, &c, &cause) != 0)
		fail_msg("checkpoint_take: %s", cause);
	/* Zeros compress to almost nothing. */
	assert_true(c.bytes < ((uint64_t)1 << 20));
	ckpt_free(&c);
	manifest_of(f, 1, 0, &m);
	assert_int_equal(m.v[0].size, (uint64_t)size);
	unlink(path);
	assert_int_equal(restore_upper(f->st, f->upper, &m, 1, &cause), 0);
	manifest_free(&m);
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(sb.st_size, size);
	/* Holes stay holes. */
	assert_true((uint64_t)sb.st_blocks * 512 < ((uint64_t)16 << 20));
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, tail, 3, size - 3), 3);
	assert_memory_equal(tail, "end", 3);
	assert_int_equal(pread(fd, tail, 4, size / 2), 4);
	assert_memory_equal(tail, "\0\0\0\0", 4);
	close(fd);
	free(path);
}

static void
test_long_paths(void **state)
{
	struct fixture *f = *state;
	struct manifest m;
	struct ckpt c;
	char *rel, *data, *cause = NULL;
	const struct mentry *e;

	rel = snaptest_deep(f->upper, "deep content\n");
	assert_true(strlen(rel) > 4096);
	snaptest_write_str(f->lower, "unrelated", "u\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	ckpt_free(&c);
	manifest_of(f, 1, 0, &m);
	e = find(&m, rel);
	data = content_of(f, e);
	assert_string_equal(data, "deep content\n");
	free(data);
	snaptest_rm(f->upper);
	snaptest_mkdir(f->dir, "upper", 0755);
	assert_int_equal(restore_upper(f->st, f->upper, &m, 1, &cause), 0);
	data = snaptest_deep_read(f->upper);
	assert_string_equal(data, "deep content\n");
	free(data);
	manifest_free(&m);
	free(rel);
}

/* Two processes: one takes checkpoints while the other lists them and
 * reads their manifests; readers never block or see half a checkpoint. */
static void
test_two_processes(void **state)
{
	struct fixture *f = *state;
	struct ckpt *v;
	struct manifest m;
	char *cause = NULL;
	size_t n = 0, i, seen = 0;
	int status, rounds = 0;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = NULL;
		struct ckpt c;

		if (store_open(f->store, 0, &st, &cause) != 0)
			_exit(2);
		for (i = 0; i < 40; i++) {
			char rel[32];

			snprintf(rel, sizeof rel, "f%zu", i);
			snaptest_write_str(f->upper, rel, rel);
			if (snaptest_take(st, 4, f->upper, NULL, 0, &c) != 0)
				_exit(3);
			ckpt_free(&c);
		}
		store_close(st);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0 || rounds++ == 0) {
		assert_int_equal(checkpoint_list(f->st, 4, &v, &n, &cause), 0);
		assert_true(n >= seen);
		seen = n;
		if (n > 0) {
			manifest_of(f, 4, v[n - 1].number, &m);
			/* Checkpoint k holds files f0 .. fk. */
			assert_int_equal(m.n, v[n - 1].number + 1);
			manifest_free(&m);
		}
		for (i = 0; i < n; i++)
			ckpt_free(&v[i]);
		free(v);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(checkpoint_list(f->st, 4, &v, &n, &cause), 0);
	assert_int_equal(n, 40);
	for (i = 0; i < n; i++)
		ckpt_free(&v[i]);
	free(v);
}

/* A tiny map: every write must grow it and run again. */
static void
test_map_full(void **state)
{
	struct fixture *f = *state;
	struct manifest m;
	struct ckpt c;
	char *tiny = path_join(f->dir, "tiny"), rel[300];
	struct store *st;
	int i;

	index_set_initial_mapsize(64 << 10);
	st = snaptest_store(tiny);
	for (i = 0; i < 3000; i++) {
		snprintf(rel, sizeof rel, "dir%d/a-rather-long-file-name-to-fill-"
		    "pages-%0100d", i % 10, i);
		snaptest_write_str(f->upper, rel, rel + 40);
	}
	assert_int_equal(snaptest_take(st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.entries, 3010);
	ckpt_free(&c);
	store_close(st);
	st = snaptest_store(tiny);
	store_close(f->st);
	f->st = st;
	manifest_of(f, 1, 0, &m);
	assert_int_equal(m.n, 3010);
	manifest_free(&m);
	free(tiny);
}

/* A full disk while appending (RLIMIT_FSIZE, the same error path): a clear
 * error, the partial frame truncated, nothing committed. */
static void
test_disk_full(void **state)
{
	struct fixture *f = *state;
	struct ckpt_options o = { "test", NULL, 0, 0, CKPT_NONE,
	    NULL, 0 };
	struct rlimit old, lim;
	struct ckpt c, *v;
	char *data = xmalloc(1 << 20), *cause = NULL;
	uint64_t before;
	size_t n;

	snaptest_write_str(f->upper, "first", "1\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	before = snaptest_pack_bytes(f->store);
	snaptest_random(data, 1 << 20, 11);
	snaptest_write_str(f->upper, "small", "fits\n");
	snaptest_write(f->upper, "huge \n name", data, 1 << 20, 0644);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = before + 8192;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(checkpoint_take(f->st, 1, f->upper, NULL, &o, &c,
	    &cause), -1);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_non_null(strstr(cause, "while storing huge \\012 name"));
	free(cause);
	assert_int_equal(snaptest_pack_bytes(f->store), before);
	assert_int_equal(checkpoint_list(f->st, 1, &v, &n, &cause), 0);
	assert_int_equal(n, 1);
	ckpt_free(&v[0]);
	free(v);
	/* With room again, the same checkpoint goes through. */
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	assert_int_equal(c.number, 1);
	assert_int_equal(c.added, 2);
	ckpt_free(&c);
	free(data);
}

/* A real full disk: a 256 KiB tmpfs in a private mount namespace (in a
 * child, so the mount goes with it; unprivileged through a user namespace,
 * which airlock's sandbox needs anyway). */
static int
enospc_child(struct fixture *f)
{
	struct ckpt_options o = { "test", NULL, 0, 0, CKPT_NONE,
	    NULL, 0 };
	char *mnt = path_join(f->dir, "small"), *cause = NULL, *storedir;
	struct store *st;
	struct ckpt c;
	size_t n;

	if (mkdir(mnt, 0700) != 0 || (geteuid() != 0 && snaptest_userns(0) != 0))
		return 9;
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0)
		return 10;
	storedir = path_join(mnt, "store");
	if (store_open(storedir, 1, &st, &cause) != 0)
		return 11;
	if (checkpoint_take(st, 1, f->upper, NULL, &o, &c, &cause) != -1)
		return 12;
	if (strstr(cause, "no space left on device while storing") == NULL) {
		fprintf(stderr, "%s\n", cause);
		return 13;
	}
	n = 0;
	for (c.number = 0; c.number < 3; c.number++)
		n += checkpoint_get(st, 1, c.number, &c, &cause) == 0;
	return n == 0 && snaptest_pack_bytes(storedir) == 0 ? 0 : 14;
}

static void
test_disk_full_tmpfs(void **state)
{
	struct fixture *f = *state;
	char *data = xmalloc(1 << 20);
	int status;
	pid_t pid;

	snaptest_random(data, 1 << 20, 12);
	snaptest_write(f->upper, "big", data, 1 << 20, 0644);
	free(data);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(enospc_child(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A file rewritten while it is read: the checkpoint still completes, and
 * what it recorded is consistent (its blob matches its hash) or it says
 * it could not. */
struct churn {
	char *path;
	volatile int stop;
};

static void *
churn_run(void *arg)
{
	struct churn *ch = arg;
	char *data = xmalloc(4 << 20);
	unsigned int i = 0;
	int fd;

	fd = open(ch->path, O_WRONLY);
	while (!ch->stop) {
		size_t len = (size_t)(1 << 20) + (i % 7) * 100000;

		memset(data, (int)(i & 0xff), len);
		pwrite(fd, data, len, 0);
		ftruncate(fd, (off_t)len);
		i++;
	}
	close(fd);
	free(data);
	return NULL;
}

static void
test_changing_file(void **state)
{
	struct fixture *f = *state;
	struct churn ch;
	struct manifest m;
	struct ckpt c;
	pthread_t th;
	char *data, *cause = NULL;
	int i, rc;
	size_t len;

	ch.path = path_join(f->upper, "busy");
	ch.stop = 0;
	snaptest_write_str(f->upper, "busy", "start\n");
	snaptest_write_str(f->upper, "calm", "calm\n");
	assert_int_equal(pthread_create(&th, NULL, churn_run, &ch), 0);
	for (i = 0; i < 3; i++) {
		rc = snaptest_take(f->st, 1, f->upper, NULL, 1, &c);
		assert_int_equal(rc, 0);
		manifest_of(f, 1, c.number, &m);
		assert_int_equal(m.n, 2);
		if (m.v[0].has_content) {
			data = blob_read_buf(f->st, m.v[0].hash, SIZE_MAX, &len,
			    &cause);
			assert_non_null(data);
			assert_int_equal(len, m.v[0].size);
			free(data);
		} else
			assert_non_null(strstr(c.note, "busy"));
		if (c.note != NULL)
			assert_non_null(strstr(c.note, "busy: kept changing"));
		assert_true(m.v[1].has_content);
		manifest_free(&m);
		ckpt_free(&c);
	}
	ch.stop = 1;
	pthread_join(th, NULL);
	free(ch.path);
}


/* checkpoint_take with zstd workers allowed, as a supervisor calls it. */
static int
take_threads(struct store *st, uint32_t owner, const char *upper,
    const char *lower, struct ckpt *out)
{
	struct ckpt_options o = { "test", NULL, 2, 0, CKPT_NONE,
	    NULL, 0 };
	char *cause = NULL;
	int rc = checkpoint_take(st, owner, upper, lower, &o, out, &cause);

	if (rc < 0)
		fail_msg("checkpoint_take: %s", cause);
	return rc;
}

static void
assert_base_content(struct fixture *f, uint32_t owner, const char *path,
    const void *want, size_t wantlen)
{
	struct mentry b;
	char *cause = NULL, *data;
	size_t len;

	if (checkpoint_base(f->st, owner, path, strlen(path), &b, &cause) != 0)
		fail_msg("no base of %s", path);
	assert_int_equal(b.kind, MENTRY_FILE);
	assert_true(b.has_content);
	assert_int_equal(b.size, wantlen);
	data = blob_read_buf(f->st, b.hash, SIZE_MAX, &len, &cause);
	if (data == NULL)
		fail_msg("blob_read_buf %s: %s", path, cause);
	assert_int_equal(len, wantlen);
	assert_memory_equal(data, want, wantlen);
	free(data);
	mentry_free(&b);
}

/*
 * Many bases, looked up before the scratch is read: each is the real
 * file's content as it was, the same with zstd workers as without; a base
 * equal to the scratch's new content is stored once; the odd ones (empty,
 * past the size read whole, unreadable, not files) are right too.
 */
static void
test_many_bases(void **state)
{
	struct fixture *f = *state;
	char rel[64], data[5000], *path, *big, *other, *cause = NULL;
	struct manifest m1, m2;
	struct store *st2;
	struct ckpt c;
	uint64_t pack1, pack2;
	struct mentry b1, b2;
	size_t i;
	int k;

	for (k = 0; k < 40; k++) {
		snprintf(rel, sizeof rel, "src/d%d/f%d.txt", k % 9, k);
		snaptest_random(data, sizeof data, (uint32_t)k);
		snaptest_write(f->lower, rel, data, (size_t)(k * 120), 0644);
		snaptest_random(data, sizeof data, (uint32_t)k + 500);
		snaptest_write(f->upper, rel, data, (size_t)(k * 120 + 7), 0644);
	}
	/* the scratch's copy of a real file, as a rollback makes */
	snaptest_write_str(f->lower, "same.txt", "the same on both sides\n");
	snaptest_write_str(f->upper, "same.txt", "the same on both sides\n");
	/* past what is read whole: streamed */
	big = xmalloc((1 << 20) + 1);
	snaptest_random(big, (1 << 20) + 1, 77);
	snaptest_write(f->lower, "big.bin", big, (1 << 20) + 1, 0644);
	snaptest_write_str(f->upper, "big.bin", "small now\n");
	snaptest_write(f->lower, "secret", "real secret\n", 12, 0);
	snaptest_write_str(f->upper, "secret", "agent's\n");
	snaptest_symlink(f->lower, "ln", "src");
	snaptest_write_str(f->upper, "ln", "a file over a link\n");

	assert_int_equal(take_threads(f->st, 1, f->upper, f->lower, &c), 0);
	assert_int_equal(c.modified, 40 + 4);
	assert_int_equal(c.added, 0);
	if (geteuid() == 0 && c.note != NULL)
		fail_msg("note: %s", c.note);
	ckpt_free(&c);
	for (k = 0; k < 40; k++) {
		snprintf(rel, sizeof rel, "src/d%d/f%d.txt", k % 9, k);
		snaptest_random(data, sizeof data, (uint32_t)k);
		assert_base_content(f, 1, rel, data, (size_t)(k * 120));
	}
	assert_base_content(f, 1, "same.txt", "the same on both sides\n", 23);
	assert_base_content(f, 1, "big.bin", big, (1 << 20) + 1);
	if (geteuid() == 0)
		assert_base_content(f, 1, "secret", "real secret\n", 12);
	assert_int_equal(checkpoint_base(f->st, 1, "ln", 2, &b1, &cause), 0);
	assert_int_equal(b1.kind, MENTRY_SYMLINK);
	mentry_free(&b1);

	/* The same checkpoint without workers, in another store: the same
	 * manifest, the same bases, the same bytes stored. */
	other = path_join(f->dir, "store2");
	st2 = snaptest_store(other);
	assert_int_equal(snaptest_take(st2, 1, f->upper, f->lower, 0, &c), 0);
	ckpt_free(&c);
	manifest_of(f, 1, 0, &m1);
	assert_int_equal(checkpoint_manifest(st2, 1, 0, &m2, &cause), 0);
	assert_same_manifest(&m1, &m2);
	for (i = 0; i < m1.n; i++) {
		if (checkpoint_base(f->st, 1, m1.v[i].path, m1.v[i].pathlen, &b1,
		    &cause) != 0)
			continue;
		assert_int_equal(checkpoint_base(st2, 1, m1.v[i].path,
		    m1.v[i].pathlen, &b2, &cause), 0);
		if (!mentry_same(&b1, &b2))
			fail_msg("the base of %s differs", m1.v[i].path);
		mentry_free(&b1);
		mentry_free(&b2);
	}
	manifest_free(&m1);
	manifest_free(&m2);
	pack1 = snaptest_pack_bytes(f->store);
	pack2 = snaptest_pack_bytes(other);
	assert_true(pack1 == pack2);
	store_close(st2);
	free(other);

	/* Next turn: nothing new, no base read again. */
	path = path_join(f->lower, "src/d0/f0.txt");
	unlink(path);
	free(path);
	snaptest_write_str(f->upper, "src/d1/f1.txt", "again\n");
	assert_int_equal(take_threads(f->st, 1, f->upper, f->lower, &c), 0);
	assert_int_equal(c.modified, 1);
	ckpt_free(&c);
	assert_true(snaptest_pack_bytes(f->store) > pack1);
	free(big);
}

/* A real file rewritten while its base is read: the base recorded is one
 * whole version of it, never a mix, or noted. */
static void *
base_churn_run(void *arg)
{
	struct churn *ch = arg;
	char *data = xmalloc(64 * 1024);
	unsigned int i = 0;
	int fd;

	while (!ch->stop) {
		memset(data, 'a' + (int)(i++ % 2), 64 * 1024);
		fd = open(ch->path, O_WRONLY | O_TRUNC);
		if (fd == -1)
			break;
		if (write(fd, data, 64 * 1024 - (i % 2) * 1000) < 0)
			break;
		close(fd);
	}
	free(data);
	return NULL;
}

static void
test_changing_base(void **state)
{
	struct fixture *f = *state;
	char rel[32], *data, *cause = NULL;
	struct churn ch;
	struct mentry b;
	struct ckpt c;
	pthread_t th;
	size_t len, j;
	int k, round;

	for (round = 0; round < 4; round++) {
		for (k = 0; k < 8; k++) {
			snprintf(rel, sizeof rel, "r%d/f%d", round, k);
			snaptest_write_str(f->lower, rel, "real\n");
			snaptest_write_str(f->upper, rel, "new\n");
		}
		snprintf(rel, sizeof rel, "r%d/busy", round);
		snaptest_write_str(f->lower, rel, "start\n");
		snaptest_write_str(f->upper, rel, "agent\n");
		ch.path = path_join(f->lower, rel);
		ch.stop = 0;
		assert_int_equal(pthread_create(&th, NULL, base_churn_run,
		    &ch), 0);
		assert_int_equal(take_threads(f->st, 1, f->upper, f->lower, &c),
		    0);
		ch.stop = 1;
		pthread_join(th, NULL);
		free(ch.path);
		assert_int_equal(checkpoint_base(f->st, 1, rel, strlen(rel), &b,
		    &cause), 0);
		assert_int_equal(b.kind, MENTRY_FILE);
		if (b.has_content) {
			data = blob_read_buf(f->st, b.hash, SIZE_MAX, &len,
			    &cause);
			if (data == NULL)
				fail_msg("blob_read_buf: %s", cause);
			assert_int_equal(len, b.size);
			/* one version: all one byte (or the start) */
			for (j = 1; j < len && len != 6; j++)
				assert_int_equal(data[j], data[0]);
			free(data);
		} else
			assert_non_null(strstr(c.note, "busy"));
		mentry_free(&b);
		ckpt_free(&c);
		for (k = 0; k < 8; k++) {
			snprintf(rel, sizeof rel, "r%d/f%d", round, k);
			assert_base_content(f, 1, rel, "real\n", 5);
		}
	}
}

/*
 * Paths deeper than the parent cache holds open (DIRTREE_PARENT_DEPTH):
 * the base of a deep file is found, a symlink deep in the real tree is
 * never followed, and the deep scratch restores.
 */
static void
test_deep_parents(void **state)
{
	struct fixture *f = *state;
	struct buf rel = BUF_INIT, link = BUF_INIT, target = BUF_INIT;
	struct manifest m;
	struct mentry b;
	struct ckpt c;
	char *before, *after, *cause = NULL;
	int i;

	for (i = 0; i < DIRTREE_PARENT_DEPTH + 8; i++)
		buf_printf(&rel, "%sd%d", i == 0 ? "" : "/", i % 3);
	buf_add(&link, rel.data, rel.len);
	buf_addstr(&rel, "/file");
	snaptest_write_str(f->lower, rel.data, "deep real\n");
	snaptest_write_str(f->upper, rel.data, "deep agent\n");
	/* below the cache's depth: a real symlink to a real directory */
	buf_addstr(&link, "/x");
	for (i = 0; i < DIRTREE_PARENT_DEPTH + 8; i++)
		buf_addstr(&target, "../");
	buf_addstr(&target, "elsewhere");
	snaptest_write_str(f->lower, "elsewhere/y/inside", "not to be read\n");
	snaptest_symlink(f->lower, link.data, target.data);
	buf_addstr(&link, "/y/inside");
	snaptest_write_str(f->upper, link.data, "the agent's\n");
	assert_int_equal(take_threads(f->st, 1, f->upper, f->lower, &c), 0);
	ckpt_free(&c);
	buf_reset(&rel);
	for (i = 0; i < DIRTREE_PARENT_DEPTH + 8; i++)
		buf_printf(&rel, "%sd%d", i == 0 ? "" : "/", i % 3);
	buf_addstr(&rel, "/file");
	assert_base_content(f, 1, rel.data, "deep real\n", 10);
	assert_int_equal(checkpoint_base(f->st, 1, link.data, link.len, &b,
	    &cause), 0);
	assert_int_equal(b.kind, MENTRY_ABSENT);
	mentry_free(&b);

	before = snaptest_listing(f->upper, 1);
	manifest_of(f, 1, 0, &m);
	snaptest_rm(f->upper);
	snaptest_mkdir(f->dir, "upper", 0755);
	if (restore_upper(f->st, f->upper, &m, geteuid() != 0, &cause) != 0)
		fail_msg("restore_upper: %s", cause);
	after = snaptest_listing(f->upper, 1);
	assert_string_equal(before, after);
	free(before);
	free(after);
	manifest_free(&m);
	buf_free(&rel);
	buf_free(&link);
	buf_free(&target);
}

static int
blob_put_fn(struct index_txn *t, void *arg, char **cause)
{
	unsigned char hash[HASH_LEN];

	memset(hash, 0xab, sizeof hash);
	return blob_put(t, hash, arg, cause);
}

/* Format 1 records, as airlock wrote them before format 2. */
static void
v1_mentry(struct buf *b, const struct mentry *e, int gone)
{
	rec_put_u64(b, 1);
	if (gone) {
		rec_put_u64(b, 255);
	} else {
		rec_put_u64(b, e->kind);
		rec_put_u64(b, e->mode);
		rec_put_u64(b, e->size);
		rec_put_u64(b, (uint64_t)e->mtime_ns);
		rec_put_u64(b, (uint64_t)e->ctime_ns);
		rec_put_u64(b, e->ino);
		rec_put_u64(b, (e->opaque ? 1 : 0) | (e->has_content ? 2 : 0));
		if (e->kind == MENTRY_FILE)
			rec_put_bytes(b, e->hash, HASH_LEN);
		else
			rec_put_bytes(b, NULL, 0);
		rec_put_str(b, e->kind == MENTRY_SYMLINK ? e->target : NULL);
		rec_put_u64(b, e->rdev);
	}
	if (e->pathlen <= 400)
		rec_put_u64(b, 0);
	else
		rec_put_bytes(b, e->path, e->pathlen);
}

struct v1_rec {
	struct buf key, val;
};
struct v1_recs {
	struct v1_rec *v;
	size_t n;
	int db;
};

/* Collects every record of a database, rewritten as format 1. */
static int
v1_collect(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct v1_recs *r = arg;
	struct v1_rec *it;
	struct blob_ref ref;
	struct mentry e;
	int gone;

	r->v = xreallocarray(r->v, r->n + 1, sizeof *r->v);
	it = &r->v[r->n++];
	buf_init(&it->key);
	buf_init(&it->val);
	buf_add(&it->key, key, klen);
	if (r->db == INDEX_BLOBS) {
		if (blob_decode(val, vlen, &ref) != 0)
			fail_msg("a blob record does not decode");
		rec_put_u64(&it->val, 1);
		rec_put_u64(&it->val, ref.pack);
		rec_put_u64(&it->val, ref.offset);
		rec_put_u64(&it->val, ref.clen);
		rec_put_u64(&it->val, ref.size);
		return 0;
	}
	if (mentry_decode(key, klen, val, vlen, &e, &gone) != 0) {
		*cause = xstrdup("an entry does not decode");
		return -1;
	}
	v1_mentry(&it->val, &e, gone);
	mentry_free(&e);
	return 0;
}

static int
v1_rewrite(struct index_txn *t, void *arg, char **cause)
{
	static const int dbs[] = { INDEX_ENTRIES, INDEX_BLOBS };
	unsigned char one[8];
	struct v1_recs r;
	size_t i, d;
	int rc = 0;

	for (d = 0; d < 2 && rc == 0; d++) {
		memset(&r, 0, sizeof r);
		r.db = dbs[d];
		rc = index_walk(t, (enum index_db)dbs[d], NULL, 0, 0, v1_collect,
		    &r, cause);
		for (i = 0; i < r.n; i++) {
			if (rc == 0)
				rc = index_put(t, (enum index_db)dbs[d],
				    r.v[i].key.data, r.v[i].key.len,
				    r.v[i].val.data, r.v[i].val.len, cause);
			buf_free(&r.v[i].key);
			buf_free(&r.v[i].val);
		}
		free(r.v);
	}
	be64_put(one, 1);
	if (rc == 0)
		rc = index_put(t, INDEX_META, "format", 6, one, sizeof one,
		    cause);
	return rc;
}

static int
format_of(struct index_txn *t, void *arg, char **cause)
{
	const void *val;
	size_t vlen;

	if (index_get(t, INDEX_META, "format", 6, &val, &vlen, cause) != 0)
		return -1;
	*(uint64_t *)arg = be64_get(val);
	return 0;
}

/*
 * A store written in format 1 (entries and blobs as u64 fields): opened,
 * it is marked format 2; every checkpoint, deletion marker, long path and
 * base still reads the same, restores, and fsck finds nothing; the next
 * checkpoint (format 2) goes on from the old ones.
 */
static void
test_format1_store(void **state)
{
	struct fixture *f = *state;
	struct manifest m0, m1, again;
	struct buf problems = BUF_INIT;
	char name[300], longpath[1000], *cause = NULL, *before, *after;
	uint64_t format = 0;
	struct ckpt c;

	memset(name, 'L', 200);
	name[200] = '\0';
	snprintf(longpath, sizeof longpath, "%s/%s/%s", name, name, name);
	snaptest_write_str(f->lower, "kept.txt", "real kept\n");
	snaptest_write_str(f->upper, "kept.txt", "agent kept\n");
	snaptest_write_str(f->upper, "gone.txt", "soon gone\n");
	snaptest_write_str(f->upper, longpath, "at the end of a long path\n");
	snaptest_symlink(f->upper, "ln", "kept.txt");
	snaptest_whiteout(f->upper, "wh");
	snaptest_write_str(f->upper, "opq/in", "inside\n");
	snaptest_opaque(f->upper, "opq");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	ckpt_free(&c);
	before = path_join(f->upper, "gone.txt");
	assert_int_equal(unlink(before), 0);
	free(before);
	snaptest_write_str(f->upper, "kept.txt", "agent again\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	ckpt_free(&c);
	manifest_of(f, 1, 0, &m0);
	manifest_of(f, 1, 1, &m1);

	assert_int_equal(index_write(f->st->index, v1_rewrite, NULL, &cause),
	    0);
	assert_int_equal(index_write(f->st->index, format_of, &format,
	    &cause), 0);
	assert_true(format == 1);
	store_close(f->st);
	f->st = snaptest_store(f->store);
	assert_int_equal(index_write(f->st->index, format_of, &format,
	    &cause), 0);
	assert_true(format == INDEX_FORMAT_VERSION);

	manifest_of(f, 1, 0, &again);
	assert_same_manifest(&m0, &again);
	manifest_free(&again);
	manifest_of(f, 1, 1, &again);
	assert_same_manifest(&m1, &again);
	assert_null(find(&again, "gone.txt"));
	assert_true(find(&again, "opq")->opaque);
	assert_string_equal(find(&again, "ln")->target, "kept.txt");
	manifest_free(&again);
	assert_base_content(f, 1, "kept.txt", "real kept\n", 10);
	assert_int_equal(store_fsck(f->st, &problems, &cause), 0);
	assert_int_equal(problems.len, 0);

	/* rolled back to checkpoint 0 and on from there */
	if (restore_upper(f->st, f->upper, &m0, geteuid() != 0, &cause) != 0)
		fail_msg("restore_upper: %s", cause);
	after = snaptest_listing(f->upper, 0);
	assert_non_null(strstr(after, "gone.txt"));
	free(after);
	snaptest_write_str(f->upper, "new.txt", "format 2\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	assert_int_equal(c.number, 2);
	assert_int_equal(c.added, 2);   /* new.txt, gone.txt back */
	assert_int_equal(c.modified, 1); /* kept.txt */
	ckpt_free(&c);
	manifest_of(f, 1, 2, &again);
	assert_int_equal(again.n, m0.n + 1);
	assert_non_null(find(&again, longpath));
	assert_true(find(&again, longpath)->has_content);
	manifest_free(&again);
	assert_int_equal(store_fsck(f->st, &problems, &cause), 0);
	manifest_free(&m0);
	manifest_free(&m1);
	buf_free(&problems);
}

static void
check_mentry_bad(const struct buf *key, const void *val, size_t vlen)
{
	struct mentry e;
	int gone;

	assert_int_equal(mentry_decode(key->data, key->len, val, vlen, &e,
	    &gone), -1);
	assert_null(e.path);
	assert_null(e.target);
}

/* Format 2 entries: what goes in comes out, extreme values too; a record
 * cut anywhere, with a byte too many, or with a header that makes no
 * sense is refused. */
static void
test_entry_codec(void **state)
{
	static const int kinds[] = { MENTRY_FILE, MENTRY_DIR, MENTRY_SYMLINK,
	    MENTRY_WHITEOUT, MENTRY_SPECIAL, MENTRY_ABSENT };
	struct buf key = BUF_INIT, val = BUF_INIT, bad = BUF_INIT;
	char longpath[520];
	struct mentry e, d;
	size_t i, k, cut;
	int gone, lp;

	memset(longpath, 'p', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	longpath[3] = '\n';
	for (lp = 0; lp < 2; lp++) {
		for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
			memset(&e, 0, sizeof e);
			e.path = lp ? longpath : "dir/\xff name";
			e.pathlen = strlen(e.path);
			e.kind = (enum mentry_kind)kinds[k];
			e.mode = k == 0 ? UINT32_MAX : 040755;
			e.size = k == 0 ? UINT64_MAX : k;
			e.mtime_ns = k % 2 ? INT64_MIN : -1;
			e.ctime_ns = k % 2 ? INT64_MAX : 1700000000123456789;
			e.ino = UINT64_MAX - k;
			e.opaque = k == 1;
			e.has_content = k == 0;
			snaptest_random(e.hash, HASH_LEN, (uint32_t)k);
			if (e.kind != MENTRY_FILE)
				memset(e.hash, 0, HASH_LEN);
			e.target = e.kind == MENTRY_SYMLINK ? "../x\ny" : NULL;
			e.rdev = e.kind == MENTRY_SPECIAL ? UINT64_MAX : 0;
			mentry_key(&key, 7, 9, e.path, e.pathlen);
			buf_reset(&val);
			mentry_encode(&val, &e);
			assert_int_equal(mentry_decode(key.data, key.len,
			    val.data, val.len, &d, &gone), 0);
			assert_false(gone);
			assert_int_equal(mentry_cmp(&e, &d), 0);
			assert_true(mentry_same(&e, &d));
			assert_true(d.mtime_ns == e.mtime_ns);
			assert_true(d.ctime_ns == e.ctime_ns);
			assert_true(d.ino == e.ino && d.size == e.size);
			assert_true(d.rdev == e.rdev);
			assert_int_equal(d.opaque, e.opaque);
			assert_int_equal(d.has_content, e.has_content);
			mentry_free(&d);
			for (cut = 0; cut < val.len; cut++)
				check_mentry_bad(&key, val.data, cut);
			buf_reset(&bad);
			buf_add(&bad, val.data, val.len);
			buf_addch(&bad, 0);
			check_mentry_bad(&key, bad.data, bad.len);
			/* header: the spare bit, kind 6, a file without its
			 * hash, a hash on what has none */
			for (i = 0; i < 4; i++) {
				buf_reset(&bad);
				buf_add(&bad, val.data, val.len);
				if (i == 0)
					bad.data[1] |= (char)0x80;
				else if (i == 1)
					bad.data[1] = (char)((bad.data[1] & ~7) | 6);
				else
					bad.data[1] ^= 0x20;
				check_mentry_bad(&key, bad.data, bad.len);
			}
			/* a key that does not go with the long path */
			if (lp) {
				mentry_key(&bad, 7, 9, longpath, sizeof longpath - 2);
				check_mentry_bad(&bad, val.data, val.len);
			}
		}
		mentry_key(&key, 7, 9, lp ? longpath : "x", lp ? strlen(longpath) : 1);
		buf_reset(&val);
		mentry_encode_gone(&val, lp ? longpath : "x", lp ?
		    strlen(longpath) : 1);
		assert_true(val.len == (lp ? 2 + 2 + strlen(longpath) : 2));
		assert_int_equal(mentry_decode(key.data, key.len, val.data,
		    val.len, &d, &gone), 0);
		assert_true(gone);
		assert_string_equal(d.path, lp ? longpath : "x");
		mentry_free(&d);
		for (cut = 0; cut < val.len; cut++)
			check_mentry_bad(&key, val.data, cut);
		buf_reset(&bad);
		buf_add(&bad, val.data, val.len);
		bad.data[1] |= 0x10;
		check_mentry_bad(&key, bad.data, bad.len);
	}
	buf_free(&key);
	buf_free(&val);
	buf_free(&bad);
}

/* Blob records: format 2 round trip, format 1 still read, garbage refused. */
static void
test_blob_codec(void **state)
{
	struct blob_ref in = { UINT32_MAX, (uint64_t)INT64_MAX - 100, 100,
	    UINT64_MAX }, out;
	struct buf b = BUF_INIT;
	unsigned char hash[HASH_LEN];
	struct fixture *f = *state;
	struct index_txn *t;
	char *cause = NULL;
	const void *val;
	size_t vlen, cut;

	memset(hash, 0xab, sizeof hash);
	rec_put_u64(&b, 1);
	rec_put_u64(&b, 3);
	rec_put_u64(&b, 4096);
	rec_put_u64(&b, 10);
	rec_put_u64(&b, 20);
	assert_int_equal(blob_decode(b.data, b.len, &out), 0);
	assert_true(out.pack == 3 && out.offset == 4096 && out.clen == 10 &&
	    out.size == 20);
	buf_free(&b);
	assert_int_equal(index_write(f->st->index, blob_put_fn, &in, &cause),
	    0);
	assert_int_equal(index_read_begin(f->st->index, &t, &cause), 0);
	assert_int_equal(blob_find(t, hash, &out, &cause), 0);
	assert_true(out.pack == in.pack && out.offset == in.offset &&
	    out.clen == in.clen && out.size == in.size);
	assert_int_equal(index_get(t, INDEX_BLOBS, hash, HASH_LEN, &val, &vlen,
	    &cause), 0);
	assert_true(vlen < 40);
	for (cut = 0; cut < vlen; cut++)
		assert_int_equal(blob_decode(val, cut, &out), -1);
	buf_add(&b, val, vlen);
	buf_addch(&b, 0);
	assert_int_equal(blob_decode(b.data, b.len, &out), -1);
	index_txn_abort(t);
	/* pack 0, and an offset past what a file can hold */
	buf_reset(&b);
	buf_addch(&b, 2);
	rec_put_uvar(&b, 0);
	rec_put_uvar(&b, 1);
	rec_put_uvar(&b, 1);
	rec_put_uvar(&b, 1);
	assert_int_equal(blob_decode(b.data, b.len, &out), -1);
	buf_reset(&b);
	buf_addch(&b, 2);
	rec_put_uvar(&b, 1);
	rec_put_uvar(&b, UINT64_MAX);
	rec_put_uvar(&b, 1);
	rec_put_uvar(&b, 1);
	assert_int_equal(blob_decode(b.data, b.len, &out), -1);
	buf_free(&b);
}

/* A checkpoint that a rollback appends, told which paths it copied. */
static int
take_copied(struct fixture *f, const char *const *roots, size_t n,
    struct ckpt *out)
{
	struct ckpt_options o = { "rollback", NULL, 0, 1, 0, roots, n };
	char *cause = NULL;
	int rc = checkpoint_take(f->st, 1, f->upper, f->lower, &o, out,
	    &cause);

	if (rc < 0)
		fail_msg("checkpoint_take: %s", cause);
	return rc;
}

/* The copy records of owner 1 (under CKPT_COPIES). */
static size_t
copy_records(struct fixture *f)
{
	struct copies c;
	struct index_txn *t;
	char *cause = NULL;
	size_t n;

	if (index_read_begin(f->st->index, &t, &cause) != 0 ||
	    copies_load(t, 1, &c, &cause) != 0)
		fail_msg("copies_load: %s", cause);
	index_txn_abort(t);
	assert_int_equal(c.up.n, c.real.n);
	n = c.up.n;
	copies_free(&c);
	return n;
}

/* vendor/ of a tree: two directories, five files, a link. */
static void
make_vendor(const char *dir)
{
	int i;

	snaptest_mkdir(dir, "vendor", 0755);
	snaptest_mkdir(dir, "vendor/lib", 0750);
	for (i = 0; i < 5; i++) {
		char name[32];

		snprintf(name, sizeof name, "vendor/lib/f%d.c", i);
		snaptest_write_str(dir, name, "int x;\n");
	}
	snaptest_symlink(dir, "vendor/link", "lib/f0.c");
}

/*
 * Copies of the real tree a rollback made in the scratch: taken out of the
 * rollback's checkpoint when equal to the real tree's entries (nothing
 * stored), and of the checkpoints after it as long as neither moved; a
 * changed copy, a changed real file, a directory holding anything else
 * are recorded as scratch entries are.
 */
static void
test_copies(void **state)
{
	struct fixture *f = *state;
	static const char *const roots[] = { "big.txt", "vendor", "odd.txt",
	    "gone.txt" };
	struct manifest m = { 0 };
	struct buf problems = BUF_INIT;
	struct ckpt c;
	char *cause = NULL, *data;

	/* the real tree, and the scratch as the warden leaves it: copies */
	snaptest_write_str(f->lower, "big.txt", "real big\n");
	snaptest_write_str(f->lower, "odd.txt", "real odd\n");
	make_vendor(f->lower);
	make_vendor(f->upper);
	snaptest_write_str(f->upper, "big.txt", "real big\n");
	/* same size, other bytes: no copy (the agent wrote meanwhile) */
	snaptest_write_str(f->upper, "odd.txt", "real ODD\n");
	snaptest_write_str(f->upper, "new.txt", "agent's\n");

	assert_int_equal(take_copied(f, roots, 4, &c), 0);
	assert_int_equal(c.number, 0);
	ckpt_free(&c);
	manifest_of(f, 1, 0, &m);
	assert_null(find(&m, "big.txt"));
	assert_null(find(&m, "vendor"));
	assert_null(find(&m, "vendor/lib/f3.c"));
	assert_null(find(&m, "vendor/link"));
	assert_non_null(find(&m, "odd.txt"));
	assert_non_null(find(&m, "new.txt"));
	data = content_of(f, find(&m, "odd.txt"));
	assert_string_equal(data, "real ODD\n");
	free(data);
	manifest_free(&m);
	/* big.txt, vendor, vendor/lib, five files, the link */
	assert_int_equal(copy_records(f), 9);

	/* a path found a copy gets the real entry as its base (hashed, not
	 * stored) when it had none */
	{
		struct mentry b;
		unsigned char want[HASH_LEN];

		assert_int_equal(checkpoint_base(f->st, 1, "vendor/lib/f3.c",
		    15, &b, &cause), 0);
		hash_buffer("int x;\n", 7, want);
		assert_int_equal(b.kind, MENTRY_FILE);
		assert_false(b.has_content);
		assert_memory_equal(b.hash, want, HASH_LEN);
		mentry_free(&b);
		assert_int_equal(checkpoint_base(f->st, 1, "vendor/lib", 10,
		    &b, &cause), 0);
		assert_int_equal(b.kind, MENTRY_DIR);
		mentry_free(&b);
	}

	/* the next checkpoint: nothing moved, nothing changed */
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c),
	    1);

	/* a copy the agent changes is a scratch file again */
	snaptest_write_str(f->upper, "big.txt", "agent big\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c),
	    0);
	ckpt_free(&c);
	manifest_of(f, 1, 1, &m);
	data = content_of(f, find(&m, "big.txt"));
	assert_string_equal(data, "agent big\n");
	free(data);
	assert_null(find(&m, "vendor"));
	manifest_free(&m);
	assert_int_equal(copy_records(f), 8);

	/* a real file that changes: its copy holds what it had, recorded */
	snaptest_write_str(f->lower, "vendor/lib/f2.c", "int y;\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c),
	    0);
	ckpt_free(&c);
	manifest_of(f, 1, 2, &m);
	data = content_of(f, find(&m, "vendor/lib/f2.c"));
	assert_string_equal(data, "int x;\n");
	free(data);
	/* its directories hold something else than the real tree's now:
	 * recorded, and all below them */
	assert_non_null(find(&m, "vendor"));
	assert_non_null(find(&m, "vendor/lib"));
	assert_non_null(find(&m, "vendor/lib/f0.c"));
	assert_non_null(find(&m, "vendor/link"));
	manifest_free(&m);
	assert_int_equal(copy_records(f), 0);

	/* a directory copy holding one more file is no copy */
	snaptest_mkdir(f->lower, "more", 0755);
	snaptest_write_str(f->lower, "more/a", "a\n");
	snaptest_mkdir(f->upper, "more", 0755);
	snaptest_write_str(f->upper, "more/a", "a\n");
	snaptest_write_str(f->upper, "more/b", "b\n");
	{
		static const char *const more[] = { "more" };

		assert_int_equal(take_copied(f, more, 1, &c), 0);
		ckpt_free(&c);
	}
	manifest_of(f, 1, 3, &m);
	assert_non_null(find(&m, "more"));
	assert_non_null(find(&m, "more/a"));
	assert_non_null(find(&m, "more/b"));
	manifest_free(&m);

	/* gc keeps nothing for them, fsck finds the store consistent */
	assert_int_equal(store_fsck(f->st, &problems, &cause), 0);
	buf_free(&problems);
}

static int
put_corrupt_copy(struct index_txn *t, void *arg, char **cause)
{
	struct buf key = BUF_INIT;
	int rc;

	(void)arg;
	mentry_key(&key, 1, CKPT_COPIES, "a.txt", 5);
	rc = index_put(t, INDEX_ENTRIES, key.data, key.len, "\xff\xff", 2,
	    cause);
	buf_free(&key);
	return rc;
}

/*
 * Nothing is taken out below an opaque directory that stays in the
 * manifest (the agent's `rm -rf d; mkdir d`: a rollback copies d's files
 * back one by one): the manifest would say d holds nothing.
 */
static void
test_copies_opaque(void **state)
{
	struct fixture *f = *state;
	static const char *const roots[] = { "d/x" };
	struct manifest m = { 0 };
	struct ckpt c;

	snaptest_mkdir(f->lower, "d", 0755);
	snaptest_write_str(f->lower, "d/x", "real\n");
	snaptest_mkdir(f->upper, "d", 0755);
	snaptest_opaque(f->upper, "d");
	snaptest_write_str(f->upper, "d/x", "real\n");
	snaptest_write_str(f->upper, "d/mine", "agent's\n");
	assert_int_equal(take_copied(f, roots, 1, &c), 0);
	ckpt_free(&c);
	manifest_of(f, 1, 0, &m);
	assert_non_null(find(&m, "d"));
	assert_true(find(&m, "d")->opaque);
	assert_non_null(find(&m, "d/x"));
	assert_non_null(find(&m, "d/mine"));
	manifest_free(&m);
	assert_int_equal(copy_records(f), 0);
}

/* A corrupt copy record is no copy, and fsck says so. */
static void
test_copies_corrupt(void **state)
{
	struct fixture *f = *state;
	static const char *const roots[] = { "a.txt" };
	struct buf problems = BUF_INIT;
	struct manifest m = { 0 };
	struct ckpt c;
	char *cause = NULL;

	snaptest_write_str(f->lower, "a.txt", "real\n");
	snaptest_write_str(f->upper, "a.txt", "real\n");
	assert_int_equal(take_copied(f, roots, 1, &c), 0);
	ckpt_free(&c);
	assert_int_equal(copy_records(f), 1);
	assert_int_equal(index_write(f->st->index, put_corrupt_copy, NULL,
	    &cause), 0);
	assert_int_equal(store_fsck(f->st, &problems, &cause), 1);
	assert_non_null(strstr(problems.data, "the record of the copy"));
	buf_free(&problems);
	/* the scratch's a.txt is recorded as any file is */
	snaptest_write_str(f->upper, "b.txt", "b\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c),
	    0);
	ckpt_free(&c);
	manifest_of(f, 1, 1, &m);
	assert_non_null(find(&m, "a.txt"));
	manifest_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hostile_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_incremental, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_turns, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_basics, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sparse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_paths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_two_processes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_tmpfs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_changing_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_bases, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_changing_base, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deep_parents, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_format1_store, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copies_corrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_copies_opaque, setup,
		    teardown),
		cmocka_unit_test(test_entry_codec),
		cmocka_unit_test_setup_teardown(test_blob_codec, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
	struct ckpt_options o = { "agent", "turn one", 0, 1, CKPT_NONE };
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
	struct ckpt_options o = { "test", NULL, 2, 0, CKPT_NONE };
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
	struct ckpt_options o = { "test", NULL, 0, 0, CKPT_NONE };
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
	struct ckpt_options o = { "test", NULL, 0, 0, CKPT_NONE };
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

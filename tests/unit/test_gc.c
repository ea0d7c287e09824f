/* Unit tests of gc and fsck: real stores damaged on purpose (packs
 * truncated, deleted, corrupted, crashed writers) and collected while
 * another process writes. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/snaptest.h"

struct fixture {
	char *dir;
	char *store;
	char *upper;
	char *lower;
	char *pack1;
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	f->dir = snaptest_tmpdir("gc");
	f->store = path_join(f->dir, "store");
	f->upper = path_join(f->dir, "upper");
	f->lower = path_join(f->dir, "lower");
	f->pack1 = path_join(f->store, "packs/00000001.zst");
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
	free(f->pack1);
	free(f);
	return 0;
}

static void
put_random(const char *upper, const char *rel, size_t len, uint32_t seed)
{
	char *data = xmalloc(len);

	snaptest_random(data, len, seed);
	snaptest_write(upper, rel, data, len, 0644);
	free(data);
}

static char *
hex_of_random(size_t len, uint32_t seed)
{
	char *data = xmalloc(len), hex[HASH_HEX_LEN + 1];
	unsigned char h[HASH_LEN];

	snaptest_random(data, len, seed);
	hash_buffer(data, len, h);
	free(data);
	hash_hex(h, hex);
	return xstrdup(hex);
}

static char *
hex_of(const char *s)
{
	char hex[HASH_HEX_LEN + 1];
	unsigned char h[HASH_LEN];

	hash_buffer(s, strlen(s), h);
	hash_hex(h, hex);
	return xstrdup(hex);
}

static int
fsck(struct fixture *f, struct buf *out)
{
	char *cause = NULL;
	int rc;

	buf_reset(out);
	rc = store_fsck(f->st, out, &cause);
	if (rc < 0)
		fail_msg("store_fsck: %s", cause);
	return rc;
}

static void
gc(struct fixture *f, int dry_run, struct gc_report *r)
{
	char *cause = NULL;

	if (store_gc(f->st, dry_run, r, &cause) != 0)
		fail_msg("store_gc: %s", cause);
}

static uint64_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : UINT64_MAX;
}

/* Restores owner's checkpoint n into a fresh directory and returns the
 * listing (with content hashes). */
static char *
restored_listing(struct fixture *f, uint32_t owner, uint32_t n)
{
	char *dir = path_join(f->dir, "restored"), *cause = NULL, *list;
	struct manifest m;

	snaptest_rm(dir);
	snaptest_mkdir(f->dir, "restored", 0755);
	if (checkpoint_manifest(f->st, owner, n, &m, &cause) != 0 ||
	    restore_upper(f->st, dir, &m, 1, &cause) != 0)
		fail_msg("restore: %s", cause);
	manifest_free(&m);
	list = snaptest_listing(dir, 0);
	free(dir);
	return list;
}

static void
test_forget_frees(void **state)
{
	struct fixture *f = *state;
	struct gc_report r, dry;
	struct buf out = BUF_INIT;
	struct ckpt c;
	char *want, *got, *cause = NULL, *dir;
	uint64_t before;

	put_random(f->upper, "shared", 10000, 1);
	put_random(f->upper, "only1", 300000, 2);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	dir = path_join(f->upper, "only1");
	unlink(dir);
	free(dir);
	put_random(f->upper, "only2", 5000, 3);
	assert_int_equal(snaptest_take(f->st, 2, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	want = snaptest_listing(f->upper, 0);
	assert_int_equal(fsck(f, &out), 0);
	assert_string_equal(out.data, "");
	/* Nothing unreferenced yet: gc has nothing to do. */
	gc(f, 0, &r);
	assert_int_equal(r.blobs + r.bytes + r.packs_rewritten, 0);

	assert_int_equal(checkpoint_forget(f->st, 1, &cause), 0);
	before = snaptest_pack_bytes(f->store);
	gc(f, 1, &dry);
	assert_int_equal(snaptest_pack_bytes(f->store), before);
	assert_int_equal(dry.blobs, 1);
	assert_true(dry.bytes > 300000);
	gc(f, 0, &r);
	assert_memory_equal(&r, &dry, sizeof r);
	assert_int_equal(r.packs_rewritten, 1);
	assert_int_equal(snaptest_pack_bytes(f->store), before - r.bytes);
	assert_true(snaptest_pack_bytes(f->store) < 20000);
	assert_int_equal(file_size(f->pack1), UINT64_MAX);
	assert_int_equal(fsck(f, &out), 0);
	assert_string_equal(out.data, "");
	/* Owner 2 still restores exactly. */
	got = restored_listing(f, 2, 0);
	assert_string_equal(got, want);
	free(got);
	free(want);
	/* And gc again finds nothing. */
	gc(f, 0, &r);
	assert_int_equal(r.blobs + r.bytes + r.packs_rewritten, 0);
	buf_free(&out);
}

/* Garbage after the last frame (a crashed writer) is a note for fsck and
 * cut by gc. */
static void
test_tail(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct gc_report r;
	struct ckpt c;
	uint64_t size;
	int fd;

	put_random(f->upper, "a", 4000, 1);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	size = file_size(f->pack1);
	fd = open(f->pack1, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "garbage of a crashed writer", 27), 27);
	close(fd);
	assert_int_equal(fsck(f, &out), 0);
	assert_non_null(strstr(out.data, "note: packs/00000001.zst: 27 bytes "
	    "no blob references"));
	gc(f, 0, &r);
	assert_int_equal(r.bytes, 27);
	assert_int_equal(r.blobs, 0);
	assert_int_equal(file_size(f->pack1), size);
	assert_int_equal(fsck(f, &out), 0);
	assert_string_equal(out.data, "");
	buf_free(&out);
}

/* A writer killed mid-checkpoint leaves the previous checkpoint whole and
 * at most unreferenced bytes. */
static void
test_killed_writer(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct gc_report r;
	struct ckpt c, *v;
	struct timespec ts = { 0, 60 * 1000 * 1000 };
	char *want, *got, *cause = NULL;
	size_t n;
	int status;
	pid_t pid;

	put_random(f->upper, "before", 20000, 1);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	want = restored_listing(f, 1, 0);
	put_random(f->upper, "huge", 64 << 20, 2);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = snaptest_store(f->store);

		snaptest_take(st, 1, f->upper, NULL, 0, &c);
		_exit(0);
	}
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(checkpoint_list(f->st, 1, &v, &n, &cause), 0);
	if (WIFSIGNALED(status)) {
		assert_int_equal(n, 1);
		ckpt_free(&v[0]);
		free(v);
	} else {
		/* The machine was quick: the checkpoint made it. */
		assert_int_equal(n, 2);
		ckpt_free(&v[0]);
		ckpt_free(&v[1]);
		free(v);
	}
	assert_int_equal(fsck(f, &out), 0);
	got = restored_listing(f, 1, 0);
	assert_string_equal(got, want);
	free(got);
	gc(f, 0, &r);
	assert_int_equal(fsck(f, &out), 0);
	assert_string_equal(out.data, "");
	/* The next checkpoint goes through. */
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0,
	    &c), WIFSIGNALED(status) ? 0 : 1);
	ckpt_free(&c);
	assert_int_equal(fsck(f, &out), 0);
	free(want);
	buf_free(&out);
}

/* Three checkpoints, a base, then the only pack is deleted: fsck names
 * every path, with the checkpoints it is lost in. */
static void
test_deleted_pack(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT, want = BUF_INIT;
	struct ckpt c;
	char *a = hex_of("A0"), *b0 = hex_of("B0"), *b1 = hex_of("B1");
	char *c1 = hex_of("C1"), *real = hex_of("REAL");

	snaptest_write_str(f->lower, "a", "REAL");
	snaptest_write_str(f->upper, "a", "A0");
	snaptest_write_str(f->upper, "b", "B0");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	ckpt_free(&c);
	snaptest_write_str(f->upper, "b", "B1");
	snaptest_write_str(f->upper, "c", "C1");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 0, &c), 0);
	ckpt_free(&c);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, f->lower, 1, &c), 0);
	ckpt_free(&c);
	assert_int_equal(fsck(f, &out), 0);
	assert_int_equal(unlink(f->pack1), 0);
	buf_printf(&want, "packs/00000001.zst is missing (5 blobs)\n");
	/* b's first version ends when b changes, the others at the end. */
	buf_printf(&want, "session 1 checkpoint 0: b: blob %s is in a missing "
	    "pack\n", b0);
	buf_printf(&want, "session 1 checkpoints 0-2: a: blob %s is in a missing "
	    "pack\n", a);
	buf_printf(&want, "session 1 checkpoints 1-2: b: blob %s is in a missing "
	    "pack\n", b1);
	buf_printf(&want, "session 1 checkpoints 1-2: c: blob %s is in a missing "
	    "pack\n", c1);
	buf_printf(&want, "session 1: the base of a: blob %s is in a missing "
	    "pack\n", real);
	assert_int_equal(fsck(f, &out), 6);
	assert_string_equal(out.data, want.data);
	free(a);
	free(b0);
	free(b1);
	free(c1);
	free(real);
	buf_free(&want);
	buf_free(&out);
}

/* Truncating a pack loses exactly the frames past the cut. */
static void
test_truncated_pack(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct gc_report r;
	struct ckpt c;
	char *za = hex_of_random(50000, 1), *zz = hex_of_random(50000, 2);
	char *line;

	put_random(f->upper, "a", 50000, 1);
	put_random(f->upper, "z", 50000, 2);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	assert_int_equal(truncate(f->pack1, (off_t)file_size(f->pack1) - 100),
	    0);
	assert_int_equal(fsck(f, &out), 2);
	line = xasprintf("session 1 checkpoint 0: z: blob %s is corrupt\n", zz);
	assert_non_null(strstr(out.data, line));
	free(line);
	line = xasprintf("blob %s (packs/00000001.zst at offset", zz);
	assert_non_null(strstr(out.data, line));
	free(line);
	assert_non_null(strstr(out.data, "ends inside a blob"));
	assert_null(strstr(out.data, za));
	/* gc does not make it worse. */
	gc(f, 0, &r);
	assert_int_equal(fsck(f, &out), 2);
	free(za);
	free(zz);
	buf_free(&out);
}

/* One flipped byte inside a frame is caught. */
static void
test_corrupt_byte(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct ckpt c;
	char *za = hex_of_random(50000, 1), *zz = hex_of_random(50000, 2);
	char *line, byte;
	int fd;

	put_random(f->upper, "a", 50000, 1);
	put_random(f->upper, "z", 50000, 2);
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	fd = open(f->pack1, O_RDWR);
	assert_int_equal(pread(fd, &byte, 1, 20000), 1);
	byte ^= 0x20;
	assert_int_equal(pwrite(fd, &byte, 1, 20000), 1);
	close(fd);
	assert_int_equal(fsck(f, &out), 2);
	line = xasprintf("session 1 checkpoint 0: a: blob %s is corrupt\n", za);
	assert_non_null(strstr(out.data, line));
	free(line);
	assert_null(strstr(out.data, zz));
	free(za);
	free(zz);
	buf_free(&out);
}

static int
junk_entry_txn(struct index_txn *t, void *arg, char **cause)
{
	struct buf key = BUF_INIT;
	int rc;

	mentry_key(&key, 1, 0, "junk\nname", 9);
	rc = index_put(t, INDEX_ENTRIES, key.data, key.len, "\1\2\3", 3, cause);
	buf_free(&key);
	return rc;
}

/* A record that does not decode is a problem named by its key; gc refuses
 * to collect from a store it cannot read whole. */
static void
test_corrupt_record(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct gc_report r;
	struct manifest m;
	struct ckpt c;
	char *cause = NULL;

	snaptest_write_str(f->upper, "a", "a\n");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	assert_int_equal(index_write(f->st->index, junk_entry_txn, NULL,
	    &cause), 0);
	assert_int_equal(fsck(f, &out), 1);
	assert_string_equal(out.data, "session 1 checkpoint 0: junk\\012name: "
	    "corrupt entry\n");
	assert_int_equal(checkpoint_manifest(f->st, 1, 0, &m, &cause), -1);
	assert_non_null(strstr(cause, "corrupt entry"));
	free(cause);
	assert_int_equal(store_gc(f->st, 0, &r, &cause), -1);
	assert_non_null(strstr(cause, "nothing was collected"));
	free(cause);
	buf_free(&out);
}

struct pin {
	const struct mentry *e;
};

static int
pin_txn(struct index_txn *t, void *arg, char **cause)
{
	const struct mentry *e = ((struct pin *)arg)->e;
	struct buf key = BUF_INIT, val = BUF_INIT;
	int rc;

	mentry_key(&key, 9, CKPT_PINS, "promotion 1/kept", 16);
	mentry_encode(&val, e);
	rc = index_put(t, INDEX_ENTRIES, key.data, key.len, val.data, val.len,
	    cause);
	buf_free(&key);
	buf_free(&val);
	return rc;
}

/* A pinned blob outlives the checkpoints that stored it. */
static void
test_pins(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct gc_report r;
	struct manifest m;
	struct pin p;
	struct ckpt c;
	char *cause = NULL, *data, *line, *hex = hex_of("PINNED");
	size_t len;

	snaptest_write_str(f->upper, "kept", "PINNED");
	assert_int_equal(snaptest_take(f->st, 1, f->upper, NULL, 0, &c), 0);
	ckpt_free(&c);
	assert_int_equal(checkpoint_manifest(f->st, 1, 0, &m, &cause), 0);
	p.e = &m.v[0];
	assert_int_equal(index_write(f->st->index, pin_txn, &p, &cause), 0);
	assert_int_equal(checkpoint_forget(f->st, 1, &cause), 0);
	gc(f, 0, &r);
	assert_int_equal(r.blobs, 0);
	assert_int_equal(r.bytes, 0);
	data = blob_read_buf(f->st, m.v[0].hash, 100, &len, &cause);
	assert_string_equal(data, "PINNED");
	free(data);
	assert_int_equal(fsck(f, &out), 0);
	assert_int_equal(unlink(f->pack1), 0);
	assert_int_equal(fsck(f, &out), 2);
	line = xasprintf("session 9: the pinned promotion 1/kept: blob %s is in "
	    "a missing pack\n", hex);
	assert_non_null(strstr(out.data, line));
	free(line);
	/* Forgetting the owner drops the pin. */
	assert_int_equal(checkpoint_forget(f->st, 9, &cause), 0);
	gc(f, 0, &r);
	assert_int_equal(r.blobs, 1);
	assert_int_equal(fsck(f, &out), 0);
	manifest_free(&m);
	free(hex);
	buf_free(&out);
}

/* gc while another process takes checkpoints and forgets old owners. */
static void
test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct gc_report r;
	char *want, *got;
	int status, rounds = 0;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = snaptest_store(f->store);
		char *cause = NULL;
		struct ckpt c;
		uint32_t i;

		for (i = 0; i < 25; i++) {
			put_random(f->upper, "changing", 20000, i);
			if (snaptest_take(st, 100 + i, f->upper, NULL, 0, &c) != 0)
				_exit(2);
			ckpt_free(&c);
			if (i > 0 && checkpoint_forget(st, 100 + i - 1,
			    &cause) != 0)
				_exit(3);
		}
		store_close(st);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		gc(f, 0, &r);
		rounds++;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(rounds > 0);
	gc(f, 0, &r);
	assert_int_equal(fsck(f, &out), 0);
	/* A pack only half dead is kept as it is: fsck may note its unused
	 * bytes, but nothing else. */
	for (char *line = out.data; *line != '\0'; line = strchr(line, '\n') + 1) {
		if (strncmp(line, "note: ", 6) != 0)
			fail_msg("fsck said: %s", line);
	}
	want = snaptest_listing(f->upper, 0);
	got = restored_listing(f, 124, 0);
	assert_string_equal(got, want);
	free(got);
	free(want);
	/* Only the last owner's blob is left. */
	assert_true(snaptest_pack_bytes(f->store) < 2 * 20100);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forget_frees, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_writer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deleted_pack, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_pack, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_byte, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

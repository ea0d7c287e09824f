/* Unit tests of packs, blobs and the store lock: real pack files and a
 * real LMDB index in a temporary directory. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/snaptest.h"

struct fixture {
	char *dir;
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	f->dir = snaptest_tmpdir("pack");
	f->st = snaptest_store(f->dir);
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
	free(f);
	return 0;
}

/* An fd holding data (an unlinked temporary file). */
static int
data_fd(const void *data, size_t len)
{
	char path[] = "/tmp/airlock-test-data-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Appends data as a blob and commits its record. */
struct put_one {
	unsigned char hash[HASH_LEN];
	struct blob_ref ref;
};

static int
put_one_txn(struct index_txn *t, void *arg, char **cause)
{
	struct put_one *p = arg;

	return blob_put(t, p->hash, &p->ref, cause);
}

static void
store_blob(struct store *st, const void *data, size_t len, struct put_one *p)
{
	struct pack_writer *pw;
	char *cause = NULL;
	int fd = data_fd(data, len);

	assert_int_equal(store_lock(st, &cause), 0);
	assert_int_equal(pack_writer_open(st, &pw, &cause), 0);
	assert_int_equal(pack_writer_add(pw, fd, len, 0, p->hash, &p->ref,
	    &cause), 0);
	assert_int_equal(pack_writer_sync(pw, &cause), 0);
	pack_writer_close(pw);
	store_unlock(st);
	close(fd);
	assert_int_equal(index_write(st->index, put_one_txn, p, &cause), 0);
}

static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	unsigned char want[HASH_LEN];
	char data[100000], *back, *cause = NULL;
	struct put_one p, q;
	size_t len;

	snaptest_random(data, sizeof data, 1);
	store_blob(f->st, data, sizeof data, &p);
	hash_buffer(data, sizeof data, want);
	assert_memory_equal(p.hash, want, HASH_LEN);
	assert_int_equal(p.ref.pack, 1);
	assert_int_equal(p.ref.offset, 0);
	assert_int_equal(p.ref.size, sizeof data);
	assert_int_equal(snaptest_pack_bytes(f->dir), p.ref.clen);
	/* A second blob lands after the first, in the same pack. */
	store_blob(f->st, "small", 5, &q);
	assert_int_equal(q.ref.pack, 1);
	assert_int_equal(q.ref.offset, p.ref.clen);
	back = blob_read_buf(f->st, p.hash, SIZE_MAX, &len, &cause);
	assert_non_null(back);
	assert_int_equal(len, sizeof data);
	assert_memory_equal(back, data, len);
	free(back);
	back = blob_read_buf(f->st, q.hash, SIZE_MAX, &len, &cause);
	assert_string_equal(back, "small");
	free(back);
	/* Bounded reads refuse what is bigger. */
	assert_null(blob_read_buf(f->st, p.hash, 1000, &len, &cause));
	assert_non_null(strstr(cause, "larger than 1000"));
	free(cause);
}

static void
test_empty_blob(void **state)
{
	struct fixture *f = *state;
	unsigned char want[HASH_LEN];
	char *back, *cause = NULL;
	struct put_one p;
	size_t len = 99;

	store_blob(f->st, "", 0, &p);
	hash_buffer("", 0, want);
	assert_memory_equal(p.hash, want, HASH_LEN);
	assert_int_equal(p.ref.size, 0);
	assert_true(p.ref.clen > 0);
	back = blob_read_buf(f->st, p.hash, 10, &len, &cause);
	assert_non_null(back);
	assert_int_equal(len, 0);
	assert_string_equal(back, "");
	free(back);
}

static void
test_changed_size(void **state)
{
	struct fixture *f = *state;
	struct pack_writer *pw;
	struct blob_ref ref;
	unsigned char hash[HASH_LEN];
	char data[5000], *cause = NULL;
	int fd;

	snaptest_random(data, sizeof data, 2);
	fd = data_fd(data, sizeof data);
	assert_int_equal(store_lock(f->st, &cause), 0);
	assert_int_equal(pack_writer_open(f->st, &pw, &cause), 0);
	/* The file is longer than we were told: EAGAIN, nothing left. */
	assert_int_equal(pack_writer_add(pw, fd, 4000, 0, hash, &ref, &cause),
	    -1);
	assert_int_equal(errno, EAGAIN);
	free(cause);
	assert_int_equal(snaptest_pack_bytes(f->dir), 0);
	/* And shorter. */
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(pack_writer_add(pw, fd, 6000, 0, hash, &ref, &cause),
	    -1);
	assert_int_equal(errno, EAGAIN);
	free(cause);
	assert_int_equal(snaptest_pack_bytes(f->dir), 0);
	assert_int_equal(pack_writer_appended(pw), 0);
	pack_writer_close(pw);
	store_unlock(f->st);
	close(fd);
}

static void
test_undo_discard(void **state)
{
	struct fixture *f = *state;
	struct pack_writer *pw;
	struct blob_ref a, b;
	unsigned char hash[HASH_LEN];
	char data[3000], *cause = NULL;
	int fd;
	uint64_t before;

	store_blob(f->st, "first", 5, &(struct put_one){ { 0 }, { 0, 0, 0, 0 } });
	before = snaptest_pack_bytes(f->dir);
	snaptest_random(data, sizeof data, 3);
	assert_int_equal(pack_writer_open(f->st, &pw, &cause), 0);
	fd = data_fd(data, sizeof data);
	assert_int_equal(pack_writer_add(pw, fd, sizeof data, 0, hash, &a,
	    &cause), 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(pack_writer_add(pw, fd, sizeof data, 0, hash, &b,
	    &cause), 0);
	assert_int_equal(b.offset, a.offset + a.clen);
	/* Only the last frame can be undone. */
	assert_int_equal(pack_writer_undo(pw, &a, &cause), -1);
	assert_non_null(strstr(cause, "not the last"));
	free(cause);
	assert_int_equal(pack_writer_undo(pw, &b, &cause), 0);
	assert_int_equal(snaptest_pack_bytes(f->dir), before + a.clen);
	assert_int_equal(pack_writer_appended(pw), a.clen);
	assert_int_equal(pack_writer_discard(pw, &cause), 0);
	assert_int_equal(snaptest_pack_bytes(f->dir), before);
	pack_writer_close(pw);
	close(fd);
}

static void
test_corrupt_frame(void **state)
{
	struct fixture *f = *state;
	char data[20000], *path, *cause = NULL;
	struct put_one p;
	size_t len;
	int fd;

	snaptest_random(data, sizeof data, 4);
	store_blob(f->st, data, sizeof data, &p);
	path = path_join(f->dir, "packs/00000001.zst");
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, (off_t)(p.ref.clen / 2)), 1);
	close(fd);
	assert_null(blob_read_buf(f->st, p.hash, SIZE_MAX, &len, &cause));
	assert_non_null(strstr(cause, "packs/00000001.zst"));
	free(cause);
	/* A truncated pack: the frame ends early. */
	assert_int_equal(truncate(path, (off_t)(p.ref.clen - 10)), 0);
	assert_null(blob_read_buf(f->st, p.hash, SIZE_MAX, &len, &cause));
	assert_non_null(strstr(cause, "ends inside"));
	free(cause);
	/* A missing pack. */
	assert_int_equal(unlink(path), 0);
	assert_null(blob_read_buf(f->st, p.hash, SIZE_MAX, &len, &cause));
	assert_non_null(strstr(cause, "missing"));
	free(cause);
	free(path);
}

/* A record pointing at another blob's frame: the hash check catches it. */
static int
swap_txn(struct index_txn *t, void *arg, char **cause)
{
	struct put_one *p = arg;

	return blob_put(t, p[0].hash, &p[1].ref, cause);
}

static void
test_hash_mismatch(void **state)
{
	struct fixture *f = *state;
	struct put_one p[2];
	char *cause = NULL;
	size_t len;

	store_blob(f->st, "one", 3, &p[0]);
	store_blob(f->st, "two", 3, &p[1]);
	assert_int_equal(index_write(f->st->index, swap_txn, p, &cause), 0);
	assert_null(blob_read_buf(f->st, p[0].hash, SIZE_MAX, &len, &cause));
	assert_non_null(strstr(cause, "does not match its hash"));
	free(cause);
}

static int
bad_record_txn(struct index_txn *t, void *arg, char **cause)
{
	return index_put(t, INDEX_BLOBS, arg, HASH_LEN, "junk", 4, cause);
}

static void
test_corrupt_record(void **state)
{
	struct fixture *f = *state;
	unsigned char hash[HASH_LEN];
	struct index_txn *t;
	struct blob_ref ref;
	char *cause = NULL;

	hash_buffer("x", 1, hash);
	assert_int_equal(index_write(f->st->index, bad_record_txn, hash,
	    &cause), 0);
	assert_int_equal(index_read_begin(f->st->index, &t, &cause), 0);
	assert_int_equal(blob_find(t, hash, &ref, &cause), -1);
	assert_non_null(strstr(cause, "corrupt record"));
	free(cause);
	hash_buffer("y", 1, hash);
	assert_int_equal(blob_find(t, hash, &ref, &cause), 1);
	index_txn_abort(t);
}

/* RLIMIT_FSIZE with SIGXFSZ ignored makes writes past it fail with EFBIG:
 * the same path as a full disk. */
static void
test_write_fails(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim;
	struct pack_writer *pw;
	struct blob_ref ref;
	unsigned char hash[HASH_LEN];
	char *data = xmalloc(1 << 20), *cause = NULL;
	uint64_t before;
	int fd;

	store_blob(f->st, "before", 6, &(struct put_one){ { 0 }, { 0, 0, 0, 0 } });
	before = snaptest_pack_bytes(f->dir);
	snaptest_random(data, 1 << 20, 5);
	fd = data_fd(data, 1 << 20);
	assert_int_equal(pack_writer_open(f->st, &pw, &cause), 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = before + 4096;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(pack_writer_add(pw, fd, 1 << 20, 0, hash, &ref,
	    &cause), -1);
	assert_int_equal(errno, EFBIG);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_non_null(strstr(cause, "packs/00000001.zst"));
	free(cause);
	/* The partial frame is gone; the pack works on. */
	assert_int_equal(snaptest_pack_bytes(f->dir), before);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(pack_writer_add(pw, fd, 1 << 20, 0, hash, &ref,
	    &cause), 0);
	assert_int_equal(ref.offset, before);
	pack_writer_close(pw);
	close(fd);
	free(data);
}

/*
 * Small frames are gathered and written together by pack_writer_sync:
 * undo drops a gathered one, the sync writes the rest; a failed write of
 * the gathered frames (RLIMIT_FSIZE, as a full disk) cuts the pack back.
 */
static void
test_gathered(void **state)
{
	struct fixture *f = *state;
	struct rlimit old, lim;
	struct pack_writer *pw;
	struct blob_ref a, b, c;
	char data[2][3000], *cause = NULL;
	uint64_t before;

	store_blob(f->st, "first", 5, &(struct put_one){ { 0 }, { 0, 0, 0, 0 } });
	before = snaptest_pack_bytes(f->dir);
	snaptest_random(data[0], sizeof data[0], 7);
	snaptest_random(data[1], sizeof data[1], 8);
	assert_int_equal(pack_writer_open(f->st, &pw, &cause), 0);
	assert_int_equal(pack_writer_add_data(pw, data[0], sizeof data[0], &a,
	    &cause), 0);
	assert_int_equal(pack_writer_add_data(pw, data[1], sizeof data[1], &b,
	    &cause), 0);
	assert_int_equal(b.offset, a.offset + a.clen);
	/* gathered: nothing written yet, both counted */
	assert_int_equal(snaptest_pack_bytes(f->dir), before);
	assert_int_equal(pack_writer_appended(pw), a.clen + b.clen);
	assert_int_equal(pack_writer_undo(pw, &b, &cause), 0);
	assert_int_equal(pack_writer_appended(pw), a.clen);
	assert_int_equal(pack_writer_sync(pw, &cause), 0);
	assert_int_equal(snaptest_pack_bytes(f->dir), before + a.clen);
	pack_writer_close(pw);

	/* the gathered write fails: the pack as it was */
	before = snaptest_pack_bytes(f->dir);
	assert_int_equal(pack_writer_open(f->st, &pw, &cause), 0);
	assert_int_equal(pack_writer_add_data(pw, data[1], sizeof data[1], &c,
	    &cause), 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = before + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(pack_writer_sync(pw, &cause), -1);
	assert_int_equal(errno, EFBIG);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	free(cause);
	cause = NULL;
	assert_int_equal(snaptest_pack_bytes(f->dir), before);
	pack_writer_discard(pw, &cause);
	free(cause);
	pack_writer_close(pw);
	assert_int_equal(snaptest_pack_bytes(f->dir), before);
}

static void
test_new_pack_and_shrink(void **state)
{
	struct fixture *f = *state;
	struct pack_writer *pw;
	struct pack_info *info;
	struct put_one p;
	char *cause = NULL;
	size_t n;

	store_blob(f->st, "in pack one", 11, &p);
	assert_int_equal(pack_writer_new(f->st, &pw, &cause), 0);
	pack_writer_close(pw);
	assert_int_equal(pack_list(f->st, &info, &n, &cause), 0);
	assert_int_equal(n, 2);
	assert_int_equal(info[0].number, 1);
	assert_int_equal(info[1].number, 2);
	assert_int_equal(info[1].size, 0);
	free(info);
	/* The newest pack is only emptied, older ones go. */
	assert_int_equal(pack_shrink(f->st, 2, 0, &cause), 0);
	assert_int_equal(pack_shrink(f->st, 1, 0, &cause), 0);
	assert_int_equal(pack_list(f->st, &info, &n, &cause), 0);
	assert_int_equal(n, 1);
	assert_int_equal(info[0].number, 2);
	free(info);
	/* Numbers are not reused: the next writer appends to pack 2. */
	store_blob(f->st, "later", 5, &p);
	assert_int_equal(p.ref.pack, 2);
	free(pack_name(1));
}

static void
test_blob_set(void **state)
{
	struct blob_set s = { NULL, 0, 0 };
	unsigned char h[HASH_LEN];
	uint32_t i;
	int added;

	(void)state;
	for (i = 0; i < 1000; i++) {
		hash_buffer(&i, sizeof i, h);
		blob_set_add(&s, h, &added)->flags = (int)i;
		assert_true(added);
	}
	assert_int_equal(s.n, 1000);
	for (i = 0; i < 1000; i++) {
		hash_buffer(&i, sizeof i, h);
		assert_non_null(blob_set_find(&s, h));
		assert_int_equal(blob_set_find(&s, h)->flags, (int)i);
		blob_set_add(&s, h, &added);
		assert_false(added);
	}
	i = 5000;
	hash_buffer(&i, sizeof i, h);
	assert_null(blob_set_find(&s, h));
	blob_set_free(&s);
}

/* Another process holding the lock keeps us out until it lets go; one
 * thread may nest it. */
static void
test_lock(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL, *lockpath = path_join(f->dir, "lock"), c;
	int up[2], down[2], fd, status;
	pid_t pid;

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = snaptest_store(f->dir);

		if (store_lock(st, &cause) != 0)
			_exit(1);
		write(up[1], "l", 1);
		read(down[0], &c, 1);
		store_unlock(st);
		write(up[1], "u", 1);
		read(down[0], &c, 1);
		_exit(0);
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	fd = open(lockpath, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	write(down[1], "1", 1);
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	flock(fd, LOCK_UN);
	/* Ours, nested; the child cannot have it meanwhile. */
	assert_int_equal(store_lock(f->st, &cause), 0);
	assert_int_equal(store_lock(f->st, &cause), 0);
	store_unlock(f->st);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
	store_unlock(f->st);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	close(fd);
	write(down[1], "2", 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	free(lockpath);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_undo_discard, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_frame, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hash_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_gathered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_new_pack_and_shrink, setup,
		    teardown),
		cmocka_unit_test(test_blob_set),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

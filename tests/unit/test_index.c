/* Unit tests of the LMDB index and the store: real LMDB files in a
 * temporary directory. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/snapshot.h"

struct fixture {
	char dir[64];
	char *path;
	struct index *ix;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char *cause = NULL;

	strcpy(f->dir, "/tmp/airlock-test-index-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->path = path_join(f->dir, "index.mdb");
	if (index_open(f->path, &f->ix, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL;

	index_close(f->ix);
	path_remove_tree(f->dir, &cause);
	free(cause);
	free(f->path);
	free(f);
	index_set_initial_mapsize((size_t)64 << 20);
	return 0;
}

struct kv {
	const char *key;
	const char *val;
};

static int
put_all(struct index_txn *t, void *arg, char **cause)
{
	const struct kv *kv;

	for (kv = arg; kv->key != NULL; kv++) {
		if (index_put(t, INDEX_SESSIONS, kv->key, strlen(kv->key),
		    kv->val, strlen(kv->val), cause) != 0)
			return -1;
	}
	return 0;
}

static int
collect(const void *key, size_t klen, const void *val, size_t vlen,
    void *arg, char **cause)
{
	struct buf *b = arg;

	buf_add(b, key, klen);
	buf_addch(b, ' ');
	return 0;
}

static void
test_put_get_walk(void **state)
{
	struct fixture *f = *state;
	struct kv kvs[] = { { "b1", "x" }, { "a1", "y" }, { "b2", "z" },
		{ "b\xff", "w" }, { "c", "v" }, { NULL, NULL } };
	struct index_txn *t;
	struct buf b = BUF_INIT;
	char *cause = NULL;
	const void *val;
	size_t vlen;

	assert_int_equal(index_write(f->ix, put_all, kvs, &cause), 0);
	assert_int_equal(index_read_begin(f->ix, &t, &cause), 0);
	assert_int_equal(index_get(t, INDEX_SESSIONS, "b2", 2, &val, &vlen,
	    &cause), 0);
	assert_int_equal(vlen, 1);
	assert_memory_equal(val, "z", 1);
	assert_int_equal(index_get(t, INDEX_SESSIONS, "nope", 4, &val, &vlen,
	    &cause), 1);
	/* Databases are separate. */
	assert_int_equal(index_get(t, INDEX_BLOBS, "b2", 2, &val, &vlen,
	    &cause), 1);
	assert_int_equal(index_walk(t, INDEX_SESSIONS, "b", 1, 0, collect, &b,
	    &cause), 0);
	assert_string_equal(b.data, "b1 b2 b\xff ");
	buf_reset(&b);
	assert_int_equal(index_walk(t, INDEX_SESSIONS, "b", 1, 1, collect, &b,
	    &cause), 0);
	assert_string_equal(b.data, "b\xff b2 b1 ");
	buf_reset(&b);
	assert_int_equal(index_walk(t, INDEX_SESSIONS, NULL, 0, 1, collect, &b,
	    &cause), 0);
	assert_string_equal(b.data, "c b\xff b2 b1 a1 ");
	buf_reset(&b);
	assert_int_equal(index_walk(t, INDEX_SESSIONS, "zz", 2, 1, collect, &b,
	    &cause), 0);
	assert_string_equal(b.data, "");
	index_txn_abort(t);
	buf_free(&b);
}

static int
delete_b1(struct index_txn *t, void *arg, char **cause)
{
	int *results = arg;

	results[0] = index_del(t, INDEX_SESSIONS, "b1", 2, cause);
	results[1] = index_del(t, INDEX_SESSIONS, "b1", 2, cause);
	return 0;
}

static int
fail_after_put(struct index_txn *t, void *arg, char **cause)
{
	if (index_put(t, INDEX_SESSIONS, "gone", 4, "1", 1, cause) != 0)
		return -1;
	*cause = xstrdup("deliberate");
	return -1;
}

static void
test_delete_and_abort(void **state)
{
	struct fixture *f = *state;
	struct kv kvs[] = { { "b1", "x" }, { NULL, NULL } };
	struct index_txn *t;
	char *cause = NULL;
	const void *val;
	size_t vlen;
	int results[2];

	assert_int_equal(index_write(f->ix, put_all, kvs, &cause), 0);
	assert_int_equal(index_write(f->ix, delete_b1, results, &cause), 0);
	assert_int_equal(results[0], 0);
	assert_int_equal(results[1], 1);
	/* A failing writer commits nothing and reports its cause. */
	assert_int_equal(index_write(f->ix, fail_after_put, NULL, &cause), -1);
	assert_string_equal(cause, "deliberate");
	free(cause);
	assert_int_equal(index_read_begin(f->ix, &t, &cause), 0);
	assert_int_equal(index_get(t, INDEX_SESSIONS, "gone", 4, &val, &vlen,
	    &cause), 1);
	assert_int_equal(index_get(t, INDEX_SESSIONS, "b1", 2, &val, &vlen,
	    &cause), 1);
	index_txn_abort(t);
}

static int
put_big(struct index_txn *t, void *arg, char **cause)
{
	char key[16], *val = xcalloc(1, 4096);
	int i, *runs = arg;

	(*runs)++;
	for (i = 0; i < 512; i++) {
		snprintf(key, sizeof key, "big%05d", i);
		memset(val, 'a' + i % 26, 4096);
		if (index_put(t, INDEX_ENTRIES, key, strlen(key), val, 4096,
		    cause) != 0) {
			free(val);
			return -1;
		}
	}
	free(val);
	return 0;
}

static void
test_map_full_grows(void **state)
{
	struct fixture *f = *state;
	struct index *small;
	struct index_txn *t;
	char *cause = NULL, *path = path_join(f->dir, "small.mdb");
	const void *val;
	size_t vlen;
	int runs = 0;

	/* 2 MiB of values into a 256 KiB map: must grow and redo. */
	index_set_initial_mapsize(256 << 10);
	assert_int_equal(index_open(path, &small, &cause), 0);
	assert_int_equal(index_write(small, put_big, &runs, &cause), 0);
	assert_true(runs > 1);
	assert_int_equal(index_read_begin(small, &t, &cause), 0);
	assert_int_equal(index_get(t, INDEX_ENTRIES, "big00511", 8, &val,
	    &vlen, &cause), 0);
	assert_int_equal(vlen, 4096);
	assert_int_equal(((const char *)val)[0], 'a' + 511 % 26);
	index_txn_abort(t);
	index_close(small);
	free(path);
}

static int
put_version(struct index_txn *t, void *arg, char **cause)
{
	unsigned char v[8];

	be64_put(v, INDEX_FORMAT_VERSION + 1);
	return index_put(t, INDEX_META, "format", 6, v, sizeof v, cause);
}

static void
test_newer_format_refused(void **state)
{
	struct fixture *f = *state;
	struct index *again;
	char *cause = NULL;

	assert_int_equal(index_write(f->ix, put_version, NULL, &cause), 0);
	assert_int_equal(index_open(f->path, &again, &cause), -1);
	assert_non_null(strstr(cause, "newer airlock"));
	assert_non_null(strstr(cause, f->path));
	free(cause);
}

static void
test_not_lmdb(void **state)
{
	struct fixture *f = *state;
	struct index *bad;
	char *cause = NULL, *path = path_join(f->dir, "garbage.mdb");
	char junk[8192];

	memset(junk, 'x', sizeof junk);
	assert_int_equal(path_write_file(path, junk, sizeof junk, 0600, &cause),
	    0);
	assert_int_equal(index_open(path, &bad, &cause), -1);
	assert_non_null(strstr(cause, path));
	free(cause);
	free(path);
}

static void
test_two_processes(void **state)
{
	struct fixture *f = *state;
	struct kv kvs[] = { { "child", "1" }, { NULL, NULL } };
	struct index_txn *t;
	char *cause = NULL;
	const void *val;
	size_t vlen;
	int status;
	pid_t pid;

	/* A reader stays open in this process while another process writes. */
	assert_int_equal(index_read_begin(f->ix, &t, &cause), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct index *other;

		if (index_open(f->path, &other, &cause) != 0 ||
		    index_write(other, put_all, kvs, &cause) != 0)
			_exit(1);
		index_close(other);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The old snapshot does not see it; a new transaction does. */
	assert_int_equal(index_get(t, INDEX_SESSIONS, "child", 5, &val, &vlen,
	    &cause), 1);
	index_txn_abort(t);
	assert_int_equal(index_read_begin(f->ix, &t, &cause), 0);
	assert_int_equal(index_get(t, INDEX_SESSIONS, "child", 5, &val, &vlen,
	    &cause), 0);
	index_txn_abort(t);
}

static void
test_store_open(void **state)
{
	struct fixture *f = *state;
	struct store *st;
	char *cause = NULL, *dir = path_join(f->dir, "store/x");

	assert_int_equal(store_open(dir, 0, &st, &cause), 1);
	assert_int_equal(store_open(dir, 1, &st, &cause), 0);
	assert_string_equal(st->dir, dir);
	store_close(st);
	assert_int_equal(store_open(dir, 0, &st, &cause), 0);
	store_close(st);
	free(dir);
	dir = path_join(f->dir, "index.mdb");   /* a file, not a dir */
	assert_int_equal(store_open(dir, 1, &st, &cause), -1);
	assert_non_null(strstr(cause, "not a directory"));
	free(cause);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_abort, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_map_full_grows, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_newer_format_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_lmdb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_open, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Approvals: fingerprints, the records in a real store (LMDB), what a
 * stored approval means for sides that changed, corrupt records, and the
 * path arguments commands resolve against the real tree.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "tests/unit/snaptest.h"

struct fixture {
	char *dir;
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char *store;

	f->dir = snaptest_tmpdir("approval");
	store = path_join(f->dir, "store");
	f->st = snaptest_store(store);
	free(store);
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

static void
test_fingerprint(void **state)
{
	unsigned char a[HASH_LEN], b[HASH_LEN];
	unsigned char h1[HASH_LEN], h2[HASH_LEN];

	(void)state;
	hash_buffer("one", 3, h1);
	hash_buffer("two", 3, h2);
	approval_fingerprint(ENTRY_FILE, 0100644, h1, HASH_LEN, a);
	approval_fingerprint(ENTRY_FILE, 0100644, h1, HASH_LEN, b);
	assert_memory_equal(a, b, HASH_LEN);
	approval_fingerprint(ENTRY_FILE, 0100644, h2, HASH_LEN, b);
	assert_memory_not_equal(a, b, HASH_LEN);
	/* the exec bit is part of what was approved */
	approval_fingerprint(ENTRY_FILE, 0100755, h1, HASH_LEN, b);
	assert_memory_not_equal(a, b, HASH_LEN);
	/* a link to the same bytes is not that file */
	approval_fingerprint(ENTRY_SYMLINK, 0120777, h1, HASH_LEN, b);
	assert_memory_not_equal(a, b, HASH_LEN);
	/* absent sides are all alike, whatever mode is passed */
	approval_fingerprint(ENTRY_NONE, 0100644, NULL, 0, a);
	approval_fingerprint(ENTRY_NONE, 0, NULL, 0, b);
	assert_memory_equal(a, b, HASH_LEN);
	approval_fingerprint(ENTRY_DIR, 040755, NULL, 0, b);
	assert_memory_not_equal(a, b, HASH_LEN);
}

static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct approval a, got;
	unsigned char pick[3] = { 1, 0, 1 };
	const char weird[] = "dir/new\nline \377name";
	char *cause = NULL;

	memset(&a, 0, sizeof a);
	memset(a.new_fp, 0x11, HASH_LEN);
	memset(a.old_fp, 0x22, HASH_LEN);
	a.nhunks = 3;
	a.pick = pick;
	assert_int_equal(approval_get(f->st, 1, weird, sizeof weird - 1, &got,
	    &cause), 1);
	assert_int_equal(approval_put(f->st, 1, weird, sizeof weird - 1, &a,
	    &cause), 0);
	assert_int_equal(approval_get(f->st, 1, weird, sizeof weird - 1, &got,
	    &cause), 0);
	assert_int_equal(got.whole, 0);
	assert_int_equal(got.nhunks, 3);
	assert_memory_equal(got.pick, pick, 3);
	assert_memory_equal(got.new_fp, a.new_fp, HASH_LEN);
	assert_memory_equal(got.old_fp, a.old_fp, HASH_LEN);
	approval_free(&got);
	/* another session's approval of the same path is another record */
	assert_int_equal(approval_get(f->st, 2, weird, sizeof weird - 1, &got,
	    &cause), 1);
	/* a path of 5000 bytes is keyed by its hash */
	{
		char *longp = xmalloc(5001);

		memset(longp, 'x', 5000);
		longp[5000] = '\0';
		a.whole = 1;
		assert_int_equal(approval_put(f->st, 1, longp, 5000, &a,
		    &cause), 0);
		assert_int_equal(approval_get(f->st, 1, longp, 5000, &got,
		    &cause), 0);
		assert_int_equal(got.whole, 1);
		approval_free(&got);
		assert_int_equal(approval_del(f->st, 1, longp, 5000, &cause), 0);
		assert_int_equal(approval_del(f->st, 1, longp, 5000, &cause), 1);
		free(longp);
	}
	assert_int_equal(approval_put(f->st, 2, "a", 1, &a, &cause), 0);
	assert_int_equal(approval_forget(f->st, 1, &cause), 0);
	assert_int_equal(approval_get(f->st, 1, weird, sizeof weird - 1, &got,
	    &cause), 1);
	/* forgetting session 1 leaves session 2's */
	assert_int_equal(approval_get(f->st, 2, "a", 1, &got, &cause), 0);
	approval_free(&got);
}

static int
write_garbage(struct index_txn *txn, void *arg, char **cause)
{
	unsigned char key[4 + HASH_LEN];

	be32_put(key, 7);
	hash_buffer("p", 1, key + 4);
	return index_put(txn, INDEX_APPROVALS, key, sizeof key, arg,
	    strlen(arg), cause);
}

static void
test_corrupt(void **state)
{
	struct fixture *f = *state;
	struct approval got;
	char *cause = NULL;
	char garbage[] = "\0\0\0\0\0\0\0\1not a record at all";

	assert_int_equal(index_write(f->st->index, write_garbage, garbage,
	    &cause), 0);
	assert_int_equal(approval_get(f->st, 7, "p", 1, &got, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "corrupt"));
	free(cause);
}

static void
test_state(void **state)
{
	struct approval a;
	unsigned char o[HASH_LEN], n[HASH_LEN], other[HASH_LEN];
	unsigned char pick[3] = { 1, 0, 1 };
	size_t k;

	(void)state;
	memset(o, 1, HASH_LEN);
	memset(n, 2, HASH_LEN);
	memset(other, 3, HASH_LEN);
	assert_int_equal(approval_state_of(NULL, o, n, 3, &k), APPROVAL_NONE);
	memset(&a, 0, sizeof a);
	a.whole = 1;
	memcpy(a.new_fp, n, HASH_LEN);
	memcpy(a.old_fp, o, HASH_LEN);
	assert_int_equal(approval_state_of(&a, o, n, 3, &k), APPROVAL_APPROVED);
	assert_int_equal(k, 3);
	/* whole: the real side may move (promotion merges it) */
	assert_int_equal(approval_state_of(&a, other, n, 2, &k),
	    APPROVAL_APPROVED);
	/* the agent changed it again */
	assert_int_equal(approval_state_of(&a, o, other, 3, &k),
	    APPROVAL_LAPSED);
	a.whole = 0;
	a.nhunks = 3;
	a.pick = pick;
	assert_int_equal(approval_state_of(&a, o, n, 3, &k), APPROVAL_PARTIAL);
	assert_int_equal(k, 2);
	/* hunk numbers hold only for the same two sides */
	assert_int_equal(approval_state_of(&a, other, n, 3, &k),
	    APPROVAL_LAPSED);
	assert_int_equal(approval_state_of(&a, o, n, 4, &k), APPROVAL_LAPSED);
	pick[1] = 1;
	assert_int_equal(approval_state_of(&a, o, n, 3, &k), APPROVAL_APPROVED);
	memset(pick, 0, sizeof pick);
	assert_int_equal(approval_state_of(&a, o, n, 3, &k), APPROVAL_NONE);
	assert_string_equal(approval_state_name(APPROVAL_LAPSED), "lapsed");
}

static void
test_tree_relative(void **state)
{
	char *cause = NULL, *r, *cwd = getcwd(NULL, 0);

	(void)state;
	assert_int_equal(chdir("/usr/share"), 0);
	r = tree_relative("/usr", "doc/../man//./man1/", &cause);
	assert_string_equal(r, "share/man/man1");
	free(r);
	r = tree_relative("/usr", "/usr", &cause);
	assert_string_equal(r, "");
	free(r);
	r = tree_relative("/usr", "..", &cause);
	assert_string_equal(r, "");
	free(r);
	/* out of the tree, however it is spelled */
	assert_null(tree_relative("/usr", "../..", &cause));
	assert_non_null(strstr(cause, "outside the real tree"));
	free(cause);
	cause = NULL;
	assert_null(tree_relative("/usr", "/usrx/a", &cause));
	free(cause);
	cause = NULL;
	assert_null(tree_relative("/usr", "/etc/passwd", &cause));
	free(cause);
	cause = NULL;
	assert_null(tree_relative("/usr/share", "../../usr/sharex", &cause));
	free(cause);
	assert_int_equal(chdir(cwd), 0);
	free(cwd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_tree_relative),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

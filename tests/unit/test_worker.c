/*
 * The TUI's checkpoint worker and scratch watcher: checkpoints taken on
 * the thread come back in order with their tickets, and inotify sees
 * writes in directories made after it started.
 */
#include "config.h"

#include <sys/stat.h>

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/snaptest.h"
#include "tui/tui.h"

/* Waits for the worker's next result. */
static void
take_result(struct worker *w, struct worker_result *r)
{
	struct pollfd pfd = { worker_fd(w), POLLIN, 0 };
	int i;

	for (i = 0; i < 500; i++) {
		if (worker_result(w, r))
			return;
		poll(&pfd, 1, 20);
	}
	fail_msg("no result from the worker");
}

static void
test_worker_checkpoints(void **state)
{
	char *dir = snaptest_tmpdir("test_worker");
	char *storedir = path_join(dir, "store"), *tree = path_join(dir, "tree");
	char *argv[] = { (char *)"sh", NULL };
	char *cause = NULL, *upper;
	struct worker_result r;
	struct session *s;
	struct store *st;
	struct worker *w;

	(void)state;
	snaptest_mkdir(dir, "tree", 0755);
	snaptest_write_str(tree, "a.txt", "real\n");
	st = snaptest_store(storedir);
	assert_int_equal(session_create(st, "w", tree, argv, NET_HOST, &s,
	    &cause), 0);
	upper = session_upper(s);
	w = worker_start(st, s, &cause);
	assert_non_null(w);

	/* nothing yet: the first one is forced (a start), then unchanged */
	assert_int_equal(worker_request(w, "start", NULL, 1, 0), 0);
	take_result(w, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.number, 0);
	assert_string_equal(r.reason, "start");
	worker_result_free(&r);
	assert_int_equal(worker_request(w, "user", NULL, 0, 77), 0);
	take_result(w, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.ticket, 77);
	worker_result_free(&r);

	/* a change, two requests queued at once: in order */
	snaptest_write_str(upper, "a.txt", "agent\n");
	assert_int_equal(worker_request(w, "agent", "first", 0, 1), 0);
	assert_int_equal(worker_request(w, "prompt", NULL, 0, 2), 0);
	take_result(w, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.number, 1);
	assert_int_equal(r.ticket, 1);
	worker_result_free(&r);
	take_result(w, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(r.ticket, 2);
	worker_result_free(&r);
	assert_int_equal(worker_busy(w), 0);

	/* the queue is bounded: requests past it are refused, not lost
	 * silently; stop runs what was queued */
	{
		int refused = 0;
		for (int i = 0; i < 40; i++)
			refused += worker_request(w, "user", NULL, 0, 0) != 0;
		assert_true(refused > 0);
	}
	worker_stop(w);
	{
		struct ckpt *v;
		size_t n;

		assert_int_equal(checkpoint_list(st, s->id, &v, &n, &cause),
		    0);
		assert_int_equal(n, 2);
		assert_string_equal(v[1].reason, "agent");
		assert_string_equal(v[1].label, "first");
		for (size_t i = 0; i < n; i++)
			ckpt_free(&v[i]);
		free(v);
	}
	free(upper);
	session_free(s);
	store_close(st);
	snaptest_rm(dir);
	free(storedir);
	free(tree);
	free(dir);
}

static int
idle_wait(struct idle *id)
{
	struct pollfd pfd = { idle_fd(id), POLLIN, 0 };

	if (poll(&pfd, 1, 2000) != 1)
		return 0;
	return idle_read(id);
}

static void
test_idle(void **state)
{
	char *dir = snaptest_tmpdir("test_idle"), *note = NULL, *sub;
	struct idle *id;

	(void)state;
	snaptest_mkdir(dir, "old/deeper", 0755);
	id = idle_create(dir, &note);
	assert_null(note);
	assert_true(idle_fd(id) >= 0);
	/* nothing happened: nothing to read */
	assert_int_equal(idle_read(id), 0);
	snaptest_write_str(dir, "old/deeper/f", "x");
	assert_int_equal(idle_wait(id), 1);
	/* a directory made later is watched too, and one made inside it */
	assert_int_equal(mkdir((sub = path_join(dir, "new")), 0755), 0);
	assert_int_equal(idle_wait(id), 1);
	free(sub);
	snaptest_mkdir(dir, "new/inner", 0755);
	assert_int_equal(idle_wait(id), 1);
	snaptest_write_str(dir, "new/inner/g", "y");
	assert_int_equal(idle_wait(id), 1);
	assert_int_equal(idle_read(id), 0);
	idle_free(id);
	/* a directory that cannot be watched: no crash, a note */
	id = idle_create("/nonexistent/airlock", &note);
	assert_non_null(id);
	idle_free(id);
	free(note);
	snaptest_rm(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_checkpoints),
		cmocka_unit_test(test_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The control protocol: the request parser and the answers with hostile
 * input, the rate limit, and the server with real sockets in a temporary
 * directory (garbage, slow and silent clients, too many clients).
 */

/* Parses a request given with its length; returns the parser's result. */
static int
parse(const char *line, size_t len, int agent, struct control_request *req,
    char **cause)
{
	*cause = NULL;
	return control_parse(line, len, agent, req, cause);
}

/* The request must be refused with exactly why. */
static void
refused(const char *line, size_t len, int agent, const char *why)
{
	struct control_request req;
	char *cause;

	if (parse(line, len, agent, &req, &cause) != -1)
		fail_msg("accepted: %.*s", (int)len, line);
	assert_string_equal(cause, why);
	assert_null(req.label);
	assert_null(req.path);
	assert_null(req.hunks);
	free(cause);
}

/* Refused with exactly why, as a C string. */
static void
refused_str(const char *line, int agent, const char *why)
{
	refused(line, strlen(line), agent, why);
}

static void
test_parse_good(void **state)
{
	struct control_request req;
	char *cause;

	assert_int_equal(parse("checkpoint", 10, 1, &req, &cause), 0);
	assert_int_equal(req.verb, CONTROL_CHECKPOINT);
	assert_null(req.label);
	assert_int_equal(parse("checkpoint end of turn 3", 24, 1, &req,
	    &cause), 0);
	assert_string_equal(req.label, "end of turn 3");
	control_request_free(&req);
	assert_null(req.label);
	/* UTF-8 and spaces inside a label are fine */
	assert_int_equal(parse("checkpoint  \xc3\xa9t\xc3\xa9 \xe2\x9c\x93 ",
	    22, 0, &req, &cause), 0);
	assert_string_equal(req.label, " \xc3\xa9t\xc3\xa9 \xe2\x9c\x93 ");
	control_request_free(&req);
	assert_int_equal(parse("status", 6, 1, &req, &cause), 0);
	assert_int_equal(req.verb, CONTROL_STATUS);
	assert_int_equal(parse("rollback 0", 10, 0, &req, &cause), 0);
	assert_int_equal(req.verb, CONTROL_ROLLBACK);
	assert_int_equal(req.number, 0);
	assert_int_equal(parse("rollback 4294967294", 19, 0, &req, &cause), 0);
	assert_int_equal(req.number, 4294967294U);
}

static void
test_parse_hostile(void **state)
{
	char big[CONTROL_LINE_MAX + 10], label[CONTROL_LABEL_MAX + 20];
	struct control_request req;
	char *cause;

	refused("", 0, 1, "unknown request");
	refused("promote", 7, 0, "unknown request");
	refused("CHECKPOINT", 10, 1, "unknown request");
	refused("checkpointx", 11, 1, "unknown request");
	refused(" status", 7, 1, "unknown request");
	refused("status ", 7, 1, "unknown request");
	refused("status\r", 7, 1, "unknown request");
	refused("status\0rollback 1", 17, 0, "NUL byte in the request");
	refused("checkpoint a\0b", 14, 1, "NUL byte in the request");
	refused("checkpoint ", 11, 1, "empty label");
	refused("checkpoint a\tb", 14, 1, "label holds a control character");
	refused("checkpoint a\nb", 14, 1, "label holds a control character");
	refused("checkpoint \x1b[2J", 15, 1, "label holds a control character");
	refused("checkpoint \x7f", 12, 1, "label holds a control character");
	refused("checkpoint \xc2\x9b" "31m", 16, 1,
	    "label holds a control character");
	refused("checkpoint \xff\xfe", 13, 1, "label is not valid UTF-8");
	refused("checkpoint \xc0\xaf", 13, 1, "label is not valid UTF-8");
	refused("checkpoint \xed\xa0\x80", 14, 1, "label is not valid UTF-8");
	/* the agent never rolls back, whatever follows */
	refused("rollback 1", 10, 1, "rollback is not allowed on agent.sock");
	refused("rollback", 8, 1, "rollback is not allowed on agent.sock");
	refused("rollback", 8, 0, "rollback needs a checkpoint number");
	refused("rollback ", 9, 0, "rollback needs a checkpoint number");
	refused("rollback -1", 11, 0, "rollback needs a checkpoint number");
	refused("rollback +1", 11, 0, "rollback needs a checkpoint number");
	refused("rollback 01", 11, 0, "rollback needs a checkpoint number");
	refused("rollback 1 ", 11, 0, "rollback needs a checkpoint number");
	refused("rollback 1x", 11, 0, "rollback needs a checkpoint number");
	refused("rollback 4294967295", 19, 0,
	    "rollback needs a checkpoint number");
	refused("rollback 99999999999", 20, 0,
	    "rollback needs a checkpoint number");
	refused("rollback  1", 11, 0, "rollback needs a checkpoint number");
	/* oversized: the whole line, and a label just past its limit */
	memset(big, 'a', sizeof big);
	memcpy(big, "checkpoint ", 11);
	refused(big, CONTROL_LINE_MAX, 1, "request too long");
	refused(big, sizeof big, 1, "request too long");
	memcpy(label, "checkpoint ", 11);
	memset(label + 11, 'x', sizeof label - 11);
	refused(label, 11 + CONTROL_LABEL_MAX + 1, 1,
	    "label longer than 256 bytes");
	assert_int_equal(parse(label, 11 + CONTROL_LABEL_MAX, 1, &req,
	    &cause), 0);
	assert_int_equal(strlen(req.label), CONTROL_LABEL_MAX);
	control_request_free(&req);
}

static void
test_parse_reject(void **state)
{
	struct control_request req;
	char *cause;

	assert_int_equal(parse("reject - 612f622e747874", 23, 0, &req, &cause),
	    0);
	assert_int_equal(req.verb, CONTROL_REJECT);
	assert_string_equal(req.path, "a/b.txt");
	assert_null(req.hunks);
	assert_int_equal(req.nhunks, 0);
	control_request_free(&req);
	assert_null(req.path);
	assert_int_equal(parse("reject 2,1000000,2 66", 21, 0, &req, &cause),
	    0);
	assert_int_equal(req.nhunks, 3);
	assert_int_equal(req.hunks[0], 2);
	assert_int_equal(req.hunks[1], 1000000);
	assert_int_equal(req.hunks[2], 2);
	assert_string_equal(req.path, "f");
	control_request_free(&req);
	assert_null(req.hunks);
	/* any byte but NUL: a newline, a space, invalid UTF-8, dots inside */
	assert_int_equal(parse("reject 1 610a6220ff2e2e2e", 25, 0, &req,
	    &cause), 0);
	assert_string_equal(req.path, "a\nb \xff...");
	control_request_free(&req);
	assert_int_equal(parse("reject - 2e612f2e2e62", 21, 0, &req, &cause),
	    0);
	assert_string_equal(req.path, ".a/..b");
	control_request_free(&req);
}

static void
test_parse_reject_hostile(void **state)
{
	static const char *const shape[] = {
		"reject", "reject ", "reject -", "reject -61", "reject 1",
	};
	static const char *const hunks[] = {
		"reject  61", "reject 0 61", "reject 01 61", "reject 1, 61",
		"reject ,1 61", "reject 1,,2 61", "reject -1 61", "reject +1 61",
		"reject 1000001 61", "reject 99999999999 61", "reject 1-3 61",
		"reject -- 61", "reject x 61", "reject 1;2 61", "reject  - 61",
	};
	static const char *const hex[] = {
		"reject - ", "reject - 6", "reject - 61 ", "reject - 61 62", "reject - 6g",
		"reject - 6A", "reject - 0x61", "reject - 61\n", "reject 1 -",
	};
	static const char *const comp[] = {
		"2e2e", "2e2e2f657463", "612f2e2e", "612f2e2e2f62", "2e",
		"612f2e2f62", "612f", "612f2f62", "2f", "2f2f61",
	};
	char line[CONTROL_LINE_MAX + 10];
	size_t i;

	/* never on agent.sock, however well formed */
	refused_str("reject - 61", 1, "reject is not allowed on agent.sock");
	refused_str("reject", 1, "reject is not allowed on agent.sock");
	refused_str("rejectx - 61", 0, "unknown request");
	refused_str("REJECT - 61", 0, "unknown request");
	refused_str("reject\t- 61", 0, "unknown request");
	for (i = 0; i < sizeof shape / sizeof *shape; i++)
		refused_str(shape[i], 0,
		    "reject needs hunks (- or 1,3) and a hex path");
	for (i = 0; i < sizeof hunks / sizeof *hunks; i++)
		refused_str(hunks[i], 0, "reject: bad hunk numbers");
	for (i = 0; i < sizeof hex / sizeof *hex; i++)
		refused_str(hex[i], 0, "reject: the path is not hex");
	refused_str("reject - 2f657463", 0, "reject: the path is absolute");
	refused_str("reject - 2f", 0, "reject: the path is absolute");
	refused_str("reject - 610062", 0, "reject: NUL byte in the path");
	refused_str("reject - 00", 0, "reject: NUL byte in the path");
	for (i = 0; i < sizeof comp / sizeof *comp; i++) {
		snprintf(line, sizeof line, "reject - %s", comp[i]);
		refused_str(line, 0, comp[i][0] == '2' && comp[i][1] == 'f' ?
		    "reject: the path is absolute" :
		    "reject: the path has an empty, \".\" or \"..\" component");
	}
	/* a NUL in the line itself, and a line past the limit */
	refused("reject - 61\0", 12, 0, "NUL byte in the request");
	memcpy(line, "reject - ", 9);
	memset(line + 9, '6', sizeof line - 9);
	refused(line, CONTROL_LINE_MAX, 0, "request too long");
}

static void
test_answers(void **state)
{
	struct buf b = BUF_INIT;
	char why[2000];

	control_answer(&b, CONTROL_OK, 7, NULL);
	control_answer(&b, CONTROL_UNCHANGED, 0, NULL);
	control_answer(&b, CONTROL_FAILED, 0, "no\nsuch\tthing\x1b\xff");
	control_answer(&b, CONTROL_FAILED, 0, NULL);
	assert_string_equal(b.data, "ok 7\nunchanged 0\n"
	    "error no?such?thing??\nerror failed\n");
	buf_reset(&b);
	memset(why, 'w', sizeof why - 1);
	why[sizeof why - 1] = '\0';
	control_answer(&b, CONTROL_FAILED, 0, why);
	assert_int_equal(b.len, 6 + 512 + 1);
	buf_free(&b);
}

static void
test_replies(void **state)
{
	static const char *const bad[] = {
		"", "ok", "ok ", "ok x", "ok 3 4", "ok -1", "fine 3", "error",
		"error ", "unchanged", "OK 3", "ok 4294967295",
	};
	struct control_reply r;
	char *cause = NULL;
	size_t i;

	assert_int_equal(control_reply_parse("ok 12", 5, &r, &cause), 0);
	assert_int_equal(r.status, CONTROL_OK);
	assert_int_equal(r.number, 12);
	assert_int_equal(control_reply_parse("unchanged 3", 11, &r, &cause), 0);
	assert_int_equal(r.status, CONTROL_UNCHANGED);
	assert_int_equal(r.number, 3);
	assert_int_equal(control_reply_parse("error rate limited", 18, &r,
	    &cause), 0);
	assert_int_equal(r.status, CONTROL_FAILED);
	assert_string_equal(r.why, "rate limited");
	control_reply_free(&r);
	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		cause = NULL;
		if (control_reply_parse(bad[i], strlen(bad[i]), &r,
		    &cause) != -1)
			fail_msg("accepted reply \"%s\"", bad[i]);
		assert_non_null(cause);
		free(cause);
	}
	assert_int_equal(control_reply_parse("ok 1\0", 5, &r, &cause), -1);
	free(cause);
}

static void
test_bucket(void **state)
{
	struct control_bucket b;
	int i;

	control_bucket_init(&b, 1000);
	for (i = 0; i < CONTROL_BURST; i++)
		assert_int_equal(control_bucket_take(&b, 1000), 1);
	assert_int_equal(control_bucket_take(&b, 1000), 0);
	assert_int_equal(control_bucket_take(&b, 1999), 0);
	assert_int_equal(control_bucket_take(&b, 2000), 1);
	assert_int_equal(control_bucket_take(&b, 2000), 0);
	/* a long pause fills the bucket, never past the burst */
	for (i = 0; i < CONTROL_BURST; i++)
		assert_int_equal(control_bucket_take(&b, 100000), 1);
	assert_int_equal(control_bucket_take(&b, 100000), 0);
	/* a clock going back gives nothing */
	assert_int_equal(control_bucket_take(&b, 50000), 0);
	assert_int_equal(control_bucket_take(&b, 100500), 0);
	assert_int_equal(control_bucket_take(&b, 101000), 1);
}

/* The server's world: a temporary directory and what fn saw. */
struct world {
	char *dir;
	char *ctl;
	char *agent;
	struct control_server *server;
	int calls;
	char last_label[CONTROL_LABEL_MAX + 1];
	int last_agent;
	uint64_t ticket;   /* of the last "checkpoint later" */
};

static void
world_fn(const struct control_request *req, int from_agent, struct buf *out,
    void *arg)
{
	struct world *w = arg;

	w->calls++;
	w->last_agent = from_agent;
	snprintf(w->last_label, sizeof w->last_label, "%s",
	    req->label != NULL ? req->label : "");
	switch (req->verb) {
	case CONTROL_CHECKPOINT:
		if (req->label != NULL && strcmp(req->label, "later") == 0)
			w->ticket = control_server_defer(w->server);
		else
			control_answer(out, CONTROL_OK, (uint32_t)w->calls,
			    NULL);
		break;
	case CONTROL_STATUS:
		control_answer(out, CONTROL_UNCHANGED, 41, NULL);
		break;
	case CONTROL_ROLLBACK:
		control_answer(out, CONTROL_OK, req->number + 100, NULL);
		break;
	case CONTROL_REJECT:
		snprintf(w->last_label, sizeof w->last_label, "%s", req->path);
		control_answer(out, CONTROL_OK, (uint32_t)req->nhunks + 200,
		    NULL);
		break;
	}
}

static char *
world_tmpdir(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/%s.XXXXXX", tmp != NULL && *tmp != '\0' ?
	    tmp : "/tmp", name);

	assert_non_null(mkdtemp(dir));
	return dir;
}

static int
world_setup(void **state)
{
	struct world *w = xcalloc(1, sizeof *w);
	char *cause = NULL;

	w->dir = world_tmpdir("test_control");
	w->ctl = path_join(w->dir, "ctl.sock");
	w->agent = path_join(w->dir, "agent.sock");
	if (control_server_open(w->ctl, w->agent, &w->server, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	*state = w;
	return 0;
}

static int
world_teardown(void **state)
{
	struct world *w = *state;
	char *cause = NULL;

	control_server_close(w->server);
	/* the sockets are gone with the server */
	assert_int_equal(access(w->ctl, F_OK), -1);
	assert_int_equal(access(w->agent, F_OK), -1);
	assert_int_equal(path_remove_tree(w->dir, &cause), 0);
	free(w->dir);
	free(w->ctl);
	free(w->agent);
	free(w);
	return 0;
}

/* One round of the supervisor's loop. */
static void
world_serve(struct world *w, int timeout)
{
	struct pollfd pfd[CONTROL_POLLFDS];
	size_t n = control_server_pollfds(w->server, pfd);
	int left = control_server_timeout(w->server, control_now());

	if (left >= 0 && left < timeout)
		timeout = left;
	assert_true(poll(pfd, n, timeout) >= 0);
	control_server_dispatch(w->server, pfd, world_fn, w);
}

static int
world_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof sa.sun_path);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Serves until fd has its whole answer (the server closes after it). */
static char *
world_answer(struct world *w, int fd)
{
	struct buf b = BUF_INIT;
	struct pollfd pfd;
	char chunk[512];
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < 200; rounds++) {
		world_serve(w, 20);
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) == 1)
			break;
	}
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(&b, chunk, (size_t)n);
	close(fd);
	return buf_detach(&b, NULL);
}

/* Sends bytes on a new connection to path and returns the answer. */
static char *
world_ask(struct world *w, const char *path, const char *data, size_t len,
    int shut)
{
	int fd = world_connect(path);

	assert_int_equal(write(fd, data, len), (ssize_t)len);
	if (shut)
		shutdown(fd, SHUT_WR);
	return world_answer(w, fd);
}

static void
check_ask(struct world *w, const char *path, const char *data, size_t len,
    int shut, const char *want)
{
	char *got = world_ask(w, path, data, len, shut);

	assert_string_equal(got, want);
	free(got);
}

static void
test_server_requests(void **state)
{
	struct world *w = *state;
	struct stat sb;

	assert_int_equal(stat(w->ctl, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(w->agent, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	check_ask(w, w->agent, "status\n", 7, 0, "unchanged 41\n");
	check_ask(w, w->agent, "checkpoint turn 1\n", 18, 0, "ok 2\n");
	assert_string_equal(w->last_label, "turn 1");
	assert_int_equal(w->last_agent, 1);
	check_ask(w, w->ctl, "rollback 3\n", 11, 0, "ok 103\n");
	assert_int_equal(w->last_agent, 0);
	check_ask(w, w->ctl, "reject 1,3 610a62\n", 18, 0, "ok 202\n");
	assert_string_equal(w->last_label, "a\nb");
	/* the line may come in pieces */
	check_ask(w, w->ctl, "stat", 4, 0, "");
	assert_int_equal(w->calls, 4);
}

static void
test_server_garbage(void **state)
{
	struct world *w = *state;
	char big[CONTROL_LINE_MAX + 100];

	check_ask(w, w->agent, "rollback 1\n", 11, 0,
	    "error rollback is not allowed on agent.sock\n");
	check_ask(w, w->agent, "reject - 61\n", 12, 0,
	    "error reject is not allowed on agent.sock\n");
	check_ask(w, w->ctl, "reject - 2e2e2f61\n", 18, 0,
	    "error reject: the path has an empty, \".\" or \"..\" "
	    "component\n");
	check_ask(w, w->ctl, "reject - 2f61\n", 14, 0,
	    "error reject: the path is absolute\n");
	check_ask(w, w->agent, "sta\0tus\n", 8, 0,
	    "error NUL byte in the request\n");
	check_ask(w, w->agent, "\xff\xfe\n", 3, 0, "error unknown request\n");
	check_ask(w, w->agent, "status\nstatus\n", 14, 0,
	    "error one request per connection\n");
	check_ask(w, w->agent, "status", 6, 1,
	    "error incomplete request (no newline)\n");
	memset(big, 'x', sizeof big);
	check_ask(w, w->agent, big, sizeof big, 0, "error request too long\n");
	/* a client that only connects and leaves */
	close(world_connect(w->agent));
	world_serve(w, 20);
	assert_int_equal(w->calls, 0);
	/* still serving */
	check_ask(w, w->agent, "status\n", 7, 0, "unchanged 41\n");
	assert_int_equal(w->calls, 1);
}

static void
test_server_rate_limit(void **state)
{
	struct world *w = *state;
	char *got;
	int i, limited = 0;

	for (i = 0; i < CONTROL_BURST + 3; i++) {
		got = world_ask(w, w->agent, "checkpoint\n", 11, 0);
		if (strcmp(got, "error rate limited\n") == 0)
			limited++;
		free(got);
	}
	/* the burst passes (a token may have come back meanwhile) */
	assert_in_range(w->calls, CONTROL_BURST, CONTROL_BURST + 1);
	assert_int_equal(limited, CONTROL_BURST + 3 - w->calls);
	/* status is not limited, and ctl.sock never */
	check_ask(w, w->agent, "status\n", 7, 0, "unchanged 41\n");
	got = world_ask(w, w->ctl, "checkpoint\n", 11, 0);
	assert_string_not_equal(got, "error rate limited\n");
	free(got);
}

static void
test_server_silent(void **state)
{
	struct world *w = *state;
	int silent[CONTROL_MAX_CONNS], extra, i;
	int64_t start = control_now();
	char *got;
	char c;

	/* silent clients take every agent slot: the next one is refused */
	for (i = 0; i < CONTROL_MAX_CONNS; i++) {
		silent[i] = world_connect(w->agent);
		world_serve(w, 10);
	}
	extra = world_connect(w->agent);
	got = world_answer(w, extra);
	assert_string_equal(got, "error busy\n");
	free(got);
	/* ctl.sock is not crowded out, and the loop never blocks */
	check_ask(w, w->ctl, "status\n", 7, 0, "unchanged 41\n");
	assert_true(control_now() - start < CONTROL_TIMEOUT_MS);
	/* after their time, the silent ones are dropped */
	while (control_now() - start < CONTROL_TIMEOUT_MS + 500)
		world_serve(w, 100);
	for (i = 0; i < CONTROL_MAX_CONNS; i++) {
		assert_int_equal(read(silent[i], &c, 1), 0);
		close(silent[i]);
	}
	assert_int_equal(control_server_timeout(w->server, control_now()), -1);
	check_ask(w, w->agent, "status\n", 7, 0, "unchanged 41\n");
}

/* An answer given later (the TUI's checkpoints run on a thread): the
 * client waits past CONTROL_TIMEOUT_MS without being dropped, others are
 * served meanwhile, and a stale ticket answers nobody. */
static void
test_server_deferred(void **state)
{
	struct world *w = *state;
	struct pollfd pfd;
	uint64_t first;
	int64_t start;
	char *got;
	int fd, fd2;

	fd = world_connect(w->agent);
	assert_int_equal(write(fd, "checkpoint later\n", 17), 17);
	start = control_now();
	while (w->ticket == 0 && control_now() - start < 2000)
		world_serve(w, 20);
	assert_true(w->ticket != 0);
	/* no deadline runs for it: nothing to wait for */
	assert_int_equal(control_server_timeout(w->server, control_now()), -1);
	check_ask(w, w->ctl, "status\n", 7, 0, "unchanged 41\n");
	while (control_now() - start < CONTROL_TIMEOUT_MS + 300)
		world_serve(w, 100);
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	control_server_reply(w->server, w->ticket, CONTROL_OK, 7, NULL);
	got = world_answer(w, fd);
	assert_string_equal(got, "ok 7\n");
	free(got);
	/* the slot is free again; the old ticket answers nobody, not the
	 * next client in that slot */
	first = w->ticket;
	w->ticket = 0;
	fd2 = world_connect(w->agent);
	assert_int_equal(write(fd2, "checkpoint later\n", 17), 17);
	start = control_now();
	while (w->ticket == 0 && control_now() - start < 2000)
		world_serve(w, 20);
	assert_true(w->ticket != 0 && w->ticket != first);
	control_server_reply(w->server, first, CONTROL_FAILED, 0, "stale");
	world_serve(w, 20);
	pfd.fd = fd2;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	control_server_reply(w->server, w->ticket, CONTROL_FAILED, 0,
	    "disk full");
	got = world_answer(w, fd2);
	assert_string_equal(got, "error disk full\n");
	free(got);
	/* a client that hung up while waiting: the answer goes nowhere */
	w->ticket = 0;
	fd = world_connect(w->ctl);
	assert_int_equal(write(fd, "checkpoint later\n", 17), 17);
	start = control_now();
	while (w->ticket == 0 && control_now() - start < 2000)
		world_serve(w, 20);
	close(fd);
	control_server_reply(w->server, w->ticket, CONTROL_OK, 1, NULL);
	check_ask(w, w->ctl, "status\n", 7, 0, "unchanged 41\n");
}

/* control_call from a child, the server in this process. */
static void
test_call(void **state)
{
	struct world *w = *state;
	struct control_reply r;
	char *cause = NULL;
	pid_t pid;
	int status = 0;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (control_call(w->agent, "checkpoint via call\n", &r,
		    &cause) != 0 || r.status != CONTROL_OK || r.number != 1)
			_exit(1);
		if (control_call(w->ctl, "rollback 2\n", &r, &cause) != 0 ||
		    r.status != CONTROL_OK || r.number != 102)
			_exit(2);
		if (control_call(w->agent, "rollback 2\n", &r, &cause) != 0 ||
		    r.status != CONTROL_FAILED ||
		    strcmp(r.why, "rollback is not allowed on agent.sock") != 0)
			_exit(3);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0)
		world_serve(w, 20);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(w->last_label, "");
	assert_int_equal(w->calls, 2);
}

static void
test_call_nobody(void **state)
{
	char *dir = world_tmpdir("test_control_stale"), *cause = NULL;
	char *path = path_join(dir, "ctl.sock");
	struct control_reply r;
	struct sockaddr_un sa;
	int fd;

	/* no socket at all, then a stale one (its server died) */
	assert_int_equal(control_call(path, "status\n", &r, &cause), 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	assert_int_equal(control_call(path, "status\n", &r, &cause), 1);
	assert_int_equal(path_remove_tree(dir, &cause), 0);
	free(path);
	free(dir);
}

/* Socket paths longer than sun_path go through /proc/self/fd. */
static void
test_long_path(void **state)
{
	char *base = world_tmpdir("test_control_long"), *dir, *ctl, *agent;
	struct world w;
	char *cause = NULL;
	struct control_reply r;
	pid_t pid;
	int status = 0;

	memset(&w, 0, sizeof w);
	dir = path_join(base, "a-directory-name-that-is-quite-long/"
	    "and-another-one-below-it-to-pass-the-limit-of-sun-path");
	assert_int_equal(path_mkdirs(dir, 0700, &cause), 0);
	ctl = path_join(dir, "ctl.sock");
	agent = path_join(dir, "agent.sock");
	assert_true(strlen(ctl) > sizeof ((struct sockaddr_un *)0)->sun_path);
	assert_int_equal(control_server_open(ctl, agent, &w.server, &cause), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		status = control_call(ctl, "status\n", &r, &cause) == 0 &&
		    r.status == CONTROL_UNCHANGED ? 0 : 1;
		/* the child's copy of everything goes before it exits */
		control_server_close(w.server);
		free(ctl);
		free(agent);
		free(dir);
		free(base);
		_exit(status);
	}
	while (waitpid(pid, &status, WNOHANG) == 0)
		world_serve(&w, 20);
	assert_int_equal(WEXITSTATUS(status), 0);
	control_server_close(w.server);
	assert_int_equal(access(ctl, F_OK), -1);
	assert_int_equal(path_remove_tree(base, &cause), 0);
	free(ctl);
	free(agent);
	free(dir);
	free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_parse_reject),
		cmocka_unit_test(test_parse_reject_hostile),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test_setup_teardown(test_server_requests,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_server_garbage,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_server_rate_limit,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_server_silent,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_server_deferred,
		    world_setup, world_teardown),
		cmocka_unit_test_setup_teardown(test_call, world_setup,
		    world_teardown),
		cmocka_unit_test(test_call_nobody),
		cmocka_unit_test(test_long_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The line protocol of ctl.sock and agent.sock: parsing requests (written
 * by the agent on agent.sock, so hostile: every byte is checked, nothing is
 * echoed back), answers, the rate limit, and the client side that airlock's
 * commands use.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* An answer's WHY is cut to this many bytes. */
#define CONTROL_WHY_MAX 512

/* 1 when the len bytes at s are exactly word. */
static int
control_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* A checkpoint number: decimal digits, no sign, no leading zero, below
 * CKPT_NONE. 0 or -1. */
static int
control_number(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= CKPT_NONE)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
control_label_check(const char *label, size_t len, char **cause)
{
	const unsigned char *p = (const unsigned char *)label;
	size_t i;

	if (len == 0) {
		*cause = xstrdup("empty label");
		return -1;
	}
	if (len > CONTROL_LABEL_MAX) {
		*cause = xasprintf("label longer than %d bytes",
		    CONTROL_LABEL_MAX);
		return -1;
	}
	if (!utf8_valid(label, len)) {
		*cause = xstrdup("label is not valid UTF-8");
		return -1;
	}
	for (i = 0; i < len; i++) {
		/* C0 controls, DEL, and C1 controls (U+0080..U+009F) */
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f)) {
			*cause = xstrdup("label holds a control character");
			return -1;
		}
	}
	return 0;
}

static int
control_parse_checkpoint(const char *rest, size_t len,
    struct control_request *req, char **cause)
{
	req->verb = CONTROL_CHECKPOINT;
	if (len == 0)
		return 0;
	if (rest[0] != ' ') {
		*cause = xstrdup("unknown request");
		return -1;
	}
	if (control_label_check(rest + 1, len - 1, cause) != 0)
		return -1;
	req->label = xstrndup(rest + 1, len - 1);
	return 0;
}

/* One hex digit (lowercase only: one spelling per path), or -1. */
static int
control_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "-", or hunk numbers "1,3" (each 1 to CONTROL_HUNK_MAX, no leading
 * zero). 0 or -1. */
static int
control_parse_hunks(const char *s, size_t len, struct control_request *req)
{
	size_t i = 0, start;
	uint64_t v;

	if (len == 1 && s[0] == '-')
		return 0;
	while (i < len) {
		start = i;
		v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 8)
			v = v * 10 + (uint64_t)(s[i++] - '0');
		if (i == start || s[start] == '0' || v > CONTROL_HUNK_MAX)
			return -1;
		req->hunks = xreallocarray(req->hunks, req->nhunks + 1,
		    sizeof *req->hunks);
		req->hunks[req->nhunks++] = (size_t)v;
		if (i == len)
			return 0;
		if (s[i++] != ',' || i == len)
			return -1;
	}
	return -1;
}

/* A relative path without empty, "." or ".." components; why not, or
 * NULL. */
static const char *
control_path_bad(const char *path, size_t len)
{
	const char *p = path, *end = path + len, *slash;
	size_t n;

	if (memchr(path, '\0', len) != NULL)
		return "reject: NUL byte in the path";
	if (path[0] == '/')
		return "reject: the path is absolute";
	for (;;) {
		slash = memchr(p, '/', (size_t)(end - p));
		n = (size_t)((slash != NULL ? slash : end) - p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return "reject: the path has an empty, \".\" or \"..\" "
			    "component";
		if (slash == NULL)
			return NULL;
		p = slash + 1;
	}
}

/* "reject HUNKS PATHHEX" after the verb; ctl.sock only. */
static int
control_parse_reject(const char *rest, size_t len, struct control_request *req,
    char **cause)
{
	const char *space, *hex;
	const char *why;
	size_t hexlen, i;
	int hi, lo;

	req->verb = CONTROL_REJECT;
	if (len < 2 || rest[0] != ' ' ||
	    (space = memchr(rest + 1, ' ', len - 1)) == NULL) {
		*cause = xstrdup("reject needs hunks (- or 1,3) and a hex path");
		return -1;
	}
	if (control_parse_hunks(rest + 1, (size_t)(space - rest - 1),
	    req) != 0) {
		*cause = xstrdup("reject: bad hunk numbers");
		return -1;
	}
	hex = space + 1;
	hexlen = len - (size_t)(hex - rest);
	if (hexlen == 0 || hexlen % 2 != 0) {
		*cause = xstrdup("reject: the path is not hex");
		return -1;
	}
	req->path = xmalloc(hexlen / 2 + 1);
	for (i = 0; i < hexlen / 2; i++) {
		hi = control_hex_digit(hex[2 * i]);
		lo = control_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			*cause = xstrdup("reject: the path is not hex");
			return -1;
		}
		req->path[i] = (char)(hi << 4 | lo);
	}
	req->path[i] = '\0';
	if ((why = control_path_bad(req->path, i)) != NULL) {
		*cause = xstrdup(why);
		return -1;
	}
	return 0;
}

int
control_parse(const char *line, size_t len, int from_agent,
    struct control_request *req, char **cause)
{
	const char *space;
	size_t word;

	memset(req, 0, sizeof *req);
	if (len >= CONTROL_LINE_MAX) {
		*cause = xstrdup("request too long");
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*cause = xstrdup("NUL byte in the request");
		return -1;
	}
	space = memchr(line, ' ', len);
	word = space != NULL ? (size_t)(space - line) : len;
	if (control_is(line, word, "checkpoint"))
		return control_parse_checkpoint(line + word, len - word, req,
		    cause);
	if (control_is(line, len, "status")) {
		req->verb = CONTROL_STATUS;
		return 0;
	}
	if (control_is(line, word, "rollback")) {
		if (from_agent) {
			*cause = xstrdup("rollback is not allowed on "
			    "agent.sock");
			return -1;
		}
		req->verb = CONTROL_ROLLBACK;
		if (space != NULL && control_number(space + 1,
		    len - word - 1, &req->number) == 0)
			return 0;
		*cause = xstrdup("rollback needs a checkpoint number");
		return -1;
	}
	if (control_is(line, word, "reject")) {
		if (from_agent) {
			*cause = xstrdup("reject is not allowed on agent.sock");
			return -1;
		}
		if (control_parse_reject(line + word, len - word, req,
		    cause) == 0)
			return 0;
		control_request_free(req);
		return -1;
	}
	*cause = xstrdup("unknown request");
	return -1;
}

void
control_request_free(struct control_request *req)
{
	free(req->label);
	free(req->path);
	free(req->hunks);
	req->label = NULL;
	req->path = NULL;
	req->hunks = NULL;
	req->nhunks = 0;
}

void
control_answer(struct buf *out, enum control_status status, uint32_t number,
    const char *why)
{
	size_t i;

	switch (status) {
	case CONTROL_OK:
		buf_printf(out, "ok %u\n", number);
		return;
	case CONTROL_UNCHANGED:
		buf_printf(out, "unchanged %u\n", number);
		return;
	case CONTROL_FAILED:
		break;
	}
	buf_addstr(out, "error ");
	if (why == NULL || *why == '\0')
		why = "failed";
	/* one line of printable ASCII: paths in causes are escaped already */
	for (i = 0; why[i] != '\0' && i < CONTROL_WHY_MAX; i++) {
		unsigned char c = (unsigned char)why[i];

		buf_addch(out, c >= 0x20 && c < 0x7f ? c : '?');
	}
	buf_addch(out, '\n');
}

int
control_reply_parse(const char *line, size_t len, struct control_reply *reply,
    char **cause)
{
	const char *space = memchr(line, ' ', len);
	size_t word = space != NULL ? (size_t)(space - line) : len;

	memset(reply, 0, sizeof *reply);
	if (space == NULL || memchr(line, '\0', len) != NULL)
		goto bad;
	if (control_is(line, word, "error") && len > word + 1) {
		reply->status = CONTROL_FAILED;
		reply->why = xstrndup(space + 1, len - word - 1);
		return 0;
	}
	if (control_is(line, word, "ok"))
		reply->status = CONTROL_OK;
	else if (control_is(line, word, "unchanged"))
		reply->status = CONTROL_UNCHANGED;
	else
		goto bad;
	if (control_number(space + 1, len - word - 1, &reply->number) == 0)
		return 0;
bad:
	*cause = xstrdup("the session's answer makes no sense");
	return -1;
}

void
control_reply_free(struct control_reply *reply)
{
	free(reply->why);
	reply->why = NULL;
}

void
control_bucket_init(struct control_bucket *b, int64_t now_ms)
{
	b->tokens = (int64_t)CONTROL_BURST * 1000;
	b->last_ms = now_ms;
}

int
control_bucket_take(struct control_bucket *b, int64_t now_ms)
{
	int64_t elapsed = now_ms - b->last_ms;

	if (elapsed > 0) {
		b->tokens += elapsed * 1000 / CONTROL_REFILL_MS;
		if (b->tokens > (int64_t)CONTROL_BURST * 1000)
			b->tokens = (int64_t)CONTROL_BURST * 1000;
		b->last_ms = now_ms;
	}
	if (b->tokens < 1000)
		return 0;
	b->tokens -= 1000;
	return 1;
}

int64_t
control_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads up to the newline; 0 with *len, -1 with *cause. */
static int
control_read_line(int fd, char *line, size_t size, size_t *len, char **cause)
{
	size_t got = 0;
	ssize_t n;
	char *nl;

	for (;;) {
		n = read(fd, line + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*cause = xasprintf("cannot read the answer: %s",
			    strerror(errno));
			return -1;
		}
		if (n == 0) {
			*cause = xstrdup("the session closed the connection "
			    "without an answer");
			return -1;
		}
		got += (size_t)n;
		if ((nl = memchr(line, '\n', got)) != NULL) {
			*len = (size_t)(nl - line);
			return 0;
		}
		if (got == size) {
			*cause = xstrdup("the session's answer is too long");
			return -1;
		}
	}
}

static int
control_send(int fd, const char *data, size_t len, char **cause)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*cause = xasprintf("cannot send the request: %s",
			    strerror(errno));
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Connects fd to the socket at path; a path too long for sun_path goes
 * through /proc/self/fd of its directory. 0, 1 when nobody listens there,
 * -1 with *cause.
 */
static int
control_connect(int fd, const char *path, char **cause)
{
	struct sockaddr_un sa;
	AUTOFREE char *dir = NULL;
	AUTOCLOSE int dirfd = -1;
	const char *slash = strrchr(path, '/');

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) < sizeof sa.sun_path)
		memcpy(sa.sun_path, path, strlen(path));
	else {
		dir = slash != NULL ? xstrndup(path, (size_t)(slash - path)) :
		    xstrdup(".");
		if ((dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
			if (errno == ENOENT)
				return 1;
			*cause = xasprintf("cannot open %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s",
		    dirfd, slash != NULL ? slash + 1 : path);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return 0;
	if (errno == ENOENT || errno == ECONNREFUSED)
		return 1;
	*cause = xasprintf("cannot connect to %s: %s", path, strerror(errno));
	return -1;
}

int
control_call(const char *path, const char *request,
    struct control_reply *reply, char **cause)
{
	AUTOCLOSE int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char line[CONTROL_LINE_MAX];
	size_t len;
	int rc;

	if (fd < 0) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	if ((rc = control_connect(fd, path, cause)) != 0)
		return rc;
	if (control_send(fd, request, strlen(request), cause) != 0 ||
	    control_read_line(fd, line, sizeof line, &len, cause) != 0)
		return -1;
	return control_reply_parse(line, len, reply, cause);
}

int
control_session_call(const struct session *s, const char *request,
    struct control_reply *reply, char **cause)
{
	AUTOFREE char *path = path_join(s->dir, "ctl.sock");

	return control_call(path, request, reply, cause);
}

int
control_inside(void)
{
	const char *id = getenv("AIRLOCK_SESSION");

	return id != NULL && *id != '\0' && access(SANDBOX_AGENT_SOCK, F_OK) == 0;
}

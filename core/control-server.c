/*
 * The server side of ctl.sock and agent.sock, driven by the supervisor's
 * poll(2) loop. Every descriptor is non-blocking; a client gets one request
 * and one answer, and CONTROL_TIMEOUT_MS for each of the two, so a silent or
 * slow client costs a slot for a moment and never blocks the loop. Each
 * socket has its own CONTROL_MAX_CONNS slots: the agent cannot crowd out
 * the user on ctl.sock.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define CONTROL_BACKLOG 16
#define CONTROL_CTL 0
#define CONTROL_AGENT 1

struct control_conn {
	int fd;              /* -1: a free slot */
	int64_t deadline;
	char in[CONTROL_LINE_MAX];
	size_t inlen;
	struct buf out;      /* the answer, once there is one */
	size_t sent;
	int answering;
	int waiting;         /* the answer was deferred (control_server_defer) */
	uint32_t generation; /* counts the connections this slot served */
};

struct control_server {
	int listen[2];
	char *path[2];
	struct control_conn conns[2][CONTROL_MAX_CONNS];
	struct control_bucket bucket;   /* agent checkpoints */
	/* the connections control_server_pollfds listed, in order */
	struct control_conn *polled[2 * CONTROL_MAX_CONNS];
	int polled_side[2 * CONTROL_MAX_CONNS];
	size_t npolled;
	struct control_conn *serving;   /* inside the control_fn */
	uint64_t serving_ticket;
};

/* Binds a listening socket at path, 0600 (a path too long for sun_path
 * goes through /proc/self/fd of its directory). */
static int
control_listen(const char *path, char **cause)
{
	struct sockaddr_un sa;
	AUTOFREE char *dir = NULL;
	AUTOCLOSE int dirfd = -1;
	const char *slash = strrchr(path, '/');
	int fd, rc;
	mode_t mask;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) < sizeof sa.sun_path)
		memcpy(sa.sun_path, path, strlen(path));
	else {
		dir = slash != NULL ? xstrndup(path, (size_t)(slash - path)) :
		    xstrdup(".");
		dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			*cause = xasprintf("cannot open %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s",
		    dirfd, slash != NULL ? slash + 1 : path);
	}
	/* a stale socket of an airlock that died: the session lock is ours */
	if (unlink(path) != 0 && errno != ENOENT) {
		*cause = xasprintf("cannot remove %s: %s", path,
		    strerror(errno));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(mask);
	if (rc != 0 || listen(fd, CONTROL_BACKLOG) != 0) {
		*cause = xasprintf("cannot listen on %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
control_server_open(const char *ctl_path, const char *agent_path,
    struct control_server **out, char **cause)
{
	struct control_server *s = xcalloc(1, sizeof *s);
	int side, i;

	for (side = 0; side < 2; side++) {
		s->listen[side] = -1;
		for (i = 0; i < CONTROL_MAX_CONNS; i++) {
			s->conns[side][i].fd = -1;
			buf_init(&s->conns[side][i].out);
		}
	}
	s->path[CONTROL_CTL] = xstrdup(ctl_path);
	s->path[CONTROL_AGENT] = xstrdup(agent_path);
	control_bucket_init(&s->bucket, control_now());
	for (side = 0; side < 2; side++) {
		s->listen[side] = control_listen(s->path[side], cause);
		if (s->listen[side] < 0) {
			control_server_close(s);
			return -1;
		}
	}
	*out = s;
	return 0;
}

static void
control_conn_close(struct control_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->inlen = 0;
	c->sent = 0;
	c->answering = 0;
	c->waiting = 0;
	buf_free(&c->out);
}

void
control_server_close(struct control_server *s)
{
	int side, i;

	if (s == NULL)
		return;
	for (side = 0; side < 2; side++) {
		for (i = 0; i < CONTROL_MAX_CONNS; i++)
			control_conn_close(&s->conns[side][i]);
		if (s->listen[side] >= 0) {
			close(s->listen[side]);
			unlink(s->path[side]);
		}
		free(s->path[side]);
	}
	free(s);
}

size_t
control_server_pollfds(struct control_server *s, struct pollfd *pfd)
{
	struct control_conn *c;
	size_t n = 0;
	int side, i;

	for (side = 0; side < 2; side++) {
		pfd[n].fd = s->listen[side];
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	s->npolled = 0;
	for (side = 0; side < 2; side++) {
		for (i = 0; i < CONTROL_MAX_CONNS; i++) {
			c = &s->conns[side][i];
			if (c->fd < 0 || c->waiting)
				continue;
			pfd[n].fd = c->fd;
			pfd[n].events = c->answering ? POLLOUT : POLLIN;
			pfd[n++].revents = 0;
			s->polled_side[s->npolled] = side;
			s->polled[s->npolled++] = c;
		}
	}
	return n;
}

int
control_server_timeout(const struct control_server *s, int64_t now)
{
	int64_t soonest = -1, left;
	int side, i;

	for (side = 0; side < 2; side++) {
		for (i = 0; i < CONTROL_MAX_CONNS; i++) {
			if (s->conns[side][i].fd < 0 ||
			    s->conns[side][i].waiting)
				continue;
			left = s->conns[side][i].deadline - now;
			if (left < 0)
				left = 0;
			if (soonest < 0 || left < soonest)
				soonest = left;
		}
	}
	return (int)soonest;
}

/* Sends what is left of the answer; closes the connection once sent. */
static void
control_conn_write(struct control_conn *c)
{
	ssize_t n;

	while (c->sent < c->out.len) {
		n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			control_conn_close(c);
			return;
		}
		c->sent += (size_t)n;
	}
	control_conn_close(c);
}

/* Starts writing an answer, with a fresh deadline: the request may have
 * taken long. */
static void
control_conn_answer(struct control_conn *c)
{
	c->answering = 1;
	c->deadline = control_now() + CONTROL_TIMEOUT_MS;
	control_conn_write(c);
}

static void
control_conn_refuse(struct control_conn *c, const char *why)
{
	control_answer(&c->out, CONTROL_FAILED, 0, why);
	control_conn_answer(c);
}

/* A whole request line: parsed, limited, served. */
static void
control_conn_request(struct control_server *s, struct control_conn *c,
    int side, size_t len, control_fn fn, void *arg)
{
	struct control_request req;
	char *cause = NULL;
	int from_agent = side == CONTROL_AGENT;

	if (control_parse(c->in, len, from_agent, &req, &cause) != 0) {
		control_conn_refuse(c, cause);
		free(cause);
		return;
	}
	if (from_agent && req.verb == CONTROL_CHECKPOINT &&
	    !control_bucket_take(&s->bucket, control_now()))
		control_answer(&c->out, CONTROL_FAILED, 0, "rate limited");
	else {
		s->serving = c;
		s->serving_ticket = (uint64_t)c->generation << 16 |
		    (uint64_t)side << 8 | (uint64_t)(c - s->conns[side]);
		fn(&req, from_agent, &c->out, arg);
		s->serving = NULL;
	}
	control_request_free(&req);
	if (!c->waiting)
		control_conn_answer(c);
}

static void
control_conn_read(struct control_server *s, struct control_conn *c, int side,
    control_fn fn, void *arg)
{
	ssize_t n;
	char *nl;

	n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n < 0 || (n == 0 && c->inlen == 0)) {
		control_conn_close(c);
		return;
	}
	if (n == 0) {
		control_conn_refuse(c, "incomplete request (no newline)");
		return;
	}
	c->inlen += (size_t)n;
	nl = memchr(c->in, '\n', c->inlen);
	if (nl == NULL) {
		if (c->inlen == sizeof c->in)
			control_conn_refuse(c, "request too long");
		return;
	}
	if (nl != c->in + c->inlen - 1) {
		control_conn_refuse(c, "one request per connection");
		return;
	}
	control_conn_request(s, c, side, (size_t)(nl - c->in), fn, arg);
}

/* 1 when the peer of fd runs as our user or as root. */
static int
control_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	return cred.uid == geteuid() || cred.uid == 0;
}

/* Takes the waiting connections of one socket into free slots. */
static void
control_accept(struct control_server *s, int side, int64_t now)
{
	struct control_conn *c;
	int fd, i, tries;

	for (tries = 0; tries < CONTROL_MAX_CONNS; tries++) {
		fd = accept4(s->listen[side], NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		for (i = 0, c = NULL; i < CONTROL_MAX_CONNS && c == NULL; i++) {
			if (s->conns[side][i].fd < 0)
				c = &s->conns[side][i];
		}
		if (c == NULL || (side == CONTROL_CTL && !control_peer_ok(fd))) {
			/* best effort: the socket buffer of a new
			 * connection has room for one line */
			send(fd, c == NULL ? "error busy\n" :
			    "error not your session\n", c == NULL ? 11 : 23,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline = now + CONTROL_TIMEOUT_MS;
		c->generation++;
	}
}

void
control_server_dispatch(struct control_server *s, const struct pollfd *pfd,
    control_fn fn, void *arg)
{
	struct control_conn *c;
	int64_t now;
	short revents;
	size_t k;
	int side, i;

	for (k = 0; k < s->npolled; k++) {
		c = s->polled[k];
		revents = pfd[2 + k].revents;
		if (c->fd < 0 || revents == 0)
			continue;
		if (!c->answering)
			control_conn_read(s, c, s->polled_side[k], fn, arg);
		else
			control_conn_write(c);
	}
	s->npolled = 0;
	/* after the requests, which may have taken long */
	now = control_now();
	for (side = 0; side < 2; side++) {
		for (i = 0; i < CONTROL_MAX_CONNS; i++) {
			c = &s->conns[side][i];
			if (c->fd >= 0 && !c->waiting && now >= c->deadline)
				control_conn_close(c);
		}
		if (pfd[side].revents & POLLIN)
			control_accept(s, side, now);
	}
}

uint64_t
control_server_defer(struct control_server *s)
{
	if (s->serving == NULL)
		fatalx("control_server_defer outside a request");
	s->serving->waiting = 1;
	return s->serving_ticket;
}

void
control_server_reply(struct control_server *s, uint64_t ticket,
    enum control_status status, uint32_t number, const char *why)
{
	unsigned side = (unsigned)(ticket >> 8 & 0xff);
	unsigned i = (unsigned)(ticket & 0xff);
	struct control_conn *c;

	if (side > 1 || i >= CONTROL_MAX_CONNS)
		return;
	c = &s->conns[side][i];
	if (c->fd < 0 || !c->waiting ||
	    c->generation != (uint32_t)(ticket >> 16))
		return;
	c->waiting = 0;
	control_answer(&c->out, status, number, why);
	control_conn_answer(c);
}

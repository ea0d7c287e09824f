#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The proxy of --net allow: the allow-list matching and the HTTP parsing
 * on their own, then the whole proxy with real sockets on 127.0.0.1: test
 * servers (an echo server, an HTTP server that counts what reaches it),
 * the proxy's listening sockets, and the test as the (hostile) client.
 */

/* An upstream server on 127.0.0.1 run by a thread, one client at a time. */
enum server_mode {
	SERVER_ECHO,             /* sends back what it gets */
	SERVER_HTTP,             /* answers requests: "you asked for PATH" */
	SERVER_HTTP_CHUNKED,     /* the same, in a chunked body */
	SERVER_MUTE,             /* reads the request and closes */
	SERVER_CANNED,           /* answers every request with canned */
};

struct server {
	enum server_mode mode;
	int fd;
	uint16_t port;
	int stop[2];
	pthread_t thread;
	pthread_mutex_t lock;
	int requests;            /* request heads read */
	int connections;
	struct buf last;         /* the last request: head and body */
	const char *canned;
	size_t ncanned;
	pthread_t echoes[512];   /* SERVER_ECHO: a thread per connection */
	size_t nechoes;
};

struct fixture {
	struct server echo, http;
	uint16_t closed_port;    /* nobody listens there */
	struct proxy *proxy;
	uint16_t http_port, socks_port;
	char *dir, *log;
};

static int
listen_tcp(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 512), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int
connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	set_timeout(fd, 5000);
	return fd;
}

/* Sends it all; errors (the proxy may have closed) are the caller's. */
static int
send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Reads exactly n bytes; -1 on EOF, error or timeout. */
static int
read_n(int fd, void *p, size_t n)
{
	char *c = p;
	ssize_t r;

	while (n > 0) {
		r = recv(fd, c, n, 0);
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reads until EOF (or error) into out. */
static void
read_all(int fd, struct buf *out)
{
	char chunk[4096];
	ssize_t r;

	while ((r = recv(fd, chunk, sizeof chunk, 0)) > 0)
		buf_add(out, chunk, (size_t)r);
}

/* Reads a head (through the empty line) byte by byte; 0 or -1. */
static int
read_head(int fd, struct buf *head)
{
	char c;

	buf_reset(head);
	while (head->len < 65536) {
		if (recv(fd, &c, 1, 0) != 1)
			return -1;
		buf_addch(head, c);
		if (head->len >= 4 &&
		    memcmp(head->data + head->len - 4, "\r\n\r\n", 4) == 0)
			return 0;
	}
	return -1;
}

/* The value of a field in a head, or NULL (static buffer). */
static const char *
head_field(const char *head, const char *name)
{
	static char value[256];
	const char *p = head;
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			snprintf(value, sizeof value, "%.*s",
			    (int)strcspn(p, "\r"), p);
			return value;
		}
	}
	return NULL;
}

/* Reads a chunked body (raw) through its last chunk. */
static int
read_chunked(int fd, struct buf *body)
{
	struct buf line = BUF_INIT;
	unsigned long size;
	char c;

	for (;;) {
		buf_reset(&line);
		do {
			if (recv(fd, &c, 1, 0) != 1)
				goto fail;
			buf_addch(&line, c);
		} while (c != '\n' && line.len < 100);
		size = strtoul(line.data, NULL, 16);
		if (size == 0)
			break;
		buf_grow(body, size);
		if (read_n(fd, body->data + body->len, size) != 0)
			goto fail;
		body->len += size;
		body->data[body->len] = '\0';
		if (read_n(fd, &c, 1) != 0 || read_n(fd, &c, 1) != 0)
			goto fail;
	}
	do {                         /* the trailer, through its empty line */
		buf_reset(&line);
		do {
			if (recv(fd, &c, 1, 0) != 1)
				goto fail;
			buf_addch(&line, c);
		} while (c != '\n' && line.len < 100);
	} while (line.len > 2);
	buf_free(&line);
	return 0;
fail:
	buf_free(&line);
	return -1;
}

/* An HTTP response: its status (-1 when none came), head and body. */
static int
read_response(int fd, struct buf *head, struct buf *body)
{
	const char *v;

	buf_reset(body);
	if (read_head(fd, head) != 0 || strncmp(head->data, "HTTP/1.", 7) != 0)
		return -1;
	if ((v = head_field(head->data, "Content-Length")) != NULL) {
		size_t n = strtoul(v, NULL, 10);

		buf_grow(body, n);
		if (read_n(fd, body->data, n) != 0)
			return -1;
		body->len = n;
		body->data[n] = '\0';
	} else if ((v = head_field(head->data, "Transfer-Encoding")) != NULL) {
		if (read_chunked(fd, body) != 0)
			return -1;
	} else
		read_all(fd, body);
	return atoi(head->data + 9);
}

/* The server's side of one HTTP connection: requests until EOF. */
static void
server_http(struct server *s, int fd)
{
	struct buf head = BUF_INIT, body = BUF_INIT, out = BUF_INIT;
	char path[256];
	const char *v;

	while (read_head(fd, &head) == 0) {
		buf_reset(&body);
		if (head_field(head.data, "Expect") != NULL &&
		    send_str(fd, "HTTP/1.1 100 Continue\r\n\r\n") != 0)
			break;
		if ((v = head_field(head.data, "Content-Length")) != NULL) {
			size_t n = strtoul(v, NULL, 10);

			buf_grow(&body, n);
			if (read_n(fd, body.data, n) != 0)
				break;
			body.len = n;
			body.data[n] = '\0';
		} else if (head_field(head.data, "Transfer-Encoding") != NULL &&
		    read_chunked(fd, &body) != 0)
			break;
		pthread_mutex_lock(&s->lock);
		s->requests++;
		buf_reset(&s->last);
		buf_add(&s->last, head.data, head.len);
		buf_add(&s->last, body.data, body.len);
		pthread_mutex_unlock(&s->lock);
		if (s->mode == SERVER_MUTE)
			break;
		if (s->mode == SERVER_CANNED) {
			if (send_all(fd, s->canned, s->ncanned) != 0)
				break;
			continue;
		}
		snprintf(path, sizeof path, "%.*s", (int)strcspn(
		    strchr(head.data, ' ') + 1, " "), strchr(head.data, ' ') + 1);
		buf_reset(&out);
		if (s->mode == SERVER_HTTP_CHUNKED) {
			buf_printf(&out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
			    "chunked\r\nConnection: keep-alive\r\n\r\n"
			    "e\r\nyou asked for \r\n%zx;ext=1\r\n%s\r\n"
			    "0\r\nX-Trailer: yes\r\n\r\n", strlen(path), path);
		} else {
			buf_printf(&out, "HTTP/1.1 200 OK\r\nContent-Length: %zu"
			    "\r\nKeep-Alive: timeout=5\r\n\r\n",
			    strlen("you asked for ") + strlen(path) + body.len);
			if (strncmp(head.data, "HEAD ", 5) != 0) {
				buf_printf(&out, "you asked for %s", path);
				buf_add(&out, body.data, body.len);
			}
		}
		if (send_all(fd, out.data, out.len) != 0)
			break;
		if ((v = head_field(head.data, "Connection")) != NULL &&
		    strcasecmp(v, "close") == 0)
			break;
	}
	buf_free(&head);
	buf_free(&body);
	buf_free(&out);
}

static void *
server_echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char chunk[65536];
	ssize_t n;

	while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0) {
		if (send_all(fd, chunk, (size_t)n) != 0)
			break;
	}
	close(fd);
	return NULL;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd[2] = {
		{ .fd = s->fd, .events = POLLIN },
		{ .fd = s->stop[0], .events = POLLIN },
	};
	int fd;

	for (;;) {
		if (poll(pfd, 2, -1) == -1 || pfd[1].revents != 0)
			break;
		if ((fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		set_timeout(fd, 5000);
		pthread_mutex_lock(&s->lock);
		s->connections++;
		pthread_mutex_unlock(&s->lock);
		if (s->mode == SERVER_ECHO && s->nechoes < 512) {
			assert_int_equal(pthread_create(&s->echoes[s->nechoes++],
			    NULL, server_echo, (void *)(intptr_t)fd), 0);
			continue;
		}
		server_http(s, fd);
		close(fd);
	}
	return NULL;
}

static void
server_start(struct server *s, enum server_mode mode, const char *canned,
    size_t ncanned)
{
	memset(s, 0, sizeof *s);
	s->mode = mode;
	s->canned = canned;
	s->ncanned = ncanned;
	buf_init(&s->last);
	pthread_mutex_init(&s->lock, NULL);
	s->fd = listen_tcp(&s->port);
	assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	for (size_t i = 0; i < s->nechoes; i++)
		pthread_join(s->echoes[i], NULL);
	close(s->stop[0]);
	close(s->stop[1]);
	close(s->fd);
	buf_free(&s->last);
	pthread_mutex_destroy(&s->lock);
}

static int
server_requests(struct server *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->requests;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int
server_connections(struct server *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->connections;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int64_t
proxy_test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next event within 5 s; fails the test when none comes. */
static void
take_event(struct proxy *p, struct proxy_event *ev)
{
	struct pollfd pfd = { .fd = proxy_event_fd(p), .events = POLLIN };

	for (int i = 0; i < 50; i++) {
		if (proxy_event_take(p, ev) == 1)
			return;
		poll(&pfd, 1, 100);
	}
	fail_msg("no proxy event within 5 s");
}

/* No event within ms. */
static void
no_event(struct proxy *p, int ms)
{
	struct pollfd pfd = { .fd = proxy_event_fd(p), .events = POLLIN };
	struct proxy_event ev;

	poll(&pfd, 1, ms);
	if (proxy_event_take(p, &ev) == 1) {
		fail_msg("unexpected event: %s:%u %s", ev.host ? ev.host : "-",
		    ev.port, ev.why ? ev.why : "");
	}
}

/* Starts a proxy for f (its own listening sockets) with the entries. */
static struct proxy *
proxy_for(struct fixture *f, char *const *allow, size_t n)
{
	struct proxy *p;
	char *cause = NULL;
	int fd;

	p = proxy_start(allow, n, f->log, &cause);
	if (p == NULL)
		fail_msg("proxy_start: %s", cause);
	fd = listen_tcp(&f->http_port);
	assert_int_equal(proxy_listen(p, fd, PROXY_HTTP, &cause), 0);
	fd = listen_tcp(&f->socks_port);
	assert_int_equal(proxy_listen(p, fd, PROXY_SOCKS5, &cause), 0);
	return p;
}

static int
fixture_setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	char tmpl[] = "/tmp/airlock-proxy-XXXXXX", *allow[3];
	int fd;

	assert_non_null(mkdtemp(tmpl));
	f->dir = xstrdup(tmpl);
	f->log = xasprintf("%s/net.log", f->dir);
	server_start(&f->echo, SERVER_ECHO, NULL, 0);
	server_start(&f->http, SERVER_HTTP, NULL, 0);
	fd = listen_tcp(&f->closed_port);
	close(fd);
	allow[0] = xasprintf("localhost:%u", f->echo.port);
	allow[1] = xasprintf("LocalHost:%u", f->http.port);
	allow[2] = xasprintf("localhost:%u", f->closed_port);
	f->proxy = proxy_for(f, allow, 3);
	for (int i = 0; i < 3; i++)
		free(allow[i]);
	*state = f;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct fixture *f = *state;
	struct proxy_event ev;

	if (f->proxy != NULL) {
		while (proxy_event_take(f->proxy, &ev) == 1)
			proxy_event_free(&ev);
		proxy_stop(f->proxy);
	}
	server_stop(&f->echo);
	server_stop(&f->http);
	unlink(f->log);
	rmdir(f->dir);
	free(f->log);
	free(f->dir);
	free(f);
	return 0;
}

/* Sends a request through the proxy on a new connection; the status. */
static int
http_through(struct fixture *f, const char *request, struct buf *head,
    struct buf *body)
{
	int fd = connect_to(f->http_port), status;

	send_str(fd, request);
	status = read_response(fd, head, body);
	close(fd);
	return status;
}

/*
 * Matching and parsing on their own.
 */

static void
test_proxy_match(void **state)
{
	char *allow[] = {
		"*.npmjs.org", "example.com", "api.example.com:8080",
		"1.2.3.4", "[::1]:443", "10.0.0.1:22",
	};
	size_t n = sizeof allow / sizeof allow[0];

	(void)state;
	assert_true(proxy_match(allow, n, "registry.npmjs.org", 443));
	assert_true(proxy_match(allow, n, "a.b.npmjs.org", 80));
	assert_true(proxy_match(allow, n, "Registry.NPMJS.org.", 443));
	assert_false(proxy_match(allow, n, "npmjs.org", 443));
	assert_false(proxy_match(allow, n, "evilnpmjs.org", 443));
	assert_false(proxy_match(allow, n, "registry.npmjs.org", 8443));
	assert_false(proxy_match(allow, n, "registry.npmjs.org.evil", 443));
	assert_true(proxy_match(allow, n, "example.com", 80));
	assert_true(proxy_match(allow, n, "EXAMPLE.COM.", 443));
	assert_false(proxy_match(allow, n, "example.com", 8080));
	assert_false(proxy_match(allow, n, "www.example.com", 443));
	assert_true(proxy_match(allow, n, "api.example.com", 8080));
	assert_false(proxy_match(allow, n, "api.example.com", 443));
	assert_false(proxy_match(allow, n, "example.com..", 443));
	assert_false(proxy_match(allow, n, "", 443));
	assert_false(proxy_match(allow, n, ".", 443));
	assert_false(proxy_match(allow, n, "exa mple.com", 443));
	/* IP literals: only an entry naming the address. */
	assert_true(proxy_match(allow, n, "1.2.3.4", 443));
	assert_true(proxy_match(allow, n, "1.2.3.4.", 80));
	assert_false(proxy_match(allow, n, "1.2.3.4", 22));
	assert_true(proxy_match(allow, n, "10.0.0.1", 22));
	assert_true(proxy_match(allow, n, "10.1", 22));     /* inet_aton */
	assert_true(proxy_match(allow, n, "0x0a.0.0.1", 22));
	assert_false(proxy_match(allow, n, "10.0.0.1", 443));
	assert_false(proxy_match(allow, n, "127.0.0.1", 443));
	assert_true(proxy_match(allow, n, "[::1]", 443));
	assert_true(proxy_match(allow, n, "[0:0::1]", 443));
	assert_false(proxy_match(allow, n, "[::1]", 80));
	assert_false(proxy_match(allow, n, "::1", 443));
	assert_false(proxy_match(allow, n, "[::2]", 443));
	assert_false(proxy_match(allow, n, "[::1", 443));
	assert_false(proxy_match(allow, n, "[::ffff:1.2.3.4]", 443));
	/* A wildcard never matches an address. */
	{
		char *w[] = { "*.0.0.1", "*.4" };

		assert_false(proxy_match(w, 2, "10.0.0.1", 80));
		assert_false(proxy_match(w, 2, "1.2.3.4", 443));
		assert_true(proxy_match(w, 2, "a.4", 443));
	}
	assert_false(proxy_match(NULL, 0, "example.com", 443));
}

static void
test_proxy_host_normalise(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "Example.COM", "example.com" },
		{ "example.com.", "example.com" },
		{ "_dmarc.x-y.example", "_dmarc.x-y.example" },
		{ "[::1]", "[::1]" },
		{ "[FE80::A]", "[fe80::a]" },
		{ "127.0.0.1", "127.0.0.1" },
		{ "example.com..", NULL },
		{ ".example.com", NULL },
		{ "a..b", NULL },
		{ "", NULL },
		{ ".", NULL },
		{ "[::1", NULL },
		{ "[1.2.3.4]", NULL },
		{ "[fe80::1%eth0]", NULL },
		{ "ex ample", NULL },
		{ "ex/ample", NULL },
		{ "ex:ample", NULL },
		{ "*.example.com", NULL },
	};
	char long_label[80], long_name[300];
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		out = proxy_host_normalise(cases[i].in, strlen(cases[i].in));
		if (cases[i].out == NULL && out != NULL)
			fail_msg("'%s' accepted as '%s'", cases[i].in, out);
		if (cases[i].out != NULL)
			assert_non_null(out);
		if (out != NULL)
			assert_string_equal(out, cases[i].out);
		free(out);
	}
	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".com");
	assert_null(proxy_host_normalise(long_label, strlen(long_label)));
	for (size_t i = 0; i < 254; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[253] = 'a';
	assert_null(proxy_host_normalise(long_name, 254));
	/* A NUL inside is no host. */
	assert_null(proxy_host_normalise("a\0b", 3));
}

/* Scans body through a chunked frame in pieces of step bytes; returns
 * the bytes taken, -1 on error. */
static ssize_t
scan_in_steps(const char *body, size_t len, size_t step, int *done)
{
	struct proxy_frame f;
	size_t off = 0;
	ssize_t n;

	proxy_frame_init(&f, PROXY_FRAME_CHUNKED, 0);
	while (off < len && !f.done) {
		size_t piece = len - off < step ? len - off : step;

		if ((n = proxy_frame_scan(&f, body + off, piece)) < 0)
			return -1;
		off += (size_t)n;
		if ((size_t)n < piece)
			break;
	}
	*done = f.done;
	return (ssize_t)off;
}

static void
test_proxy_frame(void **state)
{
	const char *good = "4\r\nWiki\r\n5;name=val\r\npedia\r\nE\r\n in\r\n"
	    "\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT REQUEST";
	size_t body = strlen(good) - strlen("NEXT REQUEST");
	struct proxy_frame f;
	int done;

	(void)state;
	/* Any split gives the same end, and the next request stays out. */
	for (size_t step = 1; step <= strlen(good); step++) {
		assert_int_equal(scan_in_steps(good, strlen(good), step, &done),
		    (ssize_t)body);
		assert_true(done);
	}
	assert_int_equal(scan_in_steps("0\n\n", 3, 1, &done), 3);
	assert_true(done);
	assert_int_equal(scan_in_steps("3\r\nabc\r\n", 8, 3, &done), 8);
	assert_false(done);
	/* Garbage. */
	assert_int_equal(scan_in_steps("x\r\n", 3, 1, &done), -1);
	assert_int_equal(scan_in_steps("\r\n", 2, 1, &done), -1);
	assert_int_equal(scan_in_steps("3\r\nabcX\r\n", 9, 1, &done), -1);
	assert_int_equal(scan_in_steps("3\rX", 3, 1, &done), -1);
	assert_int_equal(scan_in_steps("fffffffffffffffff\r\n", 19, 1, &done),
	    -1);
	assert_int_equal(scan_in_steps("1;\x01\r\n", 5, 1, &done), -1);
	{
		/* An endless chunk extension stops at PROXY_HEAD_MAX. */
		size_t n = PROXY_HEAD_MAX + 10;
		char *ext = xmalloc(n);

		memset(ext, 'a', n);
		ext[0] = '1';
		ext[1] = ';';
		assert_int_equal(scan_in_steps(ext, n, 4096, &done), -1);
		free(ext);
	}
	/* Lengths. */
	proxy_frame_init(&f, PROXY_FRAME_LENGTH, 5);
	assert_int_equal(proxy_frame_scan(&f, "abc", 3), 3);
	assert_false(f.done);
	assert_int_equal(proxy_frame_scan(&f, "defgh", 5), 2);
	assert_true(f.done);
	assert_int_equal(proxy_frame_scan(&f, "x", 1), 0);
	proxy_frame_init(&f, PROXY_FRAME_EMPTY, 0);
	assert_true(f.done);
	assert_int_equal(proxy_frame_scan(&f, "x", 1), 0);
	proxy_frame_init(&f, PROXY_FRAME_CLOSE, 0);
	assert_int_equal(proxy_frame_scan(&f, "xyz", 3), 3);
	assert_false(f.done);
}

/* Parses a request that must be refused with status. */
static void
request_refused(const char *text, size_t len, int status, const char *why)
{
	struct proxy_request req;
	char *w = NULL;
	int st = 0;

	proxy_request_init(&req);
	if (proxy_request_parse(text, len, &req, &st, &w) != -1)
		fail_msg("accepted: %.*s", (int)(len > 80 ? 80 : len), text);
	assert_int_equal(st, status);
	assert_non_null(w);
	if (why != NULL && strstr(w, why) == NULL)
		fail_msg("'%s' does not say '%s'", w, why);
	free(w);
	proxy_request_free(&req);
}

#define REFUSED(s, status, why) request_refused(s, sizeof s - 1, status, why)

static void
test_proxy_request_parse(void **state)
{
	const char *get = "\r\nGET http://Example.COM.:8080/a/b?c=d#frag HTTP/1.1\r\n"
	    "Host: evil.example\r\nProxy-Authorization: Basic eA==\r\n"
	    "Proxy-Connection: keep-alive\r\nConnection: X-Secret, keep-alive\r\n"
	    "X-Secret: 1\r\nAccept: */*\r\nContent-Length: 3\r\n\r\nabcGET";
	struct proxy_request req;
	char *why = NULL, *big;
	int status = 0, n;

	(void)state;
	proxy_request_init(&req);
	n = proxy_request_parse(get, strlen(get), &req, &status, &why);
	assert_int_equal(n, (int)(strlen(get) - strlen("abcGET")));
	assert_false(req.connect);
	assert_string_equal(req.host, "example.com");
	assert_int_equal(req.port, 8080);
	assert_true(req.keep_alive);
	assert_int_equal(req.body.kind, PROXY_FRAME_LENGTH);
	assert_int_equal(req.body.left, 3);
	assert_string_equal(req.head.data, "GET /a/b?c=d HTTP/1.1\r\n"
	    "Host: example.com:8080\r\nAccept: */*\r\nContent-Length: 3\r\n"
	    "Connection: close\r\n\r\n");
	proxy_request_free(&req);

	/* Incomplete: more is needed. */
	proxy_request_init(&req);
	assert_int_equal(proxy_request_parse(get, 40, &req, &status, &why), 0);
	proxy_request_free(&req);

	/* CONNECT, a query without a path, HTTP/1.0, chunked. */
	proxy_request_init(&req);
	n = proxy_request_parse("CONNECT [::1]:443 HTTP/1.1\r\n\r\n", 30,
	    &req, &status, &why);
	assert_int_equal(n, 30);
	assert_true(req.connect);
	assert_string_equal(req.host, "[::1]");
	assert_int_equal(req.port, 443);
	proxy_request_free(&req);
	proxy_request_init(&req);
	n = proxy_request_parse("HEAD http://a.b?x HTTP/1.0\nTransfer-Encoding:"
	    " chunked\n\n", 55, &req, &status, &why);
	assert_true(n > 0);
	assert_true(req.head_only);
	assert_false(req.keep_alive);
	assert_int_equal(req.body.kind, PROXY_FRAME_CHUNKED);
	assert_string_equal(req.head.data, "HEAD /?x HTTP/1.0\r\nHost: a.b\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
	proxy_request_free(&req);
	proxy_request_init(&req);
	n = proxy_request_parse("GET http://[::1]:81 HTTP/1.1\r\nConnection: "
	    "Close\r\n\r\n", 51, &req, &status, &why);
	assert_true(n > 0);
	assert_false(req.keep_alive);
	assert_non_null(strstr(req.head.data, "GET / HTTP/1.1\r\nHost: [::1]:81\r\n"));
	proxy_request_free(&req);

	/* Refusals. */
	REFUSED("GET / HTTP/1.1\r\n\r\n", 400, "absolute");
	REFUSED("GET https://a/ HTTP/1.1\r\n\r\n", 400, "CONNECT");
	REFUSED("GET http://u:p@a/ HTTP/1.1\r\n\r\n", 400, "user");
	REFUSED("GET http://a:0/ HTTP/1.1\r\n\r\n", 400, "port");
	REFUSED("GET http://a:99999/ HTTP/1.1\r\n\r\n", 400, "port");
	REFUSED("GET http://a b/ HTTP/1.1\r\n\r\n", 400, NULL);
	REFUSED("GET http://a%2fb/ HTTP/1.1\r\n\r\n", 400, "host");
	REFUSED("GET http:/// HTTP/1.1\r\n\r\n", 400, "host");
	REFUSED("CONNECT a HTTP/1.1\r\n\r\n", 400, "port");
	REFUSED("CONNECT a:443/x HTTP/1.1\r\n\r\n", 400, "port");
	REFUSED("GET http://a/ HTTP/2.0\r\n\r\n", 505, NULL);
	REFUSED("GET http://a/ FOO\r\n\r\n", 400, NULL);
	REFUSED("G(T http://a/ HTTP/1.1\r\n\r\n", 400, "method");
	REFUSED("GET http://a/ HTTP/1.1\r\nX: 1\r\n Y\r\n\r\n",
	    400, "folded");
	REFUSED("GET http://a/ HTTP/1.1\r\nBad Name: 1\r\n\r\n",
	    400, "name");
	REFUSED("GET http://a/ HTTP/1.1\r\n: 1\r\n\r\n", 400, NULL);
	REFUSED("GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n", 400,
	    "control");
	REFUSED("GET http://a/ HTTP/1.1\r\nX: \0\r\n\r\n", 400,
	    "control");
	REFUSED("GET http://a/ HTTP/1.1\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400, "both");
	REFUSED("GET http://a/ HTTP/1.1\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n", 400, "differ");
	REFUSED("GET http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length");
	REFUSED("GET http://a/ HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", 400, "Content-Length");
	REFUSED("GET http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n", 501, "Transfer-Encoding");
	REFUSED("GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", 501, "Upgrade");

	/* Too long, too many lines, CRLFs only. */
	big = xmalloc(PROXY_HEAD_MAX + 100);
	memset(big, 'a', PROXY_HEAD_MAX + 100);
	memcpy(big, "GET http://a/ HTTP/1.1\r\nX: ", 27);
	request_refused(big, PROXY_HEAD_MAX + 100, 431, "over");
	request_refused(big, PROXY_HEAD_MAX, 431, "over");
	proxy_request_init(&req);
	assert_int_equal(proxy_request_parse(big, PROXY_HEAD_MAX - 1, &req,
	    &status, &why), 0);
	proxy_request_free(&req);
	memset(big, '\n', PROXY_HEAD_MAX + 100);
	request_refused(big, PROXY_HEAD_MAX + 100, 431, "over");
	{
		struct buf many = BUF_INIT;

		buf_addstr(&many, "GET http://a/ HTTP/1.1\r\n");
		for (int i = 0; i <= PROXY_HEAD_LINES; i++)
			buf_printf(&many, "X-%d: %d\r\n", i, i);
		buf_addstr(&many, "\r\n");
		request_refused(many.data, many.len, 431, "header lines");
		buf_free(&many);
	}
	free(big);
}

static void
test_proxy_response_parse(void **state)
{
	struct proxy_response resp;
	char *why = NULL;
	const char *r;
	int n;

	(void)state;
	r = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: x\r\n"
	    "Content-Length: 5\r\n\r\nhello";
	proxy_response_init(&resp);
	n = proxy_response_parse(r, strlen(r), 65536, 0, 1, &resp, &why);
	assert_int_equal(n, (int)strlen(r) - 5);
	assert_int_equal(resp.status, 200);
	assert_true(resp.keep_alive);
	assert_int_equal(resp.body.kind, PROXY_FRAME_LENGTH);
	assert_string_equal(resp.head.data, "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 5\r\n\r\n");
	proxy_response_free(&resp);

	/* No length: until the server closes, and so must the client. */
	r = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nhello";
	proxy_response_init(&resp);
	n = proxy_response_parse(r, strlen(r), 65536, 0, 1, &resp, &why);
	assert_true(n > 0);
	assert_false(resp.keep_alive);
	assert_int_equal(resp.body.kind, PROXY_FRAME_CLOSE);
	assert_string_equal(resp.head.data, "HTTP/1.1 200 OK\r\n"
	    "Connection: close\r\n\r\n");
	proxy_response_free(&resp);

	/* HEAD, 204, 304 have no body; 100 is followed by another head. */
	r = "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n";
	proxy_response_init(&resp);
	assert_true(proxy_response_parse(r, strlen(r), 65536, 1, 1, &resp,
	    &why) > 0);
	assert_true(resp.body.done);
	assert_true(resp.keep_alive);
	proxy_response_free(&resp);
	r = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n";
	proxy_response_init(&resp);
	assert_true(proxy_response_parse(r, strlen(r), 65536, 0, 1, &resp,
	    &why) > 0);
	assert_true(resp.body.done);
	proxy_response_free(&resp);
	r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
	proxy_response_init(&resp);
	assert_int_equal(proxy_response_parse(r, strlen(r), 65536, 0, 1, &resp,
	    &why), 25);
	assert_true(resp.interim);
	assert_string_equal(resp.head.data, "HTTP/1.1 100 Continue\r\n\r\n");
	proxy_response_free(&resp);
	r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
	proxy_response_init(&resp);
	assert_true(proxy_response_parse(r, strlen(r), 65536, 0, 1, &resp,
	    &why) > 0);
	assert_int_equal(resp.body.kind, PROXY_FRAME_CLOSE);
	assert_false(resp.keep_alive);
	proxy_response_free(&resp);

	/* Garbage. */
	static const char *const bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 099 x\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		proxy_response_init(&resp);
		if (proxy_response_parse(bad[i], strlen(bad[i]), 65536, 0, 1,
		    &resp, &why) != -1)
			fail_msg("accepted: %s", bad[i]);
		free(why);
		why = NULL;
		proxy_response_free(&resp);
	}
	/* Too long. */
	proxy_response_init(&resp);
	r = "HTTP/1.1 200 OK\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	assert_int_equal(proxy_response_parse(r, strlen(r), 20, 0, 1, &resp,
	    &why), -1);
	free(why);
	proxy_response_free(&resp);
}

/*
 * The proxy with sockets.
 */

static void
test_proxy_connect(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT;
	struct proxy_event ev;
	char req[128], echo[6];
	int fd;

	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "CONNECT localhost:%u HTTP/1.1\r\nHost: x\r\n"
	    "\r\nhello!", f->echo.port);
	assert_int_equal(send_str(fd, req), 0);
	assert_int_equal(read_head(fd, &head), 0);
	assert_string_equal(head.data,
	    "HTTP/1.1 200 Connection established\r\n\r\n");
	assert_int_equal(read_n(fd, echo, 6), 0);      /* the early bytes */
	assert_memory_equal(echo, "hello!", 6);
	assert_int_equal(send_str(fd, "abc"), 0);
	assert_int_equal(read_n(fd, echo, 3), 0);
	assert_memory_equal(echo, "abc", 3);
	shutdown(fd, SHUT_WR);
	assert_int_equal(recv(fd, echo, 1, 0), 0);     /* the EOF goes back */
	close(fd);
	take_event(f->proxy, &ev);
	assert_string_equal(ev.host, "localhost");
	assert_int_equal(ev.port, f->echo.port);
	assert_true(ev.allowed);
	assert_string_equal(ev.via, "connect");
	assert_null(ev.why);
	assert_int_equal(ev.sent, 9);
	assert_int_equal(ev.received, 9);
	assert_true(ev.start > 0 && ev.duration_ms >= 0);
	proxy_event_free(&ev);
	buf_free(&head);
}

static void
test_proxy_connect_refused(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	char req[128], *cause = NULL;
	int before = server_connections(&f->echo);

	/* Another port on an allowed host. */
	snprintf(req, sizeof req, "CONNECT localhost:1 HTTP/1.1\r\n\r\n");
	assert_int_equal(http_through(f, req, &head, &body), 403);
	assert_non_null(strstr(body.data, "not in the allow-list (net allow)"));
	assert_int_equal(strncmp(body.data, "airlock: localhost:", 19), 0);
	assert_int_equal(strchr(body.data, '\n') - body.data,
	    (ptrdiff_t)body.len - 1);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	assert_string_equal(ev.host, "localhost");
	assert_string_equal(ev.via, "connect");
	assert_string_equal(ev.why, "not in the allow-list (net allow)");
	proxy_event_free(&ev);

	/* The IP literal of an allowed name: refused until listed. */
	snprintf(req, sizeof req, "CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\n",
	    f->echo.port);
	assert_int_equal(http_through(f, req, &head, &body), 403);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	assert_string_equal(ev.host, "127.0.0.1");
	proxy_event_free(&ev);
	snprintf(req, sizeof req, "CONNECT 2130706433:%u HTTP/1.1\r\n\r\n",
	    f->echo.port);
	assert_int_equal(http_through(f, req, &head, &body), 403);
	take_event(f->proxy, &ev);
	proxy_event_free(&ev);
	snprintf(req, sizeof req, "CONNECT [::1]:%u HTTP/1.1\r\n\r\n",
	    f->echo.port);
	assert_int_equal(http_through(f, req, &head, &body), 403);
	take_event(f->proxy, &ev);
	assert_string_equal(ev.host, "[::1]");
	proxy_event_free(&ev);
	assert_int_equal(server_connections(&f->echo), before);

	/* Listed: through. */
	snprintf(req, sizeof req, "127.0.0.1:%u", f->echo.port);
	assert_int_equal(proxy_allow(f->proxy, req, &cause), 0);
	assert_int_equal(proxy_allow(f->proxy, "bad host!", &cause), -1);
	assert_non_null(strstr(cause, "bad host name"));
	free(cause);
	{
		int fd = connect_to(f->http_port);
		char echo[2];

		snprintf(req, sizeof req, "CONNECT 2130706433:%u HTTP/1.1\r\n"
		    "\r\n", f->echo.port);
		send_str(fd, req);
		assert_int_equal(read_head(fd, &head), 0);
		assert_int_equal(strncmp(head.data, "HTTP/1.1 200 ", 13), 0);
		send_str(fd, "hi");
		assert_int_equal(read_n(fd, echo, 2), 0);
		close(fd);
		take_event(f->proxy, &ev);
		assert_true(ev.allowed);
		assert_string_equal(ev.host, "2130706433");
		proxy_event_free(&ev);
	}

	/* Allowed, but nobody listens: 502. */
	snprintf(req, sizeof req, "CONNECT localhost:%u HTTP/1.1\r\n\r\n",
	    f->closed_port);
	assert_int_equal(http_through(f, req, &head, &body), 502);
	assert_non_null(strstr(body.data, "refused"));
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	assert_non_null(strstr(ev.why, "cannot connect"));
	proxy_event_free(&ev);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_http(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	char req[512];

	snprintf(req, sizeof req, "POST http://LOCALHOST:%u/some/path?q=1 "
	    "HTTP/1.1\r\nHost: evil.example\r\nProxy-Authorization: x\r\n"
	    "Proxy-Connection: keep-alive\r\nContent-Length: 4\r\n\r\nbody",
	    f->http.port);
	assert_int_equal(http_through(f, req, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /some/path?q=1body");
	assert_null(head_field(head.data, "Keep-Alive"));
	assert_int_equal(server_requests(&f->http), 1);
	pthread_mutex_lock(&f->http.lock);
	snprintf(req, sizeof req, "POST /some/path?q=1 HTTP/1.1\r\n"
	    "Host: localhost:%u\r\nContent-Length: 4\r\nConnection: close\r\n"
	    "\r\nbody", f->http.port);
	assert_string_equal(f->http.last.data, req);
	pthread_mutex_unlock(&f->http.lock);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	assert_string_equal(ev.via, "http");
	assert_string_equal(ev.host, "localhost");
	assert_int_equal(ev.sent, strlen(req));
	assert_int_equal(ev.received, head.len + body.len);
	assert_null(ev.why);
	proxy_event_free(&ev);

	/* Refused: nothing reaches any server. */
	snprintf(req, sizeof req, "GET http://localhost:1/ HTTP/1.1\r\n\r\n");
	assert_int_equal(http_through(f, req, &head, &body), 403);
	assert_int_equal(server_requests(&f->http), 1);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	assert_string_equal(ev.via, "http");
	proxy_event_free(&ev);
	snprintf(req, sizeof req, "GET http://127.0.0.1:%u/ HTTP/1.1\r\n\r\n",
	    f->http.port);
	assert_int_equal(http_through(f, req, &head, &body), 403);
	take_event(f->proxy, &ev);
	proxy_event_free(&ev);
	assert_int_equal(http_through(f, "GET /index.html HTTP/1.1\r\nHost: "
	    "localhost\r\n\r\n", &head, &body), 400);
	assert_non_null(strstr(body.data, "absolute"));
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	if (ev.host != NULL)
		fail_msg("host %s why %s", ev.host, ev.why);
	proxy_event_free(&ev);
	assert_int_equal(server_requests(&f->http), 1);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_http_keepalive(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	char req[1024];
	int fd;

	/* Two allowed requests on one connection, then a refused one. */
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "GET http://localhost:%u/one HTTP/1.1\r\n\r\n",
	    f->http.port);
	send_str(fd, req);
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /one");
	assert_null(head_field(head.data, "Connection"));
	snprintf(req, sizeof req, "GET http://localhost:%u/two HTTP/1.1\r\n\r\n",
	    f->http.port);
	send_str(fd, req);
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /two");
	send_str(fd, "GET http://evil.example/three HTTP/1.1\r\n\r\n");
	assert_int_equal(read_response(fd, &head, &body), 403);
	assert_non_null(strstr(body.data, "evil.example:80"));
	close(fd);
	assert_int_equal(server_requests(&f->http), 2);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	proxy_event_free(&ev);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	proxy_event_free(&ev);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	assert_string_equal(ev.host, "evil.example");
	proxy_event_free(&ev);

	/* Pipelined, with a body that hides a request for another host: the
	 * server gets the first request and its body, nothing more. */
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "POST http://localhost:%u/a HTTP/1.1\r\n"
	    "Content-Length: 5\r\n\r\nhelloGET http://localhost:%u/b HTTP/1.1"
	    "\r\n\r\nGET http://evil.example/c HTTP/1.1\r\n\r\n"
	    "GET http://localhost:%u/d HTTP/1.1\r\n\r\n", f->http.port,
	    f->echo.port, f->http.port);
	send_str(fd, req);
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /ahello");
	/* /b is for the echo server: not an HTTP server, so it sends the
	 * request back; a 502 or a garbled answer, but never to :http. */
	read_response(fd, &head, &body);
	close(fd);
	assert_int_equal(server_requests(&f->http), 3);
	pthread_mutex_lock(&f->http.lock);
	assert_non_null(strstr(f->http.last.data, "\r\n\r\nhello"));
	assert_null(strstr(f->http.last.data, "evil"));
	pthread_mutex_unlock(&f->http.lock);
	for (int i = 0; i < 2; i++) {
		take_event(f->proxy, &ev);
		proxy_event_free(&ev);
	}

	/* Pipelined: allowed, refused, allowed. The refusal ends the
	 * connection: the third is never sent. */
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "GET http://localhost:%u/x HTTP/1.1\r\n\r\n"
	    "GET http://evil.example/y HTTP/1.1\r\n\r\n"
	    "GET http://localhost:%u/z HTTP/1.1\r\n\r\n", f->http.port,
	    f->http.port);
	send_str(fd, req);
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /x");
	assert_int_equal(read_response(fd, &head, &body), 403);
	assert_int_equal(recv(fd, req, 1, 0), 0);
	close(fd);
	assert_int_equal(server_requests(&f->http), 4);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	proxy_event_free(&ev);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	assert_string_equal(ev.host, "evil.example");
	proxy_event_free(&ev);
	no_event(f->proxy, 200);

	/* A chunked request body: all of it, and only it, goes upstream. */
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "PUT http://localhost:%u/c HTTP/1.1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	    "GET http://evil.example/ HTTP/1.1\r\n\r\n", f->http.port);
	send_str(fd, req);
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_int_equal(read_response(fd, &head, &body), 403);
	close(fd);
	pthread_mutex_lock(&f->http.lock);
	assert_non_null(strstr(f->http.last.data, "\r\n\r\nabc"));
	pthread_mutex_unlock(&f->http.lock);
	assert_int_equal(server_requests(&f->http), 5);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_http_chunked_response(void **state)
{
	struct fixture *f = *state;
	struct server chunked;
	struct buf head = BUF_INIT, body = BUF_INIT;
	char req[256], *cause = NULL;
	int fd;

	server_start(&chunked, SERVER_HTTP_CHUNKED, NULL, 0);
	snprintf(req, sizeof req, "localhost:%u", chunked.port);
	assert_int_equal(proxy_allow(f->proxy, req, &cause), 0);
	fd = connect_to(f->http_port);
	for (int i = 0; i < 3; i++) {
		snprintf(req, sizeof req, "GET http://localhost:%u/chunk%d "
		    "HTTP/1.1\r\n\r\n", chunked.port, i);
		send_str(fd, req);
		assert_int_equal(read_response(fd, &head, &body), 200);
		snprintf(req, sizeof req, "you asked for /chunk%d", i);
		assert_string_equal(body.data, req);
	}
	/* A HEAD to a server that sends a length: no body expected. */
	close(fd);
	server_stop(&chunked);
	assert_int_equal(chunked.requests, 3);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_http_mute(void **state)
{
	struct fixture *f = *state;
	struct server mute;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	char req[256], *cause = NULL;

	server_start(&mute, SERVER_MUTE, NULL, 0);
	snprintf(req, sizeof req, "localhost:%u", mute.port);
	assert_int_equal(proxy_allow(f->proxy, req, &cause), 0);
	snprintf(req, sizeof req, "GET http://localhost:%u/ HTTP/1.1\r\n\r\n",
	    mute.port);
	assert_int_equal(http_through(f, req, &head, &body), 502);
	assert_non_null(strstr(body.data, "before the response"));
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	assert_non_null(ev.why);
	proxy_event_free(&ev);
	server_stop(&mute);
	buf_free(&head);
	buf_free(&body);
}

/* A server with a canned answer, allowed in f's proxy. */
static void
canned_start(struct fixture *f, struct server *s, const char *canned,
    size_t n)
{
	char entry[64], *cause = NULL;

	server_start(s, SERVER_CANNED, canned, n);
	snprintf(entry, sizeof entry, "localhost:%u", s->port);
	assert_int_equal(proxy_allow(f->proxy, entry, &cause), 0);
}

static void
test_proxy_http_hostile_server(void **state)
{
	static const char extra[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nforge";
	static const char chunks[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n2\r\nokZZZZ";
	struct fixture *f = *state;
	struct server s1, s2;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	char req[256];
	int fd;

	/* Bytes past the end of a response are dropped: the client's next
	 * request gets its own answer, not the server's forgery. */
	canned_start(f, &s1, extra, sizeof extra - 1);
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "GET http://localhost:%u/ HTTP/1.1\r\n\r\n",
	    s1.port);
	send_str(fd, req);
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_string_equal(body.data, "ok");
	snprintf(req, sizeof req, "GET http://localhost:%u/2 HTTP/1.1\r\n\r\n",
	    f->http.port);
	send_str(fd, req);
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /2");
	close(fd);
	for (int i = 0; i < 2; i++) {
		take_event(f->proxy, &ev);
		assert_true(ev.allowed);
		assert_null(ev.why);
		proxy_event_free(&ev);
	}

	/* Bad chunked syntax: what came goes to the client, then EOF. */
	canned_start(f, &s2, chunks, sizeof chunks - 1);
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "GET http://localhost:%u/ HTTP/1.1\r\n\r\n",
	    s2.port);
	send_str(fd, req);
	assert_int_equal(read_head(fd, &head), 0);
	assert_non_null(strstr(head.data, "Transfer-Encoding: chunked"));
	buf_reset(&body);
	read_all(fd, &body);
	assert_null(strstr(body.data, "ZZ"));    /* cut where it went wrong */
	assert_int_equal(strncmp(body.data, "2\r\nok", body.len), 0);
	close(fd);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	assert_non_null(strstr(ev.why, "before the end of the response"));
	proxy_event_free(&ev);
	server_stop(&s1);
	server_stop(&s2);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_http_methods(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT, big = BUF_INIT;
	char req[256];
	int fd;

	fd = connect_to(f->http_port);
	/* HEAD: a length but no body; the connection carries on. */
	snprintf(req, sizeof req, "HEAD http://localhost:%u/h HTTP/1.1\r\n\r\n",
	    f->http.port);
	send_str(fd, req);
	assert_int_equal(read_head(fd, &head), 0);
	assert_non_null(strstr(head.data, "Content-Length: 16"));
	/* Expect: 100-continue: the 100 comes through, then the body goes. */
	snprintf(req, sizeof req, "POST http://localhost:%u/e HTTP/1.1\r\n"
	    "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", f->http.port);
	send_str(fd, req);
	assert_int_equal(read_head(fd, &head), 0);
	assert_string_equal(head.data, "HTTP/1.1 100 Continue\r\n\r\n");
	send_str(fd, "xyz");
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /exyz");
	/* A body of a few MiB each way. */
	snprintf(req, sizeof req, "PUT http://localhost:%u/big HTTP/1.1\r\n"
	    "Content-Length: %d\r\n\r\n", f->http.port, 3 << 20);
	send_str(fd, req);
	for (int i = 0; i < 3 << 20; i++)
		buf_addch(&big, 'a' + i % 26);
	{
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		size_t sent = 0;

		fcntl(fd, F_SETFL, O_NONBLOCK);
		while (sent < big.len) {
			ssize_t n;

			assert_int_equal(poll(&pfd, 1, 5000), 1);
			n = send(fd, big.data + sent, big.len - sent,
			    MSG_NOSIGNAL);
			assert_true(n > 0 || errno == EAGAIN);
			if (n > 0)
				sent += (size_t)n;
		}
		fcntl(fd, F_SETFL, 0);
	}
	assert_int_equal(read_response(fd, &head, &body), 200);
	assert_int_equal(body.len, strlen("you asked for /big") + big.len);
	assert_memory_equal(body.data + strlen("you asked for /big"),
	    big.data, big.len);
	close(fd);
	assert_int_equal(server_requests(&f->http), 3);
	buf_free(&head);
	buf_free(&body);
	buf_free(&big);
}

/* More tunnels at once than the proxy has pipes for: the rest go through
 * its buffers, and every byte arrives. */
static void
test_proxy_many_tunnels(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT;
	struct proxy_event ev;
	enum { N = 80, SIZE = 200000 };
	int fds[N];
	char req[128], *data = xmalloc(SIZE), *back = xmalloc(SIZE);

	for (int i = 0; i < N; i++) {
		fds[i] = connect_to(f->http_port);
		snprintf(req, sizeof req, "CONNECT localhost:%u HTTP/1.1\r\n\r\n",
		    f->echo.port);
		send_str(fds[i], req);
		assert_int_equal(read_head(fds[i], &head), 0);
		assert_int_equal(strncmp(head.data, "HTTP/1.1 200", 12), 0);
	}
	for (int i = 0; i < N; i++) {
		size_t sent = 0, got = 0;

		for (size_t j = 0; j < SIZE; j++)
			data[j] = (char)(j * 7 + i);
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		while (got < SIZE) {
			struct pollfd pfd = { .fd = fds[i], .events = POLLIN };
			ssize_t n;

			if (sent < SIZE)
				pfd.events |= POLLOUT;
			assert_int_equal(poll(&pfd, 1, 5000), 1);
			if ((pfd.revents & POLLOUT) && (n = send(fds[i],
			    data + sent, SIZE - sent, MSG_NOSIGNAL)) > 0)
				sent += (size_t)n;
			if ((pfd.revents & POLLIN) && (n = recv(fds[i],
			    back + got, SIZE - got, 0)) > 0)
				got += (size_t)n;
		}
		assert_memory_equal(back, data, SIZE);
	}
	for (int i = 0; i < N; i++)
		close(fds[i]);
	for (int i = 0; i < N; i++) {
		take_event(f->proxy, &ev);
		assert_true(ev.allowed);
		assert_int_equal(ev.sent, SIZE);
		assert_int_equal(ev.received, SIZE);
		proxy_event_free(&ev);
	}
	free(data);
	free(back);
	buf_free(&head);
}

static void
test_proxy_socks_pipelined_refusal(void **state)
{
	struct fixture *f = *state;
	unsigned char reply[16];
	struct proxy_event ev;
	int fd;

	/* Greeting and a refused request at once: the method reply, then
	 * the refusal, in that order. */
	fd = connect_to(f->socks_port);
	send_all(fd, "\x05\x01\x00\x05\x01\x00\x03\x09localhost\x00\x01", 20);
	assert_int_equal(read_n(fd, reply, 12), 0);
	assert_memory_equal(reply, "\x05\x00\x05\x02\x00\x01", 6);
	assert_true(recv(fd, reply, 1, 0) <= 0);
	close(fd);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	assert_int_equal(ev.port, 1);
	proxy_event_free(&ev);
}

/* A SOCKS5 exchange: greeting, the method reply, the request; returns the
 * reply code, -1 when the proxy closed instead. */
static int
socks_connect(struct fixture *f, int fd, int atyp, const void *addr,
    size_t alen, uint16_t port)
{
	unsigned char msg[300], reply[10];
	size_t n = 0;

	assert_int_equal(send_all(fd, "\x05\x01\x00", 3), 0);
	if (read_n(fd, reply, 2) != 0)
		return -1;
	assert_memory_equal(reply, "\x05\x00", 2);
	msg[n++] = 5;
	msg[n++] = 1;
	msg[n++] = 0;
	msg[n++] = (unsigned char)atyp;
	if (atyp == 3)
		msg[n++] = (unsigned char)alen;
	memcpy(msg + n, addr, alen);
	n += alen;
	msg[n++] = (unsigned char)(port >> 8);
	msg[n++] = (unsigned char)port;
	send_all(fd, msg, n);
	(void)f;
	if (read_n(fd, reply, 4) != 0)
		return -1;
	assert_int_equal(reply[0], 5);
	assert_int_equal(reply[2], 0);
	if (reply[3] == 1)
		read_n(fd, reply + 4, 6);
	else if (reply[3] == 4) {
		unsigned char rest[18];

		read_n(fd, rest, 18);
	} else
		fail_msg("reply address type %u", reply[3]);
	return reply[1];
}

static void
test_proxy_socks(void **state)
{
	struct fixture *f = *state;
	struct proxy_event ev;
	unsigned char v4[4] = { 127, 0, 0, 1 }, v6[16] = { 0 }, reply[16];
	char echo[5];
	int fd;

	fd = connect_to(f->socks_port);
	assert_int_equal(socks_connect(f, fd, 3, "LOCALHOST", 9, f->echo.port),
	    0);
	send_str(fd, "hello");
	assert_int_equal(read_n(fd, echo, 5), 0);
	assert_memory_equal(echo, "hello", 5);
	close(fd);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	assert_string_equal(ev.via, "socks5");
	assert_string_equal(ev.host, "localhost");
	assert_int_equal(ev.sent, 5);
	proxy_event_free(&ev);

	/* Refused: another port, an address, a bad name. */
	fd = connect_to(f->socks_port);
	assert_int_equal(socks_connect(f, fd, 3, "localhost", 9, 1), 2);
	assert_int_equal(recv(fd, echo, 1, 0), 0);
	close(fd);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	proxy_event_free(&ev);
	fd = connect_to(f->socks_port);
	assert_int_equal(socks_connect(f, fd, 1, v4, 4, f->echo.port), 2);
	close(fd);
	take_event(f->proxy, &ev);
	assert_string_equal(ev.host, "127.0.0.1");
	assert_false(ev.allowed);
	proxy_event_free(&ev);
	v6[15] = 1;
	fd = connect_to(f->socks_port);
	assert_int_equal(socks_connect(f, fd, 4, v6, 16, f->echo.port), 2);
	close(fd);
	take_event(f->proxy, &ev);
	assert_string_equal(ev.host, "[::1]");
	proxy_event_free(&ev);
	fd = connect_to(f->socks_port);
	assert_int_equal(socks_connect(f, fd, 3, "127.0.0.1", 9, f->echo.port),
	    2);
	close(fd);
	take_event(f->proxy, &ev);
	proxy_event_free(&ev);
	fd = connect_to(f->socks_port);
	assert_int_equal(socks_connect(f, fd, 3, "a\0b", 3, 443), 4);
	close(fd);
	take_event(f->proxy, &ev);
	assert_null(ev.host);
	assert_string_equal(ev.why, "bad host name");
	proxy_event_free(&ev);
	/* Allowed, nobody listening: connection refused. */
	fd = connect_to(f->socks_port);
	assert_int_equal(socks_connect(f, fd, 3, "localhost", 9,
	    f->closed_port), 5);
	close(fd);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	proxy_event_free(&ev);

	/* Bad version: closed without a reply. */
	fd = connect_to(f->socks_port);
	send_all(fd, "\x04\x01\x00\x50\x7f\x00\x00\x01\x00", 9);
	assert_true(recv(fd, reply, sizeof reply, 0) <= 0);
	close(fd);
	take_event(f->proxy, &ev);
	assert_non_null(strstr(ev.why, "not SOCKS5"));
	proxy_event_free(&ev);
	/* Only user/password offered: method 0xff. */
	fd = connect_to(f->socks_port);
	send_all(fd, "\x05\x01\x02", 3);
	assert_int_equal(read_n(fd, reply, 2), 0);
	assert_memory_equal(reply, "\x05\xff", 2);
	assert_true(recv(fd, reply, 1, 0) <= 0);
	close(fd);
	take_event(f->proxy, &ev);
	proxy_event_free(&ev);
	/* No methods at all. */
	fd = connect_to(f->socks_port);
	send_all(fd, "\x05\x00", 2);
	assert_int_equal(read_n(fd, reply, 2), 0);
	assert_memory_equal(reply, "\x05\xff", 2);
	close(fd);
	take_event(f->proxy, &ev);
	proxy_event_free(&ev);
	/* BIND, UDP ASSOCIATE: command not supported. */
	for (unsigned char cmd = 2; cmd <= 3; cmd++) {
		unsigned char msg[10] = { 5, 0, 0, 1, 127, 0, 0, 1, 0, 80 };

		msg[1] = cmd;
		fd = connect_to(f->socks_port);
		send_all(fd, "\x05\x01\x00", 3);
		assert_int_equal(read_n(fd, reply, 2), 0);
		send_all(fd, msg, sizeof msg);
		assert_int_equal(read_n(fd, reply, 10), 0);
		assert_int_equal(reply[1], 7);
		close(fd);
		take_event(f->proxy, &ev);
		assert_non_null(strstr(ev.why, "command"));
		proxy_event_free(&ev);
	}
	/* Address type 5. */
	fd = connect_to(f->socks_port);
	send_all(fd, "\x05\x01\x00", 3);
	assert_int_equal(read_n(fd, reply, 2), 0);
	send_all(fd, "\x05\x01\x00\x05\x00\x00\x00\x00\x00\x00", 10);
	assert_int_equal(read_n(fd, reply, 10), 0);
	assert_int_equal(reply[1], 8);
	close(fd);
	take_event(f->proxy, &ev);
	proxy_event_free(&ev);
	/* Greeting and request in one go, then the data at once. */
	fd = connect_to(f->socks_port);
	{
		unsigned char all[64];
		size_t n = 0;

		memcpy(all, "\x05\x02\x02\x00\x05\x01\x00\x03\x09localhost", 18);
		n = 18;
		all[n++] = (unsigned char)(f->echo.port >> 8);
		all[n++] = (unsigned char)f->echo.port;
		memcpy(all + n, "early", 5);
		n += 5;
		send_all(fd, all, n);
		assert_int_equal(read_n(fd, reply, 2), 0);
		assert_memory_equal(reply, "\x05\x00", 2);
		assert_int_equal(read_n(fd, reply, 10), 0);
		assert_int_equal(reply[1], 0);
		assert_int_equal(read_n(fd, echo, 5), 0);
		assert_memory_equal(echo, "early", 5);
	}
	close(fd);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	proxy_event_free(&ev);
}

static void
test_proxy_garbage(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	unsigned char junk[4096];
	char *big;
	int fd;

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 7919 + 13);
	junk[0] = 'X';
	fd = connect_to(f->http_port);
	send_all(fd, junk, sizeof junk);
	send_str(fd, "\r\n\r\n");
	assert_int_equal(read_response(fd, &head, &body), 400);
	close(fd);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	proxy_event_free(&ev);

	/* 64 KiB of header: 431 after PROXY_HEAD_MAX, whatever comes next. */
	big = xmalloc(65536);
	memset(big, 'a', 65536);
	memcpy(big, "GET http://localhost/ HTTP/1.1\r\nX-Big: ", 39);
	fd = connect_to(f->http_port);
	send_all(fd, big, 65536);
	assert_int_equal(read_response(fd, &head, &body), 431);
	close(fd);
	take_event(f->proxy, &ev);
	assert_non_null(strstr(ev.why, "over"));
	proxy_event_free(&ev);

	/* Many header lines. */
	{
		struct buf many = BUF_INIT;

		buf_addstr(&many, "GET http://localhost/ HTTP/1.1\r\n");
		for (int i = 0; i < 150; i++)
			buf_printf(&many, "X-%d: y\r\n", i);
		buf_addstr(&many, "\r\n");
		assert_int_equal(http_through(f, many.data, &head, &body), 431);
		buf_free(&many);
		take_event(f->proxy, &ev);
		proxy_event_free(&ev);
	}
	/* Binary garbage to SOCKS. */
	fd = connect_to(f->socks_port);
	send_all(fd, junk + 1, sizeof junk - 1);
	read_all(fd, &body);
	close(fd);
	take_event(f->proxy, &ev);
	assert_false(ev.allowed);
	proxy_event_free(&ev);
	/* A client that says nothing and goes. */
	fd = connect_to(f->http_port);
	close(fd);
	take_event(f->proxy, &ev);
	assert_string_equal(ev.why, "closed without a request");
	proxy_event_free(&ev);
	/* Half a head, then EOF. */
	fd = connect_to(f->http_port);
	send_str(fd, "GET http://localhost/ HT");
	shutdown(fd, SHUT_WR);
	assert_int_equal(read_response(fd, &head, &body), 400);
	close(fd);
	take_event(f->proxy, &ev);
	proxy_event_free(&ev);

	/* And the proxy still works. */
	{
		char req[128];

		snprintf(req, sizeof req, "GET http://localhost:%u/ok HTTP/1.1"
		    "\r\n\r\n", f->http.port);
		assert_int_equal(http_through(f, req, &head, &body), 200);
	}
	free(big);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_slow_client(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	const char *req = "GET http://localhost/ HTTP/1.1\r\nX: aaaaaaaaaaaa";
	struct timespec t0, t1;
	char *allow = "localhost";
	int fd, status = -1;
	long ms;

	proxy_stop(f->proxy);
	setenv("AIRLOCK_PROXY_HEADER_MS", "500", 1);
	f->proxy = proxy_for(f, &allow, 1);
	unsetenv("AIRLOCK_PROXY_HEADER_MS");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = connect_to(f->http_port);
	for (size_t i = 0; i < strlen(req); i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (send_all(fd, req + i, 1) != 0 || poll(&pfd, 1, 100) == 1)
			break;
	}
	status = read_response(fd, &head, &body);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_int_equal(status, 408);
	assert_true(ms >= 450 && ms < 3000);
	take_event(f->proxy, &ev);
	assert_non_null(strstr(ev.why, "no complete request within 500 ms"));
	proxy_event_free(&ev);

	/* Silent: closed, logged. */
	fd = connect_to(f->socks_port);
	assert_true(recv(fd, &status, 1, 0) <= 0);
	close(fd);
	take_event(f->proxy, &ev);
	assert_non_null(strstr(ev.why, "no request within"));
	proxy_event_free(&ev);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_idle_tunnel(void **state)
{
	struct fixture *f = *state;
	struct proxy_event ev;
	struct buf head = BUF_INIT;
	char req[128], *allow;
	int fd;

	proxy_stop(f->proxy);
	setenv("AIRLOCK_PROXY_IDLE_MS", "300", 1);
	allow = xasprintf("localhost:%u", f->echo.port);
	f->proxy = proxy_for(f, &allow, 1);
	free(allow);
	unsetenv("AIRLOCK_PROXY_IDLE_MS");
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "CONNECT localhost:%u HTTP/1.1\r\n\r\n",
	    f->echo.port);
	send_str(fd, req);
	assert_int_equal(read_head(fd, &head), 0);
	assert_true(recv(fd, req, 1, 0) <= 0);   /* cut after 300 ms */
	close(fd);
	take_event(f->proxy, &ev);
	assert_true(ev.allowed);
	assert_non_null(strstr(ev.why, "idle for 300 ms"));
	proxy_event_free(&ev);
	buf_free(&head);
}

static void
test_proxy_many(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev;
	enum { N = 300 };
	int fds[N], refused = 0, events = 0;
	char req[128];

	struct pollfd pfds[N];
	int64_t until;

	for (int i = 0; i < N; i++) {
		fds[i] = connect_to(i % 2 ? f->http_port : f->socks_port);
		pfds[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	}
	/* Those beyond the limit hear at once; the others nothing (they
	 * wait for a request). Wait for the refusals, then a little more. */
	until = proxy_test_now() + 5000;
	while (proxy_test_now() < until) {
		if (poll(pfds, N, 300) == 0 && refused >= N - PROXY_CONNS_MAX)
			break;
		for (int i = 0; i < N; i++) {
			char reply[512];
			ssize_t n;

			if (pfds[i].revents == 0)
				continue;
			pfds[i].fd = -1;
			n = recv(fds[i], reply, sizeof reply, 0);
			if ((n >= 12 && memcmp(reply, "HTTP/1.1 503", 12) == 0) ||
			    (n == 2 && memcmp(reply, "\x05\xff", 2) == 0))
				refused++;
			else
				fail_msg("connection %d: %zd bytes", i, n);
		}
	}
	assert_int_equal(refused, N - PROXY_CONNS_MAX);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	/* Every one is logged: turned away, or closed without a request. */
	while (events < N) {
		take_event(f->proxy, &ev);
		assert_false(ev.allowed);
		proxy_event_free(&ev);
		events++;
	}
	snprintf(req, sizeof req, "GET http://localhost:%u/after HTTP/1.1\r\n"
	    "\r\n", f->http.port);
	assert_int_equal(http_through(f, req, &head, &body), 200);
	assert_string_equal(body.data, "you asked for /after");
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_big(void **state)
{
	struct fixture *f = *state;
	struct proxy_event ev;
	struct buf head = BUF_INIT;
	enum { SIZE = 8 * 1024 * 1024 };
	char req[128], *out = xmalloc(SIZE), *in = xmalloc(SIZE);
	size_t sent = 0, got = 0;
	int fd;

	for (size_t i = 0; i < SIZE; i++)
		out[i] = (char)(i * 31 + i / 4096);
	fd = connect_to(f->http_port);
	snprintf(req, sizeof req, "CONNECT localhost:%u HTTP/1.1\r\n\r\n",
	    f->echo.port);
	send_str(fd, req);
	assert_int_equal(read_head(fd, &head), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (got < SIZE) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (sent < SIZE)
			pfd.events |= POLLOUT;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		if (pfd.revents & POLLOUT) {
			n = send(fd, out + sent, SIZE - sent > 65536 ? 65536 :
			    SIZE - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
		}
		if (pfd.revents & POLLIN) {
			n = recv(fd, in + got, SIZE - got, 0);
			assert_true(n > 0);
			got += (size_t)n;
		}
	}
	assert_memory_equal(in, out, SIZE);
	close(fd);
	take_event(f->proxy, &ev);
	assert_int_equal(ev.sent, SIZE);
	assert_int_equal(ev.received, SIZE);
	proxy_event_free(&ev);
	free(in);
	free(out);
	buf_free(&head);
}

static void
test_proxy_log(void **state)
{
	struct fixture *f = *state;
	struct proxy_event *v, ev;
	struct buf head = BUF_INIT, body = BUF_INIT;
	char req[128], *cause = NULL;
	size_t n;
	int bad;
	FILE *fp;

	snprintf(req, sizeof req, "GET http://localhost:%u/log HTTP/1.1\r\n\r\n",
	    f->http.port);
	assert_int_equal(http_through(f, req, &head, &body), 200);
	assert_int_equal(http_through(f, "GET http://evil.example/\"\\\x01 "
	    "HTTP/1.1\r\n\r\n", &head, &body), 400);
	assert_int_equal(http_through(f, "GET http://EVIL.example./ HTTP/1.1"
	    "\r\n\r\n", &head, &body), 403);
	for (int i = 0; i < 3; i++) {
		take_event(f->proxy, &ev);
		proxy_event_free(&ev);
	}
	bad = proxy_log_read(f->log, &v, &n, &cause);
	assert_int_equal(bad, 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].host, "localhost");
	assert_int_equal(v[0].port, f->http.port);
	assert_true(v[0].allowed);
	assert_string_equal(v[0].via, "http");
	assert_null(v[0].why);
	assert_true(v[0].sent > 0 && v[0].received > 0);
	assert_true(v[0].start > 1600000000000LL);
	assert_int_equal(v[0].start % 1000, 0);
	assert_null(v[1].host);
	assert_false(v[1].allowed);
	assert_non_null(v[1].why);
	assert_string_equal(v[2].host, "evil.example");
	assert_int_equal(v[2].port, 80);
	for (size_t i = 0; i < n; i++)
		proxy_event_free(&v[i]);
	free(v);

	/* A hostile log: each bad line counted, the good ones kept. */
	fp = fopen(f->log, "w");
	assert_non_null(fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a.example\","
	    "\"port\":443,\"allowed\":true,\"via\":\"connect\",\"why\":null,"
	    "\"sent\":1,\"received\":2,\"duration_ms\":3}\n", fp);
	fputs("garbage\n", fp);
	fputs("{}\n", fp);
	fputs("{\"time\":null}\n", fp);
	fputs("[1,2,3]\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a\",\"port\":70000,"
	    "\"allowed\":true,\"via\":\"connect\",\"why\":null,\"sent\":1,"
	    "\"received\":2,\"duration_ms\":3}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a\",\"port\":1,"
	    "\"allowed\":true,\"via\":\"ftp\",\"why\":null,\"sent\":1,"
	    "\"received\":2,\"duration_ms\":3}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a\\u0000b\","
	    "\"port\":1,\"allowed\":true,\"via\":\"http\",\"why\":null,"
	    "\"sent\":1,\"received\":2,\"duration_ms\":3}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a\",\"port\":1,"
	    "\"allowed\":true,\"via\":\"http\",\"why\":null,\"sent\":1,"
	    "\"received\":2,\"duration_ms\":3,\"sent\":4}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a\",\"port\":1,"
	    "\"allowed\":1,\"via\":\"http\",\"why\":null,\"sent\":1,"
	    "\"received\":2,\"duration_ms\":3}\n", fp);
	fputs("{\"time\":\"2024-13-01T10:00:00Z\",\"host\":\"a\",\"port\":1,"
	    "\"allowed\":true,\"via\":\"http\",\"why\":null,\"sent\":1,"
	    "\"received\":2,\"duration_ms\":3}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a\",\"port\":1,"
	    "\"allowed\":true,\"via\":\"http\",\"why\":null,\"sent\":"
	    "99999999999999999999999,\"received\":2,\"duration_ms\":3}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"\\ud83d\\ude00\","
	    "\"port\":1,\"allowed\":false,\"via\":\"socks5\",\"why\":\"x\\ny\","
	    "\"sent\":0,\"received\":0,\"duration_ms\":0,\"extra\":\"ok\"}"
	    "  \n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"\\ud83d\","
	    "\"port\":1,\"allowed\":false,\"via\":\"socks5\",\"why\":null,"
	    "\"sent\":0,\"received\":0,\"duration_ms\":0}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"\xff\","
	    "\"port\":1,\"allowed\":false,\"via\":\"socks5\",\"why\":null,"
	    "\"sent\":0,\"received\":0,\"duration_ms\":0}\n", fp);
	fputs("{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"a\",\"port\":1,"
	    "\"allowed\":true,\"via\":\"http\",\"why\":null,\"sent\":1,"
	    "\"received\":2,\"duration_ms\":3} trailing\n", fp);
	fputs("\n", fp);
	for (int i = 0; i < 100000; i++)
		fputc('{', fp);
	fputc('\n', fp);
	fwrite("{\"time\0\"", 1, 8, fp);
	fputs("\n{\"time\":\"2024-05-01T10:00:00Z\",\"host\":\"half", fp);
	fclose(fp);
	bad = proxy_log_read(f->log, &v, &n, &cause);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 17);
	assert_string_equal(v[0].host, "a.example");
	assert_int_equal(v[0].start, 1714557600000LL);
	assert_int_equal(v[0].duration_ms, 3);
	assert_string_equal(v[0].via, "connect");
	assert_string_equal(v[1].host, "\xf0\x9f\x98\x80");
	assert_string_equal(v[1].why, "x\ny");
	assert_false(v[1].allowed);
	for (size_t i = 0; i < n; i++)
		proxy_event_free(&v[i]);
	free(v);

	/* And the event's line is what proxy_event_json writes. */
	{
		struct proxy_event e = {
			.start = 1714557600123LL, .duration_ms = 5,
			.host = "h", .port = 1, .allowed = 1, .via = "http",
			.why = NULL, .sent = 2, .received = 3,
		};
		struct buf line = BUF_INIT;

		proxy_event_json(&line, &e);
		assert_string_equal(line.data, "{\"time\":\"2024-05-01T10:00:00Z\","
		    "\"host\":\"h\",\"port\":1,\"allowed\":true,\"via\":\"http\","
		    "\"why\":null,\"sent\":2,\"received\":3,\"duration_ms\":5}");
		buf_free(&line);
	}
	assert_int_equal(proxy_log_read("/nonexistent/net.log", &v, &n,
	    &cause), -1);
	assert_non_null(strstr(cause, "/nonexistent/net.log"));
	free(cause);
	buf_free(&head);
	buf_free(&body);
}

/* More events than the queue holds: the oldest go (the log has all). */
static void
test_proxy_event_queue(void **state)
{
	struct fixture *f = *state;
	struct buf head = BUF_INIT, body = BUF_INIT;
	struct proxy_event ev, *v;
	enum { N = PROXY_EVENTS_MAX + 5 };
	char req[128], *cause;
	size_t n;
	int taken = 0;

	for (int i = 1; i <= N; i++) {
		snprintf(req, sizeof req, "CONNECT localhost:%d HTTP/1.1\r\n\r\n",
		    i);
		assert_int_equal(http_through(f, req, &head, &body), 403);
	}
	while (proxy_event_take(f->proxy, &ev) == 1) {
		assert_int_equal(ev.port, N - PROXY_EVENTS_MAX + 1 + taken);
		proxy_event_free(&ev);
		taken++;
	}
	assert_int_equal(taken, PROXY_EVENTS_MAX);
	{
		struct pollfd pfd = { .fd = proxy_event_fd(f->proxy),
		    .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 0), 0);   /* drained */
	}
	assert_int_equal(proxy_log_read(f->log, &v, &n, &cause), 0);
	assert_int_equal(n, N);
	for (size_t i = 0; i < n; i++)
		proxy_event_free(&v[i]);
	free(v);
	buf_free(&head);
	buf_free(&body);
}

static void
test_proxy_start_errors(void **state)
{
	char *bad[] = { "example.com", "*.*.example.com" };
	char *cause = NULL;
	struct proxy *p;
	int fd;

	(void)state;
	assert_null(proxy_start(bad, 2, NULL, &cause));
	assert_non_null(strstr(cause, "*.*.example.com"));
	free(cause);
	assert_null(proxy_start(bad, 1, "/nonexistent/dir/net.log", &cause));
	assert_non_null(strstr(cause, "/nonexistent/dir/net.log"));
	free(cause);
	p = proxy_start(NULL, 0, NULL, &cause);
	assert_non_null(p);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(proxy_listen(p, fd, PROXY_HTTP, &cause), -1);
	assert_non_null(strstr(cause, "not a listening"));
	free(cause);
	proxy_stop(p);
	proxy_stop(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proxy_match),
		cmocka_unit_test(test_proxy_host_normalise),
		cmocka_unit_test(test_proxy_frame),
		cmocka_unit_test(test_proxy_request_parse),
		cmocka_unit_test(test_proxy_response_parse),
		cmocka_unit_test(test_proxy_start_errors),
		cmocka_unit_test_setup_teardown(test_proxy_connect,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_connect_refused,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_http,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_http_keepalive,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_http_chunked_response,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_http_mute,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_http_hostile_server,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_http_methods,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_many_tunnels,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_socks,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_socks_pipelined_refusal,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_garbage,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_slow_client,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_idle_tunnel,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_many,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_big,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_log,
		    fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_proxy_event_queue,
		    fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

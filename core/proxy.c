#include "config.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/*
 * The proxy of --net allow. The agent sits in an empty network namespace
 * and reaches the world only through the listening sockets handed to
 * proxy_listen, so everything a client sends here is hostile: it is read
 * into bounded buffers, checked before anything leaves, and given a
 * deadline in every state.
 *
 * One thread runs the poll(2) loop. A client connection goes through
 * HEAD (reading an HTTP request head, or the SOCKS5 greeting and request),
 * RESOLVE (a resolver thread looks the name up), CONNECT (a non-blocking
 * connect to each address in turn), RELAY (bytes both ways through two
 * buffers of PROXY_BUF) and CLOSING (a last reply sent, then what the
 * client still sends read and dropped for a moment, so that the reply is
 * not lost to a reset). A plain HTTP request is relayed only as far as its
 * body goes (proxy-http.c finds the end), its response likewise, and the
 * connection goes back to HEAD for the next request, which is checked
 * from scratch and sent on a connection of its own.
 */

#define PROXY_BUF (64 * 1024)
#define PROXY_PIPE (1024 * 1024) /* asked of each splice(2) pipe */
#define PROXY_PIPES_MAX 64       /* connections with pipes (4 fds each) */
#define PROXY_HEADER_MS 10000
#define PROXY_CONNECT_MS 10000
#define PROXY_IDLE_MS (10 * 60 * 1000)
#define PROXY_LINGER_MS 2000
#define PROXY_LINGER_BYTES (1024 * 1024)
#define PROXY_RESOLVERS 4
#define PROXY_ACCEPTS 64         /* per listener and turn of the loop */
#define PROXY_ACCEPT_PAUSE_MS 100

/* SOCKS5 reply codes (RFC 1928 §6). */
#define SOCKS_NONE -1            /* no reply at all */
#define SOCKS_FAILURE 0x01
#define SOCKS_NOT_ALLOWED 0x02
#define SOCKS_NET_UNREACHABLE 0x03
#define SOCKS_HOST_UNREACHABLE 0x04
#define SOCKS_REFUSED 0x05
#define SOCKS_TTL_EXPIRED 0x06
#define SOCKS_BAD_COMMAND 0x07
#define SOCKS_BAD_ADDRESS 0x08

/* A name being looked up by a resolver thread. */
struct proxy_lookup {
	char *host;
	char port[8];
	struct addrinfo *res;
	int error;               /* getaddrinfo's answer */
	int cancelled;           /* its connection is gone */
	struct proxy_conn *conn; /* the proxy thread's only */
	struct proxy_lookup *next;
};

/*
 * The resolver threads, shared with the proxy by reference count: a thread
 * stuck in getaddrinfo when the proxy stops is left behind (detached) and
 * frees what it holds when it comes back.
 */
struct proxy_resolver {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	int stopping;
	int wake_fd;             /* the proxy's; written only while !stopping */
	struct proxy_lookup *queue, **tail, *done;
	size_t nqueue, nidle, nthreads;
	struct proxy_resolver_thread {
		struct proxy_resolver *r;
		pthread_t id;
		int busy;
	} threads[PROXY_RESOLVERS];
};

struct proxy_listener {
	int fd;
	enum proxy_kind kind;
};

/*
 * Bytes going one way: head (a rewritten head or a reply) first, then
 * from data + off, len of them, the first ready of which may be sent, or
 * else piped bytes in pipe. A body whose bytes need no looking at (a
 * tunnel, a Content-Length) goes through the pipe with splice(2), never
 * copied to user space; heads and chunked bodies go through data. The
 * pipe fills only while data is empty and data only while the pipe is,
 * so the bytes keep their order.
 */
struct proxy_half {
	char *data;
	size_t off, len, ready;
	int pipe[2];             /* -1: none */
	size_t piped, pipe_cap;
	struct buf head;
	size_t head_off;
	int head_ours;           /* the head is the proxy's reply: not counted */
	struct proxy_frame frame;
	int eof;                 /* the source sent all it will */
	int shut;                /* the sink was shut down for writing */
};

enum proxy_state {
	STATE_HEAD,
	STATE_RESOLVE,
	STATE_CONNECT,
	STATE_RELAY,
	STATE_CLOSING,
	STATE_DEAD,
};

struct proxy_conn {
	struct proxy *proxy;
	enum proxy_kind kind;
	enum proxy_state state;
	int client, upstream;
	int pfd_client, pfd_upstream;   /* in the poll array, or -1 */
	struct proxy_half up;           /* client to server */
	struct proxy_half down;         /* server to client */
	int tunnel;                     /* CONNECT, SOCKS5: bytes as they come */
	int socks_greeted;
	struct proxy_request req;       /* HTTP */
	int response_head;              /* HTTP: a response head is awaited */
	int keep_alive;                 /* HTTP: another request may follow */
	int response_started;           /* some of it reached the client */
	int requests;                   /* taken on this connection */
	int64_t deadline;               /* CLOCK_MONOTONIC ms */
	uint64_t drained;               /* CLOSING: bytes dropped */

	/* The event in progress (open_event), logged once. */
	int open_event;
	char *host;
	uint16_t port;
	const char *via;
	int allowed;
	int64_t start_wall, start_mono;
	uint64_t sent, received;

	struct proxy_lookup *lookup;
	struct addrinfo *addrs, *addr;  /* addr: the one being tried */
	int piped;                      /* up and down have pipes */
	int connect_error;              /* errno of the last address tried */
	int64_t connect_until;          /* for all the addresses together */
	int upstream_error;             /* errno when the server broke off */
};

struct proxy {
	pthread_t thread;
	pthread_mutex_t lock;           /* guards the fields up to wake_fd */
	char **allow;
	size_t nallow;
	struct proxy_listener *pending;
	size_t npending;
	int stopping;
	struct proxy_event *events;     /* a ring of PROXY_EVENTS_MAX */
	size_t ev_first, ev_count;
	int event_fd;
	int wake_fd;

	/* The thread's own. */
	int log_fd;
	struct proxy_resolver *resolver;
	struct proxy_listener *listeners;
	size_t nlisteners;
	struct proxy_conn **conns;
	size_t nconns;
	struct pollfd *pfds;
	size_t npfds, npfds_used;
	int64_t header_ms, connect_ms, idle_ms;
	int64_t accept_paused;          /* until then, listeners wait */
	size_t npiped;                  /* connections with pipes */
};

static void conn_resolved(struct proxy_conn *, struct proxy_lookup *);

static int64_t
proxy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
proxy_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A positive number of ms from the environment (a test seam), or dflt. */
static int64_t
proxy_env_ms(const char *name, int64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return dflt;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return dflt;
	return (int64_t)v;
}

/* Creates a thread with every signal blocked: signals are the caller's. */
static int
proxy_thread(pthread_t *id, void *(*fn)(void *), void *arg, int detached)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int error;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	if (detached)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	error = pthread_create(id, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return error;
}

static void
proxy_wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof one) == -1 && errno != EAGAIN)
		return;   /* the counter is full: a wake-up is pending anyway */
}

static void
proxy_drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof v) == -1 && errno == EINTR)
		continue;
}

/*
 * Host names and the allow-list.
 */

char *
proxy_host_normalise(const char *s, size_t len)
{
	char tmp[INET6_ADDRSTRLEN + 1], *out;
	struct in6_addr a6;
	size_t label = 0;

	if (len > 0 && s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof tmp)
			return NULL;
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return NULL;
		out = xasprintf("[%s]", tmp);
		for (char *c = out; *c != '\0'; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
		return out;
	}
	if (len > 1 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return NULL;
	out = xmalloc(len + 1);
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63) {
				free(out);
				return NULL;
			}
			label = 0;
			out[i] = c;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')) {
			free(out);
			return NULL;
		}
		out[i] = c;
		label++;
	}
	out[len] = '\0';
	return out;
}

/* The address an IP literal host (normalised) stands for: AF_INET,
 * AF_INET6, or 0 for a name. */
static int
proxy_literal(const char *host, struct in_addr *a4, struct in6_addr *a6)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	size_t len = strlen(host);

	if (host[0] == '[') {
		if (len < 3 || len - 2 >= sizeof tmp || host[len - 1] != ']')
			return -1;
		memcpy(tmp, host + 1, len - 2);
		tmp[len - 2] = '\0';
		return inet_pton(AF_INET6, tmp, a6) == 1 ? AF_INET6 : -1;
	}
	return inet_aton(host, a4) != 0 ? AF_INET : 0;
}

/* 1 when the normalised allow entry lets host (normalised; kind, a4 and
 * a6 from proxy_literal) through on port. */
static int
proxy_match_one(const char *entry, const char *host, int kind,
    const struct in_addr *a4, const struct in6_addr *a6, uint16_t port)
{
	char ehost[300];
	const char *colon, *eport;
	struct in_addr e4;
	struct in6_addr e6;
	size_t hl = strlen(host), sl;
	int ekind;

	if (entry[0] == '[') {
		colon = strchr(entry, ']');
		colon = colon != NULL && colon[1] == ':' ? colon + 1 : NULL;
	} else
		colon = strchr(entry, ':');
	eport = colon != NULL ? colon + 1 : NULL;
	sl = colon != NULL ? (size_t)(colon - entry) : strlen(entry);
	if (sl == 0 || sl >= sizeof ehost)
		return 0;
	memcpy(ehost, entry, sl);
	ehost[sl] = '\0';
	if (eport != NULL ? strtoul(eport, NULL, 10) != port :
	    port != 80 && port != 443)
		return 0;
	ekind = ehost[0] == '*' ? 0 : proxy_literal(ehost, &e4, &e6);
	if (kind == AF_INET6)
		return ekind == AF_INET6 && memcmp(&e6, a6, sizeof e6) == 0;
	if (kind == AF_INET)
		return ekind == AF_INET && e4.s_addr == a4->s_addr;
	if (ekind != 0)
		return 0;
	if (strncmp(ehost, "*.", 2) == 0) {
		sl = strlen(ehost + 1);       /* ".name" */
		return hl > sl && strcasecmp(host + hl - sl, ehost + 1) == 0;
	}
	return strcasecmp(ehost, host) == 0;
}

int
proxy_match(char *const *allow, size_t n, const char *host, uint16_t port)
{
	struct in_addr a4;
	struct in6_addr a6;
	char *h;
	int kind, ok = 0;

	if ((h = proxy_host_normalise(host, strlen(host))) == NULL)
		return 0;
	if ((kind = proxy_literal(h, &a4, &a6)) != -1) {
		for (size_t i = 0; i < n && !ok; i++)
			ok = proxy_match_one(allow[i], h, kind, &a4, &a6, port);
	}
	free(h);
	return ok;
}

/*
 * The resolver threads.
 */

static void
lookup_free(struct proxy_lookup *l)
{
	if (l->res != NULL)
		freeaddrinfo(l->res);
	free(l->host);
	free(l);
}

static void
lookup_free_list(struct proxy_lookup *l)
{
	struct proxy_lookup *next;

	for (; l != NULL; l = next) {
		next = l->next;
		lookup_free(l);
	}
}

static void
resolver_unref(struct proxy_resolver *r)
{
	int last;

	pthread_mutex_lock(&r->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	lookup_free_list(r->queue);
	lookup_free_list(r->done);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *
resolver_main(void *arg)
{
	struct proxy_resolver_thread *t = arg;
	struct proxy_resolver *r = t->r;
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct proxy_lookup *l;
	int skip;

	/*
	 * The name asked for is the name looked up: no search domains, which
	 * would make "x.allowed.example" reach "x.allowed.example.corp".
	 * _res is this thread's own; glibc keeps an _res changed this way.
	 */
	if (res_init() == 0)
		_res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stopping && r->queue == NULL) {
			r->nidle++;
			pthread_cond_wait(&r->cond, &r->lock);
			r->nidle--;
		}
		if (r->stopping)
			break;
		l = r->queue;
		if ((r->queue = l->next) == NULL)
			r->tail = &r->queue;
		r->nqueue--;
		skip = l->cancelled;
		t->busy = 1;
		pthread_mutex_unlock(&r->lock);
		if (!skip)
			l->error = getaddrinfo(l->host, l->port, &hints, &l->res);
		pthread_mutex_lock(&r->lock);
		t->busy = 0;
		if (r->stopping) {
			lookup_free(l);
			break;
		}
		l->next = r->done;
		r->done = l;
		proxy_wake(r->wake_fd);
	}
	pthread_mutex_unlock(&r->lock);
	resolver_unref(r);
	return NULL;
}

static struct proxy_resolver *
resolver_new(int wake_fd)
{
	struct proxy_resolver *r = xcalloc(1, sizeof *r);

	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->refs = 1;
	r->wake_fd = wake_fd;
	r->tail = &r->queue;
	return r;
}

/* Queues a lookup, with a new thread when every one is busy. */
static void
resolver_submit(struct proxy_resolver *r, struct proxy_lookup *l)
{
	struct proxy_resolver_thread *t;

	pthread_mutex_lock(&r->lock);
	l->next = NULL;
	*r->tail = l;
	r->tail = &l->next;
	r->nqueue++;
	if (r->nqueue > r->nidle && r->nthreads < PROXY_RESOLVERS) {
		t = &r->threads[r->nthreads];
		t->r = r;
		t->busy = 0;
		if (proxy_thread(&t->id, resolver_main, t, 0) == 0) {
			r->nthreads++;
			r->refs++;
		}
	}
	if (r->nthreads == 0) {
		/* No thread at all: the lookup fails at once. */
		r->queue = NULL;
		r->tail = &r->queue;
		r->nqueue = 0;
		l->error = EAI_AGAIN;
		l->next = r->done;
		r->done = l;
		proxy_wake(r->wake_fd);
	}
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Marks a lookup whose connection is gone; whoever holds it frees it. */
static void
resolver_cancel(struct proxy_resolver *r, struct proxy_lookup *l)
{
	pthread_mutex_lock(&r->lock);
	l->cancelled = 1;
	l->conn = NULL;
	pthread_mutex_unlock(&r->lock);
}

/* Hands the finished lookups to their connections. */
static void
resolver_collect(struct proxy_resolver *r)
{
	struct proxy_lookup *l, *next, *done, *rev = NULL;

	pthread_mutex_lock(&r->lock);
	done = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->lock);
	for (l = done; l != NULL; l = next) {   /* oldest first */
		next = l->next;
		l->next = rev;
		rev = l;
	}
	for (l = rev; l != NULL; l = next) {
		next = l->next;
		if (l->cancelled || l->conn == NULL)
			lookup_free(l);
		else
			conn_resolved(l->conn, l);
	}
}

static void
resolver_stop(struct proxy_resolver *r)
{
	pthread_t join[PROXY_RESOLVERS];
	size_t njoin = 0;

	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_broadcast(&r->cond);
	lookup_free_list(r->queue);
	lookup_free_list(r->done);
	r->queue = r->done = NULL;
	r->tail = &r->queue;
	for (size_t i = 0; i < r->nthreads; i++) {
		if (r->threads[i].busy)
			pthread_detach(r->threads[i].id);
		else
			join[njoin++] = r->threads[i].id;
	}
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < njoin; i++)
		pthread_join(join[i], NULL);
	resolver_unref(r);
}

/*
 * Events.
 */

static void
proxy_emit(struct proxy *p, struct proxy_event *ev)
{
	struct buf line = BUF_INIT;
	struct proxy_event *slot;
	ssize_t written;

	if (p->log_fd != -1) {
		proxy_event_json(&line, ev);
		buf_addch(&line, '\n');
		/* A full disk costs the log line, not the connection. */
		written = write(p->log_fd, line.data, line.len);
		(void)written;
		buf_free(&line);
	}
	pthread_mutex_lock(&p->lock);
	if (p->ev_count == PROXY_EVENTS_MAX) {
		proxy_event_free(&p->events[p->ev_first]);
		p->ev_first = (p->ev_first + 1) % PROXY_EVENTS_MAX;
		p->ev_count--;
	}
	slot = &p->events[(p->ev_first + p->ev_count) % PROXY_EVENTS_MAX];
	*slot = *ev;
	p->ev_count++;
	proxy_wake(p->event_fd);
	pthread_mutex_unlock(&p->lock);
	memset(ev, 0, sizeof *ev);
}

/* Starts the event of a request (or of a connection without one yet). */
static void
conn_open_event(struct proxy_conn *c)
{
	c->open_event = 1;
	c->allowed = 0;
	c->start_wall = proxy_wall();
	c->start_mono = proxy_now();
	c->sent = c->received = 0;
}

/* Logs the event in progress, once; why is NULL when all went well. */
static void PRINTFLIKE(2, 3)
conn_log(struct proxy_conn *c, const char *fmt, ...)
{
	struct proxy_event ev;
	va_list ap;

	if (!c->open_event)
		return;
	c->open_event = 0;
	memset(&ev, 0, sizeof ev);
	ev.start = c->start_wall;
	ev.duration_ms = proxy_now() - c->start_mono;
	ev.host = c->host != NULL ? xstrdup(c->host) : NULL;
	ev.port = c->port;
	ev.allowed = c->allowed;
	ev.via = c->via;
	ev.sent = c->sent;
	ev.received = c->received;
	if (fmt != NULL) {
		va_start(ap, fmt);
		ev.why = xvasprintf(fmt, ap);
		va_end(ap);
	}
	proxy_emit(c->proxy, &ev);
}

/*
 * Buffers.
 */

static void
half_init(struct proxy_half *h)
{
	memset(h, 0, sizeof *h);
	buf_init(&h->head);
	h->pipe[0] = h->pipe[1] = -1;
	proxy_frame_init(&h->frame, PROXY_FRAME_CLOSE, 0);
}

/* Closes the pipe, and what is in it goes. */
static void
half_unpipe(struct proxy_half *h)
{
	for (int i = 0; i < 2; i++) {
		if (h->pipe[i] != -1)
			close(h->pipe[i]);
		h->pipe[i] = -1;
	}
	h->piped = 0;
}

static int
half_pipe(struct proxy_half *h)
{
	int cap;

	if (pipe2(h->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		h->pipe[0] = h->pipe[1] = -1;
		return -1;
	}
	fcntl(h->pipe[1], F_SETPIPE_SZ, PROXY_PIPE);   /* or the default */
	cap = fcntl(h->pipe[1], F_GETPIPE_SZ);
	h->pipe_cap = cap > 0 ? (size_t)cap : 4096;
	return 0;
}

static void
half_free(struct proxy_half *h)
{
	half_unpipe(h);
	free(h->data);
	buf_free(&h->head);
}

/* Forgets everything but the unsent bytes past ready (the next request). */
static void
half_reset(struct proxy_half *h, int keep)
{
	if (!keep)
		h->off = h->len = 0;
	h->ready = 0;
	buf_reset(&h->head);
	h->head_off = 0;
	h->head_ours = 0;
	h->eof = keep ? h->eof : 0;
	h->shut = 0;
	proxy_frame_init(&h->frame, PROXY_FRAME_CLOSE, 0);
}

static int
half_pending(const struct proxy_half *h)
{
	return h->head_off < h->head.len || h->ready > 0 || h->piped > 0;
}

/* 1 when what comes next goes through the pipe. */
static int
half_through_pipe(const struct proxy_half *h)
{
	if (h->pipe[0] == -1)
		return 0;
	return h->piped > 0 || (h->len == 0 && !h->frame.done &&
	    (h->frame.kind == PROXY_FRAME_CLOSE ||
	    h->frame.kind == PROXY_FRAME_LENGTH));
}

/* 1 when h takes more from its source now (its message goes on and
 * there is room). */
static int
half_wants(const struct proxy_half *h)
{
	if (h->eof || h->frame.done)
		return 0;
	if (half_through_pipe(h))
		return h->piped < h->pipe_cap;
	return h->len < PROXY_BUF;
}

static size_t
half_space(struct proxy_half *h)
{
	if (h->data == NULL)
		h->data = xmalloc(PROXY_BUF);
	if (h->len == 0)
		h->off = 0;
	else if (h->off + h->len == PROXY_BUF && h->off > 0) {
		memmove(h->data, h->data + h->off, h->len);
		h->off = 0;
	}
	return PROXY_BUF - h->off - h->len;
}

static void
half_consume(struct proxy_half *h, size_t n)
{
	h->off += n;
	h->len -= n;
	h->ready = h->ready > n ? h->ready - n : 0;
}

/* Reads what fd has into h: 1 when bytes came (or EOF), 0 when none
 * could, -1 with errno. */
static int
half_fill(struct proxy_half *h, int fd)
{
	size_t space = half_space(h);
	ssize_t n;

	if (space == 0 || h->eof)
		return 0;
	n = recv(fd, h->data + h->off + h->len, space, 0);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		h->eof = 1;
		if (h->frame.kind == PROXY_FRAME_CLOSE)
			h->frame.done = 1;
		return 1;
	}
	h->len += (size_t)n;
	return 1;
}

/* Splices what fd has into the pipe, no further than the message goes:
 * as half_fill. */
static int
half_splice_in(struct proxy_half *h, int fd)
{
	size_t max = h->pipe_cap - h->piped;
	ssize_t n;

	if (h->frame.kind == PROXY_FRAME_LENGTH && h->frame.left < max)
		max = (size_t)h->frame.left;
	if (max == 0 || h->eof)
		return 0;
	n = splice(fd, NULL, h->pipe[1], NULL, max,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		h->eof = 1;
		if (h->frame.kind == PROXY_FRAME_CLOSE)
			h->frame.done = 1;
		return 1;
	}
	h->piped += (size_t)n;
	if (h->frame.kind == PROXY_FRAME_LENGTH) {
		h->frame.left -= (uint64_t)n;
		h->frame.done = h->frame.left == 0;
	}
	return 1;
}

/* Reads from fd, through the pipe or into data. */
static int
half_take(struct proxy_half *h, int fd)
{
	return half_through_pipe(h) ? half_splice_in(h, fd) :
	    half_fill(h, fd);
}

/* Extends ready over the bytes the current message owns; -1 when their
 * framing is wrong. */
static int
half_scan(struct proxy_half *h)
{
	ssize_t n;

	if (h->ready >= h->len)
		return 0;
	n = proxy_frame_scan(&h->frame, h->data + h->off + h->ready,
	    h->len - h->ready);
	if (n < 0)
		return -1;
	h->ready += (size_t)n;
	return 0;
}

/* Sends h's head, then its ready bytes or its piped ones, to fd: 1 when
 * some went, 0 when none could, -1 with errno. count adds what is not the
 * proxy's own. */
static int
half_flush(struct proxy_half *h, int fd, uint64_t *count)
{
	ssize_t n;
	int moved = 0;

	while (h->head_off < h->head.len) {
		n = send(fd, h->head.data + h->head_off,
		    h->head.len - h->head_off, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? moved : -1;
		h->head_off += (size_t)n;
		if (!h->head_ours && count != NULL)
			*count += (uint64_t)n;
		moved = 1;
	}
	if (h->head.len != 0) {
		buf_reset(&h->head);
		h->head_off = 0;
		h->head_ours = 0;
	}
	while (h->ready > 0) {
		n = send(fd, h->data + h->off, h->ready, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? moved : -1;
		half_consume(h, (size_t)n);
		if (count != NULL)
			*count += (uint64_t)n;
		moved = 1;
	}
	while (h->piped > 0) {
		n = splice(h->pipe[0], NULL, fd, NULL, h->piped,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? moved : -1;
		if (n == 0)
			return -1;   /* cannot be: the pipe holds bytes */
		h->piped -= (size_t)n;
		if (count != NULL)
			*count += (uint64_t)n;
		moved = 1;
	}
	return moved;
}

/* Pipes for both ways, while the proxy has fewer than PROXY_PIPES_MAX
 * (each costs 4 descriptors); without, bytes go through data. */
static void
conn_pipes(struct proxy_conn *c)
{
	if (c->piped || c->proxy->npiped >= PROXY_PIPES_MAX)
		return;
	if (half_pipe(&c->up) == 0 && half_pipe(&c->down) == 0) {
		c->piped = 1;
		c->proxy->npiped++;
		return;
	}
	half_unpipe(&c->up);
	half_unpipe(&c->down);
}

static void
conn_unpipe(struct proxy_conn *c)
{
	if (!c->piped)
		return;
	half_unpipe(&c->up);
	half_unpipe(&c->down);
	c->piped = 0;
	c->proxy->npiped--;
}

/*
 * Connections.
 */

static struct proxy_conn *
conn_new(struct proxy *p, enum proxy_kind kind, int fd)
{
	struct proxy_conn *c = xcalloc(1, sizeof *c);
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->proxy = p;
	c->kind = kind;
	c->state = STATE_HEAD;
	c->client = fd;
	c->upstream = -1;
	c->pfd_client = c->pfd_upstream = -1;
	c->via = kind == PROXY_HTTP ? "http" : "socks5";
	half_init(&c->up);
	half_init(&c->down);
	proxy_request_init(&c->req);
	c->deadline = proxy_now() + p->header_ms;
	conn_open_event(c);
	return c;
}

static void
conn_close_upstream(struct proxy_conn *c)
{
	if (c->lookup != NULL) {
		resolver_cancel(c->proxy->resolver, c->lookup);
		c->lookup = NULL;
	}
	if (c->upstream != -1) {
		close(c->upstream);
		c->upstream = -1;
	}
	if (c->addrs != NULL) {
		freeaddrinfo(c->addrs);
		c->addrs = c->addr = NULL;
	}
}

static void
conn_free(struct proxy_conn *c)
{
	conn_close_upstream(c);
	if (c->client != -1)
		close(c->client);
	conn_unpipe(c);
	half_free(&c->up);
	half_free(&c->down);
	proxy_request_free(&c->req);
	free(c->host);
	free(c);
}

/* Ends the connection at once: the event says why (fmt, or NULL). */
static void PRINTFLIKE(2, 3)
conn_abort(struct proxy_conn *c, const char *fmt, ...)
{
	va_list ap;
	char *why = NULL;

	if (fmt != NULL) {
		va_start(ap, fmt);
		why = xvasprintf(fmt, ap);
		va_end(ap);
	}
	conn_log(c, why != NULL ? "%s" : NULL, why);
	free(why);
	conn_close_upstream(c);
	c->state = STATE_DEAD;
}

/* Sends what is left of down, then EOF, then drops what the client still
 * sends for a moment (so that a reset does not eat the reply). */
static void
conn_closing(struct proxy_conn *c)
{
	conn_close_upstream(c);
	c->state = STATE_CLOSING;
	c->deadline = proxy_now() + PROXY_LINGER_MS;
	c->drained = 0;
}

static const struct {
	int status;
	const char *reason;
} proxy_http_status[] = {
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 408, "Request Timeout" },
	{ 431, "Request Header Fields Too Large" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

/* An HTTP error reply: one line, "airlock: WHAT: WHY". */
static void
proxy_http_reply(struct buf *out, int status, const char *what,
    const char *why)
{
	const char *reason = "Error";
	struct buf body = BUF_INIT;

	for (size_t i = 0; i < sizeof proxy_http_status /
	    sizeof proxy_http_status[0]; i++) {
		if (proxy_http_status[i].status == status)
			reason = proxy_http_status[i].reason;
	}
	buf_printf(&body, "airlock: %s: %s\n", what, why);
	buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
	    reason, body.len, body.data);
	buf_free(&body);
}

static void
proxy_socks_reply(struct buf *out, int code)
{
	static const char zero[6];

	buf_addch(out, 5);
	buf_addch(out, code);
	buf_addch(out, 0);
	buf_addch(out, 1);            /* an IPv4 address: 0.0.0.0:0 */
	buf_add(out, zero, sizeof zero);
}

/*
 * Refuses or fails the request: the HTTP status (0: none) or the SOCKS5
 * code (SOCKS_NONE: none) goes to the client, the event says why, and the
 * connection closes.
 */
static void PRINTFLIKE(4, 5)
conn_fail(struct proxy_conn *c, int status, int socks, const char *fmt, ...)
{
	va_list ap;
	char *why, *what;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	if (c->host != NULL)
		what = xasprintf("%s:%u", c->host, c->port);
	else
		what = xstrdup("proxy");
	if (c->kind == PROXY_HTTP && status != 0 && !c->response_started) {
		/* What came of a response goes: the error replaces it. */
		conn_unpipe(c);
		c->down.ready = c->down.len = 0;
		buf_reset(&c->down.head);
		c->down.head_off = 0;
		c->down.head_ours = 1;
		proxy_http_reply(&c->down.head, status, what, why);
	} else if (c->kind == PROXY_SOCKS5 && socks != SOCKS_NONE) {
		/* After the method reply, if it is still on its way. */
		c->down.head_ours = 1;
		proxy_socks_reply(&c->down.head, socks);
	}
	conn_log(c, "%s", why);
	free(what);
	free(why);
	conn_closing(c);
}

/* Whether the allow-list (as it is now) lets c's host and port through. */
static int
conn_check(struct proxy_conn *c)
{
	struct proxy *p = c->proxy;

	pthread_mutex_lock(&p->lock);
	c->allowed = proxy_match(p->allow, p->nallow, c->host, c->port);
	pthread_mutex_unlock(&p->lock);
	return c->allowed;
}

/* SOCKS5's code for a connect error. */
static int
conn_socks_code(int error)
{
	switch (error) {
	case ECONNREFUSED:
		return SOCKS_REFUSED;
	case ENETUNREACH:
		return SOCKS_NET_UNREACHABLE;
	case ETIMEDOUT:
		return SOCKS_TTL_EXPIRED;
	default:
		return SOCKS_HOST_UNREACHABLE;
	}
}

/* Connected to the server: the reply, then bytes both ways. */
static void
conn_connected(struct proxy_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int one = 1;

	setsockopt(c->upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	conn_pipes(c);
	freeaddrinfo(c->addrs);
	c->addrs = c->addr = NULL;
	c->state = STATE_RELAY;
	c->deadline = proxy_now() + c->proxy->idle_ms;
	c->response_started = 0;
	if (c->kind == PROXY_SOCKS5) {
		c->tunnel = 1;
		c->down.head_ours = 1;
		buf_add(&c->down.head, "\x05\x00\x00", 3);
		memset(&ss, 0, sizeof ss);
		getsockname(c->upstream, (struct sockaddr *)&ss, &sl);
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			buf_addch(&c->down.head, 4);
			buf_add(&c->down.head, &s6->sin6_addr, 16);
			buf_add(&c->down.head, &s6->sin6_port, 2);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			buf_addch(&c->down.head, 1);
			buf_add(&c->down.head, &s4->sin_addr, 4);
			buf_add(&c->down.head, &s4->sin_port, 2);
		}
		proxy_frame_init(&c->up.frame, PROXY_FRAME_CLOSE, 0);
	} else if (c->req.connect) {
		c->tunnel = 1;
		c->down.head_ours = 1;
		buf_addstr(&c->down.head,
		    "HTTP/1.1 200 Connection established\r\n\r\n");
		proxy_frame_init(&c->up.frame, PROXY_FRAME_CLOSE, 0);
	} else {
		c->tunnel = 0;
		buf_add(&c->up.head, c->req.head.data, c->req.head.len);
		c->up.frame = c->req.body;
		c->response_head = 1;
	}
	proxy_frame_init(&c->down.frame, PROXY_FRAME_CLOSE, 0);
	if (c->up.eof && c->up.frame.kind == PROXY_FRAME_CLOSE)
		c->up.frame.done = 1;
}

/* The deadline of one address: an equal share of the time left, so that
 * an address that never answers (IPv6 without a route, say) leaves time
 * for the next ones. */
static void
conn_connect_slice(struct proxy_conn *c)
{
	int64_t now = proxy_now(), left = c->connect_until - now, n = 0;

	for (const struct addrinfo *a = c->addr; a != NULL; a = a->ai_next)
		n++;
	if (n > 1 && left / n >= 1000)
		left /= n;
	else if (n > 1 && left > 1000)
		left = 1000;
	c->deadline = now + left;
}

/* Tries the next address; out of them, fails with the last error. */
static void
conn_connect_next(struct proxy_conn *c)
{
	const struct addrinfo *a;
	int fd;

	for (; c->addr != NULL; c->addr = c->addr->ai_next) {
		a = c->addr;
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, a->ai_protocol);
		if (fd == -1) {
			c->connect_error = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			c->upstream = fd;
			conn_connected(c);
			return;
		}
		if (errno == EINPROGRESS) {
			c->upstream = fd;
			c->state = STATE_CONNECT;
			conn_connect_slice(c);
			return;
		}
		c->connect_error = errno;
		close(fd);
	}
	conn_fail(c, 502, conn_socks_code(c->connect_error),
	    "cannot connect: %s", strerror(c->connect_error));
}

/* The connect in progress finished (the socket is writable). */
static void
conn_connect_done(struct proxy_conn *c)
{
	int error = 0;
	socklen_t len = sizeof error;

	if (getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	if (error == 0) {
		conn_connected(c);
		return;
	}
	c->connect_error = error;
	close(c->upstream);
	c->upstream = -1;
	c->addr = c->addr->ai_next;
	conn_connect_next(c);
}

static void
conn_resolved(struct proxy_conn *c, struct proxy_lookup *l)
{
	c->lookup = NULL;
	if (l->error != 0) {
		conn_fail(c, 502, SOCKS_HOST_UNREACHABLE, "cannot resolve: %s",
		    l->error == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(l->error));
		lookup_free(l);
		return;
	}
	c->addrs = c->addr = l->res;
	l->res = NULL;
	lookup_free(l);
	c->connect_error = EHOSTUNREACH;
	conn_connect_next(c);
}

/* Checked and allowed: look the host up (an IP literal needs no lookup:
 * it is the address). */
static void
conn_resolve(struct proxy_conn *c)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	struct proxy_lookup *l;
	struct in_addr a4;
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN], port[8];
	int kind, error;

	c->state = STATE_RESOLVE;
	c->deadline = c->connect_until = proxy_now() + c->proxy->connect_ms;
	snprintf(port, sizeof port, "%u", c->port);
	kind = proxy_literal(c->host, &a4, &a6);
	if (kind == AF_INET || kind == AF_INET6) {
		inet_ntop(kind, kind == AF_INET ? (void *)&a4 : (void *)&a6, text,
		    sizeof text);
		hints.ai_family = kind;
		if ((error = getaddrinfo(text, port, &hints, &c->addrs)) != 0) {
			conn_fail(c, 502, SOCKS_HOST_UNREACHABLE, "%s",
			    gai_strerror(error));
			return;
		}
		c->addr = c->addrs;
		c->connect_error = EHOSTUNREACH;
		conn_connect_next(c);
		return;
	}
	l = xcalloc(1, sizeof *l);
	l->host = xstrdup(c->host);
	memcpy(l->port, port, sizeof l->port);
	l->conn = c;
	c->lookup = l;
	resolver_submit(c->proxy->resolver, l);
}

/* The request names host:port: check it, then resolve. */
static void
conn_request(struct proxy_conn *c, const char *host, uint16_t port)
{
	free(c->host);
	c->host = xstrdup(host);
	c->port = port;
	if (!conn_check(c)) {
		conn_fail(c, 403, SOCKS_NOT_ALLOWED,
		    "not in the allow-list (net allow)");
		return;
	}
	conn_resolve(c);
}

/* HEAD, HTTP: one request head. */
static void
conn_http_head(struct proxy_conn *c)
{
	char *why = NULL;
	int status = 0, n;

	if (c->up.len == 0) {
		if (c->up.eof)
			conn_abort(c, c->requests == 0 ?
			    "closed without a request" : NULL);
		return;
	}
	proxy_request_free(&c->req);
	n = proxy_request_parse(c->up.data + c->up.off, c->up.len, &c->req,
	    &status, &why);
	if (n == 0) {
		if (c->up.eof)
			conn_fail(c, 400, SOCKS_NONE, "closed in the middle "
			    "of the request head");
		return;
	}
	if (n < 0) {
		c->via = "http";
		free(c->host);
		c->host = NULL;
		conn_fail(c, status, SOCKS_NONE, "%s", why);
		free(why);
		return;
	}
	half_consume(&c->up, (size_t)n);
	c->via = c->req.connect ? "connect" : "http";
	conn_request(c, c->req.host, c->req.port);
}

/* HEAD, SOCKS5: the greeting, then the request (RFC 1928). */
static void
conn_socks(struct proxy_conn *c)
{
	const unsigned char *d = (unsigned char *)c->up.data + c->up.off;
	size_t n = c->up.len, need;
	char text[INET6_ADDRSTRLEN], *host;
	uint16_t port;

	if (!c->socks_greeted) {
		if (n >= 1 && d[0] != 5) {
			conn_fail(c, 0, SOCKS_NONE, "not SOCKS5 (version %u)",
			    d[0]);
			return;
		}
		if (n < 2 || n < 2 + (size_t)d[1])
			goto more;
		if (memchr(d + 2, 0, d[1]) == NULL) {
			half_consume(&c->up, 2 + (size_t)d[1]);
			buf_add(&c->down.head, "\x05\xff", 2);
			c->down.head_ours = 1;
			conn_fail(c, 0, SOCKS_NONE, "no SOCKS5 method without "
			    "authentication");
			return;
		}
		half_consume(&c->up, 2 + (size_t)d[1]);
		buf_add(&c->down.head, "\x05\x00", 2);
		c->down.head_ours = 1;
		c->socks_greeted = 1;
		d = (unsigned char *)c->up.data + c->up.off;
		n = c->up.len;
	}
	if (n < 4)
		goto more;
	if (d[0] != 5) {
		conn_fail(c, 0, SOCKS_FAILURE, "bad SOCKS5 request (version %u)",
		    d[0]);
		return;
	}
	if (d[1] != 1) {
		conn_fail(c, 0, SOCKS_BAD_COMMAND, "SOCKS5 command %u is not "
		    "supported (only CONNECT)", d[1]);
		return;
	}
	switch (d[3]) {
	case 1:
		need = 4 + 4 + 2;
		break;
	case 3:
		if (n < 5)
			goto more;
		need = 4 + 1 + (size_t)d[4] + 2;
		break;
	case 4:
		need = 4 + 16 + 2;
		break;
	default:
		conn_fail(c, 0, SOCKS_BAD_ADDRESS, "SOCKS5 address type %u is "
		    "not supported", d[3]);
		return;
	}
	if (n < need)
		goto more;
	port = (uint16_t)(d[need - 2] << 8 | d[need - 1]);
	if (d[3] == 1)
		host = xstrdup(inet_ntop(AF_INET, d + 4, text, sizeof text));
	else if (d[3] == 4)
		host = xasprintf("[%s]", inet_ntop(AF_INET6, d + 4, text,
		    sizeof text));
	else if ((host = proxy_host_normalise((const char *)d + 5,
	    d[4])) == NULL) {
		half_consume(&c->up, need);
		conn_fail(c, 0, SOCKS_HOST_UNREACHABLE, "bad host name");
		return;
	}
	half_consume(&c->up, need);
	conn_request(c, host, port);
	free(host);
	return;

more:
	if (c->up.eof) {
		if (n == 0 && !c->socks_greeted)
			conn_abort(c, "closed without a request");
		else
			conn_fail(c, 0, SOCKS_NONE, "closed in the middle of "
			    "the SOCKS5 request");
	}
}

/* HEAD: reads and parses a request; sends the SOCKS5 method reply. */
static void
conn_head(struct proxy_conn *c)
{
	int r;

	if (!c->up.eof && half_space(&c->up) > 0) {
		if ((r = half_fill(&c->up, c->client)) == -1) {
			conn_abort(c, "client: %s", strerror(errno));
			return;
		}
		if (c->up.len > 0 && !c->open_event)
			conn_open_event(c);
	}
	if (c->kind == PROXY_HTTP)
		conn_http_head(c);
	else
		conn_socks(c);
	if (c->state == STATE_HEAD && half_pending(&c->down) &&
	    half_flush(&c->down, c->client, NULL) == -1)
		conn_abort(c, "client: %s", strerror(errno));
}

/* HTTP: the response is over; on to the next request, or close. */
static void
conn_http_next(struct proxy_conn *c)
{
	int keep = c->keep_alive && !c->up.eof && c->up.frame.done &&
	    !half_pending(&c->up);

	conn_log(c, NULL);
	conn_close_upstream(c);
	if (!keep) {
		conn_closing(c);
		return;
	}
	half_reset(&c->up, 1);
	half_reset(&c->down, 0);
	c->state = STATE_HEAD;
	c->deadline = proxy_now() + c->proxy->header_ms;
	c->requests++;
	c->response_head = 0;
	c->response_started = 0;
	if (c->up.len > 0)
		conn_open_event(c);
}

/* The server broke off (error, or EOF before the end of the response). */
static void
conn_http_broken(struct proxy_conn *c)
{
	const char *why = c->upstream_error != 0 ?
	    strerror(c->upstream_error) : "the server closed the connection";

	if (!c->response_started && !half_pending(&c->down)) {
		conn_fail(c, 502, SOCKS_NONE, "%s before the response", why);
		return;
	}
	if (half_pending(&c->down))
		return;    /* what came goes to the client first */
	conn_log(c, "%s before the end of the response", why);
	conn_closing(c);
}

/* RELAY: what to do once the bytes have moved. */
static void
conn_relay_check(struct proxy_conn *c)
{
	if (c->tunnel) {
		if (c->upstream_error != 0) {
			conn_log(c, "%s", strerror(c->upstream_error));
			conn_closing(c);
			return;
		}
		if (c->up.eof && !half_pending(&c->up) && !c->up.shut) {
			shutdown(c->upstream, SHUT_WR);
			c->up.shut = 1;
		}
		if (c->down.eof && !half_pending(&c->down) && !c->down.shut) {
			shutdown(c->client, SHUT_WR);
			c->down.shut = 1;
		}
		if (c->up.shut && c->down.shut) {
			conn_log(c, NULL);
			conn_close_upstream(c);
			c->state = STATE_DEAD;
		}
		return;
	}
	if (c->up.eof && !c->up.frame.done) {
		conn_abort(c, "the client closed in the middle of the request");
		return;
	}
	if (c->upstream_error != 0 ||
	    (c->down.eof && (c->response_head || !c->down.frame.done))) {
		conn_http_broken(c);
		return;
	}
	if (!c->response_head && c->down.frame.done &&
	    !half_pending(&c->down))
		conn_http_next(c);
}

/* RELAY, HTTP: parses the response head waiting in down, if any. */
static int
conn_response_head(struct proxy_conn *c)
{
	struct proxy_response resp;
	char *why = NULL;
	int n;

	if (!c->response_head || c->down.len == 0 || half_pending(&c->down))
		return 0;
	proxy_response_init(&resp);
	n = proxy_response_parse(c->down.data + c->down.off, c->down.len,
	    PROXY_BUF, c->req.head_only, c->req.keep_alive, &resp, &why);
	if (n <= 0) {
		proxy_response_free(&resp);
		if (n == 0)
			return 0;
		c->upstream_error = 0;
		conn_fail(c, 502, SOCKS_NONE, "bad response: %s", why);
		free(why);
		return -1;
	}
	half_consume(&c->down, (size_t)n);
	buf_add(&c->down.head, resp.head.data, resp.head.len);
	c->down.frame = resp.body;
	c->response_head = resp.interim;
	c->keep_alive = resp.keep_alive;
	proxy_response_free(&resp);
	return 1;
}

/* RELAY: moves bytes both ways until nothing moves. */
static void
conn_relay(struct proxy_conn *c)
{
	int progress, r;

	do {
		progress = 0;
		if (half_wants(&c->up)) {
			if ((r = half_take(&c->up, c->client)) == -1) {
				conn_abort(c, "client: %s", strerror(errno));
				return;
			}
			progress |= r;
		}
		if (half_scan(&c->up) != 0) {
			conn_fail(c, 400, SOCKS_NONE, "bad chunked request "
			    "body");
			return;
		}
		if (c->upstream != -1 && half_pending(&c->up)) {
			if ((r = half_flush(&c->up, c->upstream, &c->sent)) == -1)
				goto upstream_error;
			progress |= r;
		}
		if (c->upstream != -1 && c->response_head) {
			/* A head: looked at, so read into data. */
			if ((r = half_fill(&c->down, c->upstream)) == -1)
				goto upstream_error;
			progress |= r;
		} else if (c->upstream != -1 && half_wants(&c->down)) {
			if ((r = half_take(&c->down, c->upstream)) == -1)
				goto upstream_error;
			progress |= r;
		}
		if (!c->tunnel) {
			if ((r = conn_response_head(c)) == -1)
				return;
			progress |= r;
		}
		if (!c->response_head && half_scan(&c->down) != 0) {
			/* Bad chunked syntax from the server: what it sent
			 * from there on is dropped, and so is the server. */
			c->down.len = c->down.ready;
			errno = EPROTO;
			goto upstream_error;
		}
		if (!c->tunnel && !c->response_head && c->down.frame.done)
			c->down.len = c->down.ready;   /* past the end: dropped */
		if (half_pending(&c->down)) {
			if ((r = half_flush(&c->down, c->client,
			    &c->received)) == -1) {
				conn_abort(c, "client: %s", strerror(errno));
				return;
			}
			if (r == 1)
				c->response_started = 1;
			progress |= r;
		}
		if (progress)
			c->deadline = proxy_now() + c->proxy->idle_ms;
		continue;

upstream_error:
		c->upstream_error = errno;
		if (c->upstream != -1)
			close(c->upstream);
		c->upstream = -1;
		c->down.eof = 1;
		c->up.ready = 0;
		buf_reset(&c->up.head);
		c->up.head_off = 0;
		progress = 1;
	} while (progress && c->state == STATE_RELAY);
	if (c->state == STATE_RELAY)
		conn_relay_check(c);
}

/* CLOSING: the last reply out, then EOF, then the client's bytes dropped
 * until it closes, PROXY_LINGER_BYTES or the deadline. */
static void
conn_linger(struct proxy_conn *c)
{
	char sink[4096];
	ssize_t n;

	if (half_pending(&c->down)) {
		if (half_flush(&c->down, c->client, &c->received) == -1) {
			c->state = STATE_DEAD;
			return;
		}
		if (half_pending(&c->down))
			return;
	}
	if (!c->down.shut) {
		shutdown(c->client, SHUT_WR);
		c->down.shut = 1;
	}
	for (;;) {
		n = recv(c->client, sink, sizeof sink, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || (c->drained += (uint64_t)n) > PROXY_LINGER_BYTES) {
			c->state = STATE_DEAD;
			return;
		}
	}
}

/* Runs the connection until it waits; urev: the server socket's poll
 * events (only CONNECT needs them). */
static void
conn_run(struct proxy_conn *c, short urev)
{
	enum proxy_state before;

	do {
		before = c->state;
		switch (c->state) {
		case STATE_HEAD:
			conn_head(c);
			break;
		case STATE_CONNECT:
			if (urev != 0)
				conn_connect_done(c);
			break;
		case STATE_RELAY:
			conn_relay(c);
			break;
		case STATE_CLOSING:
			conn_linger(c);
			break;
		case STATE_RESOLVE:
		case STATE_DEAD:
			break;
		}
		urev = 0;
	} while (c->state != before && c->state != STATE_DEAD);
}

/* A deadline passed. */
static void
conn_expire(struct proxy_conn *c)
{
	switch (c->state) {
	case STATE_HEAD:
		if (!c->open_event) {
			c->state = STATE_DEAD;   /* an idle kept-alive client */
			break;
		}
		if (c->up.len == 0 && !c->socks_greeted)
			conn_abort(c, "no request within %lld ms",
			    (long long)c->proxy->header_ms);
		else
			conn_fail(c, 408, SOCKS_NONE, "no complete request "
			    "within %lld ms", (long long)c->proxy->header_ms);
		break;
	case STATE_CONNECT:
		if (c->addr->ai_next != NULL && proxy_now() < c->connect_until) {
			close(c->upstream);   /* this one is too slow: the next */
			c->upstream = -1;
			c->connect_error = ETIMEDOUT;
			c->addr = c->addr->ai_next;
			conn_connect_next(c);
			break;
		}
		/* FALLTHROUGH */
	case STATE_RESOLVE:
		conn_fail(c, 504, SOCKS_HOST_UNREACHABLE, "no connection "
		    "within %lld ms", (long long)c->proxy->connect_ms);
		break;
	case STATE_RELAY:
		if (c->tunnel || c->response_started)
			conn_abort(c, "idle for %lld ms",
			    (long long)c->proxy->idle_ms);
		else
			conn_fail(c, 504, SOCKS_NONE, "no response within "
			    "%lld ms", (long long)c->proxy->idle_ms);
		break;
	case STATE_CLOSING:
	case STATE_DEAD:
		c->state = STATE_DEAD;
		break;
	}
}

/* The poll events c waits for on each of its sockets. */
static void
conn_events(const struct proxy_conn *c, short *ce, short *ue)
{
	*ce = *ue = 0;
	switch (c->state) {
	case STATE_HEAD:
		if (half_pending(&c->down))
			*ce |= POLLOUT;
		if (!c->up.eof)
			*ce |= POLLIN;
		break;
	case STATE_CONNECT:
		*ue = POLLOUT;
		break;
	case STATE_RELAY:
		if (half_wants(&c->up))
			*ce |= POLLIN;
		if (half_pending(&c->down))
			*ce |= POLLOUT;
		if (c->upstream == -1)
			break;
		if (half_pending(&c->up))
			*ue |= POLLOUT;
		if (c->response_head ? !c->down.eof &&
		    c->down.len < PROXY_BUF : half_wants(&c->down))
			*ue |= POLLIN;
		break;
	case STATE_CLOSING:
		*ce = half_pending(&c->down) ? POLLOUT : POLLIN;
		break;
	case STATE_RESOLVE:
	case STATE_DEAD:
		break;
	}
}

/*
 * The thread.
 */

/* Accepts and closes at once: too many clients. */
static void
proxy_turn_away(struct proxy *p, enum proxy_kind kind, int fd)
{
	struct proxy_conn *c = conn_new(p, kind, fd);
	struct buf out = BUF_INIT;
	char *why = xasprintf("too many connections (%d at once)",
	    PROXY_CONNS_MAX);
	ssize_t sent;

	if (kind == PROXY_HTTP)
		proxy_http_reply(&out, 503, "proxy", why);
	else
		buf_add(&out, "\x05\xff", 2);
	sent = send(fd, out.data, out.len, MSG_NOSIGNAL);
	(void)sent;   /* it is going away anyway */
	buf_free(&out);
	conn_log(c, "%s", why);
	free(why);
	conn_free(c);
}

static void
proxy_accept(struct proxy *p, const struct proxy_listener *l)
{
	int fd;

	for (int i = 0; i < PROXY_ACCEPTS; i++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				p->accept_paused = proxy_now() +
				    PROXY_ACCEPT_PAUSE_MS;
			if (errno == ECONNABORTED || errno == EINTR ||
			    errno == EPROTO)
				continue;
			return;
		}
		if (p->nconns >= PROXY_CONNS_MAX) {
			proxy_turn_away(p, l->kind, fd);
			continue;
		}
		p->conns = xreallocarray(p->conns, p->nconns + 1,
		    sizeof *p->conns);
		p->conns[p->nconns++] = conn_new(p, l->kind, fd);
	}
}

/* Takes what the other threads left: listeners, the stop. 1: stop. */
static int
proxy_control(struct proxy *p)
{
	struct proxy_listener *pending;
	size_t n;
	int stop;

	proxy_drain(p->wake_fd);
	pthread_mutex_lock(&p->lock);
	pending = p->pending;
	n = p->npending;
	p->pending = NULL;
	p->npending = 0;
	stop = p->stopping;
	pthread_mutex_unlock(&p->lock);
	if (n > 0) {
		p->listeners = xreallocarray(p->listeners, p->nlisteners + n,
		    sizeof *p->listeners);
		memcpy(p->listeners + p->nlisteners, pending, n * sizeof *pending);
		p->nlisteners += n;
	}
	free(pending);
	resolver_collect(p->resolver);
	return stop;
}

/* Fills the poll array: the wake-up, listeners, connections. The timeout
 * till the first deadline. */
static int
proxy_poll_fill(struct proxy *p, int64_t now)
{
	size_t want = 1 + p->nlisteners + 2 * p->nconns, n = 0;
	int64_t first = -1;
	short ce, ue;

	if (want > p->npfds) {
		p->pfds = xreallocarray(p->pfds, want, sizeof *p->pfds);
		p->npfds = want;
	}
	p->pfds[n++] = (struct pollfd){ .fd = p->wake_fd, .events = POLLIN };
	for (size_t i = 0; i < p->nlisteners; i++) {
		p->pfds[n++] = (struct pollfd){
			.fd = p->listeners[i].fd,
			.events = now < p->accept_paused ? 0 : POLLIN,
		};
	}
	if (now < p->accept_paused)
		first = p->accept_paused;
	for (size_t i = 0; i < p->nconns; i++) {
		struct proxy_conn *c = p->conns[i];

		conn_events(c, &ce, &ue);
		c->pfd_client = c->pfd_upstream = -1;
		if (ce != 0) {
			c->pfd_client = (int)n;
			p->pfds[n++] = (struct pollfd){ c->client, ce, 0 };
		}
		if (ue != 0) {
			c->pfd_upstream = (int)n;
			p->pfds[n++] = (struct pollfd){ c->upstream, ue, 0 };
		}
		if (first == -1 || c->deadline < first)
			first = c->deadline;
	}
	p->npfds_used = n;
	if (first == -1)
		return -1;
	return first <= now ? 0 : (int)(first - now > 60000 ? 60000 :
	    first - now);
}

/* Runs the connections polled (or past their deadline), then frees the
 * dead ones. */
static void
proxy_run_conns(struct proxy *p, size_t npolled)
{
	int64_t now = proxy_now();
	struct proxy_conn *c;
	short crev, urev;
	size_t i, j;

	for (i = 0; i < npolled; i++) {
		c = p->conns[i];
		crev = c->pfd_client >= 0 ? p->pfds[c->pfd_client].revents : 0;
		urev = c->pfd_upstream >= 0 ?
		    p->pfds[c->pfd_upstream].revents : 0;
		c->pfd_client = c->pfd_upstream = -1;
		if (c->state != STATE_DEAD && (crev != 0 || urev != 0))
			conn_run(c, urev);
		if (c->state != STATE_DEAD && now >= c->deadline) {
			conn_expire(c);
			if (c->state != STATE_DEAD)
				conn_run(c, 0);
		}
	}
	for (i = j = 0; i < p->nconns; i++) {
		if (p->conns[i]->state == STATE_DEAD)
			conn_free(p->conns[i]);
		else
			p->conns[j++] = p->conns[i];
	}
	p->nconns = j;
}

static void *
proxy_main(void *arg)
{
	struct proxy *p = arg;
	size_t nlisteners, nconns;
	int timeout;

	for (;;) {
		timeout = proxy_poll_fill(p, proxy_now());
		nlisteners = p->nlisteners;
		nconns = p->nconns;
		if (poll(p->pfds, p->npfds_used, timeout) == -1) {
			if (errno != EINTR && errno != EAGAIN)
				fatalx("proxy: poll: %s", strerror(errno));
			continue;
		}
		if (p->pfds[0].revents != 0 && proxy_control(p))
			break;
		for (size_t i = 0; i < nlisteners; i++) {
			if (p->pfds[1 + i].revents != 0)
				proxy_accept(p, &p->listeners[i]);
		}
		proxy_run_conns(p, nconns);
	}
	for (size_t i = 0; i < p->nconns; i++) {
		conn_abort(p->conns[i], "proxy stopped");
		conn_free(p->conns[i]);
	}
	p->nconns = 0;
	for (size_t i = 0; i < p->nlisteners; i++)
		close(p->listeners[i].fd);
	p->nlisteners = 0;
	return NULL;
}

/*
 * The caller's side.
 */

static void
proxy_free(struct proxy *p)
{
	for (size_t i = 0; i < p->nallow; i++)
		free(p->allow[i]);
	free(p->allow);
	for (size_t i = 0; i < p->npending; i++)
		close(p->pending[i].fd);
	free(p->pending);
	if (p->events != NULL) {
		for (size_t i = 0; i < p->ev_count; i++) {
			proxy_event_free(&p->events[(p->ev_first + i) %
			    PROXY_EVENTS_MAX]);
		}
		free(p->events);
	}
	if (p->event_fd != -1)
		close(p->event_fd);
	if (p->wake_fd != -1)
		close(p->wake_fd);
	if (p->log_fd != -1)
		close(p->log_fd);
	free(p->listeners);
	free(p->conns);
	free(p->pfds);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct proxy *
proxy_start(char *const *allow, size_t nallow, const char *log_path,
    char **cause)
{
	struct proxy *p = xcalloc(1, sizeof *p);
	char *entry, *why;
	int error;

	pthread_mutex_init(&p->lock, NULL);
	p->event_fd = p->wake_fd = p->log_fd = -1;
	p->allow = xreallocarray(NULL, nallow + 1, sizeof *p->allow);
	for (size_t i = 0; i < nallow; i++) {
		if ((entry = policy_net_entry(allow[i], &why)) == NULL) {
			*cause = xasprintf("net allow: %s", why);
			free(why);
			proxy_free(p);
			return NULL;
		}
		p->allow[p->nallow++] = entry;
	}
	p->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->event_fd == -1 || p->wake_fd == -1) {
		*cause = xasprintf("proxy: eventfd: %s", strerror(errno));
		proxy_free(p);
		return NULL;
	}
	if (log_path != NULL && (p->log_fd = open(log_path, O_WRONLY |
	    O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
		*cause = xasprintf("%s: %s", log_path, strerror(errno));
		proxy_free(p);
		return NULL;
	}
	p->events = xcalloc(PROXY_EVENTS_MAX, sizeof *p->events);
	p->header_ms = proxy_env_ms("AIRLOCK_PROXY_HEADER_MS", PROXY_HEADER_MS);
	p->connect_ms = proxy_env_ms("AIRLOCK_PROXY_CONNECT_MS",
	    PROXY_CONNECT_MS);
	p->idle_ms = proxy_env_ms("AIRLOCK_PROXY_IDLE_MS", PROXY_IDLE_MS);
	p->resolver = resolver_new(p->wake_fd);
	if ((error = proxy_thread(&p->thread, proxy_main, p, 0)) != 0) {
		*cause = xasprintf("proxy: thread: %s", strerror(error));
		resolver_stop(p->resolver);
		proxy_free(p);
		return NULL;
	}
	return p;
}

int
proxy_listen(struct proxy *p, int fd, enum proxy_kind kind, char **cause)
{
	int listening = 0, type = 0, flags;
	socklen_t len = sizeof listening, tlen = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == -1 ||
	    !listening || type != SOCK_STREAM) {
		*cause = xasprintf("proxy: fd %d is not a listening stream "
		    "socket", fd);
		close(fd);
		return -1;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		*cause = xasprintf("proxy: fd %d: %s", fd, strerror(errno));
		close(fd);
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	p->pending = xreallocarray(p->pending, p->npending + 1,
	    sizeof *p->pending);
	p->pending[p->npending++] = (struct proxy_listener){ fd, kind };
	pthread_mutex_unlock(&p->lock);
	proxy_wake(p->wake_fd);
	return 0;
}

int
proxy_allow(struct proxy *p, const char *entry, char **cause)
{
	char *e, *why;

	if ((e = policy_net_entry(entry, &why)) == NULL) {
		*cause = xasprintf("net allow: %s", why);
		free(why);
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	p->allow = xreallocarray(p->allow, p->nallow + 1, sizeof *p->allow);
	p->allow[p->nallow++] = e;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int
proxy_event_fd(const struct proxy *p)
{
	return p->event_fd;
}

int
proxy_event_take(struct proxy *p, struct proxy_event *ev)
{
	int taken = 0;

	pthread_mutex_lock(&p->lock);
	if (p->ev_count > 0) {
		*ev = p->events[p->ev_first];
		memset(&p->events[p->ev_first], 0, sizeof *ev);
		p->ev_first = (p->ev_first + 1) % PROXY_EVENTS_MAX;
		p->ev_count--;
		taken = 1;
	}
	if (p->ev_count == 0)
		proxy_drain(p->event_fd);
	pthread_mutex_unlock(&p->lock);
	return taken;
}

void
proxy_stop(struct proxy *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_mutex_unlock(&p->lock);
	proxy_wake(p->wake_fd);
	pthread_join(p->thread, NULL);
	resolver_stop(p->resolver);
	proxy_free(p);
}

/*
 * The warden: airlock's PID 1 inside the sandbox. It waits until its ids are
 * mapped, builds the new root (warden-mounts.c), starts the agent
 * (warden-agent.c) and then serves the supervisor until the agent exits:
 * relays signals and job control, reaps every child, and applies rollback
 * operations to the merged view (warden-apply.c). It runs in the forked
 * child only: a setup error goes back to the supervisor as text and the
 * warden exits; when the warden exits, the kernel kills everything left in
 * its pid namespace, and its mounts go with its mount namespace.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

/* The header every packet starts with. */
#define WARDEN_HEADER offsetof(struct warden_msg, text)
/* The largest packet: a rollback operation with two long paths. */
#define WARDEN_PACKET_MAX (64 * 1024)

/* What the warden knows about itself. */
struct warden {
	const struct sandbox_config *cfg;
	int sock;
	int unprivileged;
	int tty;         /* the agent gets the terminal */
	int sfd;         /* signalfd for SIGCHLD */
	int root;        /* O_PATH of the merged tree, for rollbacks */
	int lower;       /* O_PATH of the real tree under the overlay */
	long apply_delay_ms;  /* tests: a wait before each rollback op */
	int apply_failed;     /* a rollback op failed: skip until a first */
	pid_t agent;
};

void
warden_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int
warden_send(int sock, int type, int value, const char *text)
{
	struct warden_msg m;
	size_t len = 0;
	ssize_t n;

	memset(&m, 0, offsetof(struct warden_msg, text));
	m.type = type;
	m.value = value;
	if (text != NULL) {
		len = strnlen(text, sizeof m.text - 1);
		memcpy(m.text, text, len);
	}
	m.text[len] = '\0';
	do
		n = send(sock, &m, offsetof(struct warden_msg, text) + len + 1,
		    MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

int
warden_recv(int sock, struct warden_msg *m)
{
	size_t len;
	ssize_t n;

	do
		n = recv(sock, m, sizeof *m, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	if ((size_t)n < offsetof(struct warden_msg, text)) {
		errno = EPROTO;
		return -1;
	}
	len = (size_t)n - offsetof(struct warden_msg, text);
	if (len >= sizeof m->text)
		len = sizeof m->text - 1;
	m->text[len] = '\0';
	return 1;
}

/* One packet of len bytes, with fd (unless -1) as SCM_RIGHTS. 0 or -1. */
static int
warden_sendmsg(int sock, const void *data, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof msg);
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&control, 0, sizeof control);
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof control.buf;
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

static int warden_recv_packet(int, char *, size_t, size_t *, int *);

int
warden_send_fd(int sock, int type, int value, int fd)
{
	struct warden_msg m;

	memset(&m, 0, WARDEN_HEADER + 1);
	m.type = type;
	m.value = value;
	return warden_sendmsg(sock, &m, WARDEN_HEADER + 1, fd);
}

int
warden_recv_fd(int sock, struct warden_msg *m, int *fd)
{
	size_t len;
	int rc = warden_recv_packet(sock, (char *)m, sizeof *m, &len, fd);

	if (rc != 1)
		return rc;
	len -= WARDEN_HEADER;
	if (len >= sizeof m->text)
		len = sizeof m->text - 1;
	m->text[len] = '\0';
	return 1;
}

int
warden_send_op(int sock, const struct rollback_op *op, int fd, int first)
{
	struct warden_msg m;
	struct buf b = BUF_INIT;
	int rc;

	memset(&m, 0, WARDEN_HEADER);
	m.type = WARDEN_APPLY;
	m.value = first ? WARDEN_APPLY_FIRST : 0;
	buf_add(&b, &m, WARDEN_HEADER);
	rollback_op_encode(&b, op);
	if (b.len > WARDEN_PACKET_MAX) {
		buf_free(&b);
		errno = EMSGSIZE;
		return -1;
	}
	rc = warden_sendmsg(sock, b.data, b.len, fd);
	buf_free(&b);
	return rc;
}

/*
 * Receives one packet of at most size bytes into data, and the descriptor
 * that came with it (else *fd is -1). 1, 0 when the peer is gone, -1 with
 * errno (EPROTO: shorter than a header, or cut short).
 */
static int
warden_recv_packet(int sock, char *data, size_t size, size_t *len, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	memset(&msg, 0, sizeof msg);
	iov.iov_base = data;
	iov.iov_len = size;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof control.buf;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof *fd);
	}
	if ((size_t)n < WARDEN_HEADER || (msg.msg_flags & MSG_TRUNC)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EPROTO;
		return -1;
	}
	*len = (size_t)n;
	return 1;
}

static int
warden_loopback_up(char **cause)
{
	AUTOCLOSE int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	if (fd < 0) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
		*cause = xasprintf("read the flags of lo: %s", strerror(errno));
		return -1;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) {
		*cause = xasprintf("bring lo up: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* --net allow: a socket listening on 127.0.0.1:port of the sandbox's
 * network, handed to the supervisor (whose proxy accepts on it). */
static int
warden_listen(int sock, int kind, int port, char **cause)
{
	AUTOCLOSE int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa;
	int one = 1;

	if (fd < 0) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(fd, 512) != 0) {
		*cause = xasprintf("listen on 127.0.0.1:%d inside: %s", port,
		    strerror(errno));
		return -1;
	}
	if (warden_send_fd(sock, WARDEN_LISTEN, kind, fd) != 0) {
		*cause = xasprintf("hand the proxy's socket over: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
warden_spawn(struct warden *w, char **cause)
{
	sigset_t set;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	w->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w->sfd < 0) {
		*cause = xasprintf("signalfd: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		*cause = xasprintf("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		warden_agent(w->cfg, w->tty);
	/* the agent does both too: whichever runs first wins, same result;
	 * on a pty it makes a session of its own instead (setsid fails in a
	 * group leader, so no setpgid here then) */
	if (!w->cfg->pty)
		setpgid(pid, pid);
	if (w->tty)
		tcsetpgrp(STDIN_FILENO, pid);
	w->agent = pid;
	return 0;
}

/* Reaps every child; reports the agent's stops, and its end, which ends the
 * warden and so everything else inside. */
static void
warden_reap(struct warden *w)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG | WUNTRACED)) > 0) {
		if (pid != w->agent)
			continue;
		if (WIFSTOPPED(status)) {
			warden_send(w->sock, WARDEN_STOPPED, WSTOPSIG(status),
			    NULL);
			continue;
		}
		warden_send(w->sock, WARDEN_EXITED, status, NULL);
		_exit(EXIT_OK);
	}
}

/*
 * A signal sent to airlock goes to the agent alone, as if sent to it
 * directly (as sudo does); the terminal already sends its own (Ctrl-C) to
 * the agent's whole process group.
 */
static void
warden_signal(const struct warden *w, int sig)
{
	if (sig > 0 && sig < NSIG)
		kill(w->agent, sig);
}

/* Resumes the stopped job: every process of the agent's group. */
static void
warden_continue(const struct warden *w, int tty)
{
	if (tty)
		tcsetpgrp(STDIN_FILENO, w->agent);
	if (kill(-w->agent, SIGCONT) != 0)
		kill(w->agent, SIGCONT);
}

/* One rollback operation: decoded, applied, answered; skipped after a
 * failed one, until the first of the next run. */
static void
warden_apply_request(struct warden *w, int first, const char *data,
    size_t len, int fd)
{
	struct rollback_op op;
	char *cause = NULL;
	int rc;

	if (first)
		w->apply_failed = 0;
	if (w->apply_failed) {
		warden_send(w->sock, WARDEN_APPLIED, -1,
		    "skipped: an operation before it failed");
		return;
	}
	if (w->apply_delay_ms > 0) {
		struct timespec ts = { w->apply_delay_ms / 1000,
		    w->apply_delay_ms % 1000 * 1000000 };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	rc = rollback_op_decode(data, len, &op, &cause);
	if (rc == 0) {
		rc = warden_apply(w->root, w->lower, &op, fd, &cause);
		rollback_op_clear(&op);
	}
	if (rc != 0)
		w->apply_failed = 1;
	warden_send(w->sock, WARDEN_APPLIED, rc, rc == 0 ? NULL : cause);
	free(cause);
}

static void
warden_request(struct warden *w)
{
	static char packet[WARDEN_PACKET_MAX];
	struct warden_msg m;
	size_t len;
	int fd = -1, rc;

	/* the supervisor is gone: everything inside goes with the warden */
	rc = warden_recv_packet(w->sock, packet, sizeof packet, &len, &fd);
	if (rc != 1)
		_exit(EXIT_ERROR);
	memcpy(&m, packet, WARDEN_HEADER);
	switch (m.type) {
	case WARDEN_SIGNAL:
		warden_signal(w, m.value);
		break;
	case WARDEN_CONTINUE:
		warden_continue(w, m.value);
		break;
	case WARDEN_APPLY:
		warden_apply_request(w, m.value == WARDEN_APPLY_FIRST,
		    packet + WARDEN_HEADER,
		    len - WARDEN_HEADER, fd);
		break;
	}
	if (fd >= 0)
		close(fd);
}

static NORETURN void
warden_loop(struct warden *w)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];

	for (;;) {
		warden_reap(w);
		pfd[0].fd = w->sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = w->sfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			_exit(EXIT_ERROR);
		while (read(w->sfd, &si, sizeof si) == (ssize_t)sizeof si)
			;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			warden_request(w);
	}
}

/* AIRLOCK_TEST_APPLY_DELAY_MS: the tests' way to make a live rollback
 * long enough for the command to exit halfway through (0: none). */
static long
warden_test_delay(void)
{
	const char *text = getenv("AIRLOCK_TEST_APPLY_DELAY_MS");
	char *end;
	long ms;

	if (text == NULL || *text == '\0')
		return 0;
	ms = strtol(text, &end, 10);
	return *end == '\0' && ms > 0 && ms <= 60000 ? ms : 0;
}

static NORETURN void
warden_fail(int sock, char *cause)
{
	warden_send(sock, WARDEN_ERROR, 0, cause);
	_exit(EXIT_ERROR);
}

/*
 * Dies with the supervisor, drops what it inherited, and waits for the
 * supervisor to map its ids. Exits when the supervisor is already gone.
 */
static void
warden_prepare(struct warden *w)
{
	struct warden_msg m;
	sigset_t set;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		warden_fail(w->sock, xasprintf("PR_SET_PDEATHSIG: %s",
		    strerror(errno)));
	warden_close_fds(w->sock);
	/* changing the terminal's foreground group from the background */
	signal(SIGTTOU, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_SETMASK, &set, NULL);
	/* in a new pid namespace getppid() is 0: the socket tells instead
	 * whether the supervisor died before PR_SET_PDEATHSIG took hold */
	if (warden_recv(w->sock, &m) != 1 || m.type != WARDEN_GO)
		_exit(EXIT_ERROR);
	w->tty = m.value;
	/* once mapped: keeps the agent (same uid) off the warden's /proc */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

NORETURN void
warden_main(const struct sandbox_config *cfg, int sock, int unprivileged)
{
	struct warden w;
	char *cause = NULL;

	memset(&w, 0, sizeof w);
	w.cfg = cfg;
	w.sock = sock;
	w.unprivileged = unprivileged;
	w.sfd = -1;
	w.root = -1;
	w.lower = -1;
	w.agent = -1;
	w.apply_delay_ms = warden_test_delay();
	warden_prepare(&w);
	if (cfg->net != NET_HOST && warden_loopback_up(&cause) != 0)
		warden_fail(sock, cause);
	if (cfg->net == NET_ALLOW && (warden_listen(sock, SANDBOX_PROXY_HTTP,
	    SANDBOX_PROXY_HTTP_PORT, &cause) != 0 || warden_listen(sock,
	    SANDBOX_PROXY_SOCKS5, SANDBOX_PROXY_SOCKS5_PORT, &cause) != 0))
		warden_fail(sock, cause);
	if (warden_build(cfg, unprivileged, &w.lower, &cause) != 0)
		warden_fail(sock, cause);
	w.root = open(cfg->tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w.root < 0)
		warden_fail(sock, xasprintf("open %s in the sandbox: %s",
		    cfg->tree, strerror(errno)));
	if (chdir(cfg->cwd) != 0)
		warden_fail(sock, xasprintf("chdir %s in the sandbox: %s",
		    cfg->cwd, strerror(errno)));
	if (warden_spawn(&w, &cause) != 0)
		warden_fail(sock, cause);
	warden_send(sock, WARDEN_STARTED, 0, NULL);
	warden_loop(&w);
}

/*
 * airlock connect HOST PORT: inside a --net allow sandbox, a connection to
 * HOST:PORT through airlock's proxy (HTTP CONNECT), relayed between the
 * proxy and stdin/stdout: ssh's ProxyCommand (GIT_SSH_COMMAND is set to
 * use it), so that ssh remotes follow the allow-list too.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define CONNECT_HEAD_MAX 8192
#define CONNECT_BUF 65536

static int cmd_connect_exec(int, char **);

const struct cmd_entry cmd_connect_entry = {
	.name = "connect",
	.usage = "HOST PORT",
	.summary = "inside --net allow: a connection through the proxy",
	.help =
	    "Inside a sandbox started with --net allow, connects to HOST:PORT "
	    "through airlock's\nproxy (which checks the allow-list and logs the "
	    "connection) and relays it to\nstandard input and output: what ssh's "
	    "ProxyCommand wants. airlock sets\nGIT_SSH_COMMAND to use it, so "
	    "that git's ssh remotes follow the allow-list too.\nExit status 1 "
	    "when the proxy refuses (its reason on standard error).",
	.exec = cmd_connect_exec,
};

/* The proxy's address inside: $AIRLOCK_PROXY (127.0.0.1:PORT). */
static int
connect_proxy(char **cause)
{
	const char *env = getenv("AIRLOCK_PROXY");
	struct sockaddr_in sa;
	char *end;
	long port = SANDBOX_PROXY_HTTP_PORT;
	int fd;

	if (env != NULL && strncmp(env, "127.0.0.1:", 10) == 0) {
		errno = 0;
		port = strtol(env + 10, &end, 10);
		if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
			*cause = xasprintf("AIRLOCK_PROXY=%s: expected "
			    "127.0.0.1:PORT", env);
			return -1;
		}
	} else if (env == NULL) {
		*cause = xstrdup("not inside a sandbox with --net allow "
		    "(AIRLOCK_PROXY is not set)");
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		*cause = xasprintf("cannot reach the proxy at 127.0.0.1:%ld: %s",
		    port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Writes all of len bytes. 0 or -1. */
static int
connect_write(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads the proxy's answer up to its blank line (byte by byte: what
 * follows belongs to the tunnel). 0 when it is 200, else -1 with the
 * status line in *cause.
 */
static int
connect_answer(int fd, char **cause)
{
	char head[CONNECT_HEAD_MAX + 1], *nl;
	size_t len = 0;
	ssize_t n;

	while (len < CONNECT_HEAD_MAX) {
		n = read(fd, head + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len++;
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[len] = '\0';
	if (len < 12 || strncmp(head, "HTTP/1.", 7) != 0) {
		*cause = xstrdup("the proxy did not answer");
		return -1;
	}
	if (head[9] == '2' && head[10] == '0' && head[11] == '0')
		return 0;
	if ((nl = strpbrk(head, "\r\n")) != NULL)
		*nl = '\0';
	*cause = xasprintf("refused: %s", head);
	return -1;
}

/* Relays stdin -> fd and fd -> stdout until both ends are done. */
static int
connect_relay(int fd)
{
	struct pollfd pfd[2];
	char *buf = xmalloc(CONNECT_BUF);
	int in_open = 1, out_open = 1;
	ssize_t n;

	while (out_open) {
		pfd[0].fd = in_open ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, buf, CONNECT_BUF);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || connect_write(fd, buf, (size_t)n) != 0) {
				in_open = 0;
				shutdown(fd, SHUT_WR);
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, buf, CONNECT_BUF);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || connect_write(STDOUT_FILENO, buf,
			    (size_t)n) != 0)
				out_open = 0;
		}
	}
	free(buf);
	return 0;
}

static int
cmd_connect_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = &cmd_connect_entry;
	struct buf req = BUF_INIT;
	char *cause = NULL, *end;
	const char *host;
	long port;
	int fd, rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: airlock %s %s\n\n%s\n", entry->name,
		    entry->usage, entry->help);
		return EXIT_OK;
	}
	if (argc != 3)
		return cmd_usage(entry, "expected HOST PORT");
	host = argv[1];
	errno = 0;
	port = strtol(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return cmd_usage(entry, "'%s' is not a port (1-65535)",
		    argv[2]);
	if (*host == '\0' || strlen(host) > 253 ||
	    strpbrk(host, " \t\r\n/@") != NULL)
		return cmd_usage(entry, "'%s' is not a host name", host);
	if ((fd = connect_proxy(&cause)) < 0) {
		log_cause("connect", cause);
		return EXIT_ERROR;
	}
	if (strchr(host, ':') != NULL)
		buf_printf(&req, "CONNECT [%s]:%ld HTTP/1.1\r\nHost: [%s]:%ld"
		    "\r\n\r\n", host, port, host, port);
	else
		buf_printf(&req, "CONNECT %s:%ld HTTP/1.1\r\nHost: %s:%ld"
		    "\r\n\r\n", host, port, host, port);
	rc = connect_write(fd, req.data, req.len);
	buf_free(&req);
	if (rc != 0) {
		log_error("connect", "cannot talk to the proxy: %s",
		    strerror(errno));
		close(fd);
		return EXIT_ERROR;
	}
	if (connect_answer(fd, &cause) != 0) {
		log_error("connect", "%s:%ld: %s", host, port, cause);
		free(cause);
		close(fd);
		return EXIT_ERROR;
	}
	connect_relay(fd);
	close(fd);
	return EXIT_OK;
}

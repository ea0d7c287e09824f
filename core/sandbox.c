/*
 * The host side of the sandbox: checking that the kernel can build it,
 * starting the warden in new namespaces, mapping its ids, and the
 * supervisor's end of the warden's socket: the agent's stops and exit,
 * relayed signals and the terminal, rollback operations. The inside is
 * warden*.c; the loop that drives this is supervisor.c (or sandbox_wait).
 */
#include "config.h"

#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* overlayfs in a user namespace (userxattr) came with Linux 5.11 */
#define SANDBOX_MIN_MAJOR 5
#define SANDBOX_MIN_MINOR 11

/* more ranges than anyone has; the kernel takes up to 340 */
#define SANDBOX_MAX_RANGES 16

/* The signals airlock passes on to the agent. */
static const int sandbox_relayed[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH
};

/* Where the set-uid id mapping helpers may live. */
static const char *const sandbox_helper_dirs[] = {
	"/usr/bin", "/bin", "/usr/sbin", "/sbin"
};

/*
 * Reads dir/rel as one integer. 0 when read, 1 when the file is absent, -1
 * when it cannot be read or holds something else (the caller then knows
 * nothing and checks nothing).
 */
static int
sandbox_read_int(const char *dir, const char *rel, long *value)
{
	AUTOFREE char *path = path_join(dir, rel);
	AUTOFREE char *text = NULL;
	char *cause = NULL, *end;
	size_t len;

	if (access(path, F_OK) != 0)
		return errno == ENOENT || errno == ENOTDIR ? 1 : -1;
	text = path_read_file(path, 4096, &len, &cause);
	if (text == NULL) {
		free(cause);
		return -1;
	}
	if (!isdigit((unsigned char)text[0]) && text[0] != '-')
		return -1;
	errno = 0;
	*value = strtol(text, &end, 10);
	if (errno != 0)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return *end == '\0' ? 0 : -1;
}

static int
sandbox_check_release(const char *release, char **cause)
{
	unsigned long major, minor;
	char *end;

	if (!isdigit((unsigned char)release[0]))
		goto bad;
	major = strtoul(release, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		goto bad;
	minor = strtoul(end + 1, &end, 10);
	if (major > SANDBOX_MIN_MAJOR ||
	    (major == SANDBOX_MIN_MAJOR && minor >= SANDBOX_MIN_MINOR))
		return 0;
	*cause = xasprintf("Linux %s is too old: airlock needs Linux %d.%d or "
	    "later (for overlayfs in a user namespace)", release,
	    SANDBOX_MIN_MAJOR, SANDBOX_MIN_MINOR);
	return -1;
bad:
	*cause = xasprintf("cannot read the kernel version from \"%s\"",
	    release);
	return -1;
}

/* 1 when the text of /proc/filesystems lists name. */
static int
sandbox_has_fs(const char *text, const char *name)
{
	const char *line = text, *tab, *eol;
	size_t len = strlen(name);

	for (; *line != '\0'; line = *eol == '\0' ? eol : eol + 1) {
		eol = strchrnul(line, '\n');
		tab = memrchr(line, '\t', (size_t)(eol - line));
		tab = tab != NULL ? tab + 1 : line;
		if ((size_t)(eol - tab) == len && memcmp(tab, name, len) == 0)
			return 1;
	}
	return 0;
}

static int
sandbox_check_overlay(const char *procdir, const char *moddir,
    const char *release, char **cause)
{
	AUTOFREE char *path = path_join(procdir, "filesystems");
	AUTOFREE char *text = NULL;
	AUTOFREE char *module = NULL;
	char *error = NULL;
	size_t len;

	text = path_read_file(path, 1 << 20, &len, &error);
	if (text == NULL) {
		*cause = xasprintf("cannot tell whether overlayfs is available: "
		    "%s", error);
		free(error);
		return -1;
	}
	if (sandbox_has_fs(text, "overlay"))
		return 0;
	/* Not loaded yet: the first overlay mount loads an installed module. */
	module = xasprintf("%s/%s/kernel/fs/overlayfs", moddir, release);
	if (access(module, F_OK) == 0)
		return 0;
	*cause = xstrdup("overlayfs is not available: modprobe overlay (or use "
	    "a kernel built with CONFIG_OVERLAY_FS)");
	return -1;
}

/* 1 when this process runs under an AppArmor profile of its own. */
static int
sandbox_apparmor_confined(const char *procdir)
{
	static const char *const files[] = {
		"self/attr/apparmor/current", "self/attr/current"
	};
	AUTOFREE char *text = NULL;
	char *path, *error = NULL;
	size_t i, len;

	for (i = 0; i < sizeof files / sizeof files[0] && text == NULL; i++) {
		path = path_join(procdir, files[i]);
		text = path_read_file(path, 4096, &len, &error);
		free(error);
		error = NULL;
		free(path);
	}
	if (text == NULL || len == 0)
		return 0;
	return strncmp(text, "unconfined", 10) != 0;
}

static int
sandbox_check_userns(const char *procdir, char **cause)
{
	long value;

	if (sandbox_read_int(procdir, "sys/kernel/unprivileged_userns_clone",
	    &value) == 0 && value == 0) {
		*cause = xstrdup("unprivileged user namespaces are disabled "
		    "(kernel.unprivileged_userns_clone = 0): as root, run "
		    "sysctl -w kernel.unprivileged_userns_clone=1 (and add it "
		    "to /etc/sysctl.d), or run airlock as root");
		return -1;
	}
	if (sandbox_read_int(procdir, "sys/user/max_user_namespaces",
	    &value) == 0 && value == 0) {
		*cause = xstrdup("user namespaces are disabled "
		    "(user.max_user_namespaces = 0): as root, run sysctl -w "
		    "user.max_user_namespaces=15000 (and add it to "
		    "/etc/sysctl.d), or run airlock as root");
		return -1;
	}
	if (sandbox_read_int(procdir,
	    "sys/kernel/apparmor_restrict_unprivileged_userns", &value) == 0 &&
	    value == 1 && !sandbox_apparmor_confined(procdir)) {
		*cause = xstrdup("AppArmor restricts unprivileged user "
		    "namespaces (kernel.apparmor_restrict_unprivileged_userns = "
		    "1): as root, run sysctl -w "
		    "kernel.apparmor_restrict_unprivileged_userns=0, or load an "
		    "AppArmor profile for airlock that allows userns");
		return -1;
	}
	return 0;
}

int
sandbox_check_at(const char *procdir, const char *moddir, const char *release,
    uid_t euid, char **cause)
{
	if (sandbox_check_release(release, cause) != 0)
		return -1;
	if (sandbox_check_overlay(procdir, moddir, release, cause) != 0)
		return -1;
	if (euid != 0 && sandbox_check_userns(procdir, cause) != 0)
		return -1;
	return 0;
}

int
sandbox_check(char **cause)
{
	struct utsname u;

	const char *proc = getenv("AIRLOCK_TEST_PROCDIR");
	const char *release = getenv("AIRLOCK_TEST_RELEASE");

	if (uname(&u) != 0) {
		*cause = xasprintf("uname: %s", strerror(errno));
		return -1;
	}
	/*
	 * The test suite's seam for kernels it cannot boot: a fake /proc and
	 * version. They can only make the check fail, never build a sandbox
	 * the real kernel could not.
	 */
	if (proc == NULL || proc[0] != '/')
		proc = "/proc";
	if (release == NULL || release[0] == '\0')
		release = u.release;
	return sandbox_check_at(proc, "/lib/modules", release, geteuid(),
	    cause);
}

/* Parses a whole decimal number (no sign, no blanks). 0 or -1. */
static int
sandbox_parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static size_t
sandbox_subid_add(struct subid_range *ranges, size_t n, size_t max,
    unsigned long start, unsigned long count)
{
	if (count == 0 || n == max)
		return n;
	ranges[n].start = start;
	ranges[n].count = count;
	return n + 1;
}

/* One "name:start:count" line; returns the new number of ranges. */
static size_t
sandbox_subid_line(const char *line, size_t len, const char *name,
    unsigned long id, struct subid_range *ranges, size_t n, size_t max)
{
	char copy[256], idstr[32], *first, *second;
	unsigned long start, count, end;

	if (len == 0 || len >= sizeof copy || memchr(line, '\0', len) != NULL)
		return n;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if ((first = strchr(copy, ':')) == NULL ||
	    (second = strchr(first + 1, ':')) == NULL)
		return n;
	*first++ = '\0';
	*second++ = '\0';
	snprintf(idstr, sizeof idstr, "%lu", id);
	if ((name == NULL || strcmp(copy, name) != 0) &&
	    strcmp(copy, idstr) != 0)
		return n;
	if (sandbox_parse_ulong(first, &start) != 0 ||
	    sandbox_parse_ulong(second, &count) != 0)
		return n;
	/* ids are 32 bits and (uid_t)-1 is no id */
	if (start >= 0xffffffffUL || count > 0xffffffffUL - start)
		return n;
	end = start + count;
	if (id < start || id >= end)
		return sandbox_subid_add(ranges, n, max, start, count);
	n = sandbox_subid_add(ranges, n, max, start, id - start);
	return sandbox_subid_add(ranges, n, max, id + 1, end - id - 1);
}

size_t
sandbox_subid_ranges(const char *text, size_t len, const char *name,
    unsigned long id, struct subid_range *ranges, size_t max)
{
	const char *p = text, *end = text + len, *eol;
	size_t n = 0;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		n = sandbox_subid_line(p, (size_t)(eol - p), name, id, ranges,
		    n, max);
		p = eol + 1;
	}
	return n;
}

/* Runs a helper quietly; 0 when it exits 0. */
static int
sandbox_run_helper(const char *path, char *const argv[])
{
	pid_t pid;
	int status, null;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execv(path, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Appends the three words "inside outside count" of an identity range. */
static size_t
sandbox_map_words(char **argv, size_t argc, unsigned long start,
    unsigned long count)
{
	argv[argc++] = xasprintf("%lu", start);
	argv[argc++] = xasprintf("%lu", start);
	argv[argc++] = xasprintf("%lu", count);
	return argc;
}

/* The set-uid helper's path, or NULL. */
static char *
sandbox_find_helper(const char *helper)
{
	char *path;
	size_t i;

	for (i = 0; i < sizeof sandbox_helper_dirs / sizeof *sandbox_helper_dirs;
	    i++) {
		path = path_join(sandbox_helper_dirs[i], helper);
		if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

/*
 * Maps id to itself, and the user's subordinate ranges from subid_file to
 * themselves, through the set-uid helper (newuidmap or newgidmap). 0 when it
 * did; -1 when there is no helper, no range, or the helper refused.
 */
static int
sandbox_map_ranges(const char *helper, const char *subid_file, pid_t pid,
    unsigned long id, const char *name)
{
	struct subid_range ranges[SANDBOX_MAX_RANGES];
	char *argv[2 + 3 * (SANDBOX_MAX_RANGES + 1) + 1];
	AUTOFREE char *path = sandbox_find_helper(helper);
	AUTOFREE char *text = NULL;
	char *error = NULL;
	size_t i, n, len, argc = 0;
	int rc;

	if (path == NULL)
		return -1;
	text = path_read_file(subid_file, 1 << 20, &len, &error);
	free(error);
	if (text == NULL)
		return -1;
	n = sandbox_subid_ranges(text, len, name, id, ranges,
	    SANDBOX_MAX_RANGES);
	if (n == 0)
		return -1;
	argv[argc++] = xstrdup(helper);
	argv[argc++] = xasprintf("%ld", (long)pid);
	argc = sandbox_map_words(argv, argc, id, 1);
	for (i = 0; i < n; i++)
		argc = sandbox_map_words(argv, argc, ranges[i].start,
		    ranges[i].count);
	argv[argc] = NULL;
	rc = sandbox_run_helper(path, argv);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

static int
sandbox_write_proc(pid_t pid, const char *file, const char *text,
    char **cause)
{
	char path[64];
	size_t len = strlen(text);
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		*cause = xasprintf("open %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, text, len);
	if (n < 0 || (size_t)n != len) {
		*cause = xasprintf("write %s: %s", path,
		    n < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Maps the caller's uid and gid to themselves in the warden's user namespace,
 * with the subordinate ranges when the helpers allow them, else alone.
 */
static int
sandbox_map_ids(pid_t pid, int *single, char **cause)
{
	struct passwd pw, *found = NULL;
	char pwbuf[4096], line[64];
	const char *name;
	unsigned long uid = geteuid(), gid = getegid();
	int uid_mapped, gid_mapped;

	getpwuid_r((uid_t)uid, &pw, pwbuf, sizeof pwbuf, &found);
	name = found != NULL ? found->pw_name : NULL;
	uid_mapped = sandbox_map_ranges("newuidmap", "/etc/subuid", pid, uid,
	    name) == 0;
	gid_mapped = sandbox_map_ranges("newgidmap", "/etc/subgid", pid, gid,
	    name) == 0;
	if (!uid_mapped) {
		snprintf(line, sizeof line, "%lu %lu 1\n", uid, uid);
		if (sandbox_write_proc(pid, "uid_map", line, cause) != 0)
			return -1;
	}
	if (!gid_mapped) {
		/* the kernel maps a lone gid only once setgroups is denied */
		if (sandbox_write_proc(pid, "setgroups", "deny", cause) != 0)
			return -1;
		snprintf(line, sizeof line, "%lu %lu 1\n", gid, gid);
		if (sandbox_write_proc(pid, "gid_map", line, cause) != 0)
			return -1;
	}
	*single = !uid_mapped || !gid_mapped;
	return 0;
}

static void
sandbox_signals(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < sizeof sandbox_relayed / sizeof *sandbox_relayed; i++)
		sigaddset(set, sandbox_relayed[i]);
}

static void
sandbox_block(int how)
{
	sigset_t set;

	sandbox_signals(&set);
	sigprocmask(how, &set, NULL);
}

/* fork(2) into new namespaces: the child is the new pid namespace's PID 1. */
static pid_t
sandbox_clone(unsigned long flags)
{
#if defined(__s390__) || defined(__CRIS__)
	return (pid_t)syscall(SYS_clone, NULL, flags);
#else
	return (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
#endif
}

static const char *
sandbox_clone_hint(int error, int unprivileged)
{
	switch (error) {
	case EPERM:
	case EACCES:
		if (unprivileged)
			return " (unprivileged user namespaces are forbidden "
			    "here: see kernel.unprivileged_userns_clone, "
			    "kernel.apparmor_restrict_unprivileged_userns, or "
			    "the seccomp policy of the container airlock runs "
			    "in)";
		return " (does the container airlock runs in forbid "
		    "namespaces?)";
	case ENOSPC:
	case EUSERS:
		return " (too many namespaces: see user.max_user_namespaces "
		    "and the other user.max_*_namespaces sysctls)";
	case EINVAL:
		return " (the kernel lacks user, pid, mount or network "
		    "namespaces, or airlock runs in a chroot)";
	}
	return "";
}

/* "exit N" or "killed by signal N" for a wait status. */
static char *
sandbox_describe(int status)
{
	if (WIFEXITED(status))
		return xasprintf("exit %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return xasprintf("killed by signal %d", WTERMSIG(status));
	return xasprintf("wait status %#x", (unsigned)status);
}

static int
sandbox_reap(struct sandbox *sb)
{
	int status = 0;

	if (sb->warden <= 0)
		return 0;
	while (waitpid(sb->warden, &status, 0) < 0) {
		if (errno != EINTR)
			break;
	}
	sb->warden = -1;
	return status;
}

/* Ends a sandbox whose start failed: nothing of it may stay. */
static void
sandbox_abort(struct sandbox *sb)
{
	if (sb->warden > 0)
		kill(sb->warden, SIGKILL);
	sandbox_reap(sb);
	if (sb->sock >= 0)
		close(sb->sock);
	sb->sock = -1;
	if (sb->sfd >= 0)
		close(sb->sfd);
	sb->sfd = -1;
	for (int i = 0; i < 2; i++) {
		if (sb->proxy_fd[i] >= 0)
			close(sb->proxy_fd[i]);
		sb->proxy_fd[i] = -1;
	}
	sandbox_block(SIG_UNBLOCK);
}

static int
sandbox_check_config(const struct sandbox_config *cfg, char **cause)
{
	size_t i;

	if (cfg->argv == NULL || cfg->argv[0] == NULL) {
		*cause = xstrdup("no command to run");
		return -1;
	}
	for (i = 0; i < cfg->plan->n; i++) {
		if (cfg->plan->v[i].kind == PLAN_TREE &&
		    strcmp(cfg->plan->v[i].path, cfg->tree) == 0)
			return 0;
	}
	*cause = xasprintf("the mount plan has no overlay for the real tree %s",
	    cfg->tree);
	return -1;
}

/* Waits for the warden to report the agent started, or why it did not. */
static int
sandbox_await(struct sandbox *sb, char **cause)
{
	struct warden_msg m;
	AUTOFREE char *how = NULL;
	int rc, fd;

	/* --net allow: the proxy's sockets come first */
	while ((rc = warden_recv_fd(sb->sock, &m, &fd)) == 1 &&
	    m.type == WARDEN_LISTEN && fd >= 0 && (m.value ==
	    SANDBOX_PROXY_HTTP || m.value == SANDBOX_PROXY_SOCKS5) &&
	    sb->proxy_fd[m.value] < 0)
		sb->proxy_fd[m.value] = fd;
	if (rc == 1 && fd >= 0)
		close(fd);
	if (rc == 1 && m.type == WARDEN_STARTED)
		return 0;
	if (rc == 1 && m.type == WARDEN_ERROR)
		*cause = xstrdup(m.text);
	else if (rc == 1)
		*cause = xasprintf("unexpected message %d from the warden",
		    m.type);
	else if (rc < 0)
		*cause = xasprintf("cannot hear from the warden: %s",
		    strerror(errno));
	else {
		how = sandbox_describe(sandbox_reap(sb));
		*cause = xasprintf("the warden died while building the sandbox "
		    "(%s)", how);
	}
	return -1;
}

int
sandbox_start(const struct sandbox_config *cfg, struct sandbox *sb,
    char **cause)
{
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | SIGCHLD;
	sigset_t set;
	int sv[2], error;
	pid_t pid;

	memset(sb, 0, sizeof *sb);
	sb->warden = -1;
	sb->sock = -1;
	sb->sfd = -1;
	sb->proxy_fd[0] = sb->proxy_fd[1] = -1;
	if (sandbox_check_config(cfg, cause) != 0)
		return -1;
	sb->unprivileged = geteuid() != 0;
	sb->pty = cfg->pty;
	sb->tty_handed = !cfg->pty && isatty(STDIN_FILENO) &&
	    tcgetpgrp(STDIN_FILENO) == getpgrp();
	if (sb->unprivileged)
		flags |= CLONE_NEWUSER;
	if (cfg->net != NET_HOST)
		flags |= CLONE_NEWNET;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		*cause = xasprintf("socketpair: %s", strerror(errno));
		return -1;
	}
	sandbox_block(SIG_BLOCK);
	pid = sandbox_clone(flags);
	if (pid == 0) {
		close(sv[0]);
		/* the warden and the agent write to the pty, not to the
		 * terminal the TUI draws on */
		if (cfg->pty && (dup2(cfg->pty_slave, STDIN_FILENO) < 0 ||
		    dup2(cfg->pty_slave, STDOUT_FILENO) < 0 ||
		    dup2(cfg->pty_slave, STDERR_FILENO) < 0))
			_exit(EXIT_ERROR);
		warden_main(cfg, sv[1], sb->unprivileged);
	}
	error = errno;
	close(sv[1]);
	sb->sock = sv[0];
	if (pid < 0) {
		*cause = xasprintf("cannot create the sandbox's namespaces: "
		    "%s%s", strerror(error),
		    sandbox_clone_hint(error, sb->unprivileged));
		sandbox_abort(sb);
		return -1;
	}
	sb->warden = pid;
	if (sb->unprivileged &&
	    sandbox_map_ids(pid, &sb->single_id_map, cause) != 0) {
		sandbox_abort(sb);
		return -1;
	}
	if (warden_send(sb->sock, WARDEN_GO, sb->tty_handed, NULL) != 0) {
		*cause = xasprintf("cannot talk to the warden: %s",
		    strerror(errno));
		sandbox_abort(sb);
		return -1;
	}
	if (sandbox_await(sb, cause) != 0) {
		sandbox_abort(sb);
		return -1;
	}
	sandbox_signals(&set);
	sb->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sb->sfd < 0) {
		*cause = xasprintf("signalfd: %s", strerror(errno));
		sandbox_abort(sb);
		return -1;
	}
	return 0;
}

/* Gives the terminal to airlock's own process group again. */
static void
sandbox_tty_take(void)
{
	struct sigaction ignore, old;

	memset(&ignore, 0, sizeof ignore);
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	/* a background process changing the foreground group gets SIGTTOU */
	sigaction(SIGTTOU, &ignore, &old);
	tcsetpgrp(STDIN_FILENO, getpgrp());
	sigaction(SIGTTOU, &old, NULL);
}

/*
 * The agent stopped (Ctrl-Z, or it read the terminal from the background):
 * stop airlock too, as sudo does, so the shell's job control sees the job
 * stopped; on fg give the terminal back to the agent and resume it.
 */
static void
sandbox_suspend(struct sandbox *sb)
{
	/* on its own pty the agent's group is orphaned and the kernel does
	 * not stop it for job control; a SIGSTOP from inside: resume it */
	if (sb->pty) {
		warden_send(sb->sock, WARDEN_CONTINUE, 0, NULL);
		return;
	}
	if (!isatty(STDIN_FILENO))
		return;
	if (sb->tty_handed)
		sandbox_tty_take();
	kill(getpid(), SIGSTOP);
	sb->tty_handed = tcgetpgrp(STDIN_FILENO) == getpgrp();
	warden_send(sb->sock, WARDEN_CONTINUE, sb->tty_handed, NULL);
}

int
sandbox_signal_next(struct sandbox *sb)
{
	struct signalfd_siginfo si;

	if (sb->sfd >= 0 &&
	    read(sb->sfd, &si, sizeof si) == (ssize_t)sizeof si)
		return (int)si.ssi_signo;
	return 0;
}

void
sandbox_signal_send(struct sandbox *sb, int sig)
{
	if (sb->sock >= 0)
		warden_send(sb->sock, WARDEN_SIGNAL, sig, NULL);
}

void
sandbox_relay(struct sandbox *sb)
{
	int sig;

	while ((sig = sandbox_signal_next(sb)) != 0)
		sandbox_signal_send(sb, sig);
}

int
sandbox_message(struct sandbox *sb, int *status)
{
	struct warden_msg m;

	if (sb->exited) {
		*status = sb->exit_status;
		return 1;
	}
	if (sb->sock < 0 || warden_recv(sb->sock, &m) != 1)
		return -1;
	switch (m.type) {
	case WARDEN_EXITED:
		sb->exited = 1;
		sb->exit_status = *status = m.value;
		return 1;
	case WARDEN_STOPPED:
		sandbox_suspend(sb);
		break;
	}
	return 0;
}

int
sandbox_apply_send(struct sandbox *sb, const struct rollback_op *op, int fd,
    int first, char **cause)
{
	if (sb->exited || sb->sock < 0) {
		*cause = xstrdup("the command has exited");
		return -1;
	}
	if (warden_send_op(sb->sock, op, fd, first) != 0) {
		*cause = xasprintf("cannot talk to the warden: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
sandbox_apply(struct sandbox *sb, const struct rollback_op *op, int fd,
    char **cause)
{
	if (sandbox_apply_send(sb, op, fd, 1, cause) != 0)
		return -1;
	return sandbox_apply_wait(sb, cause);
}

int
sandbox_apply_wait(struct sandbox *sb, char **cause)
{
	struct warden_msg m;

	if (sb->exited || sb->sock < 0) {
		*cause = xstrdup("the command exited meanwhile");
		return -1;
	}
	for (;;) {
		if (warden_recv(sb->sock, &m) != 1) {
			*cause = xstrdup("the warden went away");
			return -1;
		}
		switch (m.type) {
		case WARDEN_APPLIED:
			if (m.value == 0)
				return 0;
			*cause = xstrdup(m.text);
			return -1;
		case WARDEN_EXITED:
			sb->exited = 1;
			sb->exit_status = m.value;
			*cause = xstrdup("the command exited meanwhile");
			return -1;
		case WARDEN_STOPPED:
			sandbox_suspend(sb);
			break;
		}
	}
}

int
sandbox_ended(struct sandbox *sb)
{
	struct pollfd pfd;
	int status;

	/* a failed send may have left the agent's end unread */
	while (!sb->exited && sb->sock >= 0) {
		pfd.fd = sb->sock;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) <= 0 || sandbox_message(sb, &status) != 0)
			break;
	}
	if (!sb->exited)
		return 0;
	/* the warden goes right after the agent's end: once it is reaped,
	 * every process of its namespaces is, and the overlay with them */
	sandbox_reap(sb);
	return 1;
}

int
sandbox_end(struct sandbox *sb, int status, char **cause)
{
	AUTOFREE char *how = NULL;
	int warden_status;

	warden_status = sandbox_reap(sb);
	if (sb->sock >= 0)
		close(sb->sock);
	sb->sock = -1;
	if (sb->tty_handed)
		sandbox_tty_take();
	if (status == -1) {
		how = sandbox_describe(warden_status);
		*cause = xasprintf("the sandbox's warden died before the command "
		    "exited (%s)", how);
	}
	return status;
}

void
sandbox_release(struct sandbox *sb)
{
	sandbox_relay(sb);
	if (sb->sfd >= 0)
		close(sb->sfd);
	sb->sfd = -1;
	for (int i = 0; i < 2; i++) {
		if (sb->proxy_fd[i] >= 0)
			close(sb->proxy_fd[i]);
		sb->proxy_fd[i] = -1;
	}
	sandbox_block(SIG_UNBLOCK);
}

int
sandbox_wait(struct sandbox *sb, char **cause)
{
	struct pollfd pfd[2];
	int status = -1, rc = 0;

	if (sb->warden <= 0 || sb->sock < 0) {
		*cause = xstrdup("no sandbox to wait for");
		return -1;
	}
	while (rc == 0) {
		pfd[0].fd = sb->sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = sb->sfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & POLLIN)
			sandbox_relay(sb);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			rc = sandbox_message(sb, &status);
	}
	status = sandbox_end(sb, rc == 1 ? status : -1, cause);
	sandbox_release(sb);
	return status;
}

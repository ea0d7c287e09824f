/*
 * The sandbox's new root, built by the warden from host paths before it
 * pivots into it: a read-only copy of /, then the mount plan (the tree
 * overlay, throwaway layers, binds and masks), then a fresh /proc, a
 * minimal /dev and a private /run holding the policy and agent.sock.
 */
#include "config.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* The limit of the option string of mount(2) (one page). */
#define WARDEN_MOUNT_DATA_MAX 4096

/* Where the new root is put together, outside it. */
struct stage {
	char *root;      /* session_dir/root: the new root */
	char *tmp;       /* session_dir/stage: a tmpfs for throwaway layers */
	char *empty;     /* an empty file in tmp, the source of file masks */
	int rootfd;      /* O_PATH of the new root */
	int ntmp;        /* throwaway layers made so far */
	int userns;
};

/* Host device nodes bound into the new /dev. */
static const char *const warden_dev_nodes[] = {
	"null", "zero", "full", "random", "urandom", "tty"
};

/* Symbolic links of the new /dev. */
static const char *const warden_dev_links[][2] = {
	{ "fd", "/proc/self/fd" },
	{ "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" },
	{ "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },
};

/* Kernel settings under /proc that real root could change (core_pattern
 * alone runs a program as root outside): read-only when not in a user
 * namespace, where the kernel already refuses. */
static const char *const warden_proc_readonly[] = {
	"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus",
	"/proc/fs"
};

static void
warden_stage_free(struct stage *st)
{
	free(st->root);
	free(st->tmp);
	free(st->empty);
	warden_closep(&st->rootfd);
}

static void
warden_overlay_escape(struct buf *out, const char *path)
{
	for (; *path != '\0'; path++) {
		if (*path == '\\' || *path == ',' || *path == ':')
			buf_addch(out, '\\');
		buf_addch(out, *path);
	}
}

void
warden_overlay_options(struct buf *out, const char *lower, const char *upper,
    const char *work, int userxattr)
{
	buf_addstr(out, "lowerdir=");
	warden_overlay_escape(out, lower);
	buf_addstr(out, ",upperdir=");
	warden_overlay_escape(out, upper);
	buf_addstr(out, ",workdir=");
	warden_overlay_escape(out, work);
	/* redirect_dir=off would mean "follow", which userxattr refuses */
	buf_addstr(out, ",index=off,redirect_dir=nofollow,metacopy=off");
	if (userxattr)
		buf_addstr(out, ",userxattr");
}

/* Opens path inside the new root: symlinks resolve there, never on the
 * host. With cause NULL, errno tells the error. */
static int
warden_open(const struct stage *st, const char *path, int flags, char **cause)
{
	struct open_how how;
	int fd, tries = 0;

	memset(&how, 0, sizeof how);
	how.flags = (__u64)(O_PATH | O_CLOEXEC | flags);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	do
		fd = (int)syscall(SYS_openat2, st->rootfd, path, &how,
		    sizeof how);
	while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 64);
	if (fd < 0 && cause != NULL)
		*cause = xasprintf("open %s in the new root: %s", path,
		    strerror(errno));
	return fd;
}

/*
 * Creates path inside the new root (a directory, or an empty file), and
 * its missing parents: a mount point below one of our own fresh mounts (a
 * tree under the private /tmp) does not exist yet. The read-only copy of
 * the host refuses, and the caller reports that.
 */
static int
warden_create(const struct stage *st, const char *path, int dir)
{
	AUTOFREE char *parent = xstrdup(path);
	AUTOCLOSE int fd = -1;
	char *slash = strrchr(parent, '/');
	const char *name;
	int made;

	if (slash == NULL || slash[1] == '\0') {
		errno = ENOENT;
		return -1;
	}
	name = path + (slash - parent) + 1;
	*slash = '\0';
	fd = warden_open(st, parent[0] == '\0' ? "/" : parent, O_DIRECTORY,
	    NULL);
	if (fd < 0 && errno == ENOENT && warden_create(st, parent, 1) == 0)
		fd = warden_open(st, parent, O_DIRECTORY, NULL);
	if (fd < 0)
		return -1;
	if (dir)
		made = mkdirat(fd, name, 0755);
	else {
		made = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0644);
		if (made >= 0)
			made = close(made);
	}
	return made != 0 && errno != EEXIST ? -1 : 0;
}

/* Opens the mount point path inside, creating it when it is missing. */
static int
warden_open_target(const struct stage *st, const char *path, int dir,
    char **cause)
{
	int fd, error;

	fd = warden_open(st, path, dir ? O_DIRECTORY : 0, NULL);
	if (fd < 0 && errno == ENOENT) {
		/* when it cannot be made, "no such file" says more */
		error = errno;
		if (warden_create(st, path, dir) == 0)
			fd = warden_open(st, path, dir ? O_DIRECTORY : 0, NULL);
		else
			errno = error;
	}
	if (fd < 0)
		*cause = xasprintf("mount point %s in the new root: %s", path,
		    strerror(errno));
	return fd;
}

/* mount(2) onto the file fd holds open (never through a host path). */
static int
warden_mount_at(const char *source, int fd, const char *fstype,
    unsigned long flags, const char *data)
{
	char target[64];

	snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
	return mount(source, target, fstype, flags, data);
}

/* Reopens path (now the top mount there) and makes it read-only. */
static int
warden_readonly_path(const struct stage *st, const char *path, char **cause)
{
	AUTOCLOSE int fd = warden_open(st, path, 0, cause);

	if (fd < 0)
		return -1;
	return warden_readonly(st->root, fd, cause);
}

static const char *
warden_overlay_hint(int error)
{
	switch (error) {
	case ENODEV:
		return " (overlayfs is not available: modprobe overlay)";
	case ENOENT:
		return " (is the real tree, or the scratch's upper or work "
		    "dir, missing?)";
	case ELOOP:
		return " (overlapping layers: the scratch must not be inside "
		    "the real tree, nor the tree inside the scratch)";
	case EPERM:
		return " (overlayfs in a user namespace needs Linux 5.11 or "
		    "later, and some containers forbid it)";
	case EBUSY:
		return " (the scratch is in use by another mount: does this "
		    "session run elsewhere?)";
	case EINVAL:
		return " (is overlayfs available? the scratch's file system "
		    "may not take an overlay upper dir, or the kernel refused "
		    "an option: see dmesg)";
	}
	return "";
}

/* Mounts an overlay of lower with upper and work at path inside. */
static int
warden_overlay(const struct stage *st, const char *lower, const char *upper,
    const char *work, const char *path, char **cause)
{
	AUTOCLOSE int fd = warden_open_target(st, path, 1, cause);
	struct buf opts = BUF_INIT;
	int rc = 0, error;

	if (fd < 0)
		return -1;
	warden_overlay_options(&opts, lower, upper, work, st->userns);
	if (opts.len >= WARDEN_MOUNT_DATA_MAX) {
		*cause = xasprintf("mount overlay on %s: its paths are too long "
		    "for overlayfs's options (%zu bytes, at most %d)", path,
		    opts.len, WARDEN_MOUNT_DATA_MAX - 1);
		rc = -1;
	} else if (warden_mount_at("airlock", fd, "overlay",
	    MS_NOSUID | MS_NODEV, opts.data) != 0) {
		error = errno;
		*cause = xasprintf("mount overlay on %s: %s%s", path,
		    strerror(error), warden_overlay_hint(error));
		rc = -1;
	}
	buf_free(&opts);
	return rc;
}

static int
warden_mkdir(const char *path, mode_t mode, char **cause)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		*cause = xasprintf("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* PLAN_TMP: an overlay whose upper layer lives on the stage's tmpfs, so
 * writes succeed inside and vanish with the mount namespace. */
static int
warden_throwaway(struct stage *st, const char *path, char **cause)
{
	AUTOFREE char *dir = xasprintf("%s/%d", st->tmp, st->ntmp++);
	AUTOFREE char *upper = path_join(dir, "upper");
	AUTOFREE char *work = path_join(dir, "work");
	struct stat sb;

	if (stat(path, &sb) != 0) {
		*cause = xasprintf("stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (warden_mkdir(dir, 0700, cause) != 0 ||
	    warden_mkdir(upper, 0700, cause) != 0 ||
	    warden_mkdir(work, 0700, cause) != 0)
		return -1;
	/*
	 * The merged root shows the upper root's owner and mode: give it the
	 * real directory's. An owner the user namespace cannot map stays the
	 * warden's, which only changes what ls shows.
	 */
	if (chown(upper, sb.st_uid, sb.st_gid) != 0 && errno != EINVAL &&
	    errno != EPERM) {
		*cause = xasprintf("chown %s: %s", upper, strerror(errno));
		return -1;
	}
	if (chmod(upper, sb.st_mode & 07777) != 0) {
		*cause = xasprintf("chmod %s: %s", upper, strerror(errno));
		return -1;
	}
	return warden_overlay(st, path, upper, work, path, cause);
}

/* PLAN_RO and PLAN_RW: the host path, with its submounts, bound over the
 * same path inside. */
static int
warden_bind(const struct stage *st, const char *path, int readonly,
    char **cause)
{
	AUTOCLOSE int fd = -1;
	struct stat sb;

	if (stat(path, &sb) != 0) {
		*cause = xasprintf("stat %s: %s", path, strerror(errno));
		return -1;
	}
	fd = warden_open_target(st, path, S_ISDIR(sb.st_mode), cause);
	if (fd < 0)
		return -1;
	if (warden_mount_at(path, fd, NULL, MS_BIND | MS_REC, NULL) != 0) {
		*cause = xasprintf("bind %s: %s", path, strerror(errno));
		return -1;
	}
	return readonly ? warden_readonly_path(st, path, cause) : 0;
}

/* PLAN_DENY_DIR and PLAN_DENY_FILE: an empty read-only directory or file
 * over path (by what path is now, so a policy that guessed wrong still
 * hides it). */
static int
warden_mask(const struct stage *st, const char *path, char **cause)
{
	AUTOCLOSE int fd = warden_open(st, path, 0, NULL);
	struct stat sb;
	char opts[32];

	if (fd < 0 && errno == ENOENT)
		return 0; /* gone since the plan was made: nothing to hide */
	if (fd < 0 || fstat(fd, &sb) != 0) {
		*cause = xasprintf("hide %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(sb.st_mode)) {
		snprintf(opts, sizeof opts, "mode=%o",
		    (unsigned)(sb.st_mode & 07777));
		if (warden_mount_at("airlock", fd, "tmpfs", MS_RDONLY |
		    MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0) {
			*cause = xasprintf("mount tmpfs on %s: %s", path,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (warden_mount_at(st->empty, fd, NULL, MS_BIND, NULL) != 0) {
		*cause = xasprintf("bind an empty file on %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return warden_readonly_path(st, path, cause);
}

/* PLAN_PRIVATE: a fresh tmpfs with the mode of what it covers. */
static int
warden_private(const struct stage *st, const char *path, char **cause)
{
	AUTOCLOSE int fd = warden_open_target(st, path, 1, cause);
	struct stat sb;
	char opts[32];

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0) {
		*cause = xasprintf("stat %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof opts, "mode=%o", (unsigned)(sb.st_mode & 07777));
	if (warden_mount_at("airlock", fd, "tmpfs", MS_NOSUID | MS_NODEV,
	    opts) != 0) {
		*cause = xasprintf("mount tmpfs on %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
warden_plan_entry(struct stage *st, const struct sandbox_config *cfg,
    const struct plan_entry *e, char **cause)
{
	switch (e->kind) {
	case PLAN_TREE:
		return warden_overlay(st, cfg->tree, cfg->upper, cfg->work,
		    e->path, cause);
	case PLAN_TMP:
		return warden_throwaway(st, e->path, cause);
	case PLAN_RO:
	case PLAN_RW:
		return warden_bind(st, e->path, e->kind == PLAN_RO, cause);
	case PLAN_DENY_DIR:
	case PLAN_DENY_FILE:
		return warden_mask(st, e->path, cause);
	case PLAN_PRIVATE:
		return warden_private(st, e->path, cause);
	}
	*cause = xasprintf("unknown mount plan entry %d for %s", (int)e->kind,
	    e->path);
	return -1;
}

/*
 * The new root begins as a recursive copy of the host's / on
 * session_dir/root, made read-only; a tmpfs on session_dir/stage holds the
 * throwaway layers. Both are mount points only in this mount namespace.
 */
static int
warden_stage_init(struct stage *st, const char *session_dir, char **cause)
{
	AUTOFREE char *root = path_join(session_dir, "root");
	AUTOFREE char *tmp = path_join(session_dir, "stage");
	int fd;

	if (warden_mkdir(root, 0700, cause) != 0 ||
	    warden_mkdir(tmp, 0700, cause) != 0)
		return -1;
	if ((st->root = realpath(root, NULL)) == NULL ||
	    (st->tmp = realpath(tmp, NULL)) == NULL) {
		*cause = xasprintf("realpath %s: %s", st->root == NULL ? root :
		    tmp, strerror(errno));
		return -1;
	}
	if (mount("/", st->root, NULL, MS_BIND | MS_REC, NULL) != 0) {
		*cause = xasprintf("bind / on %s: %s", st->root,
		    strerror(errno));
		return -1;
	}
	st->rootfd = open(st->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st->rootfd < 0) {
		*cause = xasprintf("open %s: %s", st->root, strerror(errno));
		return -1;
	}
	if (warden_readonly(st->root, st->rootfd, cause) != 0)
		return -1;
	if (mount("airlock", st->tmp, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "mode=0700") != 0) {
		*cause = xasprintf("mount tmpfs on %s: %s", st->tmp,
		    strerror(errno));
		return -1;
	}
	st->empty = path_join(st->tmp, "empty");
	fd = open(st->empty, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0) {
		*cause = xasprintf("create %s: %s", st->empty, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* Binds what fd holds open onto itself, so it can be made read-only. */
static int
warden_bind_self(int fd)
{
	char source[64];

	snprintf(source, sizeof source, "/proc/self/fd/%d", fd);
	return warden_mount_at(source, fd, NULL, MS_BIND | MS_REC, NULL);
}

/* A fresh /proc for the new pid namespace. */
static int
warden_proc(const struct stage *st, char **cause)
{
	AUTOCLOSE int fd = warden_open(st, "/proc", O_DIRECTORY, cause);
	const char *path;
	size_t i;
	int sub;

	if (fd < 0)
		return -1;
	if (warden_mount_at("proc", fd, "proc", MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, NULL) != 0) {
		*cause = xasprintf("mount proc on /proc: %s", strerror(errno));
		return -1;
	}
	if (st->userns)
		return 0;
	for (i = 0; i < sizeof warden_proc_readonly /
	    sizeof *warden_proc_readonly; i++) {
		path = warden_proc_readonly[i];
		sub = warden_open(st, path, 0, NULL);
		if (sub < 0 && errno == ENOENT)
			continue;
		if (sub < 0 || warden_bind_self(sub) != 0) {
			*cause = xasprintf("bind %s: %s", path, strerror(errno));
			if (sub >= 0)
				close(sub);
			return -1;
		}
		close(sub);
		if (warden_readonly_path(st, path, cause) != 0)
			return -1;
	}
	return 0;
}

/* Binds the host's /dev/NAME over an empty file of the new /dev. */
static int
warden_dev_node(int dev, const char *name, char **cause)
{
	char host[64];
	int fd;

	snprintf(host, sizeof host, "/dev/%s", name);
	if (access(host, F_OK) != 0 && errno == ENOENT)
		return 0; /* the host lacks it (some containers do) */
	fd = openat(dev, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0666);
	if (fd < 0) {
		*cause = xasprintf("create %s: %s", host, strerror(errno));
		return -1;
	}
	close(fd);
	fd = openat(dev, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || warden_mount_at(host, fd, NULL, MS_BIND, NULL) != 0) {
		*cause = xasprintf("bind %s: %s", host, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Mounts a file system on dir/name (a fresh directory of ours). */
static int
warden_dev_mount(int dev, const char *name, const char *fstype,
    unsigned long flags, const char *data, char **cause)
{
	AUTOCLOSE int fd = -1;

	if (mkdirat(dev, name, 0755) != 0) {
		*cause = xasprintf("mkdir /dev/%s: %s", name, strerror(errno));
		return -1;
	}
	fd = openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || warden_mount_at(fstype, fd, fstype, flags, data) != 0) {
		*cause = xasprintf("mount %s on /dev/%s: %s", fstype, name,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* A minimal /dev: a few host nodes, a devpts of our own, a /dev/shm. */
static int
warden_dev(const struct stage *st, char **cause)
{
	AUTOCLOSE int at = warden_open(st, "/dev", O_DIRECTORY, cause);
	AUTOCLOSE int dev = -1;
	size_t i;

	if (at < 0)
		return -1;
	if (warden_mount_at("airlock", at, "tmpfs", MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, "mode=0755") != 0) {
		*cause = xasprintf("mount tmpfs on /dev: %s", strerror(errno));
		return -1;
	}
	if ((dev = warden_open(st, "/dev", O_DIRECTORY, cause)) < 0)
		return -1;
	for (i = 0; i < sizeof warden_dev_nodes / sizeof *warden_dev_nodes;
	    i++) {
		if (warden_dev_node(dev, warden_dev_nodes[i], cause) != 0)
			return -1;
	}
	if (warden_dev_mount(dev, "pts", "devpts", MS_NOSUID | MS_NOEXEC,
	    "newinstance,ptmxmode=0666,mode=620", cause) != 0 ||
	    warden_dev_mount(dev, "shm", "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=1777", cause) != 0)
		return -1;
	for (i = 0; i < sizeof warden_dev_links / sizeof *warden_dev_links;
	    i++) {
		if (symlinkat(warden_dev_links[i][1], dev,
		    warden_dev_links[i][0]) != 0) {
			*cause = xasprintf("symlink /dev/%s: %s",
			    warden_dev_links[i][0], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Writes the policy the agent may read at /run/airlock/policy. */
static int
warden_run_policy(int run, const char *text, char **cause)
{
	size_t len = text != NULL ? strlen(text) : 0, done = 0;
	ssize_t n;
	int fd;

	if (mkdirat(run, "airlock", 0755) != 0) {
		*cause = xasprintf("mkdir /run/airlock: %s", strerror(errno));
		return -1;
	}
	fd = openat(run, "airlock/policy", O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0) {
		*cause = xasprintf("create /run/airlock/policy: %s",
		    strerror(errno));
		return -1;
	}
	while (done < len) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*cause = xasprintf("write /run/airlock/policy: %s",
			    strerror(errno));
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

/* systemd-resolved's local resolver file (the usual /etc/resolv.conf) lives in /run: keep
 * it, read-only, so names still resolve. */
static int
warden_run_resolve(const struct stage *st, int run, char **cause)
{
	static const char host[] = "/run/systemd/resolve";
	AUTOCLOSE int fd = -1;

	if (access(host, F_OK) != 0)
		return 0;
	if ((mkdirat(run, "systemd", 0755) != 0 && errno != EEXIST) ||
	    mkdirat(run, "systemd/resolve", 0755) != 0) {
		*cause = xasprintf("mkdir %s: %s", host, strerror(errno));
		return -1;
	}
	fd = openat(run, "systemd/resolve", O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0 || warden_mount_at(host, fd, NULL, MS_BIND | MS_REC,
	    NULL) != 0) {
		*cause = xasprintf("bind %s: %s", host, strerror(errno));
		return -1;
	}
	return warden_readonly_path(st, host, cause);
}

/*
 * The supervisor's agent.sock at /run/airlock/agent.sock: the store that
 * holds it is masked, so it is bound on its own, from the host path.
 */
static int
warden_run_agent_sock(int run, const char *host, char **cause)
{
	AUTOCLOSE int fd = -1;

	if (host == NULL)
		return 0;
	fd = openat(run, "airlock/agent.sock", O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*cause = xasprintf("create %s: %s", SANDBOX_AGENT_SOCK,
		    strerror(errno));
		return -1;
	}
	close(fd);
	fd = openat(run, "airlock/agent.sock", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || warden_mount_at(host, fd, NULL, MS_BIND, NULL) != 0) {
		*cause = xasprintf("bind %s on %s: %s", host, SANDBOX_AGENT_SOCK,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* A private /run holding the policy and agent.sock. */
static int
warden_run(const struct stage *st, const struct sandbox_config *cfg,
    char **cause)
{
	AUTOCLOSE int at = warden_open(st, "/run", O_DIRECTORY, cause);
	AUTOCLOSE int run = -1;

	if (at < 0)
		return -1;
	if (warden_mount_at("airlock", at, "tmpfs", MS_NOSUID | MS_NODEV,
	    "mode=0755") != 0) {
		*cause = xasprintf("mount tmpfs on /run: %s", strerror(errno));
		return -1;
	}
	if ((run = warden_open(st, "/run", O_DIRECTORY, cause)) < 0)
		return -1;
	if (warden_run_policy(run, cfg->policy_text, cause) != 0 ||
	    warden_run_agent_sock(run, cfg->agent_sock, cause) != 0)
		return -1;
	return warden_run_resolve(st, run, cause);
}

/* Makes the new root /: the old one is stacked on it and detached. */
static int
warden_pivot(const struct stage *st, char **cause)
{
	if (fchdir(st->rootfd) != 0) {
		*cause = xasprintf("chdir %s: %s", st->root, strerror(errno));
		return -1;
	}
	if (syscall(SYS_pivot_root, ".", ".") != 0) {
		*cause = xasprintf("pivot_root to %s: %s", st->root,
		    strerror(errno));
		return -1;
	}
	if (umount2(".", MNT_DETACH) != 0) {
		*cause = xasprintf("detach the host's root: %s",
		    strerror(errno));
		return -1;
	}
	if (chdir("/") != 0) {
		*cause = xasprintf("chdir /: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
warden_build(const struct sandbox_config *cfg, int userns, int *lower,
    char **cause)
{
	struct stage st __attribute__((cleanup(warden_stage_free)));
	size_t i;

	memset(&st, 0, sizeof st);
	st.rootfd = -1;
	st.userns = userns;
	*lower = -1;
	/* nothing done here may reach the host's mount namespace */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		*cause = xasprintf("make / private: %s", strerror(errno));
		return -1;
	}
	if (warden_stage_init(&st, cfg->session_dir, cause) != 0)
		return -1;
	/* the read-only copy of the real tree, before the overlay covers it */
	if ((*lower = warden_open(&st, cfg->tree, O_DIRECTORY, cause)) < 0)
		return -1;
	for (i = 0; i < cfg->plan->n; i++) {
		if (warden_plan_entry(&st, cfg, &cfg->plan->v[i], cause) != 0)
			return -1;
	}
	if (warden_proc(&st, cause) != 0 || warden_dev(&st, cause) != 0 ||
	    warden_run(&st, cfg, cause) != 0)
		return -1;
	return warden_pivot(&st, cause);
}

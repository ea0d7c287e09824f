/*
 * The warden: airlock's PID 1 inside the sandbox. It waits until its ids are
 * mapped, builds the new root from host paths (a read-only copy of /, then
 * the plan: the tree overlay, throwaway layers, binds and masks; then /proc,
 * /dev and /run), pivots into it, starts the agent and reaps every child
 * until the agent exits. It runs in the forked child only: a setup error goes
 * back to the supervisor as text and the warden exits; when the warden exits,
 * the kernel kills everything left in its pid namespace, and its mounts go
 * with its mount namespace.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* The limit of the option string of mount(2) (one page). */
#define WARDEN_MOUNT_DATA_MAX 4096

/* What the warden knows about itself. */
struct warden {
	const struct sandbox_config *cfg;
	int sock;
	int unprivileged;
	int tty;         /* the agent gets the terminal */
	int sfd;         /* signalfd for SIGCHLD */
	pid_t agent;
};

/* Where the new root is put together, outside it. */
struct stage {
	char *root;      /* session_dir/root: the new root */
	char *tmp;       /* session_dir/stage: a tmpfs for throwaway layers */
	char *empty;     /* an empty file in tmp, the source of file masks */
	int rootfd;      /* O_PATH of the new root */
	int ntmp;        /* throwaway layers made so far */
	int userns;
};

/* One line of /proc/self/mountinfo. */
struct warden_mount {
	int id;
	int parent;
	char *path;
	int below;       /* in the subtree being made read-only */
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

/* Capabilities the agent must not keep when airlock runs as root: each
 * could undo the sandbox or reach past it. */
static const int warden_dropped_caps[] = {
	CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_PTRACE,
	CAP_SYS_BOOT, CAP_SYS_TIME, CAP_MKNOD, CAP_NET_ADMIN,
	CAP_DAC_READ_SEARCH, CAP_SYS_CHROOT, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE,
	CAP_SYSLOG, CAP_BPF, CAP_PERFMON, CAP_LINUX_IMMUTABLE,
	CAP_AUDIT_CONTROL, CAP_SETFCAP, CAP_SYS_TTY_CONFIG,
};

static void
warden_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}
#define AUTOCLOSE __attribute__((cleanup(warden_closep)))

static void
warden_stage_free(struct stage *st)
{
	free(st->root);
	free(st->tmp);
	free(st->empty);
	warden_closep(&st->rootfd);
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

/* Decodes the kernel's \ooo escapes in place. 0 or -1. */
static int
warden_unescape(char *s)
{
	char *d = s;
	int value;

	for (; *s != '\0'; s++) {
		if (*s != '\\') {
			*d++ = *s;
			continue;
		}
		if (s[1] < '0' || s[1] > '3' || s[2] < '0' || s[2] > '7' ||
		    s[3] < '0' || s[3] > '7')
			return -1;
		value = (s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0');
		if (value == 0)
			return -1;
		*d++ = (char)value;
		s += 3;
	}
	*d = '\0';
	return 0;
}

/* A whole non-negative decimal int. */
static int
warden_parse_id(const char *s, int *out)
{
	long value = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		value = value * 10 + (*s - '0');
		if (value > INT_MAX)
			return -1;
	}
	*out = (int)value;
	return 0;
}

int
warden_mountinfo_parse(char *line, int *id, int *parent, char **mountpoint)
{
	char *field[5], *p = line;
	size_t i;

	/* 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw */
	for (i = 0; i < 5; i++) {
		field[i] = p;
		p = strchr(p, ' ');
		if (p == NULL || p == field[i])
			return -1;
		*p++ = '\0';
	}
	if (warden_parse_id(field[0], id) != 0 ||
	    warden_parse_id(field[1], parent) != 0)
		return -1;
	if (field[4][0] != '/' || warden_unescape(field[4]) != 0)
		return -1;
	*mountpoint = field[4];
	return 0;
}

/* The path as the agent will see it, for messages. */
static const char *
warden_inside(const struct stage *st, const char *path)
{
	size_t len = strlen(st->root);

	if (strncmp(path, st->root, len) == 0 && path[len] == '/')
		return path + len;
	if (strcmp(path, st->root) == 0)
		return "/";
	return path;
}

/* The flags that a read-only remount must keep: in a user namespace the
 * kernel locks them and refuses a remount that drops one. */
static unsigned long
warden_locked_flags(unsigned long f)
{
	unsigned long flags = 0;

	if (f & ST_NOSUID)
		flags |= MS_NOSUID;
	if (f & ST_NODEV)
		flags |= MS_NODEV;
	if (f & ST_NOEXEC)
		flags |= MS_NOEXEC;
	if (f & ST_NOATIME)
		flags |= MS_NOATIME;
	if (f & ST_NODIRATIME)
		flags |= MS_NODIRATIME;
	if (f & ST_RELATIME)
		flags |= MS_RELATIME;
	return flags;
}

/*
 * Remounts the mount m read-only (and nosuid, nodev) through its mount
 * point. A mount that its path no longer reaches (covered by another, or
 * below a directory the warden may not enter) is out of the agent's reach
 * too, and is left alone.
 */
static int
warden_remount_ro(const struct stage *st, const struct warden_mount *m,
    char **cause)
{
	struct statx stx;
	struct statvfs sv;
	unsigned long flags;

	if (statx(AT_FDCWD, m->path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
	    STATX_MNT_ID, &stx) != 0) {
		if (errno == EACCES || errno == ENOENT)
			return 0;
		goto fail;
	}
	if ((stx.stx_mask & STATX_MNT_ID) && stx.stx_mnt_id != (__u64)m->id)
		return 0;
	if (statvfs(m->path, &sv) != 0) {
		if (errno == EACCES || errno == ENOENT)
			return 0;
		goto fail;
	}
	flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
	    warden_locked_flags(sv.f_flag);
	if (mount(NULL, m->path, NULL, flags, NULL) == 0 || errno == EACCES)
		return 0;
fail:
	*cause = xasprintf("remount %s read-only: %s", warden_inside(st,
	    m->path), strerror(errno));
	return -1;
}

/* Reads /proc/self/mountinfo into *mounts (pointing into *text). */
static int
warden_mounts_read(char **text, struct warden_mount **mounts, size_t *n,
    char **cause)
{
	char *line, *next, *error = NULL;
	struct warden_mount *v = NULL;
	size_t len, cap = 0;

	*text = path_read_file("/proc/self/mountinfo", 64 << 20, &len, &error);
	if (*text == NULL) {
		*cause = error;
		return -1;
	}
	*n = 0;
	for (line = *text; *line != '\0'; line = next) {
		next = strchrnul(line, '\n');
		if (*next == '\n')
			*next++ = '\0';
		if (*n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof *v);
		}
		if (warden_mountinfo_parse(line, &v[*n].id, &v[*n].parent,
		    &v[*n].path) != 0) {
			*cause = xasprintf("cannot parse a line of "
			    "/proc/self/mountinfo: %.200s", line);
			free(v);
			return -1;
		}
		v[(*n)++].below = 0;
	}
	*mounts = v;
	return 0;
}

/* Marks the mount id and every mount below it. */
static void
warden_mounts_mark(struct warden_mount *v, size_t n, int id)
{
	size_t i, j;
	int changed = 1;

	for (i = 0; i < n; i++)
		v[i].below = v[i].id == id;
	while (changed) {
		changed = 0;
		for (i = 0; i < n; i++) {
			for (j = 0; j < n && !v[i].below; j++) {
				if (v[j].below && v[j].id == v[i].parent)
					v[i].below = changed = 1;
			}
		}
	}
}

/*
 * Makes the mount that fd holds open, and every mount below it, read-only,
 * keeping the flags the kernel locks (nosuid, nodev, noexec, atime), as
 * bubblewrap does.
 */
static int
warden_readonly(const struct stage *st, int fd, char **cause)
{
	AUTOFREE char *text = NULL;
	struct warden_mount *v = NULL;
	struct statx stx;
	size_t i, n;
	int rc = 0;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) != 0) {
		*cause = xasprintf("statx: %s", strerror(errno));
		return -1;
	}
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		*cause = xstrdup("the kernel does not report mount ids (statx "
		    "STATX_MNT_ID needs Linux 5.8 or later)");
		return -1;
	}
	if (warden_mounts_read(&text, &v, &n, cause) != 0)
		return -1;
	warden_mounts_mark(v, n, (int)stx.stx_mnt_id);
	for (i = 0; i < n && rc == 0; i++) {
		if (v[i].below)
			rc = warden_remount_ro(st, &v[i], cause);
	}
	free(v);
	return rc;
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
	return warden_readonly(st, fd, cause);
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
	if (warden_readonly(st, st->rootfd, cause) != 0)
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

/* systemd-resolved's stub (the usual /etc/resolv.conf) lives in /run: keep
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

/* A private /run holding the policy. */
static int
warden_run(const struct stage *st, const char *policy_text, char **cause)
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
	if (warden_run_policy(run, policy_text, cause) != 0)
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

/* Builds every mount of the sandbox and enters it. */
static int
warden_build(const struct sandbox_config *cfg, int userns, char **cause)
{
	struct stage st __attribute__((cleanup(warden_stage_free)));
	size_t i;

	memset(&st, 0, sizeof st);
	st.rootfd = -1;
	st.userns = userns;
	/* nothing done here may reach the host's mount namespace */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		*cause = xasprintf("make / private: %s", strerror(errno));
		return -1;
	}
	if (warden_stage_init(&st, cfg->session_dir, cause) != 0)
		return -1;
	for (i = 0; i < cfg->plan->n; i++) {
		if (warden_plan_entry(&st, cfg, &cfg->plan->v[i], cause) != 0)
			return -1;
	}
	if (warden_proc(&st, cause) != 0 || warden_dev(&st, cause) != 0 ||
	    warden_run(&st, cfg->policy_text, cause) != 0)
		return -1;
	return warden_pivot(&st, cause);
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

static void
warden_close_range(unsigned int first, unsigned int last)
{
	unsigned int fd, max;

	if (first > last)
		return;
	if (syscall(SYS_close_range, first, last, 0) == 0)
		return;
	max = (unsigned int)sysconf(_SC_OPEN_MAX);
	for (fd = first; fd <= last && fd < max; fd++)
		close((int)fd);
}

/* Closes every descriptor but 0, 1, 2 and keep (-1: none): one the host
 * opened would be a way out of the new root. */
static void
warden_close_fds(int keep)
{
	if (keep >= 3) {
		warden_close_range(3, (unsigned int)keep - 1);
		warden_close_range((unsigned int)keep + 1, ~0U);
	} else
		warden_close_range(3, ~0U);
}

static void
warden_signals_default(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int
warden_caps_drop(char **cause)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];
	size_t i, n = sizeof warden_dropped_caps / sizeof *warden_dropped_caps;
	int cap;

	for (i = 0; i < n; i++) {
		/* EINVAL: a capability this kernel does not know */
		if (prctl(PR_CAPBSET_DROP, warden_dropped_caps[i], 0, 0, 0) != 0 &&
		    errno != EINVAL) {
			*cause = xasprintf("drop capability %d: %s",
			    warden_dropped_caps[i], strerror(errno));
			return -1;
		}
	}
	memset(&hdr, 0, sizeof hdr);
	memset(data, 0, sizeof data);
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &hdr, data) != 0) {
		*cause = xasprintf("capget: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		cap = warden_dropped_caps[i];
		data[cap / 32].effective &= ~(1U << (cap % 32));
		data[cap / 32].permitted &= ~(1U << (cap % 32));
		data[cap / 32].inheritable &= ~(1U << (cap % 32));
	}
	if (syscall(SYS_capset, &hdr, data) != 0) {
		*cause = xasprintf("capset: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL) {
		*cause = xasprintf("clear ambient capabilities: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

#if defined(__x86_64__)
#define WARDEN_ARCH AUDIT_ARCH_X86_64
#define WARDEN_X32_IOCTL (0x40000000U | 514U)
#define WARDEN_COMPAT_ARCH AUDIT_ARCH_I386
#define WARDEN_COMPAT_IOCTL 54U
#elif defined(__aarch64__)
#define WARDEN_ARCH AUDIT_ARCH_AARCH64
#define WARDEN_X32_IOCTL __NR_ioctl
#define WARDEN_COMPAT_ARCH AUDIT_ARCH_ARM
#define WARDEN_COMPAT_IOCTL 54U
#elif defined(__i386__)
#define WARDEN_ARCH AUDIT_ARCH_I386
#elif defined(__arm__)
#define WARDEN_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define WARDEN_ARCH AUDIT_ARCH_RISCV64
#endif
#if defined(WARDEN_ARCH) && !defined(WARDEN_COMPAT_ARCH)
#define WARDEN_X32_IOCTL __NR_ioctl
#define WARDEN_COMPAT_ARCH WARDEN_ARCH
#define WARDEN_COMPAT_IOCTL __NR_ioctl
#endif
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WARDEN_ARG1_LOW (offsetof(struct seccomp_data, args[1]) + 4)
#else
#define WARDEN_ARG1_LOW offsetof(struct seccomp_data, args[1])
#endif

/*
 * Refuses the ioctls TIOCSTI and TIOCLINUX: the agent shares airlock's
 * terminal, and TIOCSTI would let it type commands into the user's shell
 * for after airlock exits. The kernel reads only the low 32 bits of the
 * request.
 */
static int
warden_seccomp(char **cause)
{
#ifdef WARDEN_ARCH
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_ARCH, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_X32_IOCTL, 3, 6),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_COMPAT_ARCH, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_COMPAT_IOCTL, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WARDEN_ARG1_LOW),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = {
		.len = sizeof filter / sizeof filter[0],
		.filter = filter,
	};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		*cause = xasprintf("install the seccomp filter: %s",
		    strerror(errno));
		return -1;
	}
#endif
	return 0;
}

static const char *
warden_env_path(char *const envp[])
{
	for (; envp != NULL && *envp != NULL; envp++) {
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	}
	return "/usr/local/bin:/usr/bin:/bin";
}

/* execve, and for a file without #! the shell, as execvp does. */
static void
warden_execve(const char *file, char *const argv[], char *const envp[])
{
	char **sh_argv;
	size_t n = 0;

	execve(file, argv, envp);
	if (errno != ENOEXEC)
		return;
	while (argv[n] != NULL)
		n++;
	sh_argv = xcalloc(n + 2, sizeof *sh_argv);
	sh_argv[0] = (char *)"sh";
	sh_argv[1] = (char *)file;
	memcpy(sh_argv + 2, argv + 1, n * sizeof *argv);
	execve("/bin/sh", sh_argv, envp);
	free(sh_argv);
	errno = ENOEXEC;
}

static NORETURN void
warden_exec_failed(const char *cmd, int error)
{
	if (error == ENOENT) {
		dprintf(STDERR_FILENO, "airlock: run: %s: not found\n", cmd);
		_exit(127);
	}
	dprintf(STDERR_FILENO, "airlock: run: %s: %s\n", cmd,
	    error == EACCES ? "permission denied" : strerror(error));
	_exit(126);
}

/* Runs argv[0], looked up in envp's PATH when it has no slash, with the
 * shell's exit codes: 127 not found, 126 found but not runnable. */
static NORETURN void
warden_exec(char *const argv[], char *const envp[])
{
	const char *cmd = argv[0], *dir, *end;
	char file[PATH_MAX];
	int error = ENOENT, len;

	if (strchr(cmd, '/') != NULL) {
		warden_execve(cmd, argv, envp);
		warden_exec_failed(cmd, errno);
	}
	for (dir = warden_env_path(envp); *cmd != '\0'; dir = end + 1) {
		end = strchrnul(dir, ':');
		len = snprintf(file, sizeof file, "%.*s/%s",
		    end == dir ? 1 : (int)(end - dir), end == dir ? "." : dir,
		    cmd);
		if (len > 0 && (size_t)len < sizeof file) {
			warden_execve(file, argv, envp);
			if (errno == EACCES)
				error = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR &&
			    errno != ELOOP && errno != ENAMETOOLONG &&
			    errno != ESTALE && errno != ENODEV)
				warden_exec_failed(cmd, errno);
		}
		if (*end == '\0')
			break;
	}
	warden_exec_failed(cmd, error);
}

/* The agent, between fork and execve. */
static NORETURN void
warden_agent(const struct warden *w)
{
	char *cause = NULL;

	/* its own process group, in the foreground when it has the terminal */
	setpgid(0, 0);
	if (w->tty)
		tcsetpgrp(STDIN_FILENO, getpid());
	warden_signals_default();
	warden_close_fds(-1);
	if (warden_caps_drop(&cause) != 0)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		cause = xasprintf("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		goto fail;
	}
	if (warden_seccomp(&cause) != 0)
		goto fail;
	warden_exec(w->cfg->argv, w->cfg->envp);
fail:
	dprintf(STDERR_FILENO, "airlock: run: %s\n", cause);
	_exit(126);
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
		warden_agent(w);
	/* the agent does both too: whichever runs first wins, same result */
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

static void
warden_request(struct warden *w)
{
	struct warden_msg m;

	/* the supervisor is gone: everything inside goes with the warden */
	if (warden_recv(w->sock, &m) != 1)
		_exit(EXIT_ERROR);
	switch (m.type) {
	case WARDEN_SIGNAL:
		warden_signal(w, m.value);
		break;
	case WARDEN_CONTINUE:
		warden_continue(w, m.value);
		break;
	}
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
	w.agent = -1;
	warden_prepare(&w);
	if (cfg->net == NET_NONE && warden_loopback_up(&cause) != 0)
		warden_fail(sock, cause);
	if (warden_build(cfg, unprivileged, &cause) != 0)
		warden_fail(sock, cause);
	if (chdir(cfg->cwd) != 0)
		warden_fail(sock, xasprintf("chdir %s in the sandbox: %s",
		    cfg->cwd, strerror(errno)));
	if (warden_spawn(&w, &cause) != 0)
		warden_fail(sock, cause);
	warden_send(sock, WARDEN_STARTED, 0, NULL);
	warden_loop(&w);
}

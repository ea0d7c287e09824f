/* Helpers for the checkpoint store's unit tests. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/snaptest.h"

char *
snaptest_tmpdir(const char *tag)
{
	char *dir = xasprintf("/tmp/airlock-test-%s-XXXXXX", tag);

	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return dir;
}

void
snaptest_rm(const char *dir)
{
	char *cause = NULL;

	if (path_remove_tree(dir, &cause) != 0) {
		fprintf(stderr, "cleanup: %s\n", cause);
		free(cause);
	}
}

void
snaptest_mkdir(const char *dir, const char *rel, mode_t mode)
{
	char *path = path_join(dir, rel), *cause = NULL;

	if (path_mkdirs(path, 0755, &cause) != 0)
		fail_msg("%s", cause);
	if (chmod(path, mode) != 0)
		fail_msg("chmod %s: %s", path, strerror(errno));
	free(path);
}

static char *
snaptest_parent(const char *dir, const char *rel)
{
	char *path = path_join(dir, rel), *slash = strrchr(path, '/'), *cause;

	*slash = '\0';
	cause = NULL;
	if (path_mkdirs(path, 0755, &cause) != 0)
		fail_msg("%s", cause);
	*slash = '/';
	return path;
}

void
snaptest_write(const char *dir, const char *rel, const void *data,
    size_t len, mode_t mode)
{
	char *path = snaptest_parent(dir, rel);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		fail_msg("write %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) != 0)
		fail_msg("fchmod %s: %s", path, strerror(errno));
	close(fd);
	free(path);
}

void
snaptest_write_str(const char *dir, const char *rel, const char *s)
{
	snaptest_write(dir, rel, s, strlen(s), 0644);
}

void
snaptest_random(void *p, size_t len, uint32_t seed)
{
	unsigned char *c = p;
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c[i] = (unsigned char)(x >> 24);
	}
}

void
snaptest_symlink(const char *dir, const char *rel, const char *target)
{
	char *path = snaptest_parent(dir, rel);

	unlink(path);
	if (symlink(target, path) != 0)
		fail_msg("symlink %s: %s", path, strerror(errno));
	free(path);
}

void
snaptest_whiteout(const char *dir, const char *rel)
{
	char *path = snaptest_parent(dir, rel);

	if (mknod(path, S_IFCHR | 0, makedev(0, 0)) != 0)
		fail_msg("mknod %s: %s", path, strerror(errno));
	free(path);
}

const char *
snaptest_xattr_ns(void)
{
	return geteuid() == 0 ? "trusted" : "user";
}

void
snaptest_opaque(const char *dir, const char *rel)
{
	char *path = path_join(dir, rel);
	char *name = xasprintf("%s.overlay.opaque", snaptest_xattr_ns());

	if (lsetxattr(path, name, "y", 1, 0) != 0)
		fail_msg("setxattr %s: %s", path, strerror(errno));
	free(name);
	free(path);
}

static int
snaptest_has_xattr(int dirfd, const char *name, const char *suffix,
    int want_y)
{
	static const char *ns[] = { "trusted", "user" };
	char *proc = xasprintf("/proc/self/fd/%d/%s", dirfd, name), v[8];
	int i, yes = 0;

	for (i = 0; i < 2 && !yes; i++) {
		char *attr = xasprintf("%s.overlay.%s", ns[i], suffix);
		ssize_t n = lgetxattr(proc, attr, v, sizeof v);

		yes = n >= 0 && (!want_y || (n == 1 && v[0] == 'y'));
		free(attr);
	}
	free(proc);
	return yes;
}

static void
snaptest_quote(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || c == '\\')
			buf_printf(b, "\\%03o", c);
		else
			buf_addch(b, c);
	}
}

static void
snaptest_hash_fd(struct buf *b, int fd)
{
	struct hash_ctx *h = hash_new();
	unsigned char d[HASH_LEN];
	char hex[HASH_HEX_LEN + 1], chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		hash_update(h, chunk, (size_t)n);
	hash_final(h, d);
	hash_free(h);
	hash_hex(d, hex);
	buf_printf(b, " sha=%.16s", hex);
}

static int
snaptest_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snaptest_list_dir(struct buf *, int, const char *, int);

static void
snaptest_list_entry(struct buf *b, int dfd, const char *name,
    const char *path, int with_times)
{
	struct stat sb;
	char target[PATH_MAX + 1];
	ssize_t n;
	int fd;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		fail_msg("stat %s: %s", path, strerror(errno));
	snaptest_quote(b, path);
	if ((S_ISCHR(sb.st_mode) && sb.st_rdev == 0) || (S_ISREG(sb.st_mode) &&
	    sb.st_size == 0 && snaptest_has_xattr(dfd, name, "whiteout", 0))) {
		buf_addstr(b, " whiteout\n");
		return;
	}
	buf_printf(b, " %c %04o", S_ISDIR(sb.st_mode) ? 'd' :
	    S_ISREG(sb.st_mode) ? 'f' : S_ISLNK(sb.st_mode) ? 'l' : 's',
	    S_ISLNK(sb.st_mode) ? 0 : (unsigned)(sb.st_mode & 07777));
	if (with_times && !S_ISLNK(sb.st_mode))
		buf_printf(b, " t=%lld.%09ld", (long long)sb.st_mtim.tv_sec,
		    sb.st_mtim.tv_nsec);
	if (S_ISREG(sb.st_mode)) {
		buf_printf(b, " size=%lld", (long long)sb.st_size);
		if (!(sb.st_mode & 0400))
			fchmodat(dfd, name, (sb.st_mode & 07777) | 0400, 0);
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW);
		if (!(sb.st_mode & 0400))
			fchmodat(dfd, name, sb.st_mode & 07777, 0);
		if (fd < 0)
			fail_msg("open %s: %s", path, strerror(errno));
		snaptest_hash_fd(b, fd);
		close(fd);
	} else if (S_ISLNK(sb.st_mode)) {
		n = readlinkat(dfd, name, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = '\0';
		buf_addstr(b, " -> ");
		snaptest_quote(b, target);
	} else if (S_ISDIR(sb.st_mode) &&
	    snaptest_has_xattr(dfd, name, "opaque", 1))
		buf_addstr(b, " opaque");
	else if (!S_ISDIR(sb.st_mode))
		buf_printf(b, " rdev=%llx", (unsigned long long)sb.st_rdev);
	buf_addch(b, '\n');
	if (S_ISDIR(sb.st_mode)) {
		/* Look inside even when the mode says no (as the owner). */
		if ((sb.st_mode & 0500) != 0500)
			fchmodat(dfd, name, 0700, 0);
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd < 0)
			fail_msg("open %s: %s", path, strerror(errno));
		snaptest_list_dir(b, fd, path, with_times);
		if ((sb.st_mode & 0500) != 0500)
			fchmodat(dfd, name, sb.st_mode & 07777, 0);
	}
}

/* Lists the directory open at fd (and closes it). */
static void
snaptest_list_dir(struct buf *b, int fd, const char *path, int with_times)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;

	if (d == NULL)
		fail_msg("fdopendir %s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	if (n > 0)
		qsort(names, n, sizeof *names, snaptest_name_cmp);
	for (i = 0; i < n; i++) {
		char *sub = *path == '\0' ? xstrdup(names[i]) :
		    xasprintf("%s/%s", path, names[i]);

		snaptest_list_entry(b, dirfd(d), names[i], sub, with_times);
		free(sub);
		free(names[i]);
	}
	free(names);
	closedir(d);
}

char *
snaptest_listing(const char *dir, int with_times)
{
	struct buf b = BUF_INIT;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		fail_msg("open %s: %s", dir, strerror(errno));
	snaptest_list_dir(&b, fd, "", with_times);
	return buf_detach(&b, NULL);
}

uint64_t
snaptest_pack_bytes(const char *storedir)
{
	char *dir = path_join(storedir, "packs");
	struct dirent *de;
	struct stat sb;
	uint64_t total = 0;
	DIR *d = opendir(dir);

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0 &&
			    S_ISREG(sb.st_mode))
				total += (uint64_t)sb.st_size;
		}
		closedir(d);
	}
	free(dir);
	return total;
}

struct store *
snaptest_store(const char *storedir)
{
	struct store *st = NULL;
	char *cause = NULL;

	if (store_open(storedir, 1, &st, &cause) != 0)
		fail_msg("store_open: %s", cause);
	return st;
}

static void
snaptest_socket(const char *dir, const char *rel)
{
	struct sockaddr_un sun;
	char *path = path_join(dir, rel);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		fail_msg("socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		fail_msg("bind %s: %s", path, strerror(errno));
	close(fd);
	free(path);
}

/*
 * Names with newlines, spaces and invalid UTF-8, a 255-byte name, an empty
 * file, symlinks out of the tree and dangling, a fifo, a socket (and a
 * device when root), hard links, whiteouts both ways, an opaque directory,
 * an empty directory, setuid and unreadable modes, read-only and locked
 * directories.
 */
void
snaptest_hostile(const char *upper)
{
	char name255[256], big[300000], *path, *xname;
	int i;

	memset(name255, 'n', 255);
	name255[255] = '\0';
	snaptest_write_str(upper, "plain.txt", "hello\n");
	snaptest_write_str(upper, "line\nbreak", "newline in the name\n");
	snaptest_write_str(upper, " spaced name ", "spaces\n");
	snaptest_write_str(upper, "bad-\xff\xfe-utf8", "not utf-8\n");
	snaptest_write_str(upper, name255, "long name\n");
	snaptest_write(upper, "empty", "", 0, 0644);
	snaptest_random(big, sizeof big, 7);
	snaptest_write(upper, "dir/sub/random.bin", big, sizeof big, 0640);
	snaptest_write_str(upper, "dir/sub/tool", "#!/bin/sh\n");
	path = path_join(upper, "dir/sub/tool");
	chmod(path, 04755);
	free(path);
	snaptest_symlink(upper, "link-out", "/etc/passwd");
	snaptest_symlink(upper, "dir/link-up", "../../../../outside");
	snaptest_symlink(upper, "dangling", "no such file");
	path = path_join(upper, "fifo");
	if (mkfifo(path, 0600) != 0)
		fail_msg("mkfifo: %s", strerror(errno));
	free(path);
	snaptest_socket(upper, "sock");
	if (geteuid() == 0) {
		path = path_join(upper, "nulldev");
		if (mknod(path, S_IFCHR | 0600, makedev(1, 3)) != 0)
			fail_msg("mknod: %s", strerror(errno));
		free(path);
	}
	snaptest_write_str(upper, "hard1", "linked\n");
	path = path_join(upper, "hard1");
	xname = path_join(upper, "hard2");
	if (link(path, xname) != 0)
		fail_msg("link: %s", strerror(errno));
	free(path);
	free(xname);
	snaptest_whiteout(upper, "deleted");
	snaptest_write(upper, "xdeleted", "", 0, 0644);
	path = path_join(upper, "xdeleted");
	xname = xasprintf("%s.overlay.whiteout", snaptest_xattr_ns());
	if (lsetxattr(path, xname, "", 0, 0) != 0)
		fail_msg("setxattr: %s", strerror(errno));
	free(xname);
	free(path);
	snaptest_write_str(upper, "opq/inside", "opaque content\n");
	snaptest_opaque(upper, "opq");
	snaptest_mkdir(upper, "empty-dir", 0750);
	snaptest_write(upper, "secret", "unreadable\n", 11, 0);
	snaptest_write_str(upper, "ro-dir/file", "in a read-only dir\n");
	snaptest_mkdir(upper, "ro-dir", 0555);
	snaptest_write_str(upper, "locked/inner/file", "in a locked dir\n");
	snaptest_mkdir(upper, "locked", 0);
	for (i = 0; i < 3; i++) {
		char rel[32];

		snprintf(rel, sizeof rel, "many/f%d", i);
		snaptest_write_str(upper, rel, rel);
	}
}

/* 200-byte names: 25 levels make 5025 bytes, past PATH_MAX. */
#define SNAPTEST_DEEP_LEVELS 25

static void
snaptest_deep_name(char name[201], int level)
{
	memset(name, 'a' + level % 26, 200);
	name[200] = '\0';
}

char *
snaptest_deep(const char *dir, const char *content)
{
	struct buf rel = BUF_INIT;
	char name[201];
	int fd = open(dir, O_RDONLY | O_DIRECTORY), next, i;

	for (i = 0; i < SNAPTEST_DEEP_LEVELS; i++) {
		snaptest_deep_name(name, i);
		if (mkdirat(fd, name, 0755) != 0 && errno != EEXIST)
			fail_msg("mkdirat: %s", strerror(errno));
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (next < 0)
			fail_msg("openat: %s", strerror(errno));
		close(fd);
		fd = next;
		buf_addstr(&rel, name);
		buf_addch(&rel, '/');
	}
	next = openat(fd, "bottom", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (next < 0 || write(next, content, strlen(content)) < 0)
		fail_msg("bottom: %s", strerror(errno));
	close(next);
	close(fd);
	buf_addstr(&rel, "bottom");
	return buf_detach(&rel, NULL);
}

char *
snaptest_deep_read(const char *dir)
{
	char name[201], data[4096];
	int fd = open(dir, O_RDONLY | O_DIRECTORY), next, i;
	ssize_t n;

	for (i = 0; i < SNAPTEST_DEEP_LEVELS && fd >= 0; i++) {
		snaptest_deep_name(name, i);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		close(fd);
		fd = next;
	}
	if (fd < 0)
		return NULL;
	next = openat(fd, "bottom", O_RDONLY | O_NOFOLLOW);
	close(fd);
	if (next < 0)
		return NULL;
	n = read(next, data, sizeof data - 1);
	close(next);
	if (n < 0)
		return NULL;
	return xstrndup(data, (size_t)n);
}

int
snaptest_take(struct store *st, uint32_t owner, const char *upper,
    const char *lower, int force, struct ckpt *out)
{
	struct ckpt_options o = { "test", NULL, 0, force, CKPT_NONE,
	    NULL, 0 };
	char *cause = NULL;
	int rc = checkpoint_take(st, owner, upper, lower, &o, out, &cause);

	if (rc < 0)
		fail_msg("checkpoint_take: %s", cause);
	return rc;
}

static int
snaptest_proc_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd == -1)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

int
snaptest_userns(int flags)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (unshare(CLONE_NEWUSER | flags) != 0)
		return -1;
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (snaptest_proc_write("/proc/self/uid_map", map) != 0 ||
	    snaptest_proc_write("/proc/self/setgroups", "deny\n") != 0)
		return -1;
	snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return snaptest_proc_write("/proc/self/gid_map", map);
}

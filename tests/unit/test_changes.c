#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "tests/unit/snaptest.h"

/*
 * changes_scan against real overlay mounts (in a child with its own mount
 * namespace, and a user namespace when not root) and against hand-made
 * scratch dirs with hostile content. Runs as root and unprivileged.
 */

struct dirs {
	char	*base, *lower, *upper, *work, *merged;
};

struct want {
	const char		*path;
	size_t			 len;      /* 0: strlen(path) */
	enum change_kind	 kind;
	enum entry_type		 old_type, new_type;
};

/* Removes a tree through fds (paths may exceed PATH_MAX). */
static void
rm_at(int at, const char *name)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd == -1 && errno == EACCES) {
		fchmodat(at, name, 0700, 0);
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	}
	if (fd == -1)
		return;
	d = fdopendir(fd);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rm_at(dirfd(d), de->d_name);
	}
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

static void
dirs_make(struct dirs *d)
{
	const char	*tmp = getenv("TMPDIR");
	char		*t;

	t = xasprintf("%s/airlock-changes-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(t));
	d->base = t;
	d->lower = xasprintf("%s/lower", t);
	d->upper = xasprintf("%s/upper", t);
	d->work = xasprintf("%s/work", t);
	d->merged = xasprintf("%s/merged", t);
	assert_int_equal(mkdir(d->lower, 0755), 0);
	assert_int_equal(mkdir(d->upper, 0755), 0);
	assert_int_equal(mkdir(d->work, 0755), 0);
	assert_int_equal(mkdir(d->merged, 0755), 0);
}

static void
dirs_free(struct dirs *d)
{
	rm_at(AT_FDCWD, d->base);
	free(d->base);
	free(d->lower);
	free(d->upper);
	free(d->work);
	free(d->merged);
}

/* Writes a file below dir (a short, normal path). */
static void
put(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char	*p = xasprintf("%s/%s", dir, rel);
	int	 fd;

	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
	assert_true(fd != -1);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(p);
}

static void
mkd(const char *dir, const char *rel, mode_t mode)
{
	char	*p = xasprintf("%s/%s", dir, rel);

	assert_int_equal(mkdir(p, mode), 0);
	assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static void
sym(const char *dir, const char *rel, const char *target)
{
	char	*p = xasprintf("%s/%s", dir, rel);

	assert_int_equal(symlink(target, p), 0);
	free(p);
}

static const char *
kind_name(enum change_kind k)
{
	static const char	*n[] = { "A", "M", "D", "T", "mode" };

	return n[k];
}

static void
dump(const struct changes *ch)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	for (i = 0; i < ch->n; i++) {
		buf_printf(&b, "  %s %d>%d ", kind_name(ch->v[i].kind),
		    ch->v[i].old_type, ch->v[i].new_type);
		quote_path(&b, ch->v[i].path, ch->v[i].pathlen, 0);
		buf_addch(&b, '\n');
	}
	print_message("got %zu changes:\n%s", ch->n, b.data);
	buf_free(&b);
}

static void
check(const struct changes *ch, const struct want *w, size_t n)
{
	size_t	i, len;
	int	ok = ch->n == n;

	for (i = 0; ok && i < n; i++) {
		len = w[i].len != 0 ? w[i].len : strlen(w[i].path);
		ok = ch->v[i].pathlen == len &&
		    memcmp(ch->v[i].path, w[i].path, len) == 0 &&
		    ch->v[i].path[len] == '\0' &&
		    ch->v[i].kind == w[i].kind &&
		    ch->v[i].old_type == w[i].old_type &&
		    ch->v[i].new_type == w[i].new_type;
		if (!ok)
			print_message("mismatch at %zu (want %s)\n", i, w[i].path);
	}
	if (!ok)
		dump(ch);
	assert_true(ok);
}

static const struct change *
find(const struct changes *ch, const char *path)
{
	size_t	i;

	for (i = 0; i < ch->n; i++) {
		if (strcmp(ch->v[i].path, path) == 0)
			return &ch->v[i];
	}
	fail_msg("no change for %s", path);
	return NULL;
}

static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	int		 n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* The child side: writes a whole small file or fails. */
static int
cput(const char *path, const char *content)
{
	int	fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd == -1)
		return -1;
	ok = write(fd, content, strlen(content)) == (ssize_t)strlen(content);
	return close(fd) == 0 && ok ? 0 : -1;
}

static int
crm_rf(const char *path)
{
	rm_at(AT_FDCWD, path);
	return access(path, F_OK) == 0 ? -1 : 0;
}

/*
 * Mounts the overlay in a child (root: a mount namespace; otherwise a user
 * namespace too, with userxattr), runs ops inside merged and exits.
 */
static void
overlay_run(const struct dirs *d, int (*ops)(void))
{
	char	*opts;
	pid_t	 pid;
	int	 status, root = geteuid() == 0;

	opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s", d->lower,
	    d->upper, d->work,
	    root ? ",redirect_dir=nofollow,metacopy=off" : ",userxattr");
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (root ? unshare(CLONE_NEWNS) : snaptest_userns(CLONE_NEWNS)) {
			perror("unshare");
			_exit(10);
		}
		if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
			perror("mount private");
			_exit(11);
		}
		if (mount("overlay", d->merged, "overlay", 0, opts) != 0) {
			perror("mount overlay");
			_exit(12);
		}
		free(opts);
		if (chdir(d->merged) != 0)
			_exit(13);
		_exit(ops() == 0 ? 0 : 14);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("overlay child failed: status %#x", status);
	free(opts);
}

/* The agent's work, through the merged view. */
static int
basic_ops(void)
{
	int	fd;

	if (cput("mod.txt", "new\n") != 0 ||
	    cput("same.txt", "x\n") != 0 ||      /* same bytes: copied up */
	    unlink("gone.txt") != 0 ||
	    chmod("exec.sh", 0755) != 0 ||
	    crm_rf("dir") != 0 ||
	    crm_rf("opq") != 0 || mkdir("opq", 0755) != 0 ||
	    cput("opq/x", "X\n") != 0)
		return -1;
	/* A directory rename (EXDEV without redirect_dir): as mv does. */
	if (rename("ren", "ren2") != 0) {
		if (errno != EXDEV || mkdir("ren2", 0755) != 0 ||
		    cput("ren2/f", "f\n") != 0 || crm_rf("ren") != 0)
			return -1;
	}
	if (unlink("rs") != 0 || mkdir("rs", 0755) != 0 ||
	    cput("rs/t1", "t1\n") != 0 ||
	    chmod("modedir", 0700) != 0 ||
	    unlink("f2d") != 0 || mkdir("f2d", 0755) != 0 ||
	    cput("f2d/in", "in\n") != 0 ||
	    crm_rf("d2f") != 0 || cput("d2f", "now a file\n") != 0 ||
	    unlink("f2l") != 0 || symlink("keep.txt", "f2l") != 0 ||
	    unlink("oldlink") != 0 ||
	    symlink("/etc/passwd", "lnk") != 0 ||
	    mkfifo("pipe", 0644) != 0 ||
	    mkdir("newdir", 0755) != 0 ||
	    mkdir("newdir2", 0755) != 0 || cput("newdir2/f", "f\n") != 0 ||
	    link("mod.txt", "hard") != 0)
		return -1;
	/* Opened for writing but left alone: a copy-up, not a change. */
	if ((fd = open("keep.txt", O_RDWR)) == -1)
		return -1;
	close(fd);
	if (chmod("unchanged/u", 0600) != 0 || chmod("unchanged/u", 0644) != 0)
		return -1;
	return 0;
}

static void
test_overlay_basic(void **state)
{
	static const struct want w[] = {
		{ "d2f", 0, CHANGE_TYPE, ENTRY_DIR, ENTRY_FILE },
		{ "d2f/a", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "dir/a", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "dir/b", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "dir/empty", 0, CHANGE_DELETED, ENTRY_DIR, ENTRY_NONE },
		{ "dir/sub/c", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "exec.sh", 0, CHANGE_MODE, ENTRY_FILE, ENTRY_FILE },
		{ "f2d", 0, CHANGE_TYPE, ENTRY_FILE, ENTRY_DIR },
		{ "f2d/in", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
		{ "f2l", 0, CHANGE_TYPE, ENTRY_FILE, ENTRY_SYMLINK },
		{ "gone.txt", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "hard", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
		{ "lnk", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_SYMLINK },
		{ "mod.txt", 0, CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE },
		{ "modedir", 0, CHANGE_MODE, ENTRY_DIR, ENTRY_DIR },
		{ "newdir", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_DIR },
		{ "newdir2/f", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
		{ "oldlink", 0, CHANGE_DELETED, ENTRY_SYMLINK, ENTRY_NONE },
		{ "opq/sub/z", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "opq/x", 0, CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE },
		{ "opq/y", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "pipe", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_SPECIAL },
		{ "ren/f", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		{ "ren2/f", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
		{ "rs", 0, CHANGE_TYPE, ENTRY_SYMLINK, ENTRY_DIR },
		{ "rs/t1", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
	};
	struct dirs		 d;
	struct changes		 ch;
	const struct change	*c;
	char			*cause = NULL;
	int			 fds;

	dirs_make(&d);
	put(d.lower, "keep.txt", "same\n", 0644);
	put(d.lower, "mod.txt", "old\n", 0644);
	put(d.lower, "same.txt", "x\n", 0644);
	put(d.lower, "gone.txt", "bye\n", 0644);
	put(d.lower, "exec.sh", "#!/bin/sh\n", 0644);
	mkd(d.lower, "dir", 0755);
	put(d.lower, "dir/a", "a\n", 0644);
	put(d.lower, "dir/b", "b\n", 0644);
	mkd(d.lower, "dir/sub", 0755);
	put(d.lower, "dir/sub/c", "c\n", 0644);
	mkd(d.lower, "dir/empty", 0755);
	mkd(d.lower, "opq", 0755);
	put(d.lower, "opq/x", "x\n", 0644);
	put(d.lower, "opq/y", "y\n", 0644);
	mkd(d.lower, "opq/sub", 0755);
	put(d.lower, "opq/sub/z", "z\n", 0644);
	mkd(d.lower, "ren", 0755);
	put(d.lower, "ren/f", "f\n", 0644);
	mkd(d.lower, "target", 0755);
	put(d.lower, "target/t1", "t1\n", 0644);
	sym(d.lower, "rs", "target");
	mkd(d.lower, "modedir", 0755);
	put(d.lower, "modedir/m", "m\n", 0644);
	put(d.lower, "f2d", "file\n", 0644);
	mkd(d.lower, "d2f", 0755);
	put(d.lower, "d2f/a", "a\n", 0644);
	put(d.lower, "f2l", "file\n", 0644);
	sym(d.lower, "oldlink", "keep.txt");
	mkd(d.lower, "unchanged", 0755);
	put(d.lower, "unchanged/u", "u\n", 0644);

	overlay_run(&d, basic_ops);

	fds = count_fds();
	assert_int_equal(changes_scan(d.upper, d.lower, &ch, &cause), 0);
	assert_int_equal(count_fds(), fds);
	check(&ch, w, sizeof w / sizeof *w);

	c = find(&ch, "mod.txt");
	assert_int_equal(c->old_size, 4);
	assert_int_equal(c->new_size, 4);
	assert_int_equal(c->old_mode, S_IFREG | 0644);
	assert_false(change_is_risky(c));
	c = find(&ch, "exec.sh");
	assert_int_equal(c->old_mode, S_IFREG | 0644);
	assert_int_equal(c->new_mode, S_IFREG | 0755);
	assert_int_equal(change_letter(c), 'M');
	assert_string_equal(change_name(c), "mode");
	assert_true(change_is_risky(c));
	c = find(&ch, "modedir");
	assert_int_equal(c->old_mode, S_IFDIR | 0755);
	assert_int_equal(c->new_mode, S_IFDIR | 0700);
	c = find(&ch, "lnk");
	assert_int_equal(c->new_size, (off_t)strlen("/etc/passwd"));
	assert_int_equal(c->old_mode, 0);
	c = find(&ch, "gone.txt");
	assert_int_equal(c->old_size, 4);
	assert_int_equal(c->new_mode, 0);
	assert_int_equal(change_letter(c), 'D');
	changes_free(&ch);
	assert_int_equal(ch.n, 0);
	dirs_free(&d);
}

/* An overlay that changed nothing but copied up: no changes at all. */
static int
copyup_ops(void)
{
	int	fd;

	if (cput("a", "same\n") != 0 || chmod("d", 0755) != 0 ||
	    chmod("d/b", 0644) != 0)
		return -1;
	if ((fd = open("d/c", O_WRONLY)) == -1)
		return -1;
	close(fd);
	/* Created and removed again: nothing left to report. */
	if (cput("tmpfile", "t") != 0 || unlink("tmpfile") != 0 ||
	    mkdir("tmpdir", 0755) != 0 || rmdir("tmpdir") != 0)
		return -1;
	return 0;
}

static void
test_overlay_copyup_only(void **state)
{
	struct dirs	d;
	struct changes	ch;
	char		*cause = NULL;

	dirs_make(&d);
	put(d.lower, "a", "same\n", 0644);
	mkd(d.lower, "d", 0755);
	put(d.lower, "d/b", "b\n", 0644);
	put(d.lower, "d/c", "c\n", 0644);
	overlay_run(&d, copyup_ops);
	assert_int_equal(changes_scan(d.upper, d.lower, &ch, &cause), 0);
	check(&ch, NULL, 0);
	changes_free(&ch);
	dirs_free(&d);
}

/* Creates a chain of directories below dir; returns the deepest's fd. */
static int
chain(const char *dir, const char *name, int depth)
{
	int	fd, next, i;

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd != -1);
	for (i = 0; i < depth; i++) {
		if (mkdirat(fd, name, 0755) != 0)
			assert_int_equal(errno, EEXIST);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		assert_true(next != -1);
		close(fd);
		fd = next;
	}
	return fd;
}

static void
putat(int dirfd, const char *name, const char *content)
{
	int	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd != -1);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	close(fd);
}

/* name repeated depth times, joined by '/', then "/" leaf. */
static char *
chain_path(const char *name, int depth, const char *leaf)
{
	struct buf	b = BUF_INIT;
	int		i;

	for (i = 0; i < depth; i++) {
		if (i > 0)
			buf_addch(&b, '/');
		buf_addstr(&b, name);
	}
	if (leaf != NULL) {
		buf_addch(&b, '/');
		buf_addstr(&b, leaf);
	}
	return buf_detach(&b, NULL);
}

static void
test_hostile_names(void **state)
{
	char		 n255[256], n250[251], *deep_f, *deep_g;
	char		*upath, *lpath;
	struct dirs	 d;
	struct changes	 ch;
	char		*cause = NULL;
	int		 fd;

	memset(n255, 'N', 255);
	n255[255] = '\0';
	memset(n250, 'L', 250);
	n250[250] = '\0';
	dirs_make(&d);

	/* The real tree. */
	put(d.lower, "same\nname", "same\n", 0644);
	mkd(d.lower, "target", 0755);
	put(d.lower, "target/secret", "s\n", 0644);
	sym(d.lower, "rdir", "target");
	lpath = xasprintf("%s/fifo", d.lower);
	assert_int_equal(mkfifo(lpath, 0644), 0);
	free(lpath);
	put(d.lower, "xw", "to be deleted\n", 0644);
	put(d.lower, "wh", "gone\n", 0644);
	mkd(d.lower, "odir", 0755);
	put(d.lower, "odir/keep", "k\n", 0644);
	put(d.lower, "odir/drop", "d\n", 0644);
	mkd(d.lower, "odir2", 0755);
	put(d.lower, "odir2/a", "a\n", 0644);
	fd = chain(d.lower, n250, 20); /* about 5 kB: beyond PATH_MAX */
	putat(fd, "f", "old\n");
	close(fd);

	/* The scratch, as a hostile agent could leave it. */
	put(d.upper, "new\nline", "nl\n", 0644);
	put(d.upper, "bad\xff\xfename", "b\n", 0644);
	put(d.upper, "same\nname", "same\n", 0644);
	put(d.upper, n255, "long\n", 0644);
	sym(d.upper, "escape", "../../../../../../../../etc/passwd");
	mkd(d.upper, "rdir", 0755);
	put(d.upper, "rdir/secret", "s\n", 0644);   /* equal to target/secret */
	upath = xasprintf("%s/fifo", d.upper);
	assert_int_equal(mkfifo(upath, 0644), 0);  /* equal to the real fifo */
	free(upath);
	upath = xasprintf("%s/fifo2", d.upper);
	assert_int_equal(mkfifo(upath, 0644), 0);
	free(upath);
	upath = xasprintf("%s/wh", d.upper);
	assert_int_equal(mknod(upath, S_IFCHR, makedev(0, 0)), 0);
	free(upath);
	upath = xasprintf("%s/ghost", d.upper);     /* nothing to delete */
	assert_int_equal(mknod(upath, S_IFCHR, makedev(0, 0)), 0);
	free(upath);
	put(d.upper, "xw", "", 0644);
	upath = xasprintf("%s/xw", d.upper);
	/* Any value marks it, even one longer than "y". */
	assert_int_equal(setxattr(upath, "user.overlay.whiteout",
	    "a longer value than expected", 28, 0), 0);
	free(upath);
	mkd(d.upper, "odir", 0755);
	put(d.upper, "odir/keep", "k\n", 0644);
	upath = xasprintf("%s/odir", d.upper);
	assert_int_equal(setxattr(upath, "user.overlay.opaque", "y", 1, 0), 0);
	free(upath);
	mkd(d.upper, "odir2", 0755);
	upath = xasprintf("%s/odir2", d.upper);
	assert_int_equal(setxattr(upath, "user.overlay.opaque", "x", 1, 0), 0);
	free(upath);
	fd = chain(d.upper, n250, 20);
	putat(fd, "f", "new\n");
	putat(fd, "g", "added\n");
	close(fd);

	deep_f = chain_path(n250, 20, "f");
	deep_g = chain_path(n250, 20, "g");
	assert_true(strlen(deep_f) > PATH_MAX);
	{
		const struct want w[] = {
			{ deep_f, 0, CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE },
			{ deep_g, 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
			{ n255, 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
			{ "bad\xff\xfename", 0, CHANGE_ADDED, ENTRY_NONE,
			    ENTRY_FILE },
			{ "escape", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_SYMLINK },
			{ "fifo2", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_SPECIAL },
			{ "new\nline", 0, CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE },
			{ "odir/drop", 0, CHANGE_DELETED, ENTRY_FILE,
			    ENTRY_NONE },
			{ "rdir", 0, CHANGE_TYPE, ENTRY_SYMLINK, ENTRY_DIR },
			{ "rdir/secret", 0, CHANGE_ADDED, ENTRY_NONE,
			    ENTRY_FILE },
			{ "wh", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
			{ "xw", 0, CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE },
		};

		assert_int_equal(changes_scan(d.upper, d.lower, &ch, &cause), 0);
		check(&ch, w, sizeof w / sizeof *w);
		assert_int_equal(ch.v[0].pathlen, strlen(deep_f));
		changes_free(&ch);
	}
	free(deep_f);
	free(deep_g);
	dirs_free(&d);
}

/*
 * Nesting far deeper than the fds a process may hold: the scan must keep
 * a bounded number open (run in a child with a low RLIMIT_NOFILE).
 */
static void
test_deep_nesting(void **state)
{
	struct dirs	 d;
	struct changes	 ch;
	struct rlimit	 rl;
	char		*cause = NULL, *p[4];
	pid_t		 pid;
	int		 fd, xfd, status, i;

	dirs_make(&d);
	fd = chain(d.lower, "d", 100);
	assert_int_equal(mkdirat(fd, "x", 0755), 0);
	xfd = openat(fd, "x", O_RDONLY | O_DIRECTORY);
	assert_true(xfd != -1);
	putat(xfd, "1", "one\n");
	putat(xfd, "2", "two\n");
	close(xfd);
	close(fd);
	close(chain(d.lower, "d", 400));
	fd = chain(d.lower, "d", 400);
	putat(fd, "leaf", "old\n");
	close(fd);

	fd = chain(d.upper, "d", 70);
	putat(fd, "n70", "new\n");
	close(fd);
	fd = chain(d.upper, "d", 100);
	assert_int_equal(mknodat(fd, "x", S_IFCHR, makedev(0, 0)), 0);
	close(fd);
	fd = chain(d.upper, "d", 400);
	putat(fd, "leaf", "new\n");
	close(fd);

	/* Sorted bytewise: "d/..." sorts before "n70" and "x". */
	p[0] = chain_path("d", 400, "leaf");
	p[1] = chain_path("d", 100, "x/1");
	p[2] = chain_path("d", 100, "x/2");
	p[3] = chain_path("d", 70, "n70");
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(20);
		rl.rlim_cur = 200;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(20);
		if (changes_scan(d.upper, d.lower, &ch, &cause) != 0) {
			fprintf(stderr, "scan: %s\n", cause);
			_exit(21);
		}
		if (ch.n != 4)
			_exit(22);
		for (i = 0; i < 4; i++) {
			if (strcmp(ch.v[i].path, p[i]) != 0)
				_exit(30 + i);
		}
		if (ch.v[0].kind != CHANGE_MODIFIED ||
		    ch.v[1].kind != CHANGE_DELETED ||
		    ch.v[2].kind != CHANGE_DELETED ||
		    ch.v[3].kind != CHANGE_ADDED)
			_exit(23);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (i = 0; i < 4; i++)
		free(p[i]);
	dirs_free(&d);
}

static void
test_scan_errors(void **state)
{
	struct dirs	 d;
	struct changes	 ch;
	char		*cause = NULL, *missing, *p;

	dirs_make(&d);
	missing = xasprintf("%s/nope", d.base);
	assert_int_equal(changes_scan(missing, d.lower, &ch, &cause), -1);
	assert_non_null(strstr(cause, missing));
	free(cause);
	cause = NULL;
	assert_int_equal(changes_scan(d.upper, missing, &ch, &cause), -1);
	assert_non_null(strstr(cause, missing));
	free(cause);
	cause = NULL;

	/* A renamed directory (redirect_dir) cannot be read from upper alone. */
	mkd(d.lower, "old", 0755);
	mkd(d.upper, "new\nname", 0755);
	p = xasprintf("%s/new\nname", d.upper);
	assert_int_equal(setxattr(p, "user.overlay.redirect", "/old", 4, 0), 0);
	free(p);
	assert_int_equal(changes_scan(d.upper, d.lower, &ch, &cause), -1);
	assert_non_null(strstr(cause, "redirect_dir"));
	assert_non_null(strstr(cause, "\"new\\nname\""));
	assert_int_equal(ch.n, 0);
	free(cause);
	cause = NULL;
	p = xasprintf("%s/new\nname", d.upper);
	assert_int_equal(removexattr(p, "user.overlay.redirect"), 0);
	free(p);

	/* A metacopy file holds no data: never compare it as content. */
	put(d.lower, "meta", "real data\n", 0644);
	put(d.upper, "meta", "", 0644);
	p = xasprintf("%s/meta", d.upper);
	assert_int_equal(truncate(p, 10), 0);   /* a hole the size of "real data\n" */
	assert_int_equal(setxattr(p, "user.overlay.metacopy", "", 0, 0), 0);
	free(p);
	assert_int_equal(changes_scan(d.upper, d.lower, &ch, &cause), -1);
	assert_non_null(strstr(cause, "metacopy"));
	assert_non_null(strstr(cause, "meta"));
	free(cause);
	free(missing);
	dirs_free(&d);
}

static void
test_letters_and_risk(void **state)
{
	static const struct {
		const char		*path;
		enum change_kind	 kind;
		enum entry_type		 ot, nt;
		mode_t			 om, nm;
		char			 letter;
		const char		*name;
		int			 risky;
	} v[] = {
		{ "src/a.c", CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0644, S_IFREG | 0644, 'M', "modified", 0 },
		{ "src/a.c", CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE, 0,
		    S_IFREG | 0644, 'A', "added", 0 },
		{ "run.sh", CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE, 0,
		    S_IFREG | 0755, 'A', "added", 1 },
		{ "run.sh", CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0755, S_IFREG | 0755, 'M', "modified", 0 },
		{ "run.sh", CHANGE_MODE, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0644, S_IFREG | 0744, 'M', "mode", 1 },
		{ "tool", CHANGE_MODE, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0755, S_IFREG | 04755, 'M', "mode", 1 },
		{ "run.sh", CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE,
		    S_IFREG | 0755, 0, 'D', "deleted", 0 },
		{ "l", CHANGE_TYPE, ENTRY_FILE, ENTRY_SYMLINK, S_IFREG | 0644,
		    S_IFLNK | 0777, 'T', "type", 0 },
		{ "bin", CHANGE_MODE, ENTRY_DIR, ENTRY_DIR, S_IFDIR | 0755,
		    S_IFDIR | 0777, 'M', "mode", 0 },
		{ ".git/hooks/pre-commit", CHANGE_ADDED, ENTRY_NONE,
		    ENTRY_FILE, 0, S_IFREG | 0644, 'A', "added", 1 },
		{ ".git/config", CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0644, S_IFREG | 0644, 'M', "modified", 1 },
		{ ".git/modules/lib/config", CHANGE_MODIFIED, ENTRY_FILE,
		    ENTRY_FILE, S_IFREG | 0644, S_IFREG | 0644, 'M',
		    "modified", 1 },
		{ ".git/index", CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0644, S_IFREG | 0644, 'M', "modified", 0 },
		{ "src/config", CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0644, S_IFREG | 0644, 'M', "modified", 0 },
		{ "sub/.git/hooks/post-checkout", CHANGE_ADDED, ENTRY_NONE,
		    ENTRY_FILE, 0, S_IFREG | 0644, 'A', "added", 1 },
		{ ".bashrc", CHANGE_MODIFIED, ENTRY_FILE, ENTRY_FILE,
		    S_IFREG | 0644, S_IFREG | 0644, 'M', "modified", 1 },
		{ "home/.zshrc", CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE, 0,
		    S_IFREG | 0644, 'A', "added", 1 },
		{ ".envrc", CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE, 0,
		    S_IFREG | 0644, 'A', "added", 1 },
		{ ".profile", CHANGE_DELETED, ENTRY_FILE, ENTRY_NONE,
		    S_IFREG | 0644, 0, 'D', "deleted", 1 },
		{ ".github/workflows/ci.yml", CHANGE_MODIFIED, ENTRY_FILE,
		    ENTRY_FILE, S_IFREG | 0644, S_IFREG | 0644, 'M',
		    "modified", 1 },
		{ ".github/ISSUE_TEMPLATE.md", CHANGE_MODIFIED, ENTRY_FILE,
		    ENTRY_FILE, S_IFREG | 0644, S_IFREG | 0644, 'M',
		    "modified", 0 },
		{ ".vscode/tasks.json", CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE,
		    0, S_IFREG | 0644, 'A', "added", 1 },
		{ ".idea/workspace.xml", CHANGE_MODIFIED, ENTRY_FILE,
		    ENTRY_FILE, S_IFREG | 0644, S_IFREG | 0644, 'M',
		    "modified", 1 },
		{ "docs/.vscodeish", CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE, 0,
		    S_IFREG | 0644, 'A', "added", 0 },
		{ "not.bashrc", CHANGE_ADDED, ENTRY_NONE, ENTRY_FILE, 0,
		    S_IFREG | 0644, 'A', "added", 0 },
	};
	struct change	c;
	size_t		i;

	for (i = 0; i < sizeof v / sizeof *v; i++) {
		memset(&c, 0, sizeof c);
		c.path = (char *)v[i].path;
		c.pathlen = strlen(v[i].path);
		c.kind = v[i].kind;
		c.old_type = v[i].ot;
		c.new_type = v[i].nt;
		c.old_mode = v[i].om;
		c.new_mode = v[i].nm;
		if (change_letter(&c) != v[i].letter ||
		    strcmp(change_name(&c), v[i].name) != 0 ||
		    change_is_risky(&c) != v[i].risky)
			fail_msg("%s (%s): letter %c name %s risky %d", v[i].path,
			    v[i].name, change_letter(&c), change_name(&c),
			    change_is_risky(&c));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlay_basic),
		cmocka_unit_test(test_overlay_copyup_only),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_scan_errors),
		cmocka_unit_test(test_letters_and_risk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

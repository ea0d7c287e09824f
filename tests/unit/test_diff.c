#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "tests/unit/snaptest.h"

/*
 * diff_sides against git's own output (the expected texts below are what
 * git 2.39 prints for the same blobs, plus each hunk's number after the
 * second "@@", which git ignores), and the round trip the design
 * promises: the diff of an overlay scratch, fed to the real `git apply` in
 * a copy of the real tree, reproduces the merged view.
 */

static struct diff_side
side(enum entry_type type, mode_t mode, const char *data)
{
	struct diff_side	s;

	memset(&s, 0, sizeof s);
	s.type = type;
	s.mode = mode;
	s.data = data;
	s.len = data != NULL ? strlen(data) : 0;
	return s;
}

static const struct diff_side no_side = { ENTRY_NONE, 0, NULL, 0 };

#define FILE644(d) side(ENTRY_FILE, S_IFREG | 0644, d)
#define FILE755(d) side(ENTRY_FILE, S_IFREG | 0755, d)
#define LINK(d) side(ENTRY_SYMLINK, S_IFLNK | 0777, d)

static void
check_diff(const char *path, size_t pathlen, struct diff_side old,
    struct diff_side new, int hunks, const char *want)
{
	struct buf		 out = BUF_INIT;
	struct diff_stat	 st;
	char			*cause = NULL;
	int			 n;

	buf_addstr(&out, "KEEP\n");  /* diff_sides appends */
	n = diff_sides(&out, path, pathlen, &old, &new, &st, &cause);
	if (n == -1)
		fail_msg("diff_sides: %s", cause);
	if (strcmp(out.data + 5, want) != 0 || n != hunks)
		print_message("got (%d hunks):\n%s", n, out.data + 5);
	assert_memory_equal(out.data, "KEEP\n", 5);
	assert_string_equal(out.data + 5, want);
	assert_int_equal(n, hunks);
	buf_free(&out);
}

static void
test_diff_modify(void **state)
{
	check_diff("f", 1, FILE644("a\nb\nc\n"), FILE644("a\nB\nc\n"), 1,
	    "diff --git a/f b/f\n"
	    "index de98044..7be73ce 100644\n"
	    "--- a/f\n"
	    "+++ b/f\n"
	    "@@ -1,3 +1,3 @@ hunk 1\n"
	    " a\n"
	    "-b\n"
	    "+B\n"
	    " c\n");
	check_diff("long", 4,
	    FILE644("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n"
	    "17\n18\n19\n20\n"),
	    FILE644("1\n2x\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"
	    "16\n17\n18\n19x\n20\n"), 2,
	    "diff --git a/long b/long\n"
	    "index 0ff3bbb..43ca75e 100644\n"
	    "--- a/long\n"
	    "+++ b/long\n"
	    "@@ -1,5 +1,5 @@ hunk 1\n"
	    " 1\n-2\n+2x\n 3\n 4\n 5\n"
	    "@@ -16,5 +16,5 @@ hunk 2\n"
	    " 16\n 17\n 18\n-19\n+19x\n 20\n");
	check_diff("nonl", 4, FILE644("x"), FILE644("y"), 1,
	    "diff --git a/nonl b/nonl\n"
	    "index c1b0730..e25f181 100644\n"
	    "--- a/nonl\n"
	    "+++ b/nonl\n"
	    "@@ -1 +1 @@ hunk 1\n"
	    "-x\n"
	    "\\ No newline at end of file\n"
	    "+y\n"
	    "\\ No newline at end of file\n");
	/* The function context git finds stays, after the number. */
	check_diff("f.c", 3,
	    FILE644("int\nmain(void)\n{\n\t1;\n\t2;\n\t3;\n\t4;\n\t5;\n}\n"),
	    FILE644("int\nmain(void)\n{\n\t1;\n\t2;\n\t3;\n\t4;\n\t5x;\n}\n"),
	    1,
	    "diff --git a/f.c b/f.c\n"
	    "index 50e7e93..92fae10 100644\n"
	    "--- a/f.c\n"
	    "+++ b/f.c\n"
	    "@@ -5,5 +5,5 @@ hunk 1 main(void)\n"
	    " \t2;\n \t3;\n \t4;\n-\t5;\n+\t5x;\n }\n");
	/* Same content and mode: nothing at all. */
	check_diff("same", 4, FILE644("s\n"), FILE644("s\n"), 0, "");
}

static void
test_diff_add_delete(void **state)
{
	check_diff("gone", 4, FILE644("del\n"), no_side, 1,
	    "diff --git a/gone b/gone\n"
	    "deleted file mode 100644\n"
	    "index abaddc0..0000000\n"
	    "--- a/gone\n"
	    "+++ /dev/null\n"
	    "@@ -1 +0,0 @@ hunk 1\n"
	    "-del\n");
	check_diff("newempty", 8, no_side, FILE644(""), 0,
	    "diff --git a/newempty b/newempty\n"
	    "new file mode 100644\n"
	    "index 0000000..e69de29\n");
	check_diff("wasempty", 8, FILE644(""), no_side, 0,
	    "diff --git a/wasempty b/wasempty\n"
	    "deleted file mode 100644\n"
	    "index e69de29..0000000\n");
	/* A directory or special side counts as absent. */
	check_diff("d", 1, side(ENTRY_DIR, S_IFDIR | 0755, NULL),
	    FILE755("q\n"), 1,
	    "diff --git a/d b/d\n"
	    "new file mode 100755\n"
	    "index 0000000..bca70f3\n"
	    "--- /dev/null\n"
	    "+++ b/d\n"
	    "@@ -0,0 +1 @@ hunk 1\n"
	    "+q\n");
	check_diff("d", 1, side(ENTRY_DIR, S_IFDIR | 0755, NULL),
	    side(ENTRY_SPECIAL, S_IFIFO | 0644, NULL), 0, "");
}

static void
test_diff_modes(void **state)
{
	check_diff("mo", 2, FILE644("m\n"), FILE755("m\n"), 0,
	    "diff --git a/mo b/mo\n"
	    "old mode 100644\n"
	    "new mode 100755\n");
	check_diff("mc", 2, FILE644("c\n"), FILE755("C\n"), 1,
	    "diff --git a/mc b/mc\n"
	    "old mode 100644\n"
	    "new mode 100755\n"
	    "index f2ad6c7..3cc58df\n"
	    "--- a/mc\n"
	    "+++ b/mc\n"
	    "@@ -1 +1 @@ hunk 1\n"
	    "-c\n"
	    "+C\n");
	/* Permission bits git does not track: no diff. */
	check_diff("g", 1, FILE644("g\n"), side(ENTRY_FILE, S_IFREG | 0664,
	    "g\n"), 0, "");
}

static void
test_diff_symlinks(void **state)
{
	check_diff("tc", 2, FILE644("t\n"), LINK("target"), 2,
	    "diff --git a/tc b/tc\n"
	    "deleted file mode 100644\n"
	    "index 718f4d2..0000000\n"
	    "--- a/tc\n"
	    "+++ /dev/null\n"
	    "@@ -1 +0,0 @@ hunk 1\n"
	    "-t\n"
	    "diff --git a/tc b/tc\n"
	    "new file mode 120000\n"
	    "index 0000000..1de5659\n"
	    "--- /dev/null\n"
	    "+++ b/tc\n"
	    "@@ -0,0 +1 @@ hunk 1\n"
	    "+target\n"
	    "\\ No newline at end of file\n");
	check_diff("l", 1, LINK("target"), LINK("targex"), 1,
	    "diff --git a/l b/l\n"
	    "index 1de5659..6d20eb7 120000\n"
	    "--- a/l\n"
	    "+++ b/l\n"
	    "@@ -1 +1 @@ hunk 1\n"
	    "-target\n"
	    "\\ No newline at end of file\n"
	    "+targex\n"
	    "\\ No newline at end of file\n");
}

static void
test_diff_binary(void **state)
{
	struct diff_side	a = FILE644(NULL), b = FILE644(NULL);
	struct buf		out = BUF_INIT;
	struct diff_stat	st;
	char			*cause = NULL;

	a.data = "bin\0x";
	a.len = 5;
	b.data = "bin\0y";
	b.len = 5;
	check_diff("bin", 3, a, b, 0,
	    "diff --git a/bin b/bin\n"
	    "index e899662..9de10b8 100644\n"
	    "Binary files a/bin and b/bin differ\n");
	assert_int_equal(diff_sides(&out, "bin", 3, &a, &b, &st, &cause), 0);
	assert_int_equal(st.binary, 1);
	b.data = "n\0";
	b.len = 2;
	check_diff("newbin", 6, no_side, b, 0,
	    "diff --git a/newbin b/newbin\n"
	    "new file mode 100644\n"
	    "index 0000000..87949eb\n"
	    "Binary files /dev/null and b/newbin differ\n");
	buf_free(&out);
}

static void
test_diff_names(void **state)
{
	check_diff("sp ace", 6, FILE644("n\n"), FILE644("N\n"), 1,
	    "diff --git a/sp ace b/sp ace\n"
	    "index 8ba3a16..d52e798 100644\n"
	    "--- a/sp ace\t\n"
	    "+++ b/sp ace\t\n"
	    "@@ -1 +1 @@ hunk 1\n"
	    "-n\n"
	    "+N\n");
	check_diff("new\nline", 8, no_side, FILE644("q\n"), 1,
	    "diff --git \"a/new\\nline\" \"b/new\\nline\"\n"
	    "new file mode 100644\n"
	    "index 0000000..bca70f3\n"
	    "--- /dev/null\n"
	    "+++ \"b/new\\nline\"\n"
	    "@@ -0,0 +1 @@ hunk 1\n"
	    "+q\n");
	/* git prints the raw byte; the octal form reads back the same. */
	check_diff("bad\xff", 4, no_side, FILE644("q\n"), 1,
	    "diff --git \"a/bad\\377\" \"b/bad\\377\"\n"
	    "new file mode 100644\n"
	    "index 0000000..bca70f3\n"
	    "--- /dev/null\n"
	    "+++ \"b/bad\\377\"\n"
	    "@@ -0,0 +1 @@ hunk 1\n"
	    "+q\n");
}

static void
test_diff_stat(void **state)
{
	struct diff_side	a = FILE644("1\n2\n3\n"), b = FILE644("1\nx\ny\n3\n4\n");
	struct buf		out = BUF_INIT;
	struct diff_stat	st;
	char			*cause = NULL;

	assert_int_equal(diff_sides(&out, "s", 1, &a, &b, &st, &cause), 1);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.binary, 0);
	assert_int_equal(diff_sides(&out, "s", 1, &a, &b, NULL, &cause), 1);
	/* A type change counts both blocks. */
	a = FILE644("t\n");
	b = LINK("target");
	assert_int_equal(diff_sides(&out, "s", 1, &a, &b, &st, &cause), 2);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.deleted, 1);
	buf_free(&out);
}

/* ---- the round trip through a real overlay and the real git ---- */

struct dirs {
	char	*base, *lower, *upper, *work, *merged, *expect, *copy;
};

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
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			rm_at(dirfd(d), de->d_name);
	}
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

static int
cput(const char *path, const char *content, mode_t mode)
{
	int	fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
	if (fd == -1)
		return -1;
	ok = write(fd, content, strlen(content)) == (ssize_t)strlen(content);
	if (fchmod(fd, mode) != 0)
		ok = 0;
	return close(fd) == 0 && ok ? 0 : -1;
}

static int
crm_rf(const char *path)
{
	rm_at(AT_FDCWD, path);
	return access(path, F_OK) == 0 ? -1 : 0;
}

/* The real tree (run with the target as cwd). */
static int
base_tree(void)
{
	return cput("f", "a\nb\nc\n", 0644) ||
	    cput("long", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n"
	    "15\n16\n17\n18\n19\n20\n", 0644) ||
	    cput("nonl", "x", 0644) || cput("addnl", "x", 0644) ||
	    cput("gone", "bye\n", 0644) || cput("wasempty", "", 0644) ||
	    cput("exec.sh", "#!/bin/sh\n", 0644) ||
	    cput("both.sh", "1\n", 0644) || cput("unexec", "u\n", 0755) ||
	    cput("f2l", "file\n", 0644) || symlink("f", "l2f") ||
	    symlink("a", "l2l") || cput("f2d", "file\n", 0644) ||
	    mkdir("d2f", 0755) || cput("d2f/x", "x\n", 0644) ||
	    mkdir("deldir", 0755) || cput("deldir/a", "a\n", 0644) ||
	    cput("deldir/b", "b\n", 0644) || mkdir("deldir/sub", 0755) ||
	    cput("deldir/sub/c", "c\n", 0644) ||
	    mkdir("odir", 0755) || cput("odir/old", "old\n", 0644) ||
	    cput("odir/kept", "k\n", 0644) ||
	    cput("sp ace", "s\n", 0644) ||
	    cput("caf\xc3\xa9", "cafe\n", 0644) ||
	    mkdir("x b", 0755) || cput("x b/y", "y\n", 0644) ||
	    cput("a b", "ab\n", 0644) ||
	    mkdir("keepdir", 0755) || cput("keepdir/k", "k\n", 0644) ? -1 : 0;
}

/* The agent's changes (through the merged view, or on the expected copy). */
static int
agent_ops(void)
{
	return cput("f", "a\nB\nc\n", 0644) ||
	    cput("long", "1\n2x\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n"
	    "15\n16\n17\n18\n19x\n20\n", 0644) ||
	    cput("nonl", "y", 0644) || cput("addnl", "x\n", 0644) ||
	    unlink("gone") || unlink("wasempty") ||
	    chmod("exec.sh", 0755) ||
	    cput("both.sh", "2\n", 0755) || chmod("unexec", 0644) ||
	    unlink("f2l") || symlink("f", "f2l") ||
	    unlink("l2f") || cput("l2f", "now a file\n", 0644) ||
	    unlink("l2l") || symlink("b", "l2l") ||
	    unlink("f2d") || mkdir("f2d", 0755) ||
	    cput("f2d/in", "in\n", 0644) ||
	    crm_rf("d2f") || cput("d2f", "now a file\n", 0644) ||
	    crm_rf("deldir") ||
	    crm_rf("odir") || mkdir("odir", 0755) ||
	    cput("odir/kept", "k\n", 0644) || cput("odir/new", "n\n", 0644) ||
	    cput("sp ace", "S\n", 0644) ||
	    cput("caf\xc3\xa9", "CAFE\n", 0644) ||
	    chmod("x b/y", 0755) || unlink("a b") ||
	    cput("new\nline", "nl\n", 0644) ||
	    cput("tab\there", "t\n", 0644) ||
	    cput("q\"uote", "q\n", 0644) ||
	    cput("back\\slash", "b\n", 0644) ||
	    cput("bad\xff\xfe", "bad\n", 0644) ||
	    cput("esc\x1b[1m", "e\n", 0644) ||
	    cput("trail ", "t\n", 0644) ||
	    cput("empty", "", 0644) ||
	    symlink("/etc/passwd", "outside") ||
	    mkdir("new dir", 0755) || cput("new dir/file", "f\n", 0644) ||
	    mkdir("emptydir", 0755) ? -1 : 0;
}

/* Runs fn in a child with cwd dir, over an overlay when d is not NULL. */
static void
run_in(const struct dirs *d, const char *dir, int (*fn)(void))
{
	char	*opts = NULL;
	pid_t	 pid;
	int	 status, root = geteuid() == 0;

	if (d != NULL) {
		opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s",
		    d->lower, d->upper, d->work,
		    root ? ",redirect_dir=nofollow,metacopy=off" : ",userxattr");
	}
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		umask(022);
		if (d != NULL) {
			if (root ? unshare(CLONE_NEWNS) : snaptest_userns(CLONE_NEWNS))
				_exit(10);
			if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
				_exit(11);
			if (mount("overlay", dir, "overlay", 0, opts) != 0) {
				perror("mount overlay");
				_exit(12);
			}
			free(opts);
		}
		if (chdir(dir) != 0)
			_exit(13);
		_exit(fn() == 0 ? 0 : 14);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child in %s failed: status %#x", dir, status);
	free(opts);
}

/* Runs argv with cwd dir; returns its exit status. */
static int
spawn(const char *dir, char *const argv[], const char *ceiling)
{
	pid_t	pid;
	int	status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(126);
		/* No repository around, no user configuration. */
		setenv("GIT_CEILING_DIRECTORIES", ceiling, 1);
		setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
		setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
		umask(022);
		execvp(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * What git can hold of a tree: its files (content, exec bit) and symlinks,
 * one sorted line each. Directories are implied.
 */
static void
manifest_dir(int dirfd, const char *prefix, struct buf *lines)
{
	struct dirent	*de;
	struct stat	 st;
	struct buf	 path = BUF_INIT;
	char		 target[4096], *data;
	size_t		 len;
	ssize_t		 n;
	DIR		*d;
	int		 fd;

	d = fdopendir(dup(dirfd));
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s%s", prefix, de->d_name);
		assert_int_equal(fstatat(dirfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW), 0);
		if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY);
			assert_true(fd != -1);
			buf_addch(&path, '/');
			manifest_dir(fd, path.data, lines);
			close(fd);
			continue;
		}
		quote_path(lines, path.data, path.len, QUOTE_SPACE);
		if (S_ISLNK(st.st_mode)) {
			n = readlinkat(dirfd, de->d_name, target, sizeof target);
			assert_true(n >= 0);
			buf_addstr(lines, " -> ");
			quote_path(lines, target, (size_t)n, QUOTE_SPACE);
		} else {
			assert_true(S_ISREG(st.st_mode));
			fd = openat(dirfd, de->d_name, O_RDONLY);
			assert_true(fd != -1);
			data = xmalloc((size_t)st.st_size + 1);
			len = (size_t)read(fd, data, (size_t)st.st_size);
			close(fd);
			buf_printf(lines, " %s ", (st.st_mode & S_IXUSR) ?
			    "x" : "-");
			quote_path(lines, data, len, 0);
			free(data);
		}
		buf_addch(lines, '\n');
	}
	closedir(d);
	buf_free(&path);
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
manifest(const char *dir)
{
	struct buf	 lines = BUF_INIT, out = BUF_INIT;
	char		**v = NULL, *p, *nl;
	size_t		 n = 0, i;
	int		 fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd != -1);
	manifest_dir(fd, "", &lines);
	close(fd);
	for (p = lines.data; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = p;
	}
	qsort(v, n, sizeof *v, line_cmp);
	for (i = 0; i < n; i++)
		buf_printf(&out, "%s\n", v[i]);
	free(v);
	buf_free(&lines);
	return buf_detach(&out, NULL);
}

static void
test_round_trip_git_apply(void **state)
{
	static char	 git[] = "git", apply[] = "apply";
	struct dirs	 d;
	struct changes	 ch;
	struct buf	 patch = BUF_INIT;
	const char	*tmp = getenv("TMPDIR");
	char		*cause = NULL, *pfile, *want, *got, *cpargv[5];
	char		*argv[] = { git, apply, NULL, NULL };
	size_t		 i;
	int		 hunks = 0, n;

	d.base = xasprintf("%s/airlock-diff-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(d.base));
	d.lower = xasprintf("%s/lower", d.base);
	d.upper = xasprintf("%s/upper", d.base);
	d.work = xasprintf("%s/work", d.base);
	d.merged = xasprintf("%s/merged", d.base);
	d.expect = xasprintf("%s/expect", d.base);
	d.copy = xasprintf("%s/copy", d.base);
	assert_int_equal(mkdir(d.lower, 0755), 0);
	assert_int_equal(mkdir(d.upper, 0755), 0);
	assert_int_equal(mkdir(d.work, 0755), 0);
	assert_int_equal(mkdir(d.merged, 0755), 0);
	assert_int_equal(mkdir(d.expect, 0755), 0);
	assert_int_equal(mkdir(d.copy, 0755), 0);

	run_in(NULL, d.lower, base_tree);
	run_in(NULL, d.expect, base_tree);
	run_in(NULL, d.copy, base_tree);
	run_in(NULL, d.expect, agent_ops);
	run_in(&d, d.merged, agent_ops);

	assert_int_equal(changes_scan(d.upper, d.lower, &ch, &cause), 0);
	for (i = 0; i < ch.n; i++) {
		n = diff_change(&patch, &ch.v[i], d.lower, d.upper, NULL, NULL, &cause);
		if (n == -1)
			fail_msg("diff_change %s: %s", ch.v[i].path, cause);
		hunks += n;
	}
	assert_true(hunks > 20);
	pfile = xasprintf("%s/patch", d.base);
	assert_int_equal(path_write_file(pfile, patch.data, patch.len, 0644,
	    &cause), 0);

	argv[2] = pfile;
	if (spawn(d.copy, argv, d.base) != 0) {
		print_message("%s", patch.data);
		fail_msg("git apply failed");
	}
	want = manifest(d.expect);
	got = manifest(d.copy);
	if (strcmp(want, got) != 0)
		print_message("patch:\n%s", patch.data);
	assert_string_equal(got, want);
	/* The real tree itself was never touched. */
	free(got);
	got = manifest(d.lower);
	assert_null(strstr(got, "new dir"));
	assert_non_null(strstr(got, "deldir/sub/c"));

	/* And the patch reverses cleanly: git apply -R restores the original. */
	cpargv[0] = git;
	cpargv[1] = apply;
	cpargv[2] = (char *)"-R";
	cpargv[3] = pfile;
	cpargv[4] = NULL;
	assert_int_equal(spawn(d.copy, cpargv, d.base), 0);
	free(want);
	want = manifest(d.lower);
	free(got);
	got = manifest(d.copy);
	assert_string_equal(got, want);

	free(want);
	free(got);
	free(pfile);
	buf_free(&patch);
	changes_free(&ch);
	rm_at(AT_FDCWD, d.base);
	free(d.base);
	free(d.lower);
	free(d.upper);
	free(d.work);
	free(d.merged);
	free(d.expect);
	free(d.copy);
}

/* diff_read never follows a symlink, in the path or at its end. */
static void
test_diff_read_no_follow(void **state)
{
	const char	*tmp = getenv("TMPDIR");
	char		*base, *p, *data, *cause = NULL;
	size_t		 len;

	base = xasprintf("%s/airlock-read-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(base));
	p = xasprintf("%s/real", base);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/real/secret", base);
	assert_int_equal(cput(p, "secret\n", 0644), 0);
	free(p);
	p = xasprintf("%s/link", base);
	assert_int_equal(symlink("real", p), 0);
	free(p);
	p = xasprintf("%s/filelink", base);
	assert_int_equal(symlink("real/secret", p), 0);
	free(p);

	data = diff_read(base, "real/secret", ENTRY_FILE, &len, &cause);
	assert_non_null(data);
	assert_int_equal(len, 7);
	assert_memory_equal(data, "secret\n", 7);
	free(data);
	assert_null(diff_read(base, "link/secret", ENTRY_FILE, &len, &cause));
	assert_non_null(strstr(cause, "link/secret"));
	free(cause);
	cause = NULL;
	assert_null(diff_read(base, "filelink", ENTRY_FILE, &len, &cause));
	free(cause);
	cause = NULL;
	data = diff_read(base, "filelink", ENTRY_SYMLINK, &len, &cause);
	assert_non_null(data);
	assert_string_equal(data, "real/secret");
	assert_int_equal(len, 11);
	free(data);
	assert_null(diff_read(base, "../etc/passwd", ENTRY_FILE, &len, &cause));
	free(cause);
	cause = NULL;
	assert_null(diff_read(base, "real/../real/secret", ENTRY_FILE, &len,
	    &cause));
	free(cause);
	cause = NULL;
	assert_null(diff_read(base, "/etc/passwd", ENTRY_FILE, &len, &cause));
	free(cause);
	rm_at(AT_FDCWD, base);
	free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_modify),
		cmocka_unit_test(test_diff_add_delete),
		cmocka_unit_test(test_diff_modes),
		cmocka_unit_test(test_diff_symlinks),
		cmocka_unit_test(test_diff_binary),
		cmocka_unit_test(test_diff_names),
		cmocka_unit_test(test_diff_stat),
		cmocka_unit_test(test_round_trip_git_apply),
		cmocka_unit_test(test_diff_read_no_follow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

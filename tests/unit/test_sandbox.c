#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* A fake /proc and /lib/modules in a temporary directory. */
struct fake {
	char *dir;
	char *proc;
	char *mod;
};

static void
fake_put(const char *dir, const char *rel, const char *text)
{
	char *path = path_join(dir, rel), *parent = xstrdup(path), *cause = NULL;
	FILE *f;

	*strrchr(parent, '/') = '\0';
	assert_int_equal(path_mkdirs(parent, 0755, &cause), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(parent);
	free(path);
}

static int
fake_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fake *f = xcalloc(1, sizeof *f);

	f->dir = xasprintf("%s/test_sandbox.XXXXXX", tmp != NULL && *tmp != '\0' ?
	    tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->proc = path_join(f->dir, "proc");
	f->mod = path_join(f->dir, "modules");
	fake_put(f->proc, "filesystems", "nodev\tsysfs\nnodev\ttmpfs\n"
	    "\text4\nnodev\toverlay\n");
	*state = f;
	return 0;
}

static int
fake_teardown(void **state)
{
	struct fake *f = *state;
	char *cause = NULL;

	if (path_remove_tree(f->dir, &cause) != 0)
		free(cause);
	free(f->dir);
	free(f->proc);
	free(f->mod);
	free(f);
	return 0;
}

/* the end of check_at's list (a bare NULL may be an int) */
#define END ((const char *)NULL)

/* sandbox_check_at: 0 and no cause, or -1 and a cause holding each of the
 * NULL-terminated wanted strings. */
static void
check_at(struct fake *f, const char *release, uid_t euid, ...)
{
	char *cause = NULL;
	const char *want;
	va_list ap;
	int rc, expect_error;

	rc = sandbox_check_at(f->proc, f->mod, release, euid, &cause);
	va_start(ap, euid);
	want = va_arg(ap, const char *);
	expect_error = want != NULL;
	if (!expect_error) {
		if (rc != 0)
			fail_msg("unexpected error: %s", cause);
		assert_null(cause);
	} else {
		assert_int_equal(rc, -1);
		assert_non_null(cause);
		for (; want != NULL; want = va_arg(ap, const char *)) {
			if (strstr(cause, want) == NULL)
				fail_msg("\"%s\" lacks \"%s\"", cause, want);
		}
		/* a cause is lower-case prose, not a sentence with a prefix */
		assert_null(strstr(cause, "airlock:"));
	}
	va_end(ap);
	free(cause);
}

static void
test_check_release(void **state)
{
	struct fake *f = *state;

	check_at(f, "6.18.44-fc-v657", 1000, END);
	check_at(f, "5.11.0", 1000, END);
	check_at(f, "5.15.0-91-generic", 0, END);
	check_at(f, "10.0", 1000, END);
	check_at(f, "5.100", 1000, END);
	check_at(f, "4.19.0-25-amd64", 1000, "Linux 4.19.0-25-amd64 is too old",
	    "5.11 or later", END);
	check_at(f, "5.10.209", 0, "Linux 5.10.209 is too old", END);
	check_at(f, "5.9", 0, "too old", END);
	/* nothing a version can be read from */
	check_at(f, "", 0, "cannot read the kernel version from \"\"", END);
	check_at(f, "linux", 0, "cannot read the kernel version", END);
	check_at(f, "6", 0, "cannot read the kernel version", END);
	check_at(f, "6.", 0, "cannot read the kernel version", END);
	check_at(f, "v6.1", 0, "cannot read the kernel version", END);
	check_at(f, "-6.1", 0, "cannot read the kernel version", END);
	check_at(f, " 6.1", 0, "cannot read the kernel version", END);
	check_at(f, "6.-1", 0, "cannot read the kernel version", END);
}

static void
test_check_overlay(void **state)
{
	struct fake *f = *state;
	char *path;

	fake_put(f->proc, "filesystems", "nodev\tsysfs\n\text4\n"
	    "nodev\toverlayfs\nnodev\tmyoverlay\noverlay2\n");
	check_at(f, "6.1.0", 0, "overlayfs is not available",
	    "modprobe overlay", END);
	check_at(f, "6.1.0", 1000, "overlayfs is not available", END);
	/* no newline at the end, first or only line */
	fake_put(f->proc, "filesystems", "nodev\toverlay");
	check_at(f, "6.1.0", 0, END);
	fake_put(f->proc, "filesystems", "nodev\tsysfs\nnodev\toverlay\n");
	check_at(f, "6.1.0", 0, END);
	/* not loaded but installed: the first mount loads it */
	fake_put(f->proc, "filesystems", "nodev\tsysfs\n");
	check_at(f, "6.1.0", 0, "overlayfs is not available", END);
	fake_put(f->mod, "6.1.0/kernel/fs/overlayfs/overlay.ko.xz", "");
	check_at(f, "6.1.0", 0, END);
	check_at(f, "6.2.0", 0, "overlayfs is not available", END);
	/* no /proc/filesystems at all */
	path = path_join(f->proc, "filesystems");
	assert_int_equal(unlink(path), 0);
	free(path);
	check_at(f, "6.2.0", 0, "cannot tell whether overlayfs is available",
	    END);
}

static void
test_check_userns(void **state)
{
	struct fake *f = *state;

	/* absent sysctls: nothing to say */
	check_at(f, "6.1.0", 1000, END);
	fake_put(f->proc, "sys/kernel/unprivileged_userns_clone", "0\n");
	check_at(f, "6.1.0", 1000, "unprivileged user namespaces are disabled",
	    "kernel.unprivileged_userns_clone = 0",
	    "sysctl -w kernel.unprivileged_userns_clone=1", "run airlock as root",
	    END);
	/* root needs no user namespace */
	check_at(f, "6.1.0", 0, END);
	fake_put(f->proc, "sys/kernel/unprivileged_userns_clone", "1\n");
	check_at(f, "6.1.0", 1000, END);
	fake_put(f->proc, "sys/user/max_user_namespaces", "0\n");
	check_at(f, "6.1.0", 1000, "user namespaces are disabled",
	    "user.max_user_namespaces = 0",
	    "sysctl -w user.max_user_namespaces=15000", END);
	check_at(f, "6.1.0", 0, END);
	fake_put(f->proc, "sys/user/max_user_namespaces", "63432\n");
	check_at(f, "6.1.0", 1000, END);
	/* values that are not one number are not guessed at */
	fake_put(f->proc, "sys/user/max_user_namespaces", "");
	check_at(f, "6.1.0", 1000, END);
	fake_put(f->proc, "sys/user/max_user_namespaces", "0 0\n");
	check_at(f, "6.1.0", 1000, END);
	fake_put(f->proc, "sys/user/max_user_namespaces", "zero\n");
	check_at(f, "6.1.0", 1000, END);
	fake_put(f->proc, "sys/user/max_user_namespaces", "0x0\n");
	check_at(f, "6.1.0", 1000, END);
	fake_put(f->proc, "sys/kernel/unprivileged_userns_clone", "0");
	check_at(f, "6.1.0", 1000, "kernel.unprivileged_userns_clone = 0",
	    END);
}

static void
test_check_apparmor(void **state)
{
	struct fake *f = *state;

	fake_put(f->proc, "sys/kernel/apparmor_restrict_unprivileged_userns",
	    "1\n");
	/* no AppArmor attribute: unconfined */
	check_at(f, "6.5.0", 1000, "AppArmor restricts unprivileged user "
	    "namespaces", "kernel.apparmor_restrict_unprivileged_userns = 1",
	    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
	    "AppArmor profile for airlock", END);
	check_at(f, "6.5.0", 0, END);
	fake_put(f->proc, "self/attr/current", "unconfined\n");
	check_at(f, "6.5.0", 1000, "apparmor_restrict_unprivileged_userns",
	    END);
	/* confined by a profile (which may allow userns): let clone decide */
	fake_put(f->proc, "self/attr/current", "airlock (enforce)\n");
	check_at(f, "6.5.0", 1000, END);
	/* the newer per-LSM file wins */
	fake_put(f->proc, "self/attr/apparmor/current", "unconfined");
	check_at(f, "6.5.0", 1000, "AppArmor restricts", END);
	fake_put(f->proc, "sys/kernel/apparmor_restrict_unprivileged_userns",
	    "0\n");
	check_at(f, "6.5.0", 1000, END);
}

static size_t
subids(const char *text, const char *name, unsigned long id,
    struct subid_range *r, size_t max)
{
	return sandbox_subid_ranges(text, strlen(text), name, id, r, max);
}

static void
test_subid_ranges(void **state)
{
	struct subid_range r[8];
	static const char text[] =
	    "# comment\n"
	    "tester:100000:65536\n"
	    "other:200000:65536\n"
	    "\n"
	    "1001:300000:10\n"
	    "bad line\n"
	    " tester:1:1\n"
	    "tester :2:1\n"
	    "tester:abc:1\n"
	    "tester:-5:1\n"
	    "tester:+5:1\n"
	    "tester:5:0\n"
	    "tester:5: 1\n"
	    "tester:5:1x\n"
	    "tester::\n"
	    "tester:99999999999999999999999:1\n"
	    "tester:4294967295:1\n"
	    "tester:4294967290:10\n"
	    "tester:4294967294:1";  /* the last id there is, no newline */
	size_t n;

	n = subids(text, "tester", 1001, r, 8);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].start, 100000);
	assert_int_equal(r[0].count, 65536);
	assert_int_equal(r[1].start, 300000); /* by uid */
	assert_int_equal(r[1].count, 10);
	assert_int_equal(r[2].start, 4294967294UL);
	assert_int_equal(r[2].count, 1);
	/* no name: by number only */
	assert_int_equal(subids(text, NULL, 1001, r, 8), 1);
	assert_int_equal(r[0].start, 300000);
	assert_int_equal(subids(text, "nobody-here", 5, r, 8), 0);
	/* a prefix of a name is not the name */
	assert_int_equal(subids("testers:1:1\ntest:1:1\n", "tester", 7, r, 8),
	    0);
	/* max is respected */
	assert_int_equal(subids(text, "tester", 1001, r, 1), 1);
	assert_int_equal(subids(text, "tester", 1001, r, 0), 0);
	/* the caller's own id is mapped alone: the range is split round it */
	assert_int_equal(subids("u:1000:10\n", "u", 1005, r, 8), 2);
	assert_int_equal(r[0].start, 1000);
	assert_int_equal(r[0].count, 5);
	assert_int_equal(r[1].start, 1006);
	assert_int_equal(r[1].count, 4);
	assert_int_equal(subids("u:1000:10\n", "u", 1000, r, 8), 1);
	assert_int_equal(r[0].start, 1001);
	assert_int_equal(r[0].count, 9);
	assert_int_equal(subids("u:1000:10\n", "u", 1009, r, 8), 1);
	assert_int_equal(r[0].count, 9);
	assert_int_equal(subids("u:1000:1\n", "u", 1000, r, 8), 0);
	/* a NUL byte or an overlong line is skipped, the rest still read */
	assert_int_equal(sandbox_subid_ranges("u:1:1\0u:2:2\nu:3:3\n", 18, "u",
	    9, r, 8), 1);
	assert_int_equal(r[0].start, 3);
}

static void
test_subid_long_line(void **state)
{
	struct subid_range r[2];
	char text[1024];

	memset(text, '9', sizeof text);
	memcpy(text, "u:", 2);
	text[600] = '\n';
	text[sizeof text - 1] = '\0';
	memcpy(text + 601, "u:7:1\n", 7);
	assert_int_equal(subids(text, "u", 9, r, 2), 1);
	assert_int_equal(r[0].start, 7);
}

static void
check_options(const char *lower, const char *upper, const char *work,
    int userxattr, const char *want)
{
	struct buf b = BUF_INIT;

	warden_overlay_options(&b, lower, upper, work, userxattr);
	assert_string_equal(b.data, want);
	buf_free(&b);
}

static void
test_overlay_options(void **state)
{
	check_options("/home/u/proj", "/s/upper", "/s/work", 0,
	    "lowerdir=/home/u/proj,upperdir=/s/upper,workdir=/s/work,"
	    "index=off,redirect_dir=nofollow,metacopy=off");
	check_options("/l", "/u", "/w", 1,
	    "lowerdir=/l,upperdir=/u,workdir=/w,"
	    "index=off,redirect_dir=nofollow,metacopy=off,userxattr");
	/* the option parser splits on , and lowerdir on :, \ escapes */
	check_options("/a,b:c\\d", "/up,per", "/wo:rk", 0,
	    "lowerdir=/a\\,b\\:c\\\\d,upperdir=/up\\,per,workdir=/wo\\:rk,"
	    "index=off,redirect_dir=nofollow,metacopy=off");
	/* an attempt to smuggle options in a path stays inside the path */
	check_options("/x,upperdir=/etc", "/u", "/w", 0,
	    "lowerdir=/x\\,upperdir=/etc,upperdir=/u,workdir=/w,"
	    "index=off,redirect_dir=nofollow,metacopy=off");
	/* other bytes pass as they are */
	check_options("/sp ace/\n/\xff=", "/u", "/w", 0,
	    "lowerdir=/sp ace/\n/\xff=,upperdir=/u,workdir=/w,"
	    "index=off,redirect_dir=nofollow,metacopy=off");
}

/* warden_mountinfo_parse on a copy of line; returns the mount point. */
static char *
parse(const char *line, int *id, int *parent)
{
	char *copy = xstrdup(line), *mp = NULL, *out = NULL;

	if (warden_mountinfo_parse(copy, id, parent, &mp) == 0)
		out = xstrdup(mp);
	free(copy);
	return out;
}

static void
check_bad_mountinfo(const char *line)
{
	int id, parent;
	char *mp = parse(line, &id, &parent);

	if (mp != NULL)
		fail_msg("accepted \"%s\" as \"%s\"", line, mp);
}

static void
test_mountinfo(void **state)
{
	int id = -1, parent = -1;
	char *mp;

	mp = parse("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 "
	    "/dev/root rw,errors=continue", &id, &parent);
	assert_string_equal(mp, "/mnt2");
	assert_int_equal(id, 36);
	assert_int_equal(parent, 35);
	free(mp);
	mp = parse("1 0 0:1 / / rw - rootfs rootfs rw", &id, &parent);
	assert_string_equal(mp, "/");
	assert_int_equal(parent, 0);
	free(mp);
	/* the kernel escapes space, tab, newline and backslash in octal */
	mp = parse("2147483647 7 0:5 / /a\\040b\\011c\\012d\\134e rw - tmpfs "
	    "x rw", &id, &parent);
	assert_string_equal(mp, "/a b\tc\nd\\e");
	assert_int_equal(id, 2147483647);
	free(mp);
	mp = parse("5 1 0:5 / /\\377 rw - tmpfs x rw", &id, &parent);
	assert_string_equal(mp, "/\xff");
	free(mp);
	check_bad_mountinfo("");
	check_bad_mountinfo("36 35 98:0 /mnt1");
	check_bad_mountinfo("36 35 98:0 /mnt1 /mnt2");
	check_bad_mountinfo("36  35 98:0 /mnt1 /mnt2 rw - x y rw");
	check_bad_mountinfo("x6 35 98:0 / /mnt2 rw - x y rw");
	check_bad_mountinfo("-1 35 98:0 / /mnt2 rw - x y rw");
	check_bad_mountinfo("36 35a 98:0 / /mnt2 rw - x y rw");
	check_bad_mountinfo("2147483648 35 98:0 / /mnt2 rw - x y rw");
	check_bad_mountinfo("99999999999999999999 1 0:1 / /m rw - x y rw");
	check_bad_mountinfo("36 35 98:0 / mnt2 rw - x y rw");
	check_bad_mountinfo("36 35 98:0 / /m\\9 rw - x y rw");
	check_bad_mountinfo("36 35 98:0 / /m\\04 rw - x y rw");
	check_bad_mountinfo("36 35 98:0 / /m\\ rw - x y rw");
	check_bad_mountinfo("36 35 98:0 / /m\\400 rw - x y rw");
	/* a NUL would cut the path short */
	check_bad_mountinfo("36 35 98:0 / /m\\000x rw - x y rw");
}

static void
test_warden_messages(void **state)
{
	struct warden_msg m;
	char long_text[3000];
	int sv[2], rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(warden_send(sv[0], WARDEN_SIGNAL, 15, NULL), 0);
	assert_int_equal(warden_recv(sv[1], &m), 1);
	assert_int_equal(m.type, WARDEN_SIGNAL);
	assert_int_equal(m.value, 15);
	assert_string_equal(m.text, "");
	assert_int_equal(warden_send(sv[1], WARDEN_ERROR, 0,
	    "mount overlay on /p: Invalid argument"), 0);
	assert_int_equal(warden_recv(sv[0], &m), 1);
	assert_int_equal(m.type, WARDEN_ERROR);
	assert_string_equal(m.text, "mount overlay on /p: Invalid argument");
	/* too long: cut, still terminated */
	memset(long_text, 'x', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	assert_int_equal(warden_send(sv[0], WARDEN_ERROR, 0, long_text), 0);
	assert_int_equal(warden_recv(sv[1], &m), 1);
	assert_int_equal(strlen(m.text), sizeof m.text - 1);
	/* a packet shorter than the header is refused */
	assert_int_equal(send(sv[0], "x", 1, 0), 1);
	errno = 0;
	assert_int_equal(warden_recv(sv[1], &m), -1);
	assert_int_equal(errno, EPROTO);
	/* a text without its NUL is terminated by the receiver */
	memset(&m, 'y', sizeof m);
	m.type = WARDEN_ERROR;
	assert_int_equal(send(sv[0], &m, sizeof m, 0), (ssize_t)sizeof m);
	memset(&m, 0, sizeof m);
	assert_int_equal(warden_recv(sv[1], &m), 1);
	assert_int_equal(strlen(m.text), sizeof m.text - 1);
	/* the peer gone */
	close(sv[0]);
	rc = warden_recv(sv[1], &m);
	assert_int_equal(rc, 0);
	close(sv[1]);
}

static void
test_start_refusals(void **state)
{
	struct plan_entry entries[] = {
		{ PLAN_TMP, "/home/u", "default" },
		{ PLAN_TREE, "/home/u/other", "the real tree" },
	};
	struct plan plan = { .v = entries, .n = 2 };
	char *argv[] = { "true", NULL };
	struct sandbox_config cfg = { 0 };
	struct sandbox sb;
	char *cause = NULL;

	cfg.tree = "/home/u/proj";
	cfg.plan = &plan;
	cfg.argv = argv;
	cfg.net = NET_ALLOW;
	assert_int_equal(sandbox_start(&cfg, &sb, &cause), -1);
	assert_string_equal(cause, "the mount plan has no overlay for the "
	    "real tree /home/u/proj");
	free(cause);
	cfg.argv = NULL;
	assert_int_equal(sandbox_start(&cfg, &sb, &cause), -1);
	assert_string_equal(cause, "no command to run");
	free(cause);
	/* nothing was started */
	assert_int_equal(sb.warden, -1);
	assert_int_equal(sb.sock, -1);
	assert_int_equal(sandbox_wait(&sb, &cause), -1);
	assert_string_equal(cause, "no sandbox to wait for");
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_release, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(test_check_overlay, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(test_check_userns, fake_setup,
		    fake_teardown),
		cmocka_unit_test_setup_teardown(test_check_apparmor, fake_setup,
		    fake_teardown),
		cmocka_unit_test(test_subid_ranges),
		cmocka_unit_test(test_subid_long_line),
		cmocka_unit_test(test_overlay_options),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_warden_messages),
		cmocka_unit_test(test_start_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

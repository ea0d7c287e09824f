/*
 * Rejecting a change of a running session. Only the warden may change the
 * merged view (overlayfs forbids touching the upper dir under a mounted
 * overlay), so the supervisor turns the reject into one rollback operation
 * for it: the real tree's path back, or the scratch file with some hunks
 * taken out, given as a memfd. The change is looked up in a fresh scan of
 * the scratch, so the hunks are numbered as `airlock diff` numbers them
 * now. An ended session's scratch is edited by airlock reject itself
 * (cmd-approve.c).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* The change at path, or NULL. */
static const struct change *
reject_find(const struct changes *cs, const char *path)
{
	size_t len = strlen(path), i;

	for (i = 0; i < cs->n; i++) {
		if (cs->v[i].pathlen == len &&
		    memcmp(cs->v[i].path, path, len) == 0)
			return &cs->v[i];
	}
	return NULL;
}

/* A memfd holding len bytes of data, or -1 with *cause. */
static int
reject_memfd(const char *data, size_t len, char **cause)
{
	int fd = memfd_create("airlock-reject", MFD_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		*cause = xasprintf("memfd_create: %s", strerror(errno));
		return -1;
	}
	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*cause = xasprintf("cannot write a memfd: %s",
			    strerror(errno));
			close(fd);
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return fd;
}

/* The scratch's text file with the given hunks taken out, as a memfd;
 * -1 with *cause. */
static int
reject_hunks_fd(const struct session *s, const char *upper,
    const struct change *c, const size_t *hunks, size_t nhunks, char **cause)
{
	struct change_sides sides;
	struct buf res = BUF_INIT;
	unsigned char *pick;
	size_t i;
	int fd = -1;

	if (change_sides_load(c, s->tree, upper, NULL, &sides, cause) != 0)
		return -1;
	if (!sides.text || c->new_type != ENTRY_FILE) {
		*cause = xstrdup("--hunk: not a text change (reject it whole)");
		change_sides_free(&sides);
		return -1;
	}
	pick = xmalloc(sides.hunks.n + 1);
	memset(pick, 1, sides.hunks.n);
	for (i = 0; i < nhunks; i++) {
		if (hunks[i] == 0 || hunks[i] > sides.hunks.n) {
			*cause = xasprintf("--hunk %zu: the change has %zu hunk%s",
			    hunks[i], sides.hunks.n,
			    sides.hunks.n == 1 ? "" : "s");
			goto out;
		}
		pick[hunks[i] - 1] = 0;
	}
	if (hunks_apply(sides.old, sides.oldlen, sides.new, sides.newlen, pick,
	    sides.hunks.n, &res, cause) == 0)
		fd = reject_memfd(res.data, res.len, cause);
out:
	buf_free(&res);
	free(pick);
	change_sides_free(&sides);
	return fd;
}

static struct rollback_op *
reject_add(struct rollback_plan *plan, enum rollback_kind kind,
    const char *path, size_t len, uint32_t mode)
{
	struct rollback_op *op;

	plan->v = xreallocarray(plan->v, plan->n + 1, sizeof *plan->v);
	op = &plan->v[plan->n++];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->path = xstrndup(path, len);
	op->mode = mode;
	return op;
}

/*
 * The directories above path that the scratch deleted come back first,
 * empty, with the real tree's modes: only the path is rejected, not the
 * deletion of its neighbours. A directory above it replaced by something
 * else is refused: rejecting that change brings the path back with it.
 */
static int
reject_parents(const char *tree, const char *upper, const char *path,
    struct rollback_plan *plan, char **cause)
{
	AUTOCLOSE int ufd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	AUTOCLOSE int tfd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
	const char *slash;
	int gone = 0;

	if (ufd < 0 || tfd < 0) {
		*cause = xasprintf("cannot open %s: %s", ufd < 0 ? upper : tree,
		    strerror(errno));
		return -1;
	}
	for (slash = strchr(path, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		AUTOFREE char *prefix = xstrndup(path, (size_t)(slash - path));
		AUTOCLOSE int udir = -1, tdir = -1;
		const char *name;
		struct mentry e;
		struct stat sb;
		int got = 1, error;

		if (!gone) {
			/* absent from upper: the real tree's shows through */
			memset(&e, 0, sizeof e);
			if ((udir = beneath_parent(ufd, prefix, &name)) >= 0 &&
			    (got = dirtree_stat(udir, name, DIRTREE_UPPER, &e,
			    cause)) < 0)
				return -1;
			gone = got == 0 && e.kind == MENTRY_WHITEOUT;
			error = got == 0 && !gone && e.kind != MENTRY_DIR;
			mentry_free(&e);
			if (error) {
				*cause = xstrdup("a directory above it was "
				    "replaced in the scratch: reject that change "
				    "instead");
				return -1;
			}
			if (!gone)
				continue;
		}
		/* the real tree has it: the change's old side is below */
		error = ENOTDIR;
		if ((tdir = beneath_parent(tfd, prefix, &name)) < 0 ||
		    fstatat(tdir, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			error = errno;
		else if (S_ISDIR(sb.st_mode))
			error = 0;
		if (error != 0) {
			*cause = xasprintf("the real tree's directory above it: "
			    "%s", strerror(error));
			return -1;
		}
		reject_add(plan, ROLLBACK_MKDIR, prefix, strlen(prefix),
		    sb.st_mode & 07777);
	}
	return 0;
}

/* The operations that reject change c; *fd: a ROLLBACK_FILE's content. */
static int
reject_plan(const struct session *s, const char *upper,
    const struct change *c, const size_t *hunks, size_t nhunks,
    struct rollback_plan *plan, int *fd, char **cause)
{
	if (nhunks > 0) {
		*fd = reject_hunks_fd(s, upper, c, hunks, nhunks, cause);
		if (*fd < 0)
			return -1;
		/* the content comes as the fd: the op's hash stays unused */
		reject_add(plan, ROLLBACK_FILE, c->path, c->pathlen,
		    c->new_mode & 07777);
		return 0;
	}
	if (c->old_type == ENTRY_DIR && c->new_type == ENTRY_DIR) {
		/* its mode alone: the directory stays, with a shell in it */
		reject_add(plan, ROLLBACK_CHMOD, c->path, c->pathlen,
		    c->old_mode & 07777);
		return 0;
	}
	if (c->old_type != ENTRY_NONE &&
	    reject_parents(s->tree, upper, c->path, plan, cause) != 0)
		return -1;
	reject_add(plan, ROLLBACK_LOWER, c->path, c->pathlen, 0);
	return 0;
}

static int
reject_locked(struct store *st, const struct session *s, struct sandbox *sb,
    const char *path, const size_t *hunks, size_t nhunks, uint32_t *now,
    char **cause)
{
	AUTOFREE char *upper = session_upper(s);
	AUTOCLOSE int fd = -1;
	struct changes cs = { 0 };
	struct rollback_plan plan = { 0 };
	const struct change *c;
	struct ckpt_options o;
	struct buf shown = BUF_INIT;
	size_t i;
	int rc = -1;

	if (changes_scan(upper, s->tree, &cs, cause) != 0)
		return -1;
	if ((c = reject_find(&cs, path)) == NULL) {
		quote_path(&shown, path, strlen(path), QUOTE_SPACE);
		*cause = xasprintf("%s: no change there (airlock status lists "
		    "them)", shown.data);
		goto out;
	}
	if (reject_plan(s, upper, c, hunks, nhunks, &plan, &fd, cause) != 0)
		goto out;
	for (i = 0; i < plan.n; i++) {
		if (sandbox_apply(sb, &plan.v[i], plan.v[i].kind ==
		    ROLLBACK_FILE ? fd : -1, cause) == 0)
			continue;
		if (sb->exited) {
			free(*cause);
			*cause = xstrdup("the command exited meanwhile: reject "
			    "again once its session has ended");
		}
		goto out;
	}
	memset(&o, 0, sizeof o);
	o.reason = "reject";
	o.threads = session_checkpoint_threads();
	o.restored_from = CKPT_NONE;
	rc = session_checkpoint(st, s, &o, now, NULL, cause);
out:
	rollback_plan_free(&plan);
	buf_free(&shown);
	changes_free(&cs);
	return rc;
}

int
reject_session(struct store *st, const struct session *s, struct sandbox *sb,
    const char *path, const size_t *hunks, size_t nhunks, uint32_t *now,
    char **cause)
{
	int lock = rollback_promote_lock(s, "reject", cause), rc;

	if (lock < 0)
		return -1;
	rc = reject_locked(st, s, sb, path, hunks, nhunks, now, cause);
	close(lock);
	return rc;
}

static int
reject_write_locked(struct store *st, const struct session *s,
    struct sandbox *sb, const char *path, int fd, mode_t mode,
    uint32_t *now, char **cause)
{
	struct rollback_op op;
	struct ckpt_options o;

	memset(&op, 0, sizeof op);
	op.kind = ROLLBACK_FILE;
	op.path = (char *)path;
	op.mode = (uint32_t)(mode & 0777);  /* never setuid from an edit */
	if (sandbox_apply(sb, &op, fd, cause) != 0) {
		if (sb->exited) {
			free(*cause);
			*cause = xstrdup("the command exited meanwhile");
		}
		return -1;
	}
	memset(&o, 0, sizeof o);
	o.reason = "edit";
	o.threads = session_checkpoint_threads();
	o.restored_from = CKPT_NONE;
	return session_checkpoint(st, s, &o, now, NULL, cause);
}

int
edit_session(struct store *st, const struct session *s, struct sandbox *sb,
    const char *path, int fd, mode_t mode, uint32_t *now, char **cause)
{
	int lock = rollback_promote_lock(s, "edit", cause), rc;

	if (lock < 0)
		return -1;
	rc = reject_write_locked(st, s, sb, path, fd, mode, now, cause);
	close(lock);
	return rc;
}

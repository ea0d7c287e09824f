/*
 * Rolling a session back to checkpoint N. History is only ever appended:
 * the state before is checkpointed first (when it changed), and the result
 * is recorded as a new checkpoint that says it equals N, so a rollback is
 * undone by rolling back to the checkpoint before it.
 *
 * A running session is rolled back by its supervisor through the warden,
 * which changes the merged view while the agent keeps running (overlayfs
 * forbids touching the upper dir under a mounted overlay); one that does not
 * run is restored in its scratch directly (restore_upper). When the command
 * exits halfway through a live rollback, the rollback is finished that way
 * once the sandbox is gone: the supervisor doing it holds the session's
 * lock, and takes the exit checkpoint only after it.
 *
 * promote.lock in the session's directory is the promotion's: a rollback
 * refuses to start while a promotion holds it, and holds it meanwhile so
 * that no promotion starts halfway through.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

int
rollback_promote_lock(const struct session *s, const char *verb,
    char **cause)
{
	AUTOFREE char *path = path_join(s->dir, ROLLBACK_PROMOTE_LOCK);
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*cause = xasprintf("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		*cause = errno == EWOULDBLOCK ?
		    xasprintf("a promotion of session %u is in progress (or a "
		    "rollback or reject): %s once it is done", s->id, verb) :
		    xasprintf("cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * At most this many operations in flight to the warden, and this many bytes
 * of file content in their memfds (one operation always goes): the warden
 * applies one while the next is prepared, and no answer is waited for
 * before the next is sent.
 */
#define ROLLBACK_IN_FLIGHT 16
#define ROLLBACK_IN_FLIGHT_BYTES ((off_t)64 << 20)

/* One operation to the warden, with a file's content in a memfd; *bytes
 * gets the content's size (0 for other operations). */
static int
rollback_send(struct store *st, struct sandbox *sb,
    const struct rollback_op *op, int first, off_t *bytes, char **cause)
{
	AUTOCLOSE int fd = -1;
	struct stat sb_fd;

	*bytes = 0;
	if (op->kind == ROLLBACK_FILE) {
		fd = memfd_create("airlock-rollback", MFD_CLOEXEC);
		if (fd < 0) {
			*cause = xasprintf("memfd_create: %s", strerror(errno));
			return -1;
		}
		if (blob_write_fd(st, op->hash, fd, cause) != 0)
			return -1;
		if (fstat(fd, &sb_fd) == 0)
			*bytes = sb_fd.st_size;
	}
	return sandbox_apply_send(sb, op, fd, first, cause);
}

struct rollback_bases_arg {
	struct store *st;
	uint32_t owner;
};

static int
rollback_base_get(void *arg, const char *path, struct mentry *e,
    char **cause)
{
	struct rollback_bases_arg *a = arg;

	return checkpoint_base(a->st, a->owner, path, strlen(path), e, cause);
}

/* The paths a rollback copied from the real tree (its checkpoint takes
 * them for the real tree's: copies.c). */
struct rollback_copied {
	char **v;
	size_t n;
};

static void
rollback_copied_free(struct rollback_copied *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

/* The live way: plan from checkpoint from (the state now) to to; *copied
 * gets the paths copied from the real tree. */
static int
rollback_live(struct store *st, const struct session *s, struct sandbox *sb,
    uint32_t from, uint32_t to, struct rollback_copied *copied, char **cause)
{
	struct manifest cur = { 0 }, target = { 0 };
	struct rollback_plan plan = { 0 };
	struct rollback_bases_arg barg = { st, s->id };
	struct rollback_bases bases = { rollback_base_get, &barg };
	off_t bytes[ROLLBACK_IN_FLIGHT], flying = 0;
	size_t sent = 0, done = 0;
	char *why = NULL;
	int rc = -1, failed = 0;

	if (checkpoint_manifest(st, s->id, from, &cur, cause) != 0 ||
	    checkpoint_manifest(st, s->id, to, &target, cause) != 0 ||
	    rollback_plan_make(&cur, &target, s->tree, &bases, &plan,
	    cause) != 0)
		goto out;
	/* the operations in order, several in flight; after the first
	 * failure nothing more is sent, and the answers of those in flight
	 * (skipped by the warden) are read: the first failure is the cause */
	for (;;) {
		while (!failed && sent < plan.n &&
		    sent - done < ROLLBACK_IN_FLIGHT &&
		    (sent == done || flying < ROLLBACK_IN_FLIGHT_BYTES)) {
			off_t *b = &bytes[sent % ROLLBACK_IN_FLIGHT];

			if (rollback_send(st, sb, &plan.v[sent], sent == 0, b,
			    cause) != 0) {
				failed = 1;
				break;
			}
			flying += *b;
			sent++;
		}
		if (done == sent)
			break;
		/* a warden gone or a command exited answers the rest at
		 * once */
		if (sandbox_apply_wait(sb, failed ? &why : cause) != 0) {
			free(why);
			why = NULL;
			failed = 1;
		}
		flying -= bytes[done % ROLLBACK_IN_FLIGHT];
		done++;
	}
	if (failed)
		goto out;
	for (sent = 0; sent < plan.n; sent++) {
		if (plan.v[sent].kind != ROLLBACK_LOWER)
			continue;
		copied->v = xreallocarray(copied->v, copied->n + 1,
		    sizeof *copied->v);
		copied->v[copied->n++] = xstrdup(plan.v[sent].path);
	}
	rc = 0;
out:
	rollback_plan_free(&plan);
	manifest_free(&target);
	manifest_free(&cur);
	return rc;
}

/* The scratch of a session that does not run, restored in place. */
static int
rollback_offline(struct store *st, const struct session *s, uint32_t to,
    char **cause)
{
	AUTOFREE char *upper = session_upper(s);
	struct manifest m = { 0 };
	int rc;

	if (checkpoint_manifest(st, s->id, to, &m, cause) != 0)
		return -1;
	/* the overlay of an unprivileged airlock keeps user.* xattrs */
	rc = restore_upper(st, upper, &m, geteuid() != 0, cause);
	manifest_free(&m);
	return rc;
}

/*
 * The live way, or when the command exits meanwhile, the offline way once
 * its sandbox is gone (*offline set). 0 or -1 with *cause.
 */
static int
rollback_apply(struct store *st, const struct session *s, struct sandbox *sb,
    uint32_t before, uint32_t to, int *offline,
    struct rollback_copied *copied, char **cause)
{
	*offline = sb == NULL;
	if (sb == NULL)
		return rollback_offline(st, s, to, cause);
	if (rollback_live(st, s, sb, before, to, copied, cause) == 0)
		return 0;
	rollback_copied_free(copied);
	if (!sandbox_ended(sb))
		return -1;
	free(*cause);
	*cause = NULL;
	*offline = 1;
	return rollback_offline(st, s, to, cause);
}

static int
rollback_locked(struct store *st, const struct session *s,
    struct sandbox *sb, uint32_t to, uint32_t *now, char **cause)
{
	struct ckpt_options o;
	struct ckpt c;
	AUTOFREE char *label = xasprintf("before rollback to %u", to);
	struct rollback_copied copied = { NULL, 0 };
	char *why = NULL;
	uint32_t before;
	int rc, offline;

	rc = checkpoint_get(st, s->id, to, &c, cause);
	if (rc != 0) {
		if (rc == 1)
			*cause = xasprintf("session %u has no checkpoint %u",
			    s->id, to);
		return -1;
	}
	ckpt_free(&c);
	memset(&o, 0, sizeof o);
	o.reason = "user";
	o.label = label;
	o.threads = session_checkpoint_threads();
	o.restored_from = CKPT_NONE;
	if (session_checkpoint(st, s, &o, &before, NULL, cause) < 0)
		return -1;
	rc = rollback_apply(st, s, sb, before, to, &offline, &copied, &why);
	if (rc != 0) {
		*cause = xasprintf("%s (the rollback stopped halfway; "
		    "checkpoint %u holds the state before it)", why, before);
		free(why);
		return -1;
	}
	o.reason = "rollback";
	o.label = sb != NULL && offline ? "finished after the command exited" :
	    NULL;
	o.force = 1;
	o.restored_from = to;
	o.copied = (const char *const *)copied.v;
	o.ncopied = copied.n;
	rc = session_checkpoint(st, s, &o, now, NULL, cause) < 0 ? -1 : 0;
	rollback_copied_free(&copied);
	return rc;
}

int
rollback_session(struct store *st, const struct session *s,
    struct sandbox *sb, uint32_t to, uint32_t *now, char **cause)
{
	int lock = rollback_promote_lock(s, "roll back", cause), rc;

	if (lock < 0)
		return -1;
	rc = rollback_locked(st, s, sb, to, now, cause);
	close(lock);
	return rc;
}

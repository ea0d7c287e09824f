/*
 * The review pane (design §5, §7): the changed files as a tree on the
 * left, the selected file's diff on the right, and the actions of git
 * add -p and lazygit on them: approve a file, a hunk or some lines, skip,
 * undo, reject (out of the scratch), promote, unpromote, roll back,
 * resolve a conflict, comment and send the comments to the agent.
 *
 * Approvals are written here (they are small LMDB records). Whatever
 * changes the scratch or the real tree runs as `airlock COMMAND` in a
 * child whose output is read without blocking, exactly as a user would
 * run it in another terminal: a running session's own airlock (the loop
 * hosting this pane, or another one) serves it through ctl.sock, so the
 * pane behaves the same in `airlock review` and inside the terminal UI.
 *
 * Nothing is computed for files nobody looks at: the list needs only the
 * changes; approval states are filled for the rows shown, and for the
 * rest in idle time (review_pane_idle); a diff is made when its file is
 * selected.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "tui/tui.h"

#define RP_JOB_OUT_MAX (256 * 1024)  /* of a command's output kept */
#define RP_UNDO_MAX 256
#define RP_CONTEXT_MAX 1000
#define RP_NOTE_MAX (64 * 1024)      /* feedback collected */
#define RP_INPUT_MAX 1024            /* a comment */
#define RP_NONE ((size_t)-1)
#define RP_THREAD_BYTES (1024 * 1024) /* sides: a diff made on a thread */
#define RP_PREVIEW_LINES 2000        /* of each side, diffed meanwhile */

struct rp_row {                /* a line of the file list */
	size_t file;               /* a directory: its first file */
	size_t dirlen;             /* a directory: path[0 .. dirlen) */
	unsigned depth;
	int dir;
	int collapsed;
};

struct rp_undo {
	char *path;
	size_t pathlen;
	int had;                   /* an approval was there */
	struct approval a;
};

enum rp_prompt {
	RP_PROMPT_NONE,
	RP_PROMPT_REJECT,          /* y/N */
	RP_PROMPT_PROMOTE,
	RP_PROMPT_UNPROMOTE,
	RP_PROMPT_ROLLBACK,
	RP_PROMPT_RESOLVE,
	RP_PROMPT_SEND,
	RP_PROMPT_COMMENT,         /* a line of text */
};

enum rp_job {
	RP_JOB_NONE,
	RP_JOB_DRY_RUN,
	RP_JOB_PROMOTE,
	RP_JOB_REJECT,
	RP_JOB_UNPROMOTE,
	RP_JOB_ROLLBACK,
	RP_JOB_RESOLVE,
};

static const char *const rp_job_names[] = {
	[RP_JOB_NONE] = "",
	[RP_JOB_DRY_RUN] = "planning the promotion",
	[RP_JOB_PROMOTE] = "promoting",
	[RP_JOB_REJECT] = "rejecting",
	[RP_JOB_UNPROMOTE] = "unpromoting",
	[RP_JOB_ROLLBACK] = "rolling back",
	[RP_JOB_RESOLVE] = "resolving",
};

struct review_pane {
	struct store *st;
	const struct session *s;
	const struct keymap *km;
	struct review_host host;
	struct turn_range range;   /* unset: the total */
	uint32_t selected;         /* the timeline's checkpoint, CKPT_NONE */
	struct review rv;
	int loaded;

	char **collapsed;          /* directory paths, sorted */
	size_t ncollapsed;
	struct rp_row *rows;
	size_t nrows;
	size_t sel, top;
	int focus_diff;
	size_t next_state;         /* idle work: the next file's state */
	int pending_diff;          /* idle work: the selected file's diff
				      (after the list is on screen) */

	size_t dfile;              /* the file whose diff is loaded */
	struct review_diff diff;
	int have_diff;
	char *derror;
	unsigned gen;              /* a new diff wanted: bumped */
	/* a big diff made on a thread, the preview shown meanwhile; one at
	 * a time, the next file's waiting */
	struct rp_maker *maker;
	struct rp_make {
		struct review_make *mk;
		size_t file;
		unsigned gen;
	} making, next_make;
	int make_bottom;           /* G on a preview: the end, once made */
	int make_delay;            /* ms: AIRLOCK_TEST_DIFF_DELAY_MS */
	int make_pipe[2];          /* the thread writes a byte when done */
	struct approval ap;        /* dfile's approval, when in force */
	int have_ap;
	struct buf conflict;       /* dfile's merge in diff3 style */
	int in_conflict;
	size_t dsel, dtop, hscroll;
	int selecting;
	size_t anchor;
	struct review_opts opts;

	struct rp_undo *undo;
	size_t nundo;
	struct buf notes;          /* comments and rejections, for the agent */
	size_t nnotes;
	struct buf pending_note;   /* a rejection's, kept when it succeeds */

	enum rp_prompt prompt;
	struct buf prompt_text;
	struct buf input;
	int favor;
	uint32_t rollback_to;
	struct buf job_args;       /* NUL-separated argv of the next job */

	pid_t job_pid;
	int job_fd;
	enum rp_job job;
	int64_t job_started;
	struct buf job_out;

	char *overlay;             /* a command's output over the diff */
	size_t overlay_top;
	char *message;
	int body_rows, list_cols, diff_cols;
};

static int64_t
rp_now(void)
{
	return control_now();
}

static void PRINTFLIKE(2, 3)
rp_message(struct review_pane *rp, const char *fmt, ...)
{
	va_list ap;

	free(rp->message);
	va_start(ap, fmt);
	if (vasprintf(&rp->message, fmt, ap) < 0)
		rp->message = NULL;
	va_end(ap);
}

static struct review_file *
rp_file(struct review_pane *rp, size_t i)
{
	return &rp->rv.v[i];
}

/* ---- the file list --------------------------------------------------- */

static int
rp_cmp_dir(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static size_t
rp_collapsed_find(const struct review_pane *rp, const char *dir, size_t len,
    int *found)
{
	size_t lo = 0, hi = rp->ncollapsed, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = rp_cmp_dir(rp->collapsed[mid], strlen(rp->collapsed[mid]),
		    dir, len);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
rp_is_collapsed(const struct review_pane *rp, const char *dir, size_t len)
{
	int found;

	if (rp->ncollapsed == 0)
		return 0;
	rp_collapsed_find(rp, dir, len, &found);
	return found;
}

static void
rp_toggle_collapsed(struct review_pane *rp, const char *dir, size_t len)
{
	int found;
	size_t at = rp_collapsed_find(rp, dir, len, &found);

	if (found) {
		free(rp->collapsed[at]);
		memmove(rp->collapsed + at, rp->collapsed + at + 1,
		    (rp->ncollapsed - at - 1) * sizeof *rp->collapsed);
		rp->ncollapsed--;
		return;
	}
	rp->collapsed = xreallocarray(rp->collapsed, rp->ncollapsed + 1,
	    sizeof *rp->collapsed);
	memmove(rp->collapsed + at + 1, rp->collapsed + at,
	    (rp->ncollapsed - at) * sizeof *rp->collapsed);
	rp->collapsed[at] = xmemdup(dir, len + 1);
	rp->collapsed[at][len] = '\0';
	rp->ncollapsed++;
}

static void
rp_add_row(struct review_pane *rp, size_t *alloc, const struct rp_row *row)
{
	if (rp->nrows == *alloc) {
		*alloc = *alloc != 0 ? *alloc * 2 : 64;
		rp->rows = xreallocarray(rp->rows, *alloc, sizeof *rp->rows);
	}
	rp->rows[rp->nrows++] = *row;
}

/*
 * The rows of the list: a directory row where a path enters a directory
 * the previous path was not in (paths are sorted bytewise, so a
 * directory's paths are contiguous), its files below it unless it, or a
 * directory above it, is collapsed.
 */
static void
rp_rows(struct review_pane *rp)
{
	const char *p, *prev = NULL;
	size_t i, k, len, prevlen = 0, cp, alloc = 0, keep;
	struct rp_row row;
	unsigned depth;
	int hidden;

	keep = rp->sel < rp->nrows ? rp->rows[rp->sel].file : RP_NONE;
	rp->nrows = 0;
	for (i = 0; i < rp->rv.n; i++) {
		p = rp->rv.v[i].ch->path;
		len = rp->rv.v[i].ch->pathlen;
		cp = 0;
		if (prev != NULL)
			while (cp < len && cp < prevlen && p[cp] == prev[cp])
				cp++;
		hidden = 0;
		depth = 0;
		for (k = 0; k < len; k++) {
			if (p[k] != '/')
				continue;
			/* the directory p[0..k) */
			if (!hidden && !(prev != NULL && k < cp &&
			    k < prevlen && prev[k] == '/')) {
				memset(&row, 0, sizeof row);
				row.file = i;
				row.dirlen = k;
				row.depth = depth;
				row.dir = 1;
				row.collapsed = rp_is_collapsed(rp, p, k);
				rp_add_row(rp, &alloc, &row);
			}
			if (!hidden && rp_is_collapsed(rp, p, k))
				hidden = 1;
			depth++;
		}
		prev = p;
		prevlen = len;
		if (hidden)
			continue;
		memset(&row, 0, sizeof row);
		row.file = i;
		row.depth = depth;
		rp_add_row(rp, &alloc, &row);
	}
	/* the selection stays on its file, or what took its place; at first
	 * on the first file (its diff shows at once) */
	rp->sel = 0;
	while (keep == RP_NONE && rp->sel + 1 < rp->nrows &&
	    rp->rows[rp->sel].dir)
		rp->sel++;
	if (keep != RP_NONE) {
		for (i = 0; i < rp->nrows; i++) {
			if (rp->rows[i].file > keep)
				break;
			rp->sel = i;
			if (rp->rows[i].file == keep && !rp->rows[i].dir)
				break;
		}
	}
}

static const struct rp_row *
rp_row(const struct review_pane *rp)
{
	return rp->sel < rp->nrows ? &rp->rows[rp->sel] : NULL;
}

/* The file of the selected row, RP_NONE on a directory or nothing. */
static size_t
rp_selected_file(const struct review_pane *rp)
{
	const struct rp_row *row = rp_row(rp);

	return row != NULL && !row->dir ? row->file : RP_NONE;
}

/* ---- states and diffs ------------------------------------------------ */

static void
rp_state(struct review_pane *rp, size_t i)
{
	char *cause = NULL;

	if (rp_file(rp, i)->state_known)
		return;
	if (review_file_state(&rp->rv, i, &cause) != 0) {
		rp_message(rp, "%s", cause);
		free(cause);
		/* said once: not asked again for every frame */
		rp_file(rp, i)->state_known = 1;
		rp_file(rp, i)->approval = APPROVAL_NONE;
	}
}

static void rp_make_cancel(struct review_pane *);

static void
rp_diff_clear(struct review_pane *rp)
{
	if (rp->have_diff)
		review_diff_free(&rp->diff);
	if (rp->have_ap)
		approval_free(&rp->ap);
	rp->have_diff = rp->have_ap = 0;
	free(rp->derror);
	rp->derror = NULL;
	buf_reset(&rp->conflict);
	rp->in_conflict = 0;
	rp->dfile = RP_NONE;
	rp->selecting = 0;
	rp->gen++;
	rp->make_bottom = 0;
	/* diffs being made or waiting for the thread: not wanted any more */
	rp_make_cancel(rp);
	if (rp->next_make.mk != NULL)
		review_make_free(rp->next_make.mk);
	rp->next_make.mk = NULL;
}

/* The approval record of file i when it is in force (approved, partial). */
static void
rp_load_approval(struct review_pane *rp, size_t i)
{
	const struct review_file *f = rp_file(rp, i);
	char *cause = NULL;
	int got;

	if (rp->have_ap)
		approval_free(&rp->ap);
	rp->have_ap = 0;
	if (f->approval != APPROVAL_APPROVED &&
	    f->approval != APPROVAL_PARTIAL)
		return;
	got = approval_get(rp->st, rp->s->id, f->ch->path, f->ch->pathlen,
	    &rp->ap, &cause);
	if (got == 0)
		rp->have_ap = 1;
	else if (got < 0) {
		rp_message(rp, "%s", cause);
		free(cause);
	}
}

static int
rp_opts_default(const struct review_opts *o)
{
	return o->context == 3 && !o->ignore_ws;
}

/* ---- big diffs, on a thread ---- */

/*
 * What the pane and the thread making a diff share. Whoever lets go last
 * frees it: the thread, when the pane was closed meanwhile (abandoned: it
 * never waits for a diff nobody will see), else the pane once it has the
 * byte the thread writes.
 */
enum { RP_MAKER_RUNNING, RP_MAKER_DONE, RP_MAKER_ABANDONED };
struct rp_maker {
	struct review_make *mk;
	pthread_t thread;
	int wfd;
	int delay;                 /* ms before it starts (tests) */
	atomic_int state;
};

static void *
rp_make_main(void *arg)
{
	struct rp_maker *mr = arg;
	struct timespec ts;
	ssize_t n;
	int state = RP_MAKER_RUNNING;

	if (mr->delay > 0) {
		/* tests: a diff that takes its time */
		ts.tv_sec = mr->delay / 1000;
		ts.tv_nsec = (long)(mr->delay % 1000) * 1000000;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	review_make_run(mr->mk);
	if (!atomic_compare_exchange_strong(&mr->state, &state,
	    RP_MAKER_DONE)) {
		review_make_free(mr->mk);
		free(mr);
		return NULL;
	}
	do
		n = write(mr->wfd, "", 1);
	while (n < 0 && errno == EINTR);
	return NULL;
}

static void rp_make_finish(struct review_pane *, struct rp_make *);

/* Runs mk on the thread, or queues it when the thread is busy. */
static void
rp_make_start(struct review_pane *rp, struct review_make *mk, size_t i)
{
	struct rp_make m = { mk, i, rp->gen };
	struct rp_maker *mr;

	if (rp->maker != NULL) {
		if (rp->next_make.mk != NULL)
			review_make_free(rp->next_make.mk);
		rp->next_make = m;
		return;
	}
	if (rp->make_pipe[0] == -1 && pipe2(rp->make_pipe, O_CLOEXEC |
	    O_NONBLOCK) != 0) {
		rp->make_pipe[0] = rp->make_pipe[1] = -1;
		goto here;
	}
	mr = xcalloc(1, sizeof *mr);
	mr->mk = mk;
	mr->wfd = rp->make_pipe[1];
	mr->delay = rp->make_delay;
	atomic_init(&mr->state, RP_MAKER_RUNNING);
	if (pthread_create(&mr->thread, NULL, rp_make_main, mr) == 0) {
		rp->maker = mr;
		rp->making = m;
		return;
	}
	free(mr);
here:
	/* no thread: made here, keys wait */
	rp_make_finish(rp, &m);
}

/* The thread's diff is not wanted any more: it stops at its next step. */
static void
rp_make_cancel(struct review_pane *rp)
{
	if (rp->maker != NULL)
		review_make_cancel(rp->maker->mk);
}

/* The pane closes: a thread still making a diff frees it itself. */
static void
rp_make_abandon(struct review_pane *rp)
{
	struct rp_maker *mr = rp->maker;
	int state = RP_MAKER_RUNNING;

	if (mr == NULL)
		return;
	rp->maker = NULL;
	review_make_cancel(mr->mk);
	if (atomic_compare_exchange_strong(&mr->state, &state,
	    RP_MAKER_ABANDONED)) {
		pthread_detach(mr->thread);
		return;
	}
	/* done already: its byte is written, nothing more */
	pthread_join(mr->thread, NULL);
	review_make_free(mr->mk);
	free(mr);
}

/* A made diff replaces the preview of its file, if that is still shown. */
static void
rp_make_finish(struct review_pane *rp, struct rp_make *m)
{
	struct review_diff d;
	char *cause = NULL;

	if (m->file != rp->dfile || m->gen != rp->gen || !rp->have_diff ||
	    !rp->diff.preview) {
		review_make_free(m->mk);
		return;
	}
	if (review_diff_finish(m->mk, &d, &cause) != 0) {
		review_diff_free(&rp->diff);
		rp->have_diff = 0;
		rp->derror = cause;
		return;
	}
	review_diff_free(&rp->diff);
	rp->diff = d;
	if (rp->make_bottom)
		rp->dsel = rp->diff.n > 0 ? rp->diff.n - 1 : 0;
	rp->make_bottom = 0;
	if (rp->dsel >= rp->diff.n)
		rp->dsel = rp->diff.n > 0 ? rp->diff.n - 1 : 0;
	if (rp->dtop > rp->dsel)
		rp->dtop = rp->dsel;
}

/* The thread is done: its diff shown, the next one started. */
static void
rp_make_done(struct review_pane *rp)
{
	struct rp_make m = rp->making, next = rp->next_make;
	char byte;

	if (rp->maker == NULL || read(rp->make_pipe[0], &byte, 1) != 1)
		return;
	pthread_join(rp->maker->thread, NULL);
	free(rp->maker);
	rp->maker = NULL;
	memset(&rp->making, 0, sizeof rp->making);
	memset(&rp->next_make, 0, sizeof rp->next_make);
	rp_make_finish(rp, &m);
	if (next.mk != NULL) {
		if (next.file == rp->dfile && next.gen == rp->gen)
			rp_make_start(rp, next.mk, next.file);
		else
			review_make_free(next.mk);
	}
}

/* Loads the diff of file i (kept until another file is shown). */
static void
rp_load_diff(struct review_pane *rp, size_t i)
{
	struct review_file *f;
	struct review_make *mk;
	struct buf base = BUF_INIT, ours = BUF_INIT, theirs = BUF_INIT;
	char *cause = NULL;
	int rc;

	if (i == rp->dfile)
		return;
	rp_diff_clear(rp);
	rp->dfile = i;
	rp->dsel = rp->dtop = rp->hscroll = 0;
	if (i == RP_NONE)
		return;
	rp_state(rp, i);
	f = rp_file(rp, i);
	rp_load_approval(rp, i);
	if (f->marks & REVIEW_CONFLICT) {
		rc = review_conflict(&rp->rv, i, &base, &ours, &theirs,
		    &rp->conflict, &cause);
		if (rc == 1)
			rp->in_conflict = 1;
		else if (rc < 0) {
			rp->derror = cause;
			cause = NULL;
		}
		buf_free(&base);
		buf_free(&ours);
		buf_free(&theirs);
		if (rp->in_conflict || rp->derror != NULL)
			return;
	}
	if (review_diff_start(&rp->rv, i, &rp->opts, &mk, &cause) != 0) {
		rp->derror = cause;
		return;
	}
	if (review_make_size(mk) >= RP_THREAD_BYTES &&
	    review_diff_preview(&rp->rv, i, mk, RP_PREVIEW_LINES, &rp->diff,
	    &cause) == 0) {
		/* the heads now, the whole diff when the thread has it */
		rp->have_diff = 1;
		rp_make_start(rp, mk, i);
		return;
	}
	free(cause);
	cause = NULL;
	if (review_diff_finish(mk, &rp->diff, &cause) != 0) {
		rp->derror = cause;
		return;
	}
	rp->have_diff = 1;
}

static void
rp_reload_file(struct review_pane *rp)
{
	size_t i = rp->dfile, dsel = rp->dsel, dtop = rp->dtop;

	if (i == RP_NONE)
		return;
	review_forget(&rp->rv, i);
	rp->dfile = RP_NONE;
	rp_load_diff(rp, i);
	if (rp->have_diff && dsel < rp->diff.n) {
		rp->dsel = dsel;
		rp->dtop = dtop;
	}
}

/* Whether line l of the shown diff is approved (the record in force). */
static int
rp_line_approved(const struct review_pane *rp, const struct review_line *l)
{
	const struct approval *a = &rp->ap;

	if (!rp->have_ap || (l->type != REVIEW_LINE_ADD &&
	    l->type != REVIEW_LINE_DEL))
		return 0;
	if (a->whole)
		return 1;
	if (l->hunk == 0 || l->hunk > a->nhunks)
		return 0;
	if (a->pick[l->hunk - 1] == 1)
		return 1;
	if (a->pick[l->hunk - 1] == APPROVAL_PICK_LINES && l->change < a->nlines)
		return a->lines[l->change] != 0;
	return 0;
}

/* The shown hunk around line at: [*start, *end) of rp->diff. 0 when at is
 * in no hunk. */
static int
rp_hunk_bounds(const struct review_pane *rp, size_t at, size_t *start,
    size_t *end)
{
	const struct review_diff *d = &rp->diff;
	size_t i;

	if (!rp->have_diff || at >= d->n)
		return 0;
	for (i = at + 1; i-- > 0;) {
		if (d->v[i].type == REVIEW_LINE_HUNK)
			break;
		if (d->v[i].type == REVIEW_LINE_NOTE)
			return 0;
	}
	if (i == (size_t)-1)
		return 0;
	*start = i;
	for (i = i + 1; i < d->n && d->v[i].type != REVIEW_LINE_HUNK &&
	    d->v[i].type != REVIEW_LINE_NOTE; i++)
		;
	*end = i;
	return 1;
}

/* Change indexes of the changed lines in [start, end) of the shown diff
 * (what the user sees is what is approved). */
static size_t
rp_changes(const struct review_pane *rp, size_t start, size_t end,
    uint32_t **out)
{
	const struct review_diff *d = &rp->diff;
	size_t i, n = 0;

	*out = xcalloc(end - start + 1, sizeof **out);
	for (i = start; i < end && i < d->n; i++) {
		if ((d->v[i].type == REVIEW_LINE_ADD ||
		    d->v[i].type == REVIEW_LINE_DEL) &&
		    d->v[i].change != REVIEW_NO_LINE)
			(*out)[n++] = d->v[i].change;
	}
	return n;
}

/* ---- undo ------------------------------------------------------------- */

static int
rp_undo_push(struct review_pane *rp, size_t i)
{
	const struct change *ch = rp_file(rp, i)->ch;
	struct rp_undo u;
	char *cause = NULL;
	int got;

	memset(&u, 0, sizeof u);
	got = approval_get(rp->st, rp->s->id, ch->path, ch->pathlen, &u.a,
	    &cause);
	if (got < 0) {
		free(cause);
		return -1;
	}
	u.had = got == 0;
	u.path = xmemdup(ch->path, ch->pathlen + 1);
	u.pathlen = ch->pathlen;
	if (rp->nundo == RP_UNDO_MAX) {
		free(rp->undo[0].path);
		approval_free(&rp->undo[0].a);
		memmove(rp->undo, rp->undo + 1, (rp->nundo - 1) *
		    sizeof *rp->undo);
		rp->nundo--;
	}
	rp->undo = xreallocarray(rp->undo, rp->nundo + 1, sizeof *rp->undo);
	rp->undo[rp->nundo++] = u;
	return 0;
}

/* Takes back the undo entry just pushed (the action failed). */
static void
rp_undo_pop(struct review_pane *rp, int pushed)
{
	if (!pushed || rp->nundo == 0)
		return;
	rp->nundo--;
	free(rp->undo[rp->nundo].path);
	approval_free(&rp->undo[rp->nundo].a);
}

static size_t
rp_find_path(const struct review_pane *rp, const char *path, size_t len)
{
	size_t i;

	for (i = 0; i < rp->rv.n; i++) {
		if (rp->rv.v[i].ch->pathlen == len &&
		    memcmp(rp->rv.v[i].ch->path, path, len) == 0)
			return i;
	}
	return RP_NONE;
}

static void
rp_undo(struct review_pane *rp)
{
	struct rp_undo *u;
	char *cause = NULL;
	size_t i;
	int rc;

	if (rp->nundo == 0) {
		rp_message(rp, "nothing to undo");
		return;
	}
	u = &rp->undo[--rp->nundo];
	if (u->had)
		rc = approval_put(rp->st, rp->s->id, u->path, u->pathlen,
		    &u->a, &cause);
	else
		rc = approval_del(rp->st, rp->s->id, u->path, u->pathlen,
		    &cause) < 0 ? -1 : 0;
	if (rc != 0) {
		rp_message(rp, "undo: %s", cause);
		free(cause);
	} else
		rp_message(rp, "undone: the approval of %s is as it was",
		    u->path);
	i = rp_find_path(rp, u->path, u->pathlen);
	if (i != RP_NONE) {
		review_forget(&rp->rv, i);
		if (i == rp->dfile)
			rp_reload_file(rp);
	}
	free(u->path);
	approval_free(&u->a);
}

/* ---- approvals -------------------------------------------------------- */

static void
rp_after_approval(struct review_pane *rp, size_t i)
{
	/* the model forgot the state itself (and keeps the diff it made) */
	rp_file(rp, i)->state_known = 0;
	rp_state(rp, i);
	if (i == rp->dfile)
		rp_load_approval(rp, i);
}

static int
rp_approve_file(struct review_pane *rp, size_t i)
{
	struct review_file *f;
	char *cause = NULL;
	int on, pushed;

	rp_state(rp, i);
	f = rp_file(rp, i);
	on = f->approval != APPROVAL_APPROVED;
	pushed = rp_undo_push(rp, i) == 0;
	if (review_approve_file(&rp->rv, i, on, &cause) != 0) {
		rp_message(rp, "approve: %s", cause);
		free(cause);
		rp_undo_pop(rp, pushed);
		return -1;
	}
	rp_after_approval(rp, i);
	rp_message(rp, "%s %s", on ? "approved" : "withdrew the approval of",
	    f->ch->path);
	return 0;
}

static int
rp_approve_lines(struct review_pane *rp, const uint32_t *changes, size_t n,
    int on)
{
	size_t i = rp->dfile;
	char *cause = NULL;
	int pushed = rp_undo_push(rp, i) == 0;

	if (review_approve_lines(&rp->rv, i, changes, n, on, &cause) != 0) {
		rp_message(rp, "%s: %s", on ? "approve" : "unapprove", cause);
		free(cause);
		rp_undo_pop(rp, pushed);
		return -1;
	}
	rp_after_approval(rp, i);
	return 0;
}

/* The line the cursor is on is in a hunk whose lines are all approved? */
static int
rp_hunk_done(const struct review_pane *rp, size_t start, size_t end)
{
	size_t i;
	int any = 0;

	for (i = start; i < end; i++) {
		const struct review_line *l = &rp->diff.v[i];

		if ((l->type != REVIEW_LINE_ADD &&
		    l->type != REVIEW_LINE_DEL) || l->change == REVIEW_NO_LINE)
			continue;
		any = 1;
		if (!rp_line_approved(rp, l))
			return 0;
	}
	return any;
}

static void rp_select_file(struct review_pane *, size_t row);
static void rp_next_file(struct review_pane *, int dir, int undecided);

/* The cursor to the next hunk (after line from) that is not all
 * approved; else the next file that is not. */
static void
rp_advance(struct review_pane *rp, size_t from)
{
	size_t i, start, end;

	for (i = from + 1; rp->have_diff && i < rp->diff.n; i++) {
		if (rp->diff.v[i].type != REVIEW_LINE_HUNK)
			continue;
		if (rp_hunk_bounds(rp, i, &start, &end) &&
		    !rp_hunk_done(rp, start, end)) {
			rp->dsel = i;
			return;
		}
	}
	rp_next_file(rp, 1, 1);
}

static int
rp_need_diff(struct review_pane *rp, const char *what)
{
	size_t i = rp_selected_file(rp);

	if (i == RP_NONE) {
		rp_message(rp, "%s: select a file", what);
		return -1;
	}
	rp_load_diff(rp, i);
	if (rp->in_conflict) {
		rp_message(rp, "%s: this file conflicts: resolve it first",
		    what);
		return -1;
	}
	if (!rp->have_diff) {
		rp_message(rp, "%s: %s", what, rp->derror != NULL ?
		    rp->derror : "no diff");
		return -1;
	}
	if (rp->diff.preview) {
		rp_message(rp, "%s: the diff of this file is still being made "
		    "(a moment)", what);
		return -1;
	}
	return 0;
}

static void
rp_approve_hunk(struct review_pane *rp, int on, int rest)
{
	size_t start, end, i, n, from;
	uint32_t *changes;

	if (!rp->focus_diff) {
		if ((i = rp_selected_file(rp)) == RP_NONE)
			rp_message(rp, "select a file");
		else if (on && rp_approve_file(rp, i) == 0)
			rp_next_file(rp, 1, 1);
		return;
	}
	if (rp_need_diff(rp, on ? "approve" : "unapprove") != 0)
		return;
	if (rp->diff.whole_only) {
		i = rp->dfile;
		rp_state(rp, i);
		if ((rp_file(rp, i)->approval == APPROVAL_APPROVED) != on)
			rp_approve_file(rp, i);
		if (on)
			rp_next_file(rp, 1, 1);
		return;
	}
	if (rp->selecting) {
		start = rp->anchor < rp->dsel ? rp->anchor : rp->dsel;
		end = (rp->anchor < rp->dsel ? rp->dsel : rp->anchor) + 1;
		from = end - 1;
	} else if (rest) {
		if (!rp_hunk_bounds(rp, rp->dsel, &start, &end))
			start = rp->dsel;
		end = rp->diff.n;
		from = end;
	} else if (!rp_hunk_bounds(rp, rp->dsel, &start, &end)) {
		/* not in a hunk: the first one below */
		for (i = rp->dsel; i < rp->diff.n &&
		    rp->diff.v[i].type != REVIEW_LINE_HUNK; i++)
			;
		if (!rp_hunk_bounds(rp, i, &start, &end)) {
			rp_message(rp, "no hunk here");
			return;
		}
		from = start;
	} else
		from = start;
	n = rp_changes(rp, start, end, &changes);
	if (n == 0) {
		free(changes);
		rp_message(rp, "%s", rp->range.set ? "these lines are not in "
		    "the total change any more (show-total)" :
		    "no changed line here");
		return;
	}
	if (rp_approve_lines(rp, changes, n, on) == 0) {
		if (rp->selecting)
			rp_message(rp, "%s %zu line%s", on ? "approved" :
			    "withdrew", n, n == 1 ? "" : "s");
		else
			rp_message(rp, "%s %s", on ? "approved" : "withdrew",
			    rest ? "the rest of the file" : "the hunk");
		/* after a selection the cursor stays: more lines of the
		 * hunk may follow */
		if (on && !rp->selecting)
			rp_advance(rp, from);
		rp->selecting = 0;
	}
	free(changes);
}

/* ---- jobs: airlock commands in a child -------------------------------- */

static void
rp_args_add(struct review_pane *rp, const char *arg)
{
	buf_add(&rp->job_args, arg, strlen(arg) + 1);
}

static void
rp_args_start(struct review_pane *rp, const char *verb)
{
	char id[16];

	buf_reset(&rp->job_args);
	rp_args_add(rp, "airlock");
	rp_args_add(rp, verb);
	if (strcmp(verb, "rollback") != 0) {
		snprintf(id, sizeof id, "%u", rp->s->id);
		rp_args_add(rp, "--session");
		rp_args_add(rp, id);
	}
}

/* The real tree's path of file i, for a command's argument. */
static void
rp_args_path(struct review_pane *rp, size_t i)
{
	struct buf p = BUF_INIT;

	buf_addstr(&p, rp->s->tree);
	if (strcmp(rp->s->tree, "/") != 0)
		buf_addch(&p, '/');
	buf_add(&p, rp_file(rp, i)->ch->path, rp_file(rp, i)->ch->pathlen);
	rp_args_add(rp, p.data);
	buf_free(&p);
}

static void
rp_job_start(struct review_pane *rp, enum rp_job job)
{
	char *argv[32];
	size_t off = 0, n = 0;
	int fds[2], devnull;
	sigset_t none;
	pid_t pid;

	if (rp->job != RP_JOB_NONE) {
		rp_message(rp, "busy: %s", rp_job_names[rp->job]);
		return;
	}
	while (off < rp->job_args.len && n < sizeof argv / sizeof argv[0] - 1) {
		argv[n++] = rp->job_args.data + off;
		off += strlen(rp->job_args.data + off) + 1;
	}
	argv[n] = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		rp_message(rp, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		rp_message(rp, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		/* the signals the loop blocks for its signalfd are ours */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	rp->job = job;
	rp->job_pid = pid;
	rp->job_fd = fds[0];
	rp->job_started = rp_now();
	buf_reset(&rp->job_out);
}

int
review_pane_fd(const struct review_pane *rp)
{
	/* a job's output waits in its pipe while a diff is made */
	if (rp->maker != NULL)
		return rp->make_pipe[0];
	return rp->job != RP_JOB_NONE ? rp->job_fd : -1;
}

const char *
review_pane_busy(const struct review_pane *rp)
{
	return rp->job != RP_JOB_NONE ? rp_job_names[rp->job] : NULL;
}

static void
rp_overlay(struct review_pane *rp, const char *text)
{
	free(rp->overlay);
	rp->overlay = xstrdup(text);
	rp->overlay_top = 0;
}

static void rp_reload(struct review_pane *);

/* What a finished job means. */
static void
rp_job_done(struct review_pane *rp, enum rp_job job, int status)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	const char *out = rp->job_out.len > 0 ? rp->job_out.data : "";

	if (code == 127) {
		rp_message(rp, "cannot run airlock again (/proc/self/exe)");
		return;
	}
	switch (job) {
	case RP_JOB_DRY_RUN:
		if (rp->prompt != RP_PROMPT_NONE) {
			/* another question is open: never answer this one
			 * with keys meant for it */
			rp_message(rp, "the promotion's plan is ready: P again "
			    "shows it");
			break;
		}
		if (code == 0 && strncmp(out, "nothing to promote\n", 19) == 0) {
			rp_message(rp, "nothing approved to promote (approve "
			    "files or hunks first)");
			break;
		}
		rp_overlay(rp, out);
		if (code == 0) {
			rp->prompt = RP_PROMPT_PROMOTE;
			buf_reset(&rp->prompt_text);
			buf_addstr(&rp->prompt_text, "promote this into the "
			    "real tree? [y/N] (undo: unpromote)");
		} else if (code == PROMOTE_CONFLICT)
			rp_message(rp, "conflicts: nothing would be written; "
			    "resolve them (ours or theirs) first");
		else
			rp_message(rp, "promote failed (exit %d)", code);
		break;
	case RP_JOB_PROMOTE:
	case RP_JOB_RESOLVE:
	case RP_JOB_UNPROMOTE:
		rp_overlay(rp, out);
		rp_message(rp, "%s %s", rp_job_names[job], code == 0 ? "done" :
		    code == PROMOTE_CONFLICT ? "stopped: conflicts, nothing "
		    "written" : "failed");
		rp_reload(rp);
		break;
	case RP_JOB_REJECT:
	case RP_JOB_ROLLBACK:
		if (code != 0)
			rp_overlay(rp, out);
		else {
			if (rp->pending_note.len > 0 &&
			    rp->notes.len < RP_NOTE_MAX) {
				buf_add(&rp->notes, rp->pending_note.data,
				    rp->pending_note.len);
				rp->nnotes++;
			}
			rp_message(rp, "%s", job == RP_JOB_REJECT ?
			    "rejected: the scratch is as before it (rollback "
			    "brings it back)" : "rolled back");
		}
		rp_reload(rp);
		break;
	case RP_JOB_NONE:
		break;
	}
	buf_reset(&rp->pending_note);
	if (rp->host.changed != NULL && job != RP_JOB_DRY_RUN)
		rp->host.changed(rp->host.arg);
}

void
review_pane_job(struct review_pane *rp)
{
	char data[4096];
	ssize_t n;
	int status = 0;
	enum rp_job job;

	if (rp->maker != NULL)
		rp_make_done(rp);
	if (rp->job == RP_JOB_NONE)
		return;
	for (;;) {
		n = read(rp->job_fd, data, sizeof data);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		if (rp->job_out.len < RP_JOB_OUT_MAX)
			buf_add(&rp->job_out, data, (size_t)n);
	}
	close(rp->job_fd);
	rp->job_fd = -1;
	while (waitpid(rp->job_pid, &status, 0) < 0 && errno == EINTR)
		;
	job = rp->job;
	rp->job = RP_JOB_NONE;
	rp_job_done(rp, job, status);
}

/* ---- loading ---------------------------------------------------------- */

static int
rp_load(struct review_pane *rp, char **cause)
{
	struct review rv;

	/* the new list replaces the old only once it is there: a scratch
	 * that cannot be read leaves the pane as it was */
	if (review_load(&rv, rp->st, rp->s, &rp->range, cause) != 0)
		return -1;
	rp_diff_clear(rp);
	if (!rp->loaded)
		memset(&rp->rv, 0, sizeof rp->rv);
	review_move(&rp->rv, &rv);
	rp->loaded = 1;
	rp->next_state = 0;
	rp_rows(rp);
	/* the selected file's diff right after the list is on screen, as
	 * lazygit shows it (a big one takes a moment) */
	rp->pending_diff = 1;
	return 0;
}

/* The scratch changed (a reject, a promotion, a checkpoint): load again,
 * the selection on the same path when it is still there. */
static void
rp_reload(struct review_pane *rp)
{
	char *path = NULL, *cause = NULL;
	size_t len = 0, i, dsel = rp->dsel;
	int focus = rp->focus_diff;

	if ((i = rp_selected_file(rp)) != RP_NONE) {
		len = rp_file(rp, i)->ch->pathlen;
		path = xmemdup(rp_file(rp, i)->ch->path, len + 1);
	}
	if (rp_load(rp, &cause) != 0) {
		rp_message(rp, "%s", cause);
		free(cause);
		free(path);
		return;
	}
	if (path != NULL && (i = rp_find_path(rp, path, len)) != RP_NONE) {
		for (size_t r = 0; r < rp->nrows; r++) {
			if (!rp->rows[r].dir && rp->rows[r].file == i) {
				rp->sel = r;
				rp_load_diff(rp, i);
				if (rp->have_diff && dsel < rp->diff.n)
					rp->dsel = dsel;
				rp->focus_diff = focus;
				break;
			}
		}
	}
	free(path);
}

void
review_pane_reload(struct review_pane *rp)
{
	if (rp->job == RP_JOB_NONE && rp->prompt == RP_PROMPT_NONE)
		rp_reload(rp);
}

struct review_pane *
review_pane_open(struct store *st, const struct session *s,
    const struct keymap *km, const struct turn_range *range,
    const struct review_host *host, char **cause)
{
	struct review_pane *rp = xcalloc(1, sizeof *rp);
	const char *delay;
	long ms;

	rp->st = st;
	rp->s = s;
	rp->km = km;
	if (host != NULL)
		rp->host = *host;
	if (range != NULL)
		rp->range = *range;
	rp->selected = CKPT_NONE;
	rp->opts.context = 3;
	rp->dfile = RP_NONE;
	rp->job_fd = -1;
	rp->make_pipe[0] = rp->make_pipe[1] = -1;
	if ((delay = getenv("AIRLOCK_TEST_DIFF_DELAY_MS")) != NULL &&
	    (ms = strtol(delay, NULL, 10)) > 0 && ms <= 60000)
		rp->make_delay = (int)ms;
	buf_init(&rp->conflict);
	buf_init(&rp->notes);
	buf_init(&rp->pending_note);
	buf_init(&rp->prompt_text);
	buf_init(&rp->input);
	buf_init(&rp->job_args);
	buf_init(&rp->job_out);
	if (rp_load(rp, cause) != 0) {
		review_pane_free(rp);
		return NULL;
	}
	return rp;
}

int
review_pane_scope(struct review_pane *rp, const struct turn_range *range,
    uint32_t selected, char **cause)
{
	struct turn_range old = rp->range;

	rp->range = range != NULL ? *range : (struct turn_range){ 0,
	    TURN_REAL, CKPT_NONE };
	rp->selected = selected;
	if (rp_load(rp, cause) != 0) {
		rp->range = old;   /* the list shown is still old's */
		return -1;
	}
	rp->sel = rp->top = 0;
	rp->focus_diff = 0;
	return 0;
}

void
review_pane_free(struct review_pane *rp)
{
	size_t i;
	int status;

	if (rp == NULL)
		return;
	if (rp->job != RP_JOB_NONE) {
		/* a promotion finishes on its own: wait for it, never kill;
		 * its output read to the end (a closed pipe would kill it) */
		char data[4096];
		ssize_t n;

		fcntl(rp->job_fd, F_SETFL, fcntl(rp->job_fd, F_GETFL) &
		    ~O_NONBLOCK);
		while ((n = read(rp->job_fd, data, sizeof data)) > 0 ||
		    (n < 0 && errno == EINTR))
			;
		close(rp->job_fd);
		while (waitpid(rp->job_pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	rp_make_abandon(rp);
	if (rp->make_pipe[0] != -1) {
		close(rp->make_pipe[0]);
		close(rp->make_pipe[1]);
	}
	rp_diff_clear(rp);
	if (rp->loaded)
		review_free(&rp->rv);
	for (i = 0; i < rp->ncollapsed; i++)
		free(rp->collapsed[i]);
	free(rp->collapsed);
	free(rp->rows);
	for (i = 0; i < rp->nundo; i++) {
		free(rp->undo[i].path);
		approval_free(&rp->undo[i].a);
	}
	free(rp->undo);
	buf_free(&rp->conflict);
	buf_free(&rp->notes);
	buf_free(&rp->pending_note);
	buf_free(&rp->prompt_text);
	buf_free(&rp->input);
	buf_free(&rp->job_args);
	buf_free(&rp->job_out);
	free(rp->overlay);
	free(rp->message);
	free(rp);
}

int
review_pane_idle(struct review_pane *rp, int ms)
{
	int64_t end = rp_now() + ms;

	if (rp->pending_diff) {
		rp->pending_diff = 0;
		if (rp->dfile == RP_NONE)
			rp_load_diff(rp, rp_selected_file(rp));
		return 1;
	}
	while (rp->next_state < rp->rv.n) {
		rp_state(rp, rp->next_state++);
		if (rp_now() >= end)
			break;
	}
	return rp->next_state < rp->rv.n;
}

/* ---- moving ----------------------------------------------------------- */

static void
rp_select_file(struct review_pane *rp, size_t row)
{
	if (row >= rp->nrows)
		return;
	rp->sel = row;
	rp_load_diff(rp, rp_selected_file(rp));
}

/* The next (dir 1) or previous file row; undecided: only files not
 * approved yet. Stays put at the end. */
static void
rp_next_file(struct review_pane *rp, int dir, int undecided)
{
	size_t r = rp->sel;

	for (;;) {
		if (dir > 0 ? r + 1 >= rp->nrows : r == 0) {
			if (undecided)
				rp_message(rp, "no file left to decide on: "
				    "promote (%s) when ready", "P");
			return;
		}
		r = dir > 0 ? r + 1 : r - 1;
		if (rp->rows[r].dir)
			continue;
		if (undecided) {
			rp_state(rp, rp->rows[r].file);
			if (rp_file(rp, rp->rows[r].file)->approval ==
			    APPROVAL_APPROVED)
				continue;
		}
		break;
	}
	rp_select_file(rp, r);
	rp->dsel = 0;
	if (rp->have_diff) {
		/* on its first hunk */
		for (size_t i = 0; i < rp->diff.n; i++)
			if (rp->diff.v[i].type == REVIEW_LINE_HUNK) {
				rp->dsel = i;
				break;
			}
	}
}

static size_t
rp_diff_lines(const struct review_pane *rp)
{
	size_t n = 0, i;

	if (rp->in_conflict) {
		for (i = 0; i < rp->conflict.len; i++)
			n += rp->conflict.data[i] == '\n';
		return n + 1;
	}
	return rp->have_diff ? rp->diff.n : 0;
}

static void
rp_move(size_t *at, size_t n, enum action a, int page)
{
	size_t half = page > 1 ? (size_t)page / 2 : 1;
	size_t full = page > 1 ? (size_t)page - 1 : 1;

	if (n == 0) {
		*at = 0;
		return;
	}
	switch (a) {
	case ACTION_UP: *at = *at > 0 ? *at - 1 : 0; break;
	case ACTION_DOWN: *at = *at + 1 < n ? *at + 1 : n - 1; break;
	case ACTION_HALF_UP: *at = *at > half ? *at - half : 0; break;
	case ACTION_PAGE_UP: *at = *at > full ? *at - full : 0; break;
	case ACTION_HALF_DOWN: *at = *at + half < n ? *at + half : n - 1;
		break;
	case ACTION_PAGE_DOWN: *at = *at + full < n ? *at + full : n - 1;
		break;
	case ACTION_TOP: *at = 0; break;
	case ACTION_BOTTOM: *at = n - 1; break;
	default: break;
	}
}

static void
rp_hunk_jump(struct review_pane *rp, int dir)
{
	size_t i = rp->dsel;

	if (!rp->have_diff)
		return;
	while (dir > 0 ? i + 1 < rp->diff.n : i > 0) {
		i = dir > 0 ? i + 1 : i - 1;
		if (rp->diff.v[i].type == REVIEW_LINE_HUNK) {
			rp->dsel = i;
			rp->focus_diff = 1;
			return;
		}
	}
}

/* ---- prompts ---------------------------------------------------------- */

static void PRINTFLIKE(3, 4)
rp_ask(struct review_pane *rp, enum rp_prompt p, const char *fmt, ...)
{
	va_list ap;

	rp->prompt = p;
	buf_reset(&rp->prompt_text);
	va_start(ap, fmt);
	buf_vprintf(&rp->prompt_text, fmt, ap);
	va_end(ap);
	buf_reset(&rp->input);
}

/* The shown lines [start, end) as diff text, for the agent. */
static void
rp_note_lines(struct review_pane *rp, struct buf *out, size_t start,
    size_t end)
{
	static const char signs[] = {
		[REVIEW_LINE_NOTE] = ' ', [REVIEW_LINE_HUNK] = '@',
		[REVIEW_LINE_CONTEXT] = ' ', [REVIEW_LINE_ADD] = '+',
		[REVIEW_LINE_DEL] = '-', [REVIEW_LINE_NOEOL] = '\\',
	};
	size_t i, n = 0;

	for (i = start; i < end && i < rp->diff.n && n < 200; i++, n++) {
		const struct review_line *l = &rp->diff.v[i];

		if (l->type != REVIEW_LINE_HUNK)
			buf_addch(out, signs[l->type]);
		buf_add(out, rp->diff.text.data + l->off, l->len);
		buf_addch(out, '\n');
	}
	if (i < end)
		buf_addstr(out, "[...]\n");
}

static void
rp_reject(struct review_pane *rp, int file)
{
	size_t i = rp_selected_file(rp), start, end, k;
	struct buf hunks = BUF_INIT;
	uint32_t last = 0;
	const struct change *ch;

	if (i == RP_NONE) {
		rp_message(rp, "reject: select a file");
		return;
	}
	ch = rp_file(rp, i)->ch;
	buf_reset(&rp->pending_note);
	if (file || !rp->focus_diff) {
		rp_args_start(rp, "reject");
		rp_args_path(rp, i);
		buf_printf(&rp->pending_note, "- I rejected your whole change "
		    "to %s: it is as it was before.\n", ch->path);
		rp_ask(rp, RP_PROMPT_REJECT, "reject the whole change to %s? "
		    "it leaves the scratch (rollback brings it back) [y/N]",
		    ch->path);
		return;
	}
	if (rp_need_diff(rp, "reject") != 0)
		return;
	if (rp->range.set) {
		rp_message(rp, "reject: hunks are rejected in the total view "
		    "(show-total)");
		return;
	}
	if (rp->diff.whole_only || !rp_hunk_bounds(rp, rp->dsel, &start,
	    &end)) {
		rp_message(rp, "reject: put the cursor in a hunk (or reject "
		    "the file)");
		return;
	}
	for (k = start; k < end; k++) {
		uint32_t h = rp->diff.v[k].hunk;

		if (h != 0 && h != last && (rp->diff.v[k].type ==
		    REVIEW_LINE_ADD || rp->diff.v[k].type == REVIEW_LINE_DEL)) {
			buf_printf(&hunks, "%s%u", hunks.len > 0 ? "," : "",
			    h);
			last = h;
		}
	}
	if (hunks.len == 0) {
		rp_message(rp, "reject: no changed line in this hunk");
		buf_free(&hunks);
		return;
	}
	rp_args_start(rp, "reject");
	rp_args_path(rp, i);
	rp_args_add(rp, "--hunk");
	rp_args_add(rp, hunks.data);
	buf_printf(&rp->pending_note, "- I rejected this change to %s (it "
	    "is as it was before):\n", ch->path);
	rp_note_lines(rp, &rp->pending_note, start, end);
	rp_ask(rp, RP_PROMPT_REJECT, "reject this hunk of %s? it leaves the "
	    "scratch (rollback brings it back) [y/N]", ch->path);
	buf_free(&hunks);
}

static void
rp_comment(struct review_pane *rp)
{
	size_t i = rp_selected_file(rp);

	if (i == RP_NONE) {
		rp_message(rp, "comment: select a file");
		return;
	}
	rp_ask(rp, RP_PROMPT_COMMENT, "comment on %s%s: ",
	    rp_file(rp, i)->ch->path, rp->focus_diff && rp->have_diff ?
	    " (this line)" : "");
}

static void
rp_comment_done(struct review_pane *rp)
{
	size_t i = rp_selected_file(rp);
	const struct review_line *l = NULL;
	const char *path;

	if (i == RP_NONE || rp->input.len == 0)
		return;
	if (rp->notes.len >= RP_NOTE_MAX) {
		rp_message(rp, "too much feedback waiting: send it first");
		return;
	}
	path = rp_file(rp, i)->ch->path;
	if (rp->focus_diff && rp->have_diff && i == rp->dfile &&
	    rp->dsel < rp->diff.n) {
		l = &rp->diff.v[rp->dsel];
		/* on a hunk's header: its first line */
		if (l->type == REVIEW_LINE_HUNK && rp->dsel + 1 < rp->diff.n)
			l++;
	}
	if (l != NULL && (l->new_no != 0 || l->old_no != 0)) {
		buf_printf(&rp->notes, "- %s:%u: %s\n", path, l->new_no != 0 ?
		    l->new_no : l->old_no, rp->input.data);
		buf_addstr(&rp->notes, "  > ");
		buf_add(&rp->notes, rp->diff.text.data + l->off,
		    l->len > 200 ? 200 : l->len);
		buf_addch(&rp->notes, '\n');
	} else
		buf_printf(&rp->notes, "- %s: %s\n", path, rp->input.data);
	rp->nnotes++;
	rp_message(rp, "noted (%zu for the agent: %s sends)", rp->nnotes,
	    "send-feedback");
}

static void
rp_send(struct review_pane *rp)
{
	struct buf text = BUF_INIT;

	if (rp->nnotes == 0) {
		rp_message(rp, "no feedback yet: comment or reject first");
		return;
	}
	if (rp->host.feedback == NULL) {
		rp_message(rp, "feedback goes to the agent from the airlock "
		    "that runs it (prefix d there)");
		return;
	}
	buf_addstr(&text, "Review of your changes (airlock):\n");
	buf_add(&text, rp->notes.data, rp->notes.len);
	rp->host.feedback(rp->host.arg, text.data, text.len);
	buf_free(&text);
	buf_reset(&rp->notes);
	rp_message(rp, "sent %zu note%s to the agent", rp->nnotes,
	    rp->nnotes == 1 ? "" : "s");
	rp->nnotes = 0;
}

static void
rp_prompt_yes(struct review_pane *rp, enum rp_prompt p)
{
	switch (p) {
	case RP_PROMPT_REJECT:
		rp_job_start(rp, RP_JOB_REJECT);
		break;
	case RP_PROMPT_PROMOTE:
		free(rp->overlay);
		rp->overlay = NULL;
		rp_args_start(rp, "promote");
		rp_args_add(rp, "--approved");
		rp_job_start(rp, RP_JOB_PROMOTE);
		break;
	case RP_PROMPT_UNPROMOTE:
		rp_args_start(rp, "unpromote");
		rp_job_start(rp, RP_JOB_UNPROMOTE);
		break;
	case RP_PROMPT_ROLLBACK:
		rp_job_start(rp, RP_JOB_ROLLBACK);
		break;
	case RP_PROMPT_RESOLVE:
		rp_job_start(rp, RP_JOB_RESOLVE);
		break;
	case RP_PROMPT_SEND:
		rp_send(rp);
		break;
	default:
		break;
	}
}

static void
rp_prompt_key(struct review_pane *rp, key_code key)
{
	enum rp_prompt p = rp->prompt;

	if (p == RP_PROMPT_COMMENT) {
		switch (input_line_key(&rp->input, key, RP_INPUT_MAX)) {
		case 1:
			rp->prompt = RP_PROMPT_NONE;
			rp_comment_done(rp);
			break;
		case -1:
			rp->prompt = RP_PROMPT_NONE;
			rp_message(rp, "no comment");
			break;
		}
		return;
	}
	rp->prompt = RP_PROMPT_NONE;
	if (key == 'y' || key == 'Y')
		rp_prompt_yes(rp, p);
	else {
		if (p == RP_PROMPT_PROMOTE) {
			free(rp->overlay);
			rp->overlay = NULL;
		}
		buf_reset(&rp->pending_note);
		rp_message(rp, "nothing done");
	}
}

void
review_pane_paste(struct review_pane *rp, const char *data, size_t len)
{
	size_t i;

	if (rp->prompt != RP_PROMPT_COMMENT)
		return;
	for (i = 0; i < len && rp->input.len < RP_INPUT_MAX; i++) {
		if ((unsigned char)data[i] >= ' ' && data[i] != 0x7f)
			buf_addch(&rp->input, data[i]);
		else if (data[i] == '\n' || data[i] == '\t')
			buf_addch(&rp->input, ' ');
	}
}

/* ---- actions ---------------------------------------------------------- */

static void
rp_promote(struct review_pane *rp)
{
	rp_args_start(rp, "promote");
	rp_args_add(rp, "--approved");
	rp_args_add(rp, "--dry-run");
	rp_job_start(rp, RP_JOB_DRY_RUN);
}

static void
rp_resolve(struct review_pane *rp, int favor)
{
	size_t i = rp_selected_file(rp);
	const struct review_file *f;

	if (i == RP_NONE) {
		rp_message(rp, "resolve: select a file");
		return;
	}
	rp_state(rp, i);
	f = rp_file(rp, i);
	if (!(f->marks & REVIEW_CONFLICT)) {
		rp_message(rp, "resolve: %s does not conflict", f->ch->path);
		return;
	}
	rp_args_start(rp, "promote");
	rp_args_add(rp, favor == PROMOTE_FAVOR_OURS ? "--ours" : "--theirs");
	rp_args_path(rp, i);
	rp_ask(rp, RP_PROMPT_RESOLVE, "resolve %s with %s and promote it? "
	    "[y/N]", f->ch->path, favor == PROMOTE_FAVOR_OURS ?
	    "the real tree's side (ours)" : "the scratch's side (theirs)");
}

static void
rp_rollback(struct review_pane *rp)
{
	uint32_t to = rp->range.set ? rp->range.to : rp->selected;
	char n[16], id[16];

	if (to == CKPT_NONE) {
		rp_message(rp, "rollback: pick a checkpoint in the timeline "
		    "first (Enter there opens its turn here)");
		return;
	}
	snprintf(n, sizeof n, "%u", to);
	snprintf(id, sizeof id, "%u", rp->s->id);
	rp_args_start(rp, "rollback");
	rp_args_add(rp, n);
	rp_args_add(rp, id);
	rp->rollback_to = to;
	rp_ask(rp, RP_PROMPT_ROLLBACK, "roll the scratch back to #%u? "
	    "[y/N] (it can be undone: airlock log, then rollback)", to);
}

static void
rp_view_changed(struct review_pane *rp)
{
	size_t i = rp->dfile;

	if (i == RP_NONE)
		return;
	rp->dfile = RP_NONE;
	rp_load_diff(rp, i);
	rp_message(rp, "context %d%s", rp->opts.context,
	    rp->opts.ignore_ws ? ", whitespace ignored" : "");
}

/*
 * $EDITOR (through the host) on file i as the agent sees it; on a
 * conflict, on its merge with the markers: once saved without them, the
 * result is the scratch's and the real file as it is now its base, so
 * the promotion writes the resolution as it is.
 */
static void
rp_edit(struct review_pane *rp, size_t i)
{
	/* the host may reload the review meanwhile: copies */
	char *path = xstrdup(rp_file(rp, i)->ch->path), *cause = NULL;
	size_t len = rp_file(rp, i)->ch->pathlen;
	struct buf text = BUF_INIT;
	int conflict;

	rp_load_diff(rp, i);
	conflict = rp->in_conflict;
	if (conflict)
		buf_add(&text, rp->conflict.data, rp->conflict.len);
	if (rp->host.edit(rp->host.arg, path, conflict ? text.data : NULL,
	    text.len) == 0) {
		if (conflict && promote_rebase(rp->st, rp->s, path, len,
		    &cause) != 0) {
			rp_message(rp, "resolve: %s", cause);
			free(cause);
		} else if (conflict)
			rp_message(rp, "resolved by hand: promoting writes it "
			    "as it is");
		rp_reload(rp);
	}
	buf_free(&text);
	free(path);
}

static void
rp_list_action(struct review_pane *rp, enum action a)
{
	const struct rp_row *row = rp_row(rp);

	switch (a) {
	case ACTION_SELECT:
	case ACTION_RIGHT:
		if (row == NULL)
			break;
		if (row->dir && (a == ACTION_SELECT || row->collapsed)) {
			rp_toggle_collapsed(rp, rp->rv.v[row->file].ch->path,
			    row->dirlen);
			rp_rows(rp);
		} else if (!row->dir) {
			rp_load_diff(rp, row->file);
			rp->focus_diff = 1;
		}
		break;
	case ACTION_LEFT:
		if (row == NULL)
			break;
		if (row->dir && !row->collapsed) {
			rp_toggle_collapsed(rp, rp->rv.v[row->file].ch->path,
			    row->dirlen);
			rp_rows(rp);
		} else {
			/* to the directory above */
			for (size_t r = rp->sel; r-- > 0;) {
				if (rp->rows[r].dir &&
				    rp->rows[r].depth < row->depth) {
					rp->sel = r;
					break;
				}
			}
		}
		break;
	default:
		rp_move(&rp->sel, rp->nrows, a, rp->body_rows);
		rp_load_diff(rp, rp_selected_file(rp));
		break;
	}
}

static void
rp_diff_action(struct review_pane *rp, enum action a)
{
	rp->make_bottom = 0;
	switch (a) {
	case ACTION_LEFT:
		if (rp->hscroll == 0)
			rp->focus_diff = 0;
		else
			rp->hscroll = rp->hscroll > 8 ? rp->hscroll - 8 : 0;
		break;
	case ACTION_RIGHT:
		rp->hscroll += 8;
		break;
	case ACTION_SELECT:
		break;
	default:
		rp_move(&rp->dsel, rp_diff_lines(rp), a, rp->body_rows);
		/* the end of a preview is not the diff's: once it is made */
		rp->make_bottom = a == ACTION_BOTTOM && rp->have_diff &&
		    rp->diff.preview;
		break;
	}
}

int
review_pane_key(struct review_pane *rp, key_code key)
{
	enum action a;

	free(rp->message);
	rp->message = NULL;
	if (rp->prompt != RP_PROMPT_NONE) {
		rp_prompt_key(rp, key);
		return 0;
	}
	a = keymap_lookup(rp->km, MODE_REVIEW, key);
	if (rp->overlay != NULL) {
		/* a command's output: scroll it, or any other key closes it */
		if (a == ACTION_DOWN || a == ACTION_PAGE_DOWN ||
		    a == ACTION_HALF_DOWN)
			rp->overlay_top += a == ACTION_DOWN ? 1 :
			    (size_t)(rp->body_rows > 2 ? rp->body_rows / 2 : 1);
		else if (a == ACTION_UP)
			rp->overlay_top -= rp->overlay_top > 0;
		else {
			free(rp->overlay);
			rp->overlay = NULL;
		}
		return 0;
	}
	switch (a) {
	case ACTION_CLOSE:
		if (rp->selecting) {
			rp->selecting = 0;
			break;
		}
		if (rp->job != RP_JOB_NONE) {
			rp_message(rp, "wait: %s (it finishes on its own)",
			    rp_job_names[rp->job]);
			break;
		}
		return 1;
	case ACTION_NONE:
		break;
	case ACTION_SWITCH_FOCUS:
		if (!rp->focus_diff && rp_selected_file(rp) == RP_NONE)
			break;
		rp->focus_diff = !rp->focus_diff;
		rp_load_diff(rp, rp_selected_file(rp));
		break;
	case ACTION_APPROVE_FILE:
		if (rp_selected_file(rp) != RP_NONE)
			rp_approve_file(rp, rp_selected_file(rp));
		break;
	case ACTION_APPROVE_HUNK:
		rp_approve_hunk(rp, 1, 0);
		break;
	case ACTION_APPROVE_REST:
		rp_approve_hunk(rp, 1, 1);
		break;
	case ACTION_UNAPPROVE:
		if (!rp->focus_diff && rp_selected_file(rp) != RP_NONE) {
			rp_state(rp, rp_selected_file(rp));
			if (rp_file(rp, rp_selected_file(rp))->approval !=
			    APPROVAL_NONE)
				rp_approve_file(rp, rp_selected_file(rp));
		} else
			rp_approve_hunk(rp, 0, 0);
		break;
	case ACTION_SKIP:
		if (rp->focus_diff && rp->have_diff) {
			size_t s, e;

			rp_advance(rp, rp_hunk_bounds(rp, rp->dsel, &s, &e) ?
			    s : rp->dsel);
		} else
			rp_next_file(rp, 1, 0);
		break;
	case ACTION_UNDO:
		rp_undo(rp);
		break;
	case ACTION_BEGIN_SELECTION:
		if (!rp->focus_diff || !rp->have_diff)
			rp_message(rp, "select lines in the diff");
		else {
			rp->selecting = !rp->selecting;
			rp->anchor = rp->dsel;
		}
		break;
	case ACTION_REJECT_HUNK:
		rp_reject(rp, 0);
		break;
	case ACTION_REJECT_FILE:
		rp_reject(rp, 1);
		break;
	case ACTION_EDIT:
		if (rp->host.edit == NULL || rp_selected_file(rp) == RP_NONE)
			rp_message(rp, "edit: %s", rp_selected_file(rp) ==
			    RP_NONE ? "select a file" : "only from the airlock "
			    "that runs the session");
		else
			rp_edit(rp, rp_selected_file(rp));
		break;
	case ACTION_PROMOTE:
		rp_promote(rp);
		break;
	case ACTION_UNPROMOTE:
		rp_ask(rp, RP_PROMPT_UNPROMOTE, "undo the last promotion of "
		    "this session? the real files go back as they were [y/N]");
		break;
	case ACTION_ROLLBACK:
		rp_rollback(rp);
		break;
	case ACTION_COMMENT:
		rp_comment(rp);
		break;
	case ACTION_SEND_FEEDBACK:
		if (rp->nnotes == 0)
			rp_send(rp);
		else
			rp_ask(rp, RP_PROMPT_SEND, "send %zu note%s to the "
			    "agent as its input? [y/N]", rp->nnotes,
			    rp->nnotes == 1 ? "" : "s");
		break;
	case ACTION_WHITESPACE:
		rp->opts.ignore_ws = !rp->opts.ignore_ws;
		rp_view_changed(rp);
		break;
	case ACTION_CONTEXT_MORE:
	case ACTION_CONTEXT_LESS:
		if (a == ACTION_CONTEXT_MORE && rp->opts.context <
		    RP_CONTEXT_MAX)
			rp->opts.context++;
		else if (a == ACTION_CONTEXT_LESS && rp->opts.context > 0)
			rp->opts.context--;
		rp_view_changed(rp);
		break;
	case ACTION_RESOLVE_OURS:
		rp_resolve(rp, PROMOTE_FAVOR_OURS);
		break;
	case ACTION_RESOLVE_THEIRS:
		rp_resolve(rp, PROMOTE_FAVOR_THEIRS);
		break;
	case ACTION_NEXT_HUNK:
		rp_hunk_jump(rp, 1);
		break;
	case ACTION_PREV_HUNK:
		rp_hunk_jump(rp, -1);
		break;
	case ACTION_NEXT_FILE:
		rp_next_file(rp, 1, 0);
		break;
	case ACTION_PREV_FILE:
		rp_next_file(rp, -1, 0);
		break;
	case ACTION_SHOW_TOTAL:
		if (rp->range.set) {
			char *cause = NULL;

			if (review_pane_scope(rp, NULL, rp->selected,
			    &cause) != 0) {
				rp_message(rp, "%s", cause);
				free(cause);
			}
		}
		break;
	case ACTION_HELP:
		return 2;
	default:
		if (rp->focus_diff)
			rp_diff_action(rp, a);
		else
			rp_list_action(rp, a);
		break;
	}
	return 0;
}

/* ---- drawing ---------------------------------------------------------- */

static int
rp_pair(short fg, short bg)
{
	int pair;

	if (!has_colors())
		return 0;
	if (COLORS < 8)
		return 0;
	pair = alloc_pair(fg, bg);
	return pair < 0 ? 0 : pair;
}

/*
 * Draws len bytes of any text at (y, x) in at most cols columns, skipping
 * the first skip columns: UTF-8 as characters, tabs to 8, invalid bytes
 * and controls as '?' so that nothing in a file reaches the terminal.
 * Bytes in [hl_start, hl_end) get hl on top of attr. Returns the columns
 * used.
 */
static int
rp_text(WINDOW *win, int y, int x, int cols, const char *s, size_t len,
    size_t skip, attr_t attr, int pair, const struct review_span *spans,
    size_t nspans, attr_t hl)
{
	mbstate_t ps;
	wchar_t wc, str[2] = { 0, 0 };
	size_t i = 0, n, col = 0, sp = 0;
	int used = 0, w, k;
	attr_t at;
	cchar_t cc;

	memset(&ps, 0, sizeof ps);
	while (i < len && used < cols) {
		n = mbrtowc(&wc, s + i, len - i, &ps);
		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			memset(&ps, 0, sizeof ps);
			wc = L'?';
			n = 1;
		}
		if (wc == L'\t') {
			w = (int)(8 - col % 8);
			wc = L' ';
		} else if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 &&
		    wc < 0xa0) || (w = wcwidth(wc)) < 0) {
			wc = L'?';
			w = 1;
		}
		at = attr;
		while (sp < nspans && (size_t)spans[sp].start +
		    spans[sp].len <= i)
			sp++;
		if (sp < nspans && i >= spans[sp].start)
			at |= hl;
		i += n;
		if (w == 0)
			continue;  /* combining marks are not drawn */
		if (col < skip) {
			/* a wide character cut by the left edge: blanks */
			col += (size_t)w;
			if (col > skip)
				w = (int)(col - skip), wc = L' ';
			else
				continue;
			col -= (size_t)w;
		}
		if (used + w > cols)
			break;
		str[0] = wc;
		setcchar(&cc, str, at, (short)pair, NULL);
		if (wc == L' ' || w == 1 || wcwidth(wc) != w) {
			setcchar(&cc, wc == L' ' || wcwidth(wc) != w ?
			    L" " : str, at, (short)pair, NULL);
			for (k = 0; k < w; k++)
				mvwadd_wch(win, y, x + used + k, &cc);
		} else
			mvwadd_wch(win, y, x + used, &cc);
		used += w;
		col += (size_t)w;
	}
	return used;
}

static void
rp_fill(WINDOW *win, int y, int x, int cols, attr_t attr, int pair)
{
	cchar_t cc;

	setcchar(&cc, L" ", attr, (short)pair, NULL);
	for (; cols > 0; cols--, x++)
		mvwadd_wch(win, y, x, &cc);
}

static const char *
rp_approval_mark(const struct review_file *f)
{
	if (!f->state_known)
		return "[.]";
	switch (f->approval) {
	case APPROVAL_APPROVED: return "[x]";
	case APPROVAL_PARTIAL: return "[~]";
	case APPROVAL_LAPSED: return "[!]";
	default: return "[ ]";
	}
}

static char
rp_letter(const struct review_file *f)
{
	if (f->marks & REVIEW_RENAMED)
		return 'R';
	return change_letter(f->ch);
}

static void
rp_tags(const struct review_file *f, struct buf *b)
{
	if (f->marks & REVIEW_CONFLICT)
		buf_addstr(b, " conflict");
	else if (f->marks & REVIEW_MERGES)
		buf_addstr(b, " merges");
	if (f->marks & REVIEW_RISKY)
		buf_addstr(b, " risky");
	if (f->marks & REVIEW_BINARY)
		buf_addstr(b, " binary");
	if (f->marks & REVIEW_TYPE)
		buf_addstr(b, " type");
	else if (f->marks & REVIEW_MODE)
		buf_addstr(b, " mode");
	if (f->approval == APPROVAL_PARTIAL && f->state_known)
		buf_printf(b, " %zu/%zu", f->approved, f->nhunks);
	if ((f->marks & REVIEW_RENAMED) && f->from != NULL) {
		buf_addstr(b, " from ");
		buf_add(b, f->from->path, f->from->pathlen);
		buf_printf(b, " %d%%", f->similarity);
	}
}

static void
rp_draw_list(struct review_pane *rp, WINDOW *win, int rows, int cols)
{
	struct buf line = BUF_INIT, tags = BUF_INIT;
	size_t i, r, approved = 0, known = 0;
	int y, x, focused = !rp->focus_diff;
	const char *name;

	for (i = 0; i < rp->rv.n; i++) {
		known += rp->rv.v[i].state_known;
		approved += rp->rv.v[i].state_known &&
		    rp->rv.v[i].approval == APPROVAL_APPROVED;
	}
	buf_printf(&line, "%zu file%s +%zu ~%zu -%zu", rp->rv.n,
	    rp->rv.n == 1 ? "" : "s", rp->rv.added, rp->rv.modified,
	    rp->rv.deleted);
	if (rp->rv.risky > 0)
		buf_printf(&line, " %zu risky", rp->rv.risky);
	buf_printf(&line, ", %zu approved%s", approved,
	    known < rp->rv.n ? "..." : "");
	wattron(win, A_BOLD);
	rp_text(win, 0, 0, cols, line.data, line.len, 0, A_BOLD, 0, NULL, 0,
	    0);
	wattroff(win, A_BOLD);
	if (rp->nrows == 0) {
		mvwaddnstr(win, 2, 1, rp->range.set ? "this turn changed "
		    "nothing" : "no changes", cols - 1);
		buf_free(&line);
		return;
	}
	if (rp->sel >= rp->nrows)
		rp->sel = rp->nrows - 1;
	if (rp->sel < rp->top)
		rp->top = rp->sel;
	if (rp->sel >= rp->top + (size_t)rows)
		rp->top = rp->sel - (size_t)rows + 1;
	for (r = rp->top, y = 1; r < rp->nrows && y <= rows; r++, y++) {
		const struct rp_row *row = &rp->rows[r];
		const struct review_file *f = &rp->rv.v[row->file];
		attr_t attr = r == rp->sel ? (focused ? A_REVERSE :
		    A_BOLD | A_UNDERLINE) : A_NORMAL;
		int pair = 0;

		buf_reset(&line);
		for (unsigned d = 0; d < row->depth; d++)
			buf_addstr(&line, "  ");
		if (row->dir) {
			const char *p = f->ch->path;
			const char *slash = memrchr(p, '/', row->dirlen);

			name = slash != NULL ? slash + 1 : p;
			buf_addstr(&line, row->collapsed ? "+ " : "- ");
			buf_add(&line, name, row->dirlen - (size_t)(name - p));
			buf_addch(&line, '/');
		} else {
			rp_state(rp, row->file);
			name = memrchr(f->ch->path, '/', f->ch->pathlen);
			name = name != NULL ? name + 1 : f->ch->path;
			buf_printf(&line, "%s %c ", rp_approval_mark(f),
			    rp_letter(f));
			buf_add(&line, name, f->ch->pathlen -
			    (size_t)(name - f->ch->path));
			buf_reset(&tags);
			rp_tags(f, &tags);
			if (f->marks & REVIEW_CONFLICT)
				pair = rp_pair(COLOR_RED, -1);
			else if (f->approval == APPROVAL_APPROVED)
				pair = rp_pair(COLOR_GREEN, -1);
			else if (f->approval == APPROVAL_LAPSED)
				pair = rp_pair(COLOR_YELLOW, -1);
		}
		rp_fill(win, y, 0, cols, attr, pair);
		x = rp_text(win, y, 0, cols, line.data, line.len, 0, attr,
		    pair, NULL, 0, 0);
		if (!row->dir && tags.len > 0 && x < cols)
			rp_text(win, y, x, cols - x, tags.data, tags.len, 0,
			    attr | A_DIM, pair, NULL, 0, 0);
	}
	buf_free(&line);
	buf_free(&tags);
}

static void
rp_draw_overlay(struct review_pane *rp, WINDOW *win, int x0, int rows,
    int cols)
{
	const char *p = rp->overlay, *nl;
	size_t skip = rp->overlay_top;
	int y = 1;

	rp_text(win, 0, x0, cols, "airlock said:", 13, 0, A_BOLD, 0, NULL,
	    0, 0);
	while (*p != '\0' && skip > 0) {
		nl = strchr(p, '\n');
		p = nl != NULL ? nl + 1 : p + strlen(p);
		skip--;
	}
	while (*p != '\0' && y <= rows) {
		nl = strchr(p, '\n');
		rp_text(win, y++, x0, cols, p, nl != NULL ? (size_t)(nl - p) :
		    strlen(p), 0, A_NORMAL, 0, NULL, 0, 0);
		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
}

static void
rp_draw_conflict(struct review_pane *rp, WINDOW *win, int x0, int rows,
    int cols)
{
	const char *p = rp->conflict.data, *end = p + rp->conflict.len, *nl;
	size_t n = 0, len;
	int y = 1, pair = 0, region = 0;   /* 1 ours, 2 base, 3 theirs */
	attr_t attr;

	if (rp->dsel < rp->dtop)
		rp->dtop = rp->dsel;
	if (rp->dsel >= rp->dtop + (size_t)rows)
		rp->dtop = rp->dsel - (size_t)rows + 1;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		attr = A_NORMAL;
		if (len >= 7 && memcmp(p, "<<<<<<<", 7) == 0) {
			region = 1;
			attr = A_BOLD;
			pair = rp_pair(COLOR_YELLOW, -1);
		} else if (len >= 7 && memcmp(p, "|||||||", 7) == 0) {
			region = 2;
			attr = A_BOLD;
			pair = rp_pair(COLOR_BLUE, -1);
		} else if (len >= 7 && memcmp(p, "=======", 7) == 0) {
			region = 3;
			attr = A_BOLD;
			pair = rp_pair(COLOR_GREEN, -1);
		} else if (len >= 7 && memcmp(p, ">>>>>>>", 7) == 0) {
			attr = A_BOLD;
			pair = rp_pair(COLOR_GREEN, -1);
			region = 4;
		} else if (region == 4) {
			region = 0;
			pair = 0;
		}
		if (n >= rp->dtop && y <= rows) {
			if (rp->focus_diff && n == rp->dsel)
				attr |= A_REVERSE;
			rp_text(win, y++, x0, cols, p, len, rp->hscroll, attr,
			    pair, NULL, 0, 0);
		}
		n++;
		p = nl != NULL ? nl + 1 : end;
	}
}

static void
rp_draw_diff(struct review_pane *rp, WINDOW *win, int x0, int rows,
    int cols)
{
	const struct review_diff *d = &rp->diff;
	const struct review_file *f;
	struct buf line = BUF_INIT;
	char nums[32];
	size_t i, lo = 0, hi = 0, nhunk = 0, cur = 0;
	int y, x, pair;
	attr_t attr, hl;

	if (rp->dfile == RP_NONE) {
		const char *s = rp->pending_diff &&
		    rp_selected_file(rp) != RP_NONE ? "making the diff..." :
		    "select a file";

		rp_text(win, 1, x0 + 1, cols - 1, s, strlen(s), 0, A_NORMAL,
		    0, NULL, 0, 0);
		return;
	}
	f = rp_file(rp, rp->dfile);
	buf_add(&line, f->ch->path, f->ch->pathlen);
	if (rp->range.set)
		buf_printf(&line, "  (turn #%u..#%u)", rp->range.from,
		    rp->range.to);
	if (rp->have_diff) {
		for (i = 0; i < d->n; i++) {
			if (d->v[i].type != REVIEW_LINE_HUNK)
				continue;
			nhunk++;
			if (i <= rp->dsel)
				cur = nhunk;
		}
		if (d->preview)
			buf_addstr(&line, "  (its first lines: diffing the "
			    "whole file...)");
		else if (nhunk > 0)
			buf_printf(&line, "  hunk %zu/%zu", cur, nhunk);
	}
	if (!rp_opts_default(&rp->opts))
		buf_printf(&line, "  context %d%s", rp->opts.context,
		    rp->opts.ignore_ws ? " -w" : "");
	rp_text(win, 0, x0, cols, line.data, line.len, 0, A_BOLD, 0, NULL, 0,
	    0);
	buf_free(&line);
	if (rp->in_conflict) {
		rp_draw_conflict(rp, win, x0, rows, cols);
		return;
	}
	if (!rp->have_diff) {
		if (rp->derror != NULL)
			rp_text(win, 1, x0, cols, rp->derror,
			    strlen(rp->derror), 0, A_NORMAL, 0, NULL, 0, 0);
		return;
	}
	if (rp->dsel >= d->n)
		rp->dsel = d->n > 0 ? d->n - 1 : 0;
	if (rp->dsel < rp->dtop)
		rp->dtop = rp->dsel;
	if (rp->dsel >= rp->dtop + (size_t)rows)
		rp->dtop = rp->dsel - (size_t)rows + 1;
	if (rp->selecting) {
		lo = rp->anchor < rp->dsel ? rp->anchor : rp->dsel;
		hi = rp->anchor < rp->dsel ? rp->dsel : rp->anchor;
	}
	for (i = rp->dtop, y = 1; i < d->n && y <= rows; i++, y++) {
		const struct review_line *l = &d->v[i];
		char sign = ' ', mark = ' ';

		attr = A_NORMAL;
		pair = 0;
		hl = A_REVERSE;
		switch (l->type) {
		case REVIEW_LINE_ADD:
			sign = '+';
			pair = rp_pair(COLOR_GREEN, -1);
			break;
		case REVIEW_LINE_DEL:
			sign = '-';
			pair = rp_pair(COLOR_RED, -1);
			break;
		case REVIEW_LINE_HUNK:
			pair = rp_pair(COLOR_CYAN, -1);
			break;
		case REVIEW_LINE_NOTE:
			attr = A_BOLD;
			break;
		case REVIEW_LINE_NOEOL:
			attr = A_DIM;
			break;
		default:
			break;
		}
		if (rp_line_approved(rp, l))
			mark = '*';
		if (rp->focus_diff && (i == rp->dsel || (rp->selecting &&
		    i >= lo && i <= hi)))
			attr |= A_REVERSE, hl = A_NORMAL | A_UNDERLINE;
		rp_fill(win, y, x0, cols, attr, pair);
		if (l->type == REVIEW_LINE_NOTE || l->type == REVIEW_LINE_HUNK) {
			struct buf h = BUF_INIT;

			buf_add(&h, d->text.data + l->off, l->len);
			if (l->type == REVIEW_LINE_HUNK) {
				size_t s, e;

				if (rp_hunk_bounds(rp, i, &s, &e) &&
				    rp_hunk_done(rp, s, e))
					buf_addstr(&h, "  [approved]");
			}
			rp_text(win, y, x0, cols, h.data, h.len, rp->hscroll,
			    attr, pair, NULL, 0, 0);
			buf_free(&h);
			continue;
		}
		if (l->old_no != 0)
			snprintf(nums, sizeof nums, "%5u ", l->old_no);
		else
			snprintf(nums, sizeof nums, "      ");
		if (l->new_no != 0)
			snprintf(nums + 6, sizeof nums - 6, "%5u", l->new_no);
		else
			snprintf(nums + 6, sizeof nums - 6, "     ");
		x = rp_text(win, y, x0, cols, nums, strlen(nums), 0,
		    attr | A_DIM, 0, NULL, 0, 0);
		nums[0] = ' ';
		nums[1] = mark;
		nums[2] = sign;
		x += rp_text(win, y, x0 + x, cols - x, nums, 3, 0,
		    attr | (mark != ' ' ? A_BOLD : 0), pair, NULL, 0, 0);
		if (x < cols)
			rp_text(win, y, x0 + x, cols - x, d->text.data + l->off,
			    l->len, rp->hscroll, attr, pair,
			    d->spans + l->span, l->nspan, hl);
	}
}

static void
rp_draw_bottom(struct review_pane *rp, WINDOW *win, int y, int cols)
{
	struct buf b = BUF_INIT;
	attr_t attr = A_REVERSE;

	if (rp->prompt != RP_PROMPT_NONE) {
		buf_printf(&b, " %s", rp->prompt_text.data);
		if (rp->prompt == RP_PROMPT_COMMENT)
			buf_add(&b, rp->input.data, rp->input.len);
	} else if (rp->job != RP_JOB_NONE)
		buf_printf(&b, " %s... %llds", rp_job_names[rp->job],
		    (long long)((rp_now() - rp->job_started) / 1000));
	else if (rp->message != NULL)
		buf_printf(&b, " %s", rp->message);
	else if (rp->overlay != NULL)
		buf_addstr(&b, " any key closes this");
	else if (rp->selecting)
		buf_addstr(&b, " selecting lines: approve-hunk approves them, "
		    "close stops");
	else
		buf_printf(&b, " review%s: ? keys, q back%s%s",
		    rp->range.set ? " of a turn" : "",
		    rp->nnotes > 0 ? " | feedback waiting: " : "",
		    rp->nnotes > 0 ? "send-feedback sends it" : "");
	rp_fill(win, y, 0, cols, attr, 0);
	rp_text(win, y, 0, cols, b.data, b.len, 0, attr, 0, NULL, 0, 0);
	buf_free(&b);
}

void
review_pane_draw(struct review_pane *rp, WINDOW *win)
{
	int rows, cols, list, body;

	getmaxyx(win, rows, cols);
	werase(win);
	if (rows < 3 || cols < 20) {
		mvwaddnstr(win, 0, 0, "too small for the review", cols);
		return;
	}
	body = rows - 2;    /* a title row, the bottom row */
	list = cols / 3;
	if (list > 50)
		list = 50;
	if (list < 16)
		list = 16;
	if (cols < 60)
		list = rp->focus_diff ? 0 : cols;
	rp->body_rows = body;
	rp->list_cols = list;
	rp->diff_cols = cols - list - (list > 0 && list < cols ? 1 : 0);
	if (list > 0)
		rp_draw_list(rp, win, body, list);
	if (list > 0 && list < cols)
		mvwvline(win, 0, list, ACS_VLINE, body + 1);
	if (list < cols) {
		int x0 = list > 0 ? list + 1 : 0;

		if (rp->overlay != NULL)
			rp_draw_overlay(rp, win, x0, body, cols - x0);
		else
			rp_draw_diff(rp, win, x0, body, cols - x0);
	}
	rp_draw_bottom(rp, win, rows - 1, cols);
}

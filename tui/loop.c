/*
 * The terminal UI's loop (design §7): one poll(2) over the outer terminal,
 * the agent's pty, the warden, the relayed signals, the control sockets,
 * the checkpoint worker and the scratch's inotify, until the agent exits.
 *
 * Every key goes to the agent but the prefix and what follows it. The agent
 * pane is a libvterm screen (term.c) drawn into ncurses (draw.c); the
 * status line and the timeline are drawn around it. Checkpoints run on the
 * worker thread; a rollback or a reject (rare, asked for) runs here.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tui/tui.h"

#define LOOP_READ_MAX 65536
#define LOOP_READ_BUDGET_MS 10   /* of pty output before looking at keys */
#define LOOP_FRAME_MS 16         /* at most one redraw per frame */
#define LOOP_MESSAGE_MS 6000
#define LOOP_HINT_QUIET_MS 300   /* after a BEL or OSC 9/777 */
#define LOOP_QUIT_TERM_MS 2000   /* SIGHUP, then SIGTERM, then SIGKILL */
#define LOOP_QUIT_KILL_MS 5000
#define LOOP_PTY_OUT_MAX (4 * 1024 * 1024)
#define LOOP_COUNT_MS 2000       /* recount the pending changes */
#define LOOP_HOLD_MS 1000        /* longest wait of keys for a checkpoint */
#define LOOP_REFUSED_MAX 200     /* refused connections kept for the pane */

enum loop_prompt {
	PROMPT_NONE,
	PROMPT_QUIT,
	PROMPT_ROLLBACK,
	PROMPT_SEARCH,
	PROMPT_ALLOW,
};

struct loop_refused {            /* a connection the proxy refused */
	char *host;
	uint16_t port;
	char *why;
	int64_t when;              /* unix ms */
	unsigned count;            /* the same host:port again */
};

struct loop {
	struct store *store;
	const struct session *session;
	struct sandbox *sb;
	struct control_server *server;
	const struct sandbox_config *cfg;
	int pty;
	struct term *term;
	struct input *input;
	struct keymap *keymap;
	struct worker *worker;
	struct idle *idle;
	struct copy_mode *copy;
	struct review_pane *review;   /* open (shown when focused) */
	int review_work;           /* it has states to fill when idle */
	struct timeline timeline;
	struct status_info status;

	int rows, cols;            /* the outer terminal */
	int pane_rows, pane_cols;  /* the agent's pty */
	int timeline_cols;         /* 0: hidden */
	WINDOW *pane, *bar, *side, *overlay;
	int show_timeline, zoom, help;
	enum { FOCUS_AGENT, FOCUS_TIMELINE, FOCUS_COPY, FOCUS_REVIEW,
	    FOCUS_NET } focus;
	struct loop_refused *refused;  /* newest last */
	size_t nrefused, net_sel, net_top;
	enum key_mode help_mode;   /* whose keys the help shows */
	int prefix;                /* the prefix was typed */
	enum loop_prompt prompt;
	struct buf prompt_text;
	int search_forward;
	uint32_t rollback_to;

	struct buf to_pty;         /* keys and answers for the agent */
	int dirty;                 /* something to draw */
	int64_t last_draw;
	int64_t last_output, last_write, last_input;
	int armed;                 /* the agent was quiet when the user
				      started typing this line */
	int typed;                 /* keys sent since the last Enter */
	int64_t holding;           /* a prompt's checkpoint runs: the Enter
				      and what follows wait in held (ms) */
	struct buf held;
	int64_t hint;              /* a BEL or notification came (ms) */
	int64_t counted;           /* when the changes were last counted */
	int outer_mouse;           /* mouse reports asked of the outer
				      terminal */
	int cursor_shape;          /* as last sent to the outer terminal */
	char *title;               /* as last sent */
	char *clipboard;           /* the last copy, for paste-buffer */
	char *allow_entry;         /* what PROMPT_ALLOW asks about */

	int quitting;
	int64_t quit_at;
	int exited;
	int status_code;
};

static int64_t
loop_now(void)
{
	return control_now();
}

/* A message on the status line for a while (errors too: never over the
 * agent's screen). */
static void PRINTFLIKE(2, 3)
loop_message(struct loop *l, const char *fmt, ...)
{
	va_list ap;

	free(l->status.message);
	va_start(ap, fmt);
	if (vasprintf(&l->status.message, fmt, ap) < 0)
		l->status.message = NULL;
	va_end(ap);
	/* paths the agent named may hold \r or \b: curses would move the
	 * cursor for them over the line */
	for (char *p = l->status.message; p != NULL && *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	l->status.message_until = loop_now() + LOOP_MESSAGE_MS;
	l->dirty = 1;
}

/* Outer terminal escapes written after ncurses flushed its own. */
static void
loop_outer(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void
loop_pty_size(struct loop *l)
{
	struct winsize ws;

	/* the kernel sends SIGWINCH to the agent's foreground group on any
	 * change, pixel sizes included: set it only when the cells change */
	if (ioctl(l->pty, TIOCGWINSZ, &ws) != 0)
		memset(&ws, 0, sizeof ws);
	if (ws.ws_row == (unsigned short)l->pane_rows &&
	    ws.ws_col == (unsigned short)l->pane_cols)
		return;
	ws.ws_row = (unsigned short)l->pane_rows;
	ws.ws_col = (unsigned short)l->pane_cols;
	ws.ws_xpixel = ws.ws_ypixel = 0;
	ioctl(l->pty, TIOCSWINSZ, &ws);
}

static void
loop_windows_free(struct loop *l)
{
	if (l->pane != NULL)
		delwin(l->pane);
	if (l->bar != NULL)
		delwin(l->bar);
	if (l->side != NULL)
		delwin(l->side);
	l->pane = l->bar = l->side = NULL;
}

/* Lays the panes out on rows x cols; resizes the agent's pty when its
 * share changed. */
static void
loop_layout(struct loop *l)
{
	int rows = l->rows, cols = l->cols, bar = 1, side = 0;
	int prows, pcols;

	loop_windows_free(l);
	if (l->zoom || rows < 3)
		bar = rows < 2 ? 0 : (l->zoom ? 0 : 1);
	if (l->show_timeline && !l->zoom && cols >= 40) {
		side = cols / 3;
		if (side > 50)
			side = 50;
		if (side < 20)
			side = 20;
	}
	l->timeline_cols = side;
	prows = rows - bar;
	pcols = side > 0 ? cols - side - 1 : cols;
	if (prows < 1)
		prows = 1;
	if (pcols < 1)
		pcols = 1;
	l->pane = newwin(prows, pcols, 0, 0);
	if (bar)
		l->bar = newwin(1, cols, rows - 1, 0);
	if (side > 0)
		l->side = newwin(prows, side, 0, cols - side);
	if (l->pane != NULL) {
		leaveok(l->pane, FALSE);
		scrollok(l->pane, FALSE);
	}
	if (prows != l->pane_rows || pcols != l->pane_cols) {
		l->pane_rows = prows;
		l->pane_cols = pcols;
		term_resize(l->term, prows, pcols);
		loop_pty_size(l);
	}
	clearok(curscr, TRUE);
	l->dirty = 1;
}

static void
loop_resize(struct loop *l)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 ||
	    ws.ws_col == 0)
		return;
	l->rows = ws.ws_row;
	l->cols = ws.ws_col;
	resizeterm(l->rows, l->cols);
	loop_layout(l);
}

/* ---- checkpoints and the other requests ---------------------------- */

static void
loop_refresh_changes(struct loop *l)
{
	l->counted = loop_now();
	l->status.changes = session_count_changes(l->session);
	l->dirty = 1;
}

static void
loop_reload_timeline(struct loop *l)
{
	char *cause = NULL;

	if (timeline_load(&l->timeline, l->store, l->session, &cause) != 0) {
		loop_message(l, "timeline: %s", cause);
		free(cause);
	}
	l->dirty = 1;
}

static void loop_release(struct loop *);

/* Queues a checkpoint: 0, or -1 when the queue is full (said). */
static int
loop_checkpoint(struct loop *l, const char *reason, const char *label,
    uint64_t ticket)
{
	if (worker_request(l->worker, reason, label, 0, ticket) != 0) {
		if (ticket != 0)
			control_server_reply(l->server, ticket,
			    CONTROL_FAILED, 0, "busy: too many checkpoints "
			    "waiting");
		loop_message(l, "checkpoint: busy (too many waiting)");
		return -1;
	}
	if (l->status.busy == NULL)
		l->status.busy_since = loop_now();
	l->status.busy = "checkpointing";
	l->dirty = 1;
	return 0;
}

static void
loop_worker_done(struct loop *l)
{
	struct worker_result r;

	while (worker_result(l->worker, &r)) {
		if (r.ticket != 0)
			control_server_reply(l->server, r.ticket, r.rc < 0 ?
			    CONTROL_FAILED : r.rc == 0 ? CONTROL_OK :
			    CONTROL_UNCHANGED, r.number, r.cause);
		if (r.rc < 0)
			loop_message(l, "checkpoint: %s", r.cause);
		else if (r.rc == 0)
			loop_message(l, "checkpoint #%u (%s)%s%s", r.number,
			    r.reason, r.note != NULL ? ": " : "",
			    r.note != NULL ? r.note : "");
		else if (strcmp(r.reason, "user") == 0)
			loop_message(l, "nothing changed since #%u", r.number);
		worker_result_free(&r);
	}
	if (!worker_busy(l->worker)) {
		l->status.busy = NULL;
		loop_release(l);
	}
	loop_reload_timeline(l);
	loop_refresh_changes(l);
	if (l->review != NULL) {
		review_pane_reload(l->review);
		l->review_work = 1;
	}
}

/* Draws now: the user sees what airlock is busy with before it blocks. */
static void loop_draw(struct loop *);

/* Before a request that drives the warden from the loop: said on the
 * status line first, and no checkpoint running meanwhile. */
static void
loop_block_begin(struct loop *l, const char *what)
{
	l->status.busy = what;
	l->status.busy_since = loop_now();
	loop_draw(l);
	worker_wait(l->worker);
	loop_worker_done(l);
}

static void
loop_block_end(struct loop *l)
{
	l->status.busy = NULL;
	loop_reload_timeline(l);
	loop_refresh_changes(l);
}

static void
loop_rollback(struct loop *l, uint32_t to, uint64_t ticket)
{
	char *cause = NULL;
	uint32_t now;

	loop_block_begin(l, "rolling back");
	if (rollback_session(l->store, l->session, l->sb, to, &now,
	    &cause) != 0) {
		loop_message(l, "rollback: %s", cause);
		if (ticket != 0)
			control_server_reply(l->server, ticket,
			    CONTROL_FAILED, 0, cause);
	} else {
		loop_message(l, "rolled back to #%u (as #%u)", to, now);
		if (ticket != 0)
			control_server_reply(l->server, ticket, CONTROL_OK,
			    now, NULL);
	}
	free(cause);
	loop_block_end(l);
}

static void
loop_reject(struct loop *l, const struct control_request *req,
    uint64_t ticket)
{
	char *cause = NULL;
	uint32_t now;
	int rc;

	loop_block_begin(l, "rejecting");
	rc = reject_session(l->store, l->session, l->sb, req->path,
	    req->hunks, req->nhunks, &now, &cause);
	control_server_reply(l->server, ticket, rc < 0 ? CONTROL_FAILED :
	    rc == 0 ? CONTROL_OK : CONTROL_UNCHANGED, now, cause);
	if (rc < 0)
		loop_message(l, "reject: %s", cause);
	else
		loop_message(l, "rejected a change (#%u)", now);
	free(cause);
	loop_block_end(l);
}

static void
loop_request(const struct control_request *req, int from_agent,
    struct buf *answer, void *arg)
{
	struct loop *l = arg;
	const struct ckpt *newest;
	uint64_t ticket;

	switch (req->verb) {
	case CONTROL_CHECKPOINT:
		ticket = control_server_defer(l->server);
		loop_checkpoint(l, from_agent ? "agent" : "user", req->label,
		    ticket);
		break;
	case CONTROL_STATUS:
		newest = timeline_newest(&l->timeline);
		if (newest != NULL)
			control_answer(answer, CONTROL_OK, newest->number,
			    NULL);
		else
			control_answer(answer, CONTROL_FAILED, 0,
			    "no checkpoint yet");
		break;
	case CONTROL_ROLLBACK:
	case CONTROL_REJECT:
		/* control_parse never lets these through agent.sock */
		if (from_agent) {
			control_answer(answer, CONTROL_FAILED, 0,
			    "not allowed");
			break;
		}
		ticket = control_server_defer(l->server);
		if (req->verb == CONTROL_ROLLBACK)
			loop_rollback(l, req->number, ticket);
		else
			loop_reject(l, req, ticket);
		break;
	}
}

/* ---- children ------------------------------------------------------ */

/* A child about to exec: the signals airlock blocks (for its signalfd)
 * are the child's own again. */
static void
loop_child_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- the review pane --------------------------------------------- */

static void
loop_review_changed(void *arg)
{
	struct loop *l = arg;

	loop_reload_timeline(l);
	loop_refresh_changes(l);
}

/* The feedback as the agent's input: one paste (bracketed when it asked
 * for that, else on one line, so that no line of it runs on its own),
 * then Enter. */
static void
loop_review_feedback(void *arg, const char *text, size_t len)
{
	struct loop *l = arg;
	struct buf flat = BUF_INIT;
	size_t i;

	if (term_state(l->term)->bracketed_paste)
		term_paste(l->term, text, len, &l->to_pty);
	else {
		for (i = 0; i < len; i++)
			buf_addch(&flat, text[i] == '\n' ? ' ' : text[i]);
		term_paste(l->term, flat.data, flat.len, &l->to_pty);
		buf_free(&flat);
	}
	term_key(l->term, '\r', &l->to_pty);
}

/* The content path has in the merged view: the scratch's file, nothing
 * where the scratch deleted it, else the real tree's. -1 when it is no
 * regular file. */
static int
loop_edit_read(struct loop *l, const char *path, struct buf *out,
    mode_t *mode, char **cause)
{
	char *upper = session_upper(l->session), *data;
	const char *dirs[2] = { upper, l->session->tree };
	struct stat st;
	size_t len, i;
	int root, fd = -1;

	*mode = 0644;
	for (i = 0; i < 2 && fd < 0; i++) {
		root = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			continue;
		fd = beneath_open(root, path, O_PATH | O_CLOEXEC);
		if (fd < 0 && errno != ENOENT) {
			*cause = xasprintf("%s: not a file in the tree: %s",
			    path, strerror(errno));
			close(root);
			free(upper);
			return -1;
		}
		close(root);
	}
	i--;
	if (fd < 0) {
		free(upper);
		return 0;   /* nowhere yet: edit it into being */
	}
	if (fstat(fd, &st) != 0 || (!S_ISREG(st.st_mode) &&
	    !(i == 0 && S_ISCHR(st.st_mode)))) {
		*cause = xasprintf("%s is not a regular file", path);
		close(fd);
		free(upper);
		return -1;
	}
	close(fd);
	if (S_ISCHR(st.st_mode)) {
		free(upper);
		return 0;   /* deleted in the scratch */
	}
	*mode = st.st_mode & 0777;
	data = diff_read(dirs[i], path, ENTRY_FILE, &len, cause);
	free(upper);
	if (data == NULL)
		return -1;
	buf_add(out, data, len);
	free(data);
	return 0;
}

/* $EDITOR on a copy of path as the agent sees it; what is saved goes
 * into the merged view (through the warden, as a rollback does) and is
 * checkpointed ("edit"). 0 when the file changed. */
/* A line of text starting a conflict marker git_merge_file writes. */
static int
loop_has_markers(const char *p, size_t len)
{
	static const char *const marks[] = { "<<<<<<< ", "||||||| ",
	    ">>>>>>> " };
	size_t i, k;

	for (i = 0; i < len; i++) {
		if (i > 0 && p[i - 1] != '\n')
			continue;
		for (k = 0; k < 3; k++)
			if (len - i >= 8 && memcmp(p + i, marks[k], 8) == 0)
				return 1;
	}
	return 0;
}

static int
loop_review_edit(void *arg, const char *path, const char *text, size_t len)
{
	struct loop *l = arg;
	const char *editor = getenv("VISUAL");
	struct buf before = BUF_INIT;
	char *tmp, *cause = NULL, *after = NULL;
	size_t afterlen = 0;
	mode_t mode = 0644;
	uint32_t now;
	pid_t pid;
	int fd, status = 0, rc = -1;

	if (editor == NULL || *editor == '\0')
		editor = getenv("EDITOR");
	if (editor == NULL || *editor == '\0')
		editor = "vi";
	if (loop_edit_read(l, path, &before, &mode, &cause) != 0) {
		loop_message(l, "edit: %s", cause);
		free(cause);
		buf_free(&before);
		return -1;
	}
	if (text != NULL) {
		/* a merge to resolve: its mode is the scratch file's */
		buf_reset(&before);
		buf_add(&before, text, len);
	}
	tmp = xasprintf("%s/edit-XXXXXX", l->session->dir);
	if ((fd = mkstemp(tmp)) < 0 || (before.len > 0 &&
	    write(fd, before.data, before.len) != (ssize_t)before.len)) {
		loop_message(l, "edit: %s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	def_prog_mode();
	endwin();
	pid = fork();
	if (pid == 0) {
		loop_child_signals();
		execl("/bin/sh", "sh", "-c", "exec $0 \"$1\"", editor, tmp,
		    (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	reset_prog_mode();
	clearok(curscr, TRUE);
	l->dirty = 1;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		loop_message(l, "edit: cannot run '%s' (set $EDITOR)", editor);
		goto out;
	}
	after = diff_read(l->session->dir, strrchr(tmp, '/') + 1, ENTRY_FILE,
	    &afterlen, &cause);
	if (after == NULL) {
		loop_message(l, "edit: %s", cause);
		goto out;
	}
	if (text != NULL && loop_has_markers(after, afterlen)) {
		loop_message(l, "edit: conflict markers are left in %s: not "
		    "resolved", path);
		goto out;
	}
	if (text == NULL && afterlen == before.len && memcmp(after,
	    before.data, afterlen) == 0) {
		loop_message(l, "edit: %s unchanged", path);
		rc = 1;
		goto out;
	}
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0) {
		loop_message(l, "edit: %s: %s", tmp, strerror(errno));
		goto out;
	}
	loop_block_begin(l, "writing the edit");
	if (edit_session(l->store, l->session, l->sb, path, fd, mode, &now,
	    &cause) < 0)
		loop_message(l, "edit: %s", cause);
	else {
		loop_message(l, "edited %s (#%u)", path, now);
		rc = 0;
	}
	loop_block_end(l);
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(after);
	free(cause);
	buf_free(&before);
	return rc;
}

static void
loop_review_close(struct loop *l)
{
	review_pane_free(l->review);
	l->review = NULL;
	l->review_work = 0;
	if (l->focus == FOCUS_REVIEW)
		l->focus = FOCUS_AGENT;
	clearok(curscr, TRUE);
	l->dirty = 1;
}

/* Opens the review (or moves the focus to it) on range (NULL: the
 * total); selected: the timeline's checkpoint, or CKPT_NONE. */
static void
loop_review(struct loop *l, const struct turn_range *range,
    uint32_t selected)
{
	struct review_host host = {
		.feedback = loop_review_feedback,
		.changed = loop_review_changed,
		.edit = loop_review_edit,
		.arg = l,
	};
	char *cause = NULL;

	if (l->review == NULL) {
		l->review = review_pane_open(l->store, l->session, l->keymap,
		    range, &host, &cause);
	} else if ((range != NULL && range->set) || selected != CKPT_NONE)
		review_pane_scope(l->review, range, selected, &cause);
	if (cause != NULL) {
		loop_message(l, "review: %s", cause);
		free(cause);
	}
	if (l->review != NULL) {
		l->focus = FOCUS_REVIEW;
		l->review_work = 1;
	}
	l->dirty = 1;
}

static void
loop_show_turn(struct loop *l)
{
	const struct ckpt *c = timeline_selection(&l->timeline);
	struct turn_range range;

	if (c == NULL)
		return;
	if (c->number == 0) {
		loop_message(l, "#0 is the session's start: no turn before it");
		return;
	}
	range.set = 1;
	range.from = c->number - 1;
	range.to = c->number;
	loop_review(l, &range, c->number);
}

/* ---- the proxy's refusals (--net allow) ----------------------------- */

static void
loop_refused_free(struct loop_refused *r)
{
	free(r->host);
	free(r->why);
}

/* What the proxy reports: refusals are counted on the status line and
 * listed in the net pane (the same host and port once, newest last). */
static void
loop_proxy_events(struct loop *l)
{
	struct proxy_event ev;
	struct loop_refused r;
	size_t i;

	while (proxy_event_take(l->sb->proxy, &ev)) {
		if (!ev.allowed && ev.host == NULL)
			ev.host = xstrdup("?");  /* garbage: no host said */
		if (!ev.allowed) {
			l->status.refused++;
			memset(&r, 0, sizeof r);
			for (i = 0; i < l->nrefused; i++) {
				if (l->refused[i].port == ev.port &&
				    strcmp(l->refused[i].host, ev.host) == 0)
					break;
			}
			if (i < l->nrefused) {
				r = l->refused[i];
				memmove(l->refused + i, l->refused + i + 1,
				    (l->nrefused - i - 1) * sizeof r);
				l->nrefused--;
				free(r.why);
			} else {
				r.host = xstrdup(ev.host);
				r.port = ev.port;
			}
			r.why = ev.why != NULL ? xstrdup(ev.why) : NULL;
			r.when = ev.start;
			r.count++;
			if (l->nrefused == LOOP_REFUSED_MAX) {
				loop_refused_free(&l->refused[0]);
				memmove(l->refused, l->refused + 1,
				    (l->nrefused - 1) * sizeof r);
				l->nrefused--;
			}
			l->refused = xreallocarray(l->refused,
			    l->nrefused + 1, sizeof *l->refused);
			l->refused[l->nrefused++] = r;
			l->dirty = 1;
		}
		proxy_event_free(&ev);
	}
}

/* "host:port", IPv6 literals in brackets: an allow-list entry. */
static char *
loop_refused_entry(const struct loop_refused *r)
{
	if (strchr(r->host, ':') != NULL && r->host[0] != '[')
		return xasprintf("[%s]:%u", r->host, r->port);
	return xasprintf("%s:%u", r->host, r->port);
}

static void
loop_net_action(struct loop *l, key_code key)
{
	enum action a = keymap_lookup(l->keymap, MODE_NET, key);
	char *entry;

	switch (a) {
	case ACTION_CLOSE:
		l->focus = FOCUS_AGENT;
		break;
	case ACTION_UP:
		if (l->net_sel > 0)
			l->net_sel--;
		break;
	case ACTION_DOWN:
		if (l->net_sel + 1 < l->nrefused)
			l->net_sel++;
		break;
	case ACTION_TOP:
		l->net_sel = 0;
		break;
	case ACTION_BOTTOM:
		l->net_sel = l->nrefused > 0 ? l->nrefused - 1 : 0;
		break;
	case ACTION_ALLOW:
		if (l->net_sel >= l->nrefused)
			break;
		/* the answer allows exactly what was asked about, whatever
		 * the agent's refusals do to the list meanwhile */
		entry = loop_refused_entry(&l->refused[l->net_sel]);
		free(l->allow_entry);
		l->allow_entry = entry;
		l->prompt = PROMPT_ALLOW;
		buf_reset(&l->prompt_text);
		buf_addstr(&l->prompt_text, "allow ");
		quote_path(&l->prompt_text, entry, strlen(entry), 0);
		buf_addstr(&l->prompt_text, " for the rest of this session? "
		    "[y/N] (policy files stay as they are)");
		break;
	default:
		break;
	}
	l->dirty = 1;
}

static void
loop_net_allow(struct loop *l)
{
	char *entry = l->allow_entry, *cause = NULL, *e;
	size_t i;

	l->allow_entry = NULL;
	if (entry == NULL)
		return;
	if (proxy_allow(l->sb->proxy, entry, &cause) != 0) {
		loop_message(l, "allow %s: %s", entry, cause);
		free(cause);
		free(entry);
		return;
	}
	loop_message(l, "%s is allowed until the session ends", entry);
	for (i = 0; i < l->nrefused; i++) {
		e = loop_refused_entry(&l->refused[i]);
		if (strcmp(e, entry) == 0) {
			loop_refused_free(&l->refused[i]);
			memmove(l->refused + i, l->refused + i + 1,
			    (l->nrefused - i - 1) * sizeof *l->refused);
			l->nrefused--;
			free(e);
			break;
		}
		free(e);
	}
	if (l->net_sel > 0 && l->net_sel >= l->nrefused)
		l->net_sel--;
	free(entry);
}

static void
loop_net_draw(struct loop *l)
{
	struct buf line = BUF_INIT;
	char when[16];
	struct tm tm;
	time_t t;
	int rows, cols, y;
	size_t i;

	getmaxyx(l->pane, rows, cols);
	werase(l->pane);
	wattron(l->pane, A_BOLD);
	mvwaddnstr(l->pane, 0, 0, l->nrefused == 0 ? "No connection refused "
	    "(q: back)" : "Refused connections, newest last (a: allow for "
	    "this session, q: back)", cols);
	wattroff(l->pane, A_BOLD);
	if (l->net_sel < l->net_top)
		l->net_top = l->net_sel;
	if (rows > 1 && l->net_sel >= l->net_top + (size_t)(rows - 1))
		l->net_top = l->net_sel - (size_t)(rows - 2);
	for (i = l->net_top, y = 1; i < l->nrefused && y < rows; i++, y++) {
		const struct loop_refused *r = &l->refused[i];

		t = (time_t)(r->when / 1000);
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		buf_reset(&line);
		buf_printf(&line, "%s  ", when);
		quote_path(&line, r->host, strlen(r->host), 0);
		buf_printf(&line, ":%u", r->port);
		if (r->count > 1)
			buf_printf(&line, " (%u times)", r->count);
		if (r->why != NULL) {
			buf_addstr(&line, "  ");
			quote_path(&line, r->why, strlen(r->why), QUOTE_SPACE);
		}
		if (i == l->net_sel)
			wattron(l->pane, A_REVERSE);
		mvwaddnstr(l->pane, y, 0, line.data, cols);
		wattroff(l->pane, A_REVERSE);
	}
	buf_free(&line);
}

/* ---- keys ---------------------------------------------------------- */

/* How long the agent has neither printed nor written to the scratch. */
static int64_t
loop_quiet(const struct loop *l, int64_t now)
{
	return now - (l->last_output > l->last_write ? l->last_output :
	    l->last_write);
}

static void
loop_send_key(struct loop *l, key_code key)
{
	int64_t now = loop_now();
	int64_t quiet = loop_quiet(l, now);
	int idle_ms = keymap_options(l->keymap)->idle_ms;

	if ((key & KEYC_MASK_KEY) == '\r' || key == KEYC_KP_ENTER) {
		/* a prompt submitted after the agent went quiet: the turn
		 * before it ended */
		if ((l->armed || (!l->typed && quiet >= idle_ms)) &&
		    !l->quitting && !l->holding) {
			/* the turn before it ends here: the Enter (and what
			 * follows) waits for the checkpoint, so the agent's
			 * next writes are not in it */
			if (loop_checkpoint(l, "prompt", NULL, 0) == 0)
				l->holding = now;
		}
		l->armed = 0;
		l->typed = 0;
	} else if (!l->typed++)
		l->armed = quiet >= idle_ms;
	l->last_input = now;
	term_key(l->term, key, l->holding ? &l->held : &l->to_pty);
}

/* The keys held for a prompt's checkpoint go to the agent. */
static void
loop_release(struct loop *l)
{
	if (!l->holding)
		return;
	buf_add(&l->to_pty, l->held.data, l->held.len);
	buf_reset(&l->held);
	l->holding = 0;
}

static void
loop_quit(struct loop *l)
{
	l->quitting = 1;
	l->quit_at = loop_now();
	sandbox_signal_send(l->sb, SIGHUP);
	loop_message(l, "quitting: the agent got SIGHUP");
}

static void
loop_ask_quit(struct loop *l)
{
	loop_refresh_changes(l);
	if (l->status.changes <= 0) {
		loop_quit(l);
		return;
	}
	l->prompt = PROMPT_QUIT;
	buf_reset(&l->prompt_text);
	buf_printf(&l->prompt_text, "quit? [y/N] %ld change%s not promoted "
	    "stay%s in the scratch (airlock status %u)", l->status.changes,
	    l->status.changes == 1 ? "" : "s",
	    l->status.changes == 1 ? "s" : "", l->session->id);
	l->dirty = 1;
}

static void
loop_copy_end(struct loop *l)
{
	copy_free(l->copy);
	l->copy = NULL;
	l->focus = FOCUS_AGENT;
	l->dirty = 1;
}

/* OSC 52: the outer terminal (or tmux around it) takes the text. */
static void
loop_clipboard(struct loop *l, char *text)
{
	size_t len = strlen(text);
	struct buf out = BUF_INIT;

	buf_addstr(&out, "\033]52;c;");
	base64_encode(&out, text, len);
	buf_addch(&out, '\a');
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
	free(l->clipboard);
	l->clipboard = text;
	loop_message(l, "copied %zu bytes", len);
}

static void
loop_prefix_action(struct loop *l, key_code key)
{
	enum action a = keymap_lookup(l->keymap, MODE_PREFIX, key);
	const struct keymap_options *o = keymap_options(l->keymap);

	if (a == ACTION_NONE && key == o->prefix)
		a = ACTION_SEND_PREFIX;
	switch (a) {
	case ACTION_SEND_PREFIX:
		loop_send_key(l, o->prefix);
		break;
	case ACTION_CHECKPOINT:
		loop_checkpoint(l, "user", NULL, 0);
		break;
	case ACTION_TIMELINE:
		l->show_timeline = !l->show_timeline;
		if (!l->show_timeline && l->focus == FOCUS_TIMELINE)
			l->focus = FOCUS_AGENT;
		loop_layout(l);
		break;
	case ACTION_FOCUS_TIMELINE:
		l->show_timeline = 1;
		l->focus = FOCUS_TIMELINE;
		loop_layout(l);
		break;
	case ACTION_REVIEW:
		if (l->focus == FOCUS_REVIEW)
			l->focus = FOCUS_AGENT;  /* it stays open */
		else
			loop_review(l, NULL, CKPT_NONE);
		break;
	case ACTION_COPY_MODE:
		if (l->copy == NULL)
			l->copy = copy_enter(l->term);
		l->focus = FOCUS_COPY;
		break;
	case ACTION_ZOOM:
		l->zoom = !l->zoom;
		loop_layout(l);
		break;
	case ACTION_HELP:
		l->help = 1;
		l->help_mode = MODE_PREFIX;
		break;
	case ACTION_QUIT:
		loop_ask_quit(l);
		break;
	case ACTION_REDRAW:
		clearok(curscr, TRUE);
		break;
	case ACTION_NET:
		if (l->sb->proxy == NULL)
			loop_message(l, "no proxy: this session runs with %s "
			    "(--net allow:HOST... starts one)", l->status.net);
		else {
			l->focus = FOCUS_NET;
			l->net_sel = l->nrefused > 0 ? l->nrefused - 1 : 0;
		}
		break;
	case ACTION_PASTE_BUFFER:
		if (l->clipboard != NULL)
			term_paste(l->term, l->clipboard,
			    strlen(l->clipboard), &l->to_pty);
		break;
	default:
		loop_message(l, "%s %s: not bound (%s ? lists the keys)",
		    key_string_lookup_key(o->prefix) ,
		    key_string_lookup_key(key),
		    key_string_lookup_key(o->prefix));
		break;
	}
	l->dirty = 1;
}

static void
loop_timeline_action(struct loop *l, key_code key)
{
	enum action a = keymap_lookup(l->keymap, MODE_TIMELINE, key);
	const struct ckpt *c;

	switch (a) {
	case ACTION_CLOSE:
		l->focus = FOCUS_AGENT;
		break;
	case ACTION_SELECT:
		loop_show_turn(l);
		break;
	case ACTION_ROLLBACK:
		if ((c = timeline_selection(&l->timeline)) == NULL)
			break;
		l->rollback_to = c->number;
		l->prompt = PROMPT_ROLLBACK;
		buf_reset(&l->prompt_text);
		buf_printf(&l->prompt_text, "roll the scratch back to #%u? "
		    "[y/N] (undo: roll back to #%u)", c->number,
		    timeline_newest(&l->timeline)->number);
		break;
	case ACTION_NONE:
		break;
	default:
		timeline_move(&l->timeline, a, l->pane_rows - 1);
		break;
	}
	l->dirty = 1;
}

static void
loop_copy_action(struct loop *l, key_code key)
{
	enum action a = keymap_lookup(l->keymap, MODE_COPY, key);
	char *text = NULL;

	if (a == ACTION_SEARCH_FORWARD || a == ACTION_SEARCH_BACKWARD) {
		l->prompt = PROMPT_SEARCH;
		l->search_forward = a == ACTION_SEARCH_FORWARD;
		buf_reset(&l->prompt_text);
		l->dirty = 1;
		return;
	}
	if (a == ACTION_NONE)
		return;
	if (copy_action(l->copy, a, &text))
		loop_copy_end(l);
	if (text != NULL)
		loop_clipboard(l, text);
	l->dirty = 1;
}

/* A key while a question is asked on the status line. */
static void
loop_prompt_key(struct loop *l, key_code key)
{
	enum loop_prompt p = l->prompt;

	if (p == PROMPT_SEARCH) {
		switch (input_line_key(&l->prompt_text, key, 256)) {
		case 1:
			l->prompt = PROMPT_NONE;
			if (l->prompt_text.len > 0 && l->copy != NULL)
				copy_search_text(l->copy, l->prompt_text.data,
				    l->search_forward);
			break;
		case -1:
			l->prompt = PROMPT_NONE;
			break;
		}
		l->dirty = 1;
		return;
	}
	l->prompt = PROMPT_NONE;
	l->dirty = 1;
	if (key != 'y' && key != 'Y') {
		loop_message(l, "%s", p == PROMPT_QUIT ? "not quitting" :
		    p == PROMPT_ALLOW ? "not allowed" : "no rollback");
		return;
	}
	if (p == PROMPT_ALLOW)
		loop_net_allow(l);
	else if (p == PROMPT_QUIT)
		loop_quit(l);
	else if (p == PROMPT_ROLLBACK)
		loop_rollback(l, l->rollback_to, 0);
}

static void
loop_key(struct loop *l, key_code key)
{
	const struct keymap_options *o = keymap_options(l->keymap);

	if (l->prompt != PROMPT_NONE) {
		loop_prompt_key(l, key);
		return;
	}
	if (l->help) {
		l->help = 0;
		l->dirty = 1;
		return;
	}
	if (l->prefix) {
		l->prefix = 0;
		l->status.prefix = 0;
		loop_prefix_action(l, key);
		return;
	}
	if (key == o->prefix) {
		l->prefix = 1;
		l->status.prefix = 1;
		l->dirty = 1;
		return;
	}
	switch (l->focus) {
	case FOCUS_REVIEW:
		switch (review_pane_key(l->review, key)) {
		case 1:
			loop_review_close(l);
			break;
		case 2:
			l->help = 1;
			l->help_mode = MODE_REVIEW;
			break;
		}
		l->dirty = 1;
		break;
	case FOCUS_COPY:
		loop_copy_action(l, key);
		break;
	case FOCUS_NET:
		loop_net_action(l, key);
		break;
	case FOCUS_TIMELINE:
		loop_timeline_action(l, key);
		break;
	case FOCUS_AGENT:
		loop_send_key(l, key);
		break;
	}
}

static void
loop_input_event(const struct input_event *ev, void *arg)
{
	struct loop *l = arg;
	struct input_mouse m;

	switch (ev->type) {
	case INPUT_KEY:
		loop_key(l, ev->key);
		break;
	case INPUT_PASTE:
		loop_release(l);
		if (l->focus == FOCUS_AGENT && l->prompt == PROMPT_NONE &&
		    !l->prefix)
			term_paste(l->term, ev->data, ev->len, &l->to_pty);
		else if (l->focus == FOCUS_REVIEW) {
			review_pane_paste(l->review, ev->data, ev->len);
			l->dirty = 1;
		}
		break;
	case INPUT_MOUSE:
		m = ev->mouse;
		if (l->focus != FOCUS_AGENT || m.row >= l->pane_rows ||
		    m.col >= l->pane_cols)
			break;
		term_mouse(l->term, &m, &l->to_pty);
		break;
	case INPUT_FOCUS_IN:
	case INPUT_FOCUS_OUT:
		if (term_state(l->term)->focus_events)
			buf_addstr(&l->to_pty, ev->type == INPUT_FOCUS_IN ?
			    "\033[I" : "\033[O");
		break;
	case INPUT_RAW:
		loop_release(l);
		if (l->focus == FOCUS_AGENT && l->prompt == PROMPT_NONE)
			buf_add(&l->to_pty, ev->data, ev->len);
		break;
	}
}

/* ---- drawing -------------------------------------------------------- */

static void
loop_draw_help(struct loop *l)
{
	char title[64];

	if (l->help_mode == MODE_REVIEW)
		snprintf(title, sizeof title, "review keys:");
	else
		snprintf(title, sizeof title, "airlock keys: %s, then",
		    key_string_lookup_key(keymap_options(l->keymap)->prefix));
	help_draw(l->keymap, l->help_mode, title, &l->overlay);
}

/* Mirrors the agent's cursor shape, mouse mode and title on the outer
 * terminal. */
static void
loop_outer_modes(struct loop *l)
{
	const struct term_state *ts = term_state(l->term);
	int want_mouse = ts->mouse != 0 && l->focus == FOCUS_AGENT;
	/* DECSCUSR: 2 steady block, 4 underline, 6 bar; one less blinks */
	int shape = ts->cursor_shape == TERM_CURSOR_UNDERLINE ? 4 :
	    ts->cursor_shape == TERM_CURSOR_BAR ? 6 : 2;

	if (ts->cursor_blink)
		shape--;
	if (want_mouse != l->outer_mouse) {
		loop_outer(want_mouse ? "\033[?1000h\033[?1002h\033[?1006h" :
		    "\033[?1006l\033[?1002l\033[?1000l");
		l->outer_mouse = want_mouse;
	}
	if (shape != l->cursor_shape) {
		loop_outer("\033[%d q", shape);
		l->cursor_shape = shape;
	}
	if (l->title == NULL || strcmp(l->title, ts->title) != 0) {
		free(l->title);
		l->title = xstrdup(ts->title);
		if (*ts->title != '\0')
			loop_outer("\033]2;%s\033\\", ts->title);
	}
}

static void
loop_draw(struct loop *l)
{
	const struct term_state *ts = term_state(l->term);
	int cursor = 0;

	if (l->pane == NULL)
		return;
	if (l->copy != NULL && l->focus == FOCUS_COPY)
		copy_draw(l->copy, l->pane);
	else if (l->review != NULL && l->focus == FOCUS_REVIEW)
		review_pane_draw(l->review, l->pane);
	else if (l->focus == FOCUS_NET)
		loop_net_draw(l);
	else
		draw_term(l->pane, l->term, 0, NULL);
	wnoutrefresh(l->pane);
	if (l->side != NULL) {
		/* the separator: the column left of the timeline */
		mvvline(0, l->cols - l->timeline_cols - 1, ACS_VLINE,
		    l->pane_rows);
		wnoutrefresh(stdscr);
		timeline_draw(&l->timeline, l->side,
		    l->focus == FOCUS_TIMELINE);
		wnoutrefresh(l->side);
	}
	if (l->bar != NULL) {
		l->status.newest = timeline_newest(&l->timeline);
		l->status.copy = l->focus == FOCUS_COPY && l->copy != NULL ?
		    copy_position(l->copy) : NULL;
		l->status.prompt = l->prompt == PROMPT_NONE ? NULL :
		    l->prompt_text.data;
		l->status.search = l->prompt == PROMPT_SEARCH;
		status_draw(&l->status, l->bar, loop_now());
		wnoutrefresh(l->bar);
	}
	if (l->help)
		loop_draw_help(l);
	if (l->prompt == PROMPT_NONE && !l->help && l->focus == FOCUS_AGENT &&
	    ts->cursor_visible && ts->cursor_row < l->pane_rows &&
	    ts->cursor_col < l->pane_cols) {
		wmove(l->pane, ts->cursor_row, ts->cursor_col);
		wnoutrefresh(l->pane);
		cursor = 1;
	}
	curs_set(cursor);
	doupdate();
	loop_outer_modes(l);
	l->dirty = 0;
	l->last_draw = loop_now();
}

/* ---- the loop ------------------------------------------------------- */

/* Reads the agent's output for at most LOOP_READ_BUDGET_MS. 1 when the pty
 * is closed (the agent and everything holding the slave are gone). */
static int
loop_read_pty(struct loop *l)
{
	char data[LOOP_READ_MAX];
	int64_t start = loop_now();
	ssize_t n;

	for (;;) {
		n = read(l->pty, data, sizeof data);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return 1;
		term_feed(l->term, data, (size_t)n);
		l->last_output = loop_now();
		if (l->last_output - start >= LOOP_READ_BUDGET_MS)
			break;
	}
	return 0;
}

static void
loop_after_output(struct loop *l)
{
	term_take_output(l->term, &l->to_pty);
	if (term_take_bells(l->term) > 0) {
		l->hint = loop_now();
		beep();
	}
	if (term_take_notifications(l->term) > 0)
		l->hint = loop_now();
	if (term_take_damage(l->term))
		l->dirty = 1;
}

static void
loop_write_pty(struct loop *l)
{
	ssize_t n;

	while (l->to_pty.len > 0) {
		n = write(l->pty, l->to_pty.data, l->to_pty.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		memmove(l->to_pty.data, l->to_pty.data + n,
		    l->to_pty.len - (size_t)n);
		l->to_pty.len -= (size_t)n;
		l->to_pty.data[l->to_pty.len] = '\0';
	}
	/* an agent that never reads its input: drop rather than grow */
	if (l->to_pty.len > LOOP_PTY_OUT_MAX) {
		buf_reset(&l->to_pty);
		loop_message(l, "the agent is not reading its input: "
		    "dropped what was typed");
	}
}

static void
loop_signals(struct loop *l)
{
	int sig;

	while ((sig = sandbox_signal_next(l->sb)) != 0) {
		if (sig == SIGWINCH)
			loop_resize(l);
		else
			sandbox_signal_send(l->sb, sig);
	}
}

/* Timers: a hint's checkpoint, the quit escalation, the message's end,
 * the next frame. Returns poll's timeout. */
static int
loop_timers(struct loop *l, int64_t now)
{
	int64_t quiet = loop_quiet(l, now);
	int timeout = -1, t;

#define LOOP_SOONER(ms) do { t = (int)(ms); if (t < 0) t = 0; \
	if (timeout < 0 || t < timeout) timeout = t; } while (0)
	if (l->holding) {
		if (now - l->holding >= LOOP_HOLD_MS)
			loop_release(l);
		else
			LOOP_SOONER(l->holding + LOOP_HOLD_MS - now);
	}
	if (l->hint != 0) {
		if (quiet >= LOOP_HINT_QUIET_MS) {
			l->hint = 0;
			if (!l->quitting)
				loop_checkpoint(l, "notify", NULL, 0);
		} else
			LOOP_SOONER(LOOP_HINT_QUIET_MS - quiet);
	}
	if (l->quitting) {
		if (now - l->quit_at >= LOOP_QUIT_KILL_MS)
			sandbox_signal_send(l->sb, SIGKILL);
		else if (now - l->quit_at >= LOOP_QUIT_TERM_MS) {
			sandbox_signal_send(l->sb, SIGTERM);
			LOOP_SOONER(l->quit_at + LOOP_QUIT_KILL_MS - now);
		} else
			LOOP_SOONER(l->quit_at + LOOP_QUIT_TERM_MS - now);
	}
	if (l->status.message != NULL) {
		if (now >= l->status.message_until) {
			free(l->status.message);
			l->status.message = NULL;
			l->dirty = 1;
		} else
			LOOP_SOONER(l->status.message_until - now);
	}
	/* the scratch was written since the changes were counted: count
	 * again, at most every LOOP_COUNT_MS */
	if (l->last_write > l->counted) {
		if (now - l->counted >= LOOP_COUNT_MS)
			loop_refresh_changes(l);
		else
			LOOP_SOONER(l->counted + LOOP_COUNT_MS - now);
	}
	if (l->review_work && !l->dirty)
		LOOP_SOONER(0);
	if (l->status.busy != NULL || (l->review != NULL &&
	    review_pane_busy(l->review) != NULL)) {
		if (now - l->last_draw >= 1000)
			l->dirty = 1;
		else
			LOOP_SOONER(l->last_draw + 1000 - now);
	}
	if (l->dirty)
		LOOP_SOONER(l->last_draw + LOOP_FRAME_MS - now);
	t = control_server_timeout(l->server, now);
	if (t >= 0)
		LOOP_SOONER(t);
	t = input_timeout(l->input, now);
	if (t >= 0)
		LOOP_SOONER(t);
#undef LOOP_SOONER
	return timeout;
}

enum {
	PFD_TTY, PFD_PTY, PFD_WARDEN, PFD_SIGNALS, PFD_WORKER, PFD_IDLE,
	PFD_REVIEW, PFD_PROXY, PFD_CONTROL
};

static int
loop_run(struct loop *l)
{
	struct pollfd pfd[PFD_CONTROL + CONTROL_POLLFDS];
	char data[4096];
	int64_t now;
	ssize_t n;
	int rc = 0, timeout, pty_closed = 0;

	while (!l->exited) {
		if (l->sb->exited) {
			rc = sandbox_message(l->sb, &l->status_code);
			break;
		}
		now = loop_now();
		timeout = loop_timers(l, now);
		if (l->dirty && now - l->last_draw >= LOOP_FRAME_MS)
			loop_draw(l);
		pfd[PFD_TTY].fd = STDIN_FILENO;
		pfd[PFD_TTY].events = POLLIN;
		pfd[PFD_PTY].fd = pty_closed ? -1 : l->pty;
		pfd[PFD_PTY].events = POLLIN |
		    (l->to_pty.len > 0 ? POLLOUT : 0);
		pfd[PFD_WARDEN].fd = l->sb->sock;
		pfd[PFD_WARDEN].events = POLLIN;
		pfd[PFD_SIGNALS].fd = l->sb->sfd;
		pfd[PFD_SIGNALS].events = POLLIN;
		pfd[PFD_WORKER].fd = worker_fd(l->worker);
		pfd[PFD_WORKER].events = POLLIN;
		pfd[PFD_IDLE].fd = idle_fd(l->idle);
		pfd[PFD_IDLE].events = POLLIN;
		pfd[PFD_REVIEW].fd = l->review != NULL ?
		    review_pane_fd(l->review) : -1;
		pfd[PFD_REVIEW].events = POLLIN;
		pfd[PFD_PROXY].fd = l->sb->proxy != NULL ?
		    proxy_event_fd(l->sb->proxy) : -1;
		pfd[PFD_PROXY].events = POLLIN;
		n = (ssize_t)control_server_pollfds(l->server,
		    pfd + PFD_CONTROL);
		if (poll(pfd, PFD_CONTROL + (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		if (pfd[PFD_SIGNALS].revents & POLLIN)
			loop_signals(l);
		if (pfd[PFD_PTY].revents & (POLLIN | POLLHUP | POLLERR)) {
			pty_closed = loop_read_pty(l);
			loop_after_output(l);
		}
		if (pfd[PFD_TTY].revents & POLLIN) {
			n = read(STDIN_FILENO, data, sizeof data);
			if (n > 0)
				input_feed(l->input, data, (size_t)n,
				    loop_input_event, l);
			else if (n == 0 || errno != EINTR) {
				/* the outer terminal is gone */
				if (!l->quitting)
					loop_quit(l);
			}
		} else if (pfd[PFD_TTY].revents & (POLLHUP | POLLERR)) {
			if (!l->quitting)
				loop_quit(l);
		}
		if (input_timeout(l->input, loop_now()) == 0)
			input_flush(l->input, loop_input_event, l);
		if (pfd[PFD_IDLE].revents & POLLIN && idle_read(l->idle))
			l->last_write = loop_now();
		if (pfd[PFD_WORKER].revents & POLLIN)
			loop_worker_done(l);
		if (pfd[PFD_PROXY].revents & POLLIN)
			loop_proxy_events(l);
		if (pfd[PFD_REVIEW].revents & (POLLIN | POLLHUP | POLLERR) &&
		    l->review != NULL) {
			review_pane_job(l->review);
			l->review_work = 1;  /* it may have loaded again */
			l->dirty = 1;
		}
		if (l->review_work && l->review != NULL && !l->dirty) {
			/* once the screen is up to date: the diff, approval
			 * states, a few ms at a time */
			l->review_work = review_pane_idle(l->review, 5);
			l->dirty = 1;
		}
		control_server_dispatch(l->server, pfd + PFD_CONTROL,
		    loop_request, l);
		if (l->to_pty.len > 0)
			loop_write_pty(l);
		if (pfd[PFD_WARDEN].revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = sandbox_message(l->sb, &l->status_code);
			if (rc != 0)
				break;
		}
	}
	/* what the agent printed last */
	if (!pty_closed) {
		loop_read_pty(l);
		loop_after_output(l);
	}
	return rc;
}

/*
 * The session ends while the review runs a command (a promotion, a
 * reject): it may be waiting for this airlock's answers on ctl.sock, so
 * they are served until it is done (never killed: a promotion finishes).
 */
static void
loop_review_finish(struct loop *l)
{
	struct pollfd pfd[2 + CONTROL_POLLFDS];
	size_t n;

	while (l->review != NULL && review_pane_busy(l->review) != NULL) {
		pfd[0].fd = review_pane_fd(l->review);
		pfd[0].events = POLLIN;
		pfd[1].fd = worker_fd(l->worker);
		pfd[1].events = POLLIN;
		n = control_server_pollfds(l->server, pfd + 2);
		if (poll(pfd, 2 + (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN)
			loop_worker_done(l);
		control_server_dispatch(l->server, pfd + 2, loop_request, l);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			review_pane_job(l->review);
	}
}

static void
loop_tty_setup(void)
{
	/* bracketed paste from the outer terminal: a paste reaches the agent
	 * as one, and only as one when it asked */
	loop_outer("\033[?2004h");
}

static void
loop_tty_restore(struct loop *l)
{
	if (l->outer_mouse)
		loop_outer("\033[?1006l\033[?1002l\033[?1000l");
	loop_outer("\033[?2004l\033[0 q");
}

static void
loop_status_init(struct loop *l)
{
	const char *slash = strrchr(l->session->tree, '/');

	memset(&l->status, 0, sizeof l->status);
	l->status.name = l->session->name;
	l->status.id = l->session->id;
	l->status.tree = slash != NULL && slash[1] != '\0' ? slash + 1 :
	    l->session->tree;
	l->status.net = l->cfg->net == NET_NONE ? "net:none" :
	    l->cfg->net == NET_ALLOW ? "net:allow" : "net:host";
	l->status.hidden = l->cfg->plan != NULL ? l->cfg->plan->hidden : 0;
	l->status.changes = session_count_changes(l->session);
}

int
tui_run(struct store *st, const struct session *s, struct sandbox *sb,
    struct control_server *server, int pty, const struct sandbox_config *cfg)
{
	struct loop l;
	struct buf errors = BUF_INIT;
	char *cause = NULL, *note = NULL, *upper;
	SCREEN *screen;
	int rc;

	memset(&l, 0, sizeof l);
	l.store = st;
	l.session = s;
	l.sb = sb;
	l.server = server;
	l.cfg = cfg;
	l.pty = pty;
	l.cursor_shape = -1;
	buf_init(&l.to_pty);
	buf_init(&l.held);
	buf_init(&l.prompt_text);
	fcntl(pty, F_SETFL, fcntl(pty, F_GETFL) | O_NONBLOCK);
	l.keymap = keymap_load(&errors);
	l.worker = worker_start(st, s, &cause);
	if (l.worker == NULL) {
		log_cause("run", cause);
		keymap_free(l.keymap);
		buf_free(&errors);
		return -1;
	}
	upper = session_upper(s);
	l.idle = idle_create(upper, &note);
	free(upper);
	l.input = input_create();

	screen = newterm(NULL, stdout, stdin);
	if (screen == NULL) {
		log_error("run", "cannot start the terminal UI on TERM=%s "
		    "(try --headless)", getenv("TERM") != NULL ?
		    getenv("TERM") : "(unset)");
		worker_stop(l.worker);
		return -1;
	}
	raw();
	noecho();
	nonl();
	typeahead(-1);
	if (has_colors()) {
		start_color();
		use_default_colors();
	}
	loop_tty_setup();
	getmaxyx(stdscr, l.rows, l.cols);
	l.term = term_create(l.rows > 1 ? l.rows - 1 : 1, l.cols);
	loop_status_init(&l);
	loop_layout(&l);
	loop_reload_timeline(&l);
	if (errors.len > 0) {
		size_t bad = 0;
		char *nl = strchr(errors.data, '\n');

		for (size_t i = 0; i < errors.len; i++)
			bad += errors.data[i] == '\n';
		if (nl != NULL)
			*nl = '\0';
		loop_message(&l, "keys: %s%s", errors.data, bad > 1 ?
		    " (and more: airlock keys lists them)" : "");
	} else if (note != NULL)
		loop_message(&l, "%s", note);
	free(note);
	buf_free(&errors);

	rc = loop_run(&l);
	loop_review_finish(&l);

	loop_tty_restore(&l);
	endwin();
	delscreen(screen);
	worker_stop(l.worker);
	loop_windows_free(&l);
	if (l.overlay != NULL)
		delwin(l.overlay);
	if (l.copy != NULL)
		copy_free(l.copy);
	review_pane_free(l.review);
	for (size_t i = 0; i < l.nrefused; i++)
		loop_refused_free(&l.refused[i]);
	free(l.refused);
	timeline_clear(&l.timeline);
	term_free(l.term);
	input_free(l.input);
	idle_free(l.idle);
	keymap_free(l.keymap);
	free(l.status.message);
	free(l.title);
	free(l.clipboard);
	free(l.allow_entry);
	buf_free(&l.to_pty);
	buf_free(&l.held);
	buf_free(&l.prompt_text);
	return rc == 1 ? l.status_code : -1;
}

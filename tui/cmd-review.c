/*
 * airlock review: the review pane on its own, for a running session (from
 * another terminal: what changes the scratch goes through the session's
 * own airlock, as `airlock reject` does) or an ended one.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui/tui.h"

#define REVIEW_FRAME_MS 16

static int cmd_review_exec(int, char **);

const struct cmd_entry cmd_review_entry = {
	.name = "review",
	.usage = "[-C DIR] [--turn N|--from A [--to B]] [ID]",
	.summary = "review, approve and promote changes in a terminal UI",
	.help =
	    "Opens the review pane on a session (default: the newest of the "
	    "real tree), running\nor ended: the changed files as a tree, the "
	    "diff of the selected one, and keys to\napprove files, hunks or "
	    "lines, reject, promote, unpromote and roll back. Inside\n`airlock` "
	    "it is prefix d; there it can also send comments to the agent.\n"
	    "The keys are the review mode's of the keymap (`airlock keys --mode "
	    "review`).\n\n"
	    "  --turn N      only what turn N did (checkpoint N-1 to N)\n"
	    "  --from A      from checkpoint A (to the newest, or --to B)\n"
	    "  -C DIR        use DIR (its git top-level) as the real tree",
	.exec = cmd_review_exec,
};

static const struct option review_options[] = {
	{ "turn", required_argument, NULL, 't' },
	{ "from", required_argument, NULL, 'f' },
	{ "to", required_argument, NULL, 'T' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct review_cmd {
	struct review_pane *rp;
	struct keymap *km;
	WINDOW *win, *help;
	int quit, show_help, dirty;
};


static void
review_cmd_draw(struct review_cmd *rc)
{
	review_pane_draw(rc->rp, rc->win);
	wnoutrefresh(rc->win);
	if (rc->show_help)
		help_draw(rc->km, MODE_REVIEW, "review keys:", &rc->help);
	curs_set(0);
	doupdate();
	rc->dirty = 0;
}

static void
review_cmd_event(const struct input_event *ev, void *arg)
{
	struct review_cmd *rc = arg;

	rc->dirty = 1;
	if (ev->type == INPUT_PASTE) {
		review_pane_paste(rc->rp, ev->data, ev->len);
		return;
	}
	if (ev->type != INPUT_KEY)
		return;
	if (rc->show_help) {
		rc->show_help = 0;
		clearok(curscr, TRUE);
		return;
	}
	switch (review_pane_key(rc->rp, ev->key)) {
	case 1:
		rc->quit = 1;
		break;
	case 2:
		rc->show_help = 1;
		break;
	}
}

static void
review_cmd_resize(struct review_cmd *rc)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	if (rc->win != NULL)
		delwin(rc->win);
	rc->win = newwin(LINES, COLS, 0, 0);
	clearok(curscr, TRUE);
	rc->dirty = 1;
}

static int
review_cmd_loop(struct review_cmd *rc, int sfd)
{
	struct input *in = input_create();
	struct pollfd pfd[3];
	struct signalfd_siginfo si;
	char data[4096];
	ssize_t n;
	int timeout, work = 1, t;

	review_cmd_resize(rc);
	while (!rc->quit) {
		if (rc->dirty)
			review_cmd_draw(rc);
		timeout = work ? 0 : -1;
		if (review_pane_busy(rc->rp) != NULL)
			timeout = 1000;  /* its seconds on the bottom line */
		t = input_timeout(in, control_now());
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		pfd[2].fd = review_pane_fd(rc->rp);
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents & POLLIN) {
			while (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGWINCH)
					review_cmd_resize(rc);
				else
					rc->quit = 1;
			}
		}
		if (pfd[0].revents & POLLIN) {
			n = read(STDIN_FILENO, data, sizeof data);
			if (n > 0)
				input_feed(in, data, (size_t)n,
				    review_cmd_event, rc);
			else if (n == 0 || errno != EINTR)
				rc->quit = 1;
		} else if (pfd[0].revents & (POLLHUP | POLLERR))
			rc->quit = 1;
		if (input_timeout(in, control_now()) == 0)
			input_flush(in, review_cmd_event, rc);
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			review_pane_job(rc->rp);
			rc->dirty = 1;
			work = 1;  /* it may have loaded again */
		}
		if (review_pane_busy(rc->rp) != NULL)
			rc->dirty = 1;
		if (work) {
			work = review_pane_idle(rc->rp, 5);
			rc->dirty = 1;
		}
	}
	input_free(in);
	return 0;
}

static int
cmd_review_exec(int argc, char **argv)
{
	const struct cmd_entry *entry = &cmd_review_entry;
	struct turn_range range = { 0, TURN_REAL, CKPT_NONE };
	struct review_host host = { 0 };
	struct review_cmd rc;
	struct context ctx;
	struct session *s = NULL;
	struct buf errors = BUF_INIT;
	const char *dir = NULL, *which = NULL;
	char *cause = NULL;
	sigset_t mask, old;
	SCREEN *screen;
	int c, sfd, status = EXIT_ERROR;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+C:h", review_options,
	    NULL)) != -1) {
		switch (c) {
		case 'C':
			dir = optarg;
			break;
		case 't':
		case 'f':
		case 'T':
			if ((status = turn_range_option(&range, c, optarg,
			    entry)) != 0)
				return status;
			break;
		case 'h':
			printf("usage: airlock %s %s\n\n%s\n", entry->name,
			    entry->usage, entry->help);
			return EXIT_OK;
		default:
			return cmd_usage(entry, "unknown or incomplete option "
			    "'%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cmd_usage(entry, "unexpected argument '%s'",
		    argv[optind + 1]);
	if ((status = turn_range_done(&range, entry)) != 0)
		return status;
	status = EXIT_ERROR;
	if (optind < argc)
		which = argv[optind];
	if (control_inside()) {
		/* the agent does not review its own work */
		log_error("review", "not available inside the sandbox");
		return EXIT_ERROR;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		log_error("review", "needs a terminal (airlock status and "
		    "airlock diff print the same)");
		return EXIT_ERROR;
	}
	if (context_session(&ctx, dir, which, "review", &s) != 0)
		return EXIT_ERROR;
	memset(&rc, 0, sizeof rc);
	rc.km = keymap_load(&errors);
	if (errors.len > 0)
		fprintf(stderr, "%s", errors.data);
	buf_free(&errors);

	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	rc.rp = review_pane_open(ctx.store, s, rc.km, &range, &host, &cause);
	if (rc.rp == NULL) {
		log_cause("review", cause);
		goto out;
	}
	screen = newterm(NULL, stdout, stdin);
	if (screen == NULL) {
		log_error("review", "cannot start the terminal UI on TERM=%s",
		    getenv("TERM") != NULL ? getenv("TERM") : "(unset)");
		goto out;
	}
	raw();
	noecho();
	nonl();
	if (has_colors()) {
		start_color();
		use_default_colors();
	}
	printf("\033[?2004h");
	fflush(stdout);
	review_cmd_loop(&rc, sfd);
	printf("\033[?2004l");
	fflush(stdout);
	if (rc.win != NULL)
		delwin(rc.win);
	if (rc.help != NULL)
		delwin(rc.help);
	endwin();
	delscreen(screen);
	status = EXIT_OK;
out:
	review_pane_free(rc.rp);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	keymap_free(rc.km);
	session_free(s);
	context_close(&ctx);
	return status;
}

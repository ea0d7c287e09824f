/*
 * tui/: the terminal UI (design §7): the agent's pty rendered through
 * libvterm into ncursesw, the timeline, the status line, copy mode and
 * keymaps. It uses core/ and snapshot/; nothing below it includes this
 * header (core's command table and `airlock run` reach tui_run and the
 * tui command entries by name only).
 *
 * Files: loop.c (the poll loop, layout, prefix, turn detection), term.c
 * (the only file that includes vterm.h), draw.c (term cells into ncurses),
 * copy.c (copy mode), key-string.c (key names), input.c (outer terminal
 * bytes into keys), keymap.c (keymap files), action.c (the action table),
 * status.c, timeline.c, review.c (the review pane), cmd-keys.c,
 * cmd-review.c.
 */
#ifndef AIRLOCK_TUI_H
#define AIRLOCK_TUI_H

#include <stddef.h>
#include <stdint.h>

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "core/core.h"

/*
 * Keys, as tmux spells them: a Unicode code point, or one of the KEYC_
 * specials, with modifier bits. C-a is 'a'|KEYC_CTRL (input.c turns byte
 * 0x01 into that), C-] is ']'|KEYC_CTRL, C-Space is ' '|KEYC_CTRL. Enter,
 * Tab, Escape, Space and BSpace are the plain code points '\r', '\t', 0x1b,
 * ' ' and 0x7f; M-x is 'x'|KEYC_META.
 */
typedef uint64_t key_code;
#define KEYC_NONE 0ULL
#define KEYC_META 0x0100000000ULL
#define KEYC_CTRL 0x0200000000ULL
#define KEYC_SHIFT 0x0400000000ULL
#define KEYC_MASK_MODIFIERS (KEYC_META | KEYC_CTRL | KEYC_SHIFT)
#define KEYC_MASK_KEY 0x00ffffffffULL
#define KEYC_BASE 0x0010ff000ULL  /* above every code point */
enum key_special {
	KEYC_F1 = KEYC_BASE, KEYC_F2, KEYC_F3, KEYC_F4, KEYC_F5, KEYC_F6,
	KEYC_F7, KEYC_F8, KEYC_F9, KEYC_F10, KEYC_F11, KEYC_F12,
	KEYC_IC, KEYC_DC, KEYC_HOME, KEYC_END, KEYC_NPAGE, KEYC_PPAGE,
	KEYC_BTAB, KEYC_UP, KEYC_DOWN, KEYC_LEFT, KEYC_RIGHT,
	KEYC_KP_ENTER,
	KEYC_END_SPECIAL
};

/* key-string.c */
/* "C-]", "M-x", "Enter", "Space", "Tab", "Escape", "BSpace", "F1".."F12",
 * "Up", "PageUp"/"PPage", "Home", "S-Tab"/"BTab", a single UTF-8
 * character...: the key, or KEYC_NONE when string is not a key name. */
key_code key_string_lookup_string(const char *string);
/* The name of key (a static buffer, overwritten by the next call). */
const char *key_string_lookup_key(key_code key);

/* input.c: the outer terminal's bytes into events */
enum input_type {
	INPUT_KEY,
	INPUT_PASTE,       /* a bracketed paste's content (the markers gone) */
	INPUT_MOUSE,       /* an SGR (1006) mouse report */
	INPUT_FOCUS_IN,
	INPUT_FOCUS_OUT,
	INPUT_RAW,         /* a sequence input.c does not know: its bytes */
};
struct input_mouse {
	int button;        /* 0 left, 1 middle, 2 right, 64/65 wheel up/down,
			      +32 when it is a motion report */
	int row, col;      /* 0-based, on the outer terminal */
	int release;
	key_code mods;     /* KEYC_META, KEYC_CTRL, KEYC_SHIFT */
};
struct input_event {
	enum input_type type;
	key_code key;              /* INPUT_KEY */
	const char *data;          /* INPUT_PASTE and INPUT_RAW */
	size_t len;
	struct input_mouse mouse;  /* INPUT_MOUSE */
};
struct input;
typedef void (*input_fn)(const struct input_event *, void *arg);
struct input *input_create(void);
void input_free(struct input *);
/* Parses len bytes; fn is called once per complete event. A partial
 * sequence is kept for the next call. A paste is bounded (INPUT_PASTE_MAX:
 * longer ones arrive as several INPUT_PASTE events). */
#define INPUT_PASTE_MAX (1024 * 1024)
void input_feed(struct input *, const char *data, size_t len, input_fn fn,
    void *arg);
/* Milliseconds until input_flush must run (a lone Escape that may start a
 * sequence waits INPUT_ESC_MS), -1 when nothing is held. now_ms is
 * control_now() (CLOCK_MONOTONIC), the clock input_feed notes. */
#define INPUT_ESC_MS 25
int input_timeout(const struct input *, int64_t now_ms);
/* Delivers what is held as keys (Escape, then M-... when that fits). */
void input_flush(struct input *, input_fn fn, void *arg);

/* action.c: every action the keymaps can bind (one table) */
enum key_mode {
	MODE_PREFIX,       /* the key after the prefix */
	MODE_TIMELINE,     /* the timeline pane has the focus */
	MODE_COPY,         /* copy mode over the agent pane */
	MODE_REVIEW,       /* the review pane */
	MODE_NET,          /* the refused connections (--net allow) */
	MODE_COUNT
};
enum action {
	ACTION_NONE,
	/* prefix */
	ACTION_SEND_PREFIX, ACTION_CHECKPOINT, ACTION_TIMELINE, ACTION_REVIEW,
	ACTION_COPY_MODE, ACTION_ZOOM, ACTION_HELP, ACTION_QUIT,
	ACTION_REDRAW, ACTION_FOCUS_TIMELINE, ACTION_PASTE_BUFFER,
	ACTION_NET,
	/* shared by the modal panes */
	ACTION_UP, ACTION_DOWN, ACTION_LEFT, ACTION_RIGHT, ACTION_PAGE_UP,
	ACTION_PAGE_DOWN, ACTION_HALF_UP, ACTION_HALF_DOWN, ACTION_TOP,
	ACTION_BOTTOM, ACTION_CLOSE, ACTION_SELECT,
	/* timeline (rollback: the review too) */
	ACTION_ROLLBACK,
	/* review */
	ACTION_APPROVE_FILE, ACTION_APPROVE_HUNK, ACTION_APPROVE_REST,
	ACTION_UNAPPROVE, ACTION_SKIP, ACTION_UNDO, ACTION_REJECT_HUNK,
	ACTION_REJECT_FILE, ACTION_EDIT, ACTION_PROMOTE, ACTION_UNPROMOTE,
	ACTION_COMMENT, ACTION_SEND_FEEDBACK, ACTION_WHITESPACE,
	ACTION_CONTEXT_MORE, ACTION_CONTEXT_LESS, ACTION_RESOLVE_OURS,
	ACTION_RESOLVE_THEIRS, ACTION_NEXT_HUNK, ACTION_PREV_HUNK,
	ACTION_NEXT_FILE, ACTION_PREV_FILE, ACTION_SWITCH_FOCUS,
	ACTION_SHOW_TOTAL,
	/* net */
	ACTION_ALLOW,
	/* copy */
	ACTION_WORD_NEXT, ACTION_WORD_PREV, ACTION_LINE_START, ACTION_LINE_END,
	ACTION_SEARCH_FORWARD, ACTION_SEARCH_BACKWARD, ACTION_SEARCH_NEXT,
	ACTION_SEARCH_PREV, ACTION_BEGIN_SELECTION, ACTION_SELECT_LINE,
	ACTION_COPY,
	ACTION_COUNT
};
struct action_entry {
	enum action action;
	const char *name;          /* as written in keymap files */
	unsigned modes;            /* 1 << MODE_... where it may be bound */
	const char *help;          /* one line for the help overlay */
};
extern const struct action_entry action_table[];  /* ends with a NULL name */
const struct action_entry *action_find(const char *name);
const struct action_entry *action_get(enum action);
const char *key_mode_name(enum key_mode);
int key_mode_find(const char *name);  /* -1 when unknown */

/* keymap.c: keymap files (design §7) */
struct keymap;
struct keymap_options {
	key_code prefix;           /* default C-] */
	int idle_ms;               /* turn detection quiet time, default 2000 */
};
struct keymap *keymap_create(void);     /* empty, default options */
void keymap_free(struct keymap *);
/*
 * Reads one keymap file (len bytes of text named name for errors): lines
 * `bind MODE KEY ACTION`, `unbind MODE KEY`, `set prefix KEY`,
 * `set idle-ms N`, `set keymap default|emacs` (starts over from that
 * built-in keymap), `#` comments, blank lines. A bad line appends
 * "NAME:LINE: WHY\n" to errors and the rest still loads. Returns the number
 * of bad lines.
 */
int keymap_parse(struct keymap *, const char *name, const char *text,
    size_t len, struct buf *errors);
/*
 * The effective keymap: the default keymap (pkgdatadir/keymaps/default.keys,
 * or the copy built into the binary when that is not installed), then
 * ~/.config/airlock/keys (or $AIRLOCK_KEYS when set) when it exists.
 * Never NULL; problems are appended to errors.
 */
struct keymap *keymap_load(struct buf *errors);
enum action keymap_lookup(const struct keymap *, enum key_mode, key_code);
const struct keymap_options *keymap_options(const struct keymap *);
/* Calls fn for each binding of mode, in key order. */
void keymap_each(const struct keymap *, enum key_mode,
    void (*fn)(key_code, enum action, void *), void *arg);
/* Appends "KEY  help\n" for each binding of mode, in key order, the keys
 * padded to one column (the help overlay). */
void keymap_describe(const struct keymap *, enum key_mode, struct buf *);

/* term.c: the agent's terminal (libvterm) */
#define TERM_MAX_CHARS 6
#define TERM_SCROLLBACK 10000
enum term_color_type { TERM_COLOR_DEFAULT, TERM_COLOR_INDEX, TERM_COLOR_RGB };
struct term_color {
	enum term_color_type type;
	uint8_t index;             /* TERM_COLOR_INDEX: 0-255 */
	uint8_t r, g, b;           /* TERM_COLOR_RGB */
};
#define TERM_BOLD 0x01
#define TERM_ITALIC 0x02
#define TERM_UNDERLINE 0x04
#define TERM_REVERSE 0x08
#define TERM_BLINK 0x10
#define TERM_STRIKE 0x20
#define TERM_DIM 0x40
struct term_cell {
	uint32_t chars[TERM_MAX_CHARS]; /* base + combining, 0-terminated;
					   chars[0] == 0: blank */
	int width;                 /* 1, 2 (wide), 0 (right half of a wide) */
	unsigned attrs;            /* TERM_BOLD ... */
	struct term_color fg, bg;
};
enum term_cursor_shape { TERM_CURSOR_BLOCK, TERM_CURSOR_UNDERLINE,
	TERM_CURSOR_BAR };
struct term_state {
	int cursor_row, cursor_col;
	int cursor_visible, cursor_blink;
	enum term_cursor_shape cursor_shape;
	int altscreen;
	int mouse;                 /* 0 none, 1 click, 2 drag, 3 move */
	int mouse_sgr;             /* the agent asked for SGR (1006) reports */
	int bracketed_paste;       /* the agent enabled mode 2004 */
	int focus_events;          /* mode 1004 */
	const char *title;         /* "" when none */
};
struct term;
struct term *term_create(int rows, int cols);
void term_free(struct term *);
/* The agent's output (any split of any bytes). */
void term_feed(struct term *, const char *data, size_t len);
void term_resize(struct term *, int rows, int cols);
void term_size(const struct term *, int *rows, int *cols);
const struct term_state *term_state(const struct term *);
/* Input to the agent, encoded for the modes it set (application cursor
 * keys ...). The bytes to write to the pty are appended to out. */
void term_key(struct term *, key_code, struct buf *out);
/* A paste: wrapped in ESC[200~ ESC[201~ only when bracketed_paste is on. */
void term_paste(struct term *, const char *data, size_t len,
    struct buf *out);
/* A mouse report for the agent, only when it asked for this kind (row, col
 * relative to the agent pane); otherwise nothing is appended. */
void term_mouse(struct term *, const struct input_mouse *, struct buf *out);
/* Answers the terminal owes the agent (device attributes, cursor position
 * reports...) produced while feeding: appended to out. */
void term_take_output(struct term *, struct buf *out);
/* Screen row (0 .. rows-1) or scrollback line (-1 the newest .. -lines). */
void term_cell(const struct term *, int row, int col, struct term_cell *);
int term_scrollback_lines(const struct term *);
/* Lines scrolled into the scrollback since the terminal was made, less
 * those a resize took back: row r stays line term_lines_scrolled() + r as
 * output arrives, which copy mode uses to keep its place. */
uint64_t term_lines_scrolled(const struct term *);
/* 1 when anything changed on screen since the last call (and clears it). */
int term_take_damage(struct term *);
/* Counts since the last call (and clears them): BEL, and OSC 9 / OSC 777
 * notifications, both end-of-turn hints (design §6). */
int term_take_bells(struct term *);
int term_take_notifications(struct term *);
/* Bytes of output fed since the terminal was made. */
uint64_t term_output_bytes(const struct term *);

/* draw.c: term cells into ncurses */
/* The colour index to use on a terminal of ncolors colours (8, 16, 256 or
 * more) for c; -1 for the default colour. RGB maps to the nearest of the
 * 256-colour cube and grey ramp, then down to 16 or 8 when needed. */
int draw_color(const struct term_color *c, int ncolors);
/* ncurses attributes (A_BOLD ...) for TERM_ attrs. */
unsigned long draw_attrs(unsigned attrs);
struct draw_sel {                 /* a selection to show reversed */
	int active;
	int line_mode;
	int start_row, start_col, end_row, end_col; /* term_cell rows */
};
/* Draws the agent pane into the ncurses window win (its size is the
 * pane's): offset 0 is the live screen, offset n shows n lines of
 * scrollback above it. sel may be NULL. */
void draw_term(WINDOW *win, const struct term *, int offset,
    const struct draw_sel *sel);

/* copy.c: copy mode over the agent pane */
struct copy_mode;
struct copy_mode *copy_enter(struct term *);
void copy_free(struct copy_mode *);
/* Applies one action; a search action reads its pattern through
 * copy_search_text. Returns 1 when copy mode ends (close, or copy). When
 * the action copies, *text is set to the selected text (free it), which
 * loop.c sends to the outer terminal with OSC 52. */
int copy_action(struct copy_mode *, enum action, char **text);
void copy_search_text(struct copy_mode *, const char *pattern, int forward);
void copy_draw(struct copy_mode *, WINDOW *win);
/* "[12/345]" style position for the status line. */
const char *copy_position(struct copy_mode *);

/* timeline.c: the timeline pane */
struct timeline {
	struct ckpt *v;            /* the session's checkpoints, oldest first */
	size_t n;
	size_t selected;           /* follows the newest unless moved up */
	size_t top;                /* the first one shown */
};
int timeline_load(struct timeline *, struct store *, const struct session *,
    char **cause);
void timeline_clear(struct timeline *);
const struct ckpt *timeline_newest(const struct timeline *);   /* or NULL */
const struct ckpt *timeline_selection(const struct timeline *);
/* Moves the selection (ACTION_UP ... ACTION_BOTTOM; page: rows shown). */
void timeline_move(struct timeline *, enum action, int page);
/* "#12 14:03:22 prompt LABEL +3 ~1 -0" */
void timeline_line(const struct ckpt *, struct buf *);
void timeline_draw(struct timeline *, WINDOW *, int focused);

/* help.c: the help overlay */
/* Draws the bindings of mode under title in a box (*win: the overlay's
 * window, made again at each call; wnoutrefresh'd). */
void help_draw(const struct keymap *, enum key_mode, const char *title,
    WINDOW **win);
/* input.c, for questions asked on a line: edits line with key (BSpace
 * removes a character, a printable key is added while line is under max
 * bytes). 1 on Enter, -1 on Escape, C-c or C-g, else 0. */
int input_line_key(struct buf *line, key_code key, size_t max);

/* status.c: the status line */
struct status_info {
	const char *name;          /* the session's */
	uint32_t id;
	const char *tree;          /* its last component */
	const char *net;           /* "net:none" ... */
	long refused;              /* connections the proxy refused */
	size_t hidden;             /* secrets hidden */
	long changes;              /* pending changes, -1 unknown */
	const struct ckpt *newest; /* the last checkpoint, or NULL */
	const char *busy;          /* "checkpointing" ..., or NULL */
	int64_t busy_since;        /* ms: a long one shows its time */
	char *message;             /* shown until message_until (ms) */
	int64_t message_until;
	int prefix;                /* the prefix was typed */
	const char *copy;          /* copy mode's position, or NULL */
	const char *prompt;        /* a question, or NULL */
	int search;                /* the prompt is copy mode's search */
};
void status_draw(const struct status_info *, WINDOW *, int64_t now_ms);

/* review.c: the review pane (design §5, §7) over the model of core's
 * review.c; cmd-review.c runs it alone (`airlock review`) */
struct review_pane;
struct review_host {              /* what the pane's host lends it */
	/* the comments and rejections as one message for the agent's
	 * input; NULL: there is no agent to send it to */
	void (*feedback)(void *arg, const char *text, size_t len);
	/* the scratch or the real tree changed (the timeline, counts) */
	void (*changed)(void *arg);
	/* edits path (relative) of the running session in $EDITOR, from
	 * text (len bytes: a conflict's merge, whose markers must be gone
	 * when saved) or, text NULL, from what the agent sees: 0 when it
	 * wrote a change; NULL: editing is not possible here */
	int (*edit)(void *arg, const char *path, const char *text,
	    size_t len);
	void *arg;
};
/* The review of s: range NULL or unset for the total. NULL with *cause. */
struct review_pane *review_pane_open(struct store *, const struct session *,
    const struct keymap *, const struct turn_range *range,
    const struct review_host *, char **cause);
void review_pane_free(struct review_pane *);
/* Another scope (a turn picked in the timeline; NULL: the total);
 * selected: the checkpoint the timeline has selected (for rollback), or
 * CKPT_NONE. 0 or -1 with *cause (the pane keeps its scope). */
int review_pane_scope(struct review_pane *, const struct turn_range *range,
    uint32_t selected, char **cause);
/* One key: 0, 1 when the pane is to close, 2 when it asks for the help
 * of MODE_REVIEW. */
int review_pane_key(struct review_pane *, key_code);
void review_pane_paste(struct review_pane *, const char *, size_t);
/* Draws the whole pane into win (its last row is the pane's own line:
 * prompts, progress, messages). */
void review_pane_draw(struct review_pane *, WINDOW *);
/* A command the pane runs (promote, reject...): poll its fd for POLLIN
 * (-1: none) and call review_pane_job then. review_pane_busy names it. */
int review_pane_fd(const struct review_pane *);
void review_pane_job(struct review_pane *);
const char *review_pane_busy(const struct review_pane *);
/* Fills approval states in the background for up to ms: 1 when work is
 * left (poll with a zero timeout and call again). */
int review_pane_idle(struct review_pane *, int ms);
/* The scratch changed under the review (a checkpoint landed): load it
 * again, unless the pane is asking something or running a command. */
void review_pane_reload(struct review_pane *);

/* worker.c: the checkpoint thread (the UI loop never waits for one) */
struct worker;
struct worker_result {
	int rc;                    /* session_checkpoint's: 0 new, 1 nothing
				      changed, -1 failed */
	uint32_t number;
	char *reason;
	char *note;                /* what could not be recorded fully */
	char *cause;               /* rc -1 */
	uint64_t ticket;           /* as requested */
};
struct worker *worker_start(struct store *, const struct session *,
    char **cause);
/* Runs the queued checkpoints to their end, then stops the thread. */
void worker_stop(struct worker *);
/* Readable when a result waits for worker_result. */
int worker_fd(const struct worker *);
/* Queues a checkpoint; ticket (a control_server ticket, 0: none) comes
 * back in its result. -1 when the queue is full. */
int worker_request(struct worker *, const char *reason, const char *label,
    int force, uint64_t ticket);
/* 1 while a checkpoint runs or waits. */
int worker_busy(struct worker *);
/* Takes the oldest result: 1, or 0 when there is none. */
int worker_result(struct worker *, struct worker_result *);
/* Waits until no checkpoint runs or waits. */
void worker_wait(struct worker *);
void worker_result_free(struct worker_result *);

/* idle.c: the agent's activity, for turn detection (design §6) */
struct idle;
/* Watches the scratch dir upper (inotify, every directory in it, up to a
 * bound; beyond it only the agent's output counts, and *note says so). */
struct idle *idle_create(const char *upper, char **note);
void idle_free(struct idle *);
/* The inotify descriptor to poll (-1 when watching failed). */
int idle_fd(const struct idle *);
/* Reads what inotify reported; 1 when the scratch was written. */
int idle_read(struct idle *);

/* loop.c */
/*
 * Supervises the running sandbox sb of session s in the terminal UI until
 * the agent exits (or the user quits, which ends it with SIGHUP). pty is
 * the pty master whose slave is the agent's terminal. Returns the agent's
 * wait status, or -1.
 */
int tui_run(struct store *, const struct session *, struct sandbox *,
    struct control_server *, int pty, const struct sandbox_config *);

#endif

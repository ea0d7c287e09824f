/*
 * The actions a keymap can bind: their names in keymap files, the modes
 * they make sense in, and the line the help overlay shows.
 */
#include "config.h"

#include <string.h>

#include "tui/tui.h"

#define P (1U << MODE_PREFIX)
#define T (1U << MODE_TIMELINE)
#define C (1U << MODE_COPY)
#define R (1U << MODE_REVIEW)
#define N (1U << MODE_NET)

const struct action_entry action_table[] = {
	{ .action = ACTION_SEND_PREFIX, .name = "send-prefix", .modes = P,
	  .help = "send the prefix key to the agent" },
	{ .action = ACTION_CHECKPOINT, .name = "checkpoint", .modes = P,
	  .help = "take a checkpoint now" },
	{ .action = ACTION_TIMELINE, .name = "timeline", .modes = P,
	  .help = "show or hide the timeline" },
	{ .action = ACTION_REVIEW, .name = "review", .modes = P,
	  .help = "review the changes" },
	{ .action = ACTION_COPY_MODE, .name = "copy-mode", .modes = P,
	  .help = "scroll back and copy from the agent pane" },
	{ .action = ACTION_ZOOM, .name = "zoom", .modes = P,
	  .help = "give the agent pane the whole screen, or not" },
	{ .action = ACTION_HELP, .name = "help", .modes = P | R,
	  .help = "show the key bindings" },
	{ .action = ACTION_QUIT, .name = "quit", .modes = P,
	  .help = "end the agent and leave" },
	{ .action = ACTION_REDRAW, .name = "redraw", .modes = P,
	  .help = "redraw the screen" },
	{ .action = ACTION_FOCUS_TIMELINE, .name = "focus-timeline",
	  .modes = P, .help = "move the focus to the timeline" },
	{ .action = ACTION_PASTE_BUFFER, .name = "paste-buffer", .modes = P,
	  .help = "paste the last copied text into the agent" },
	{ .action = ACTION_NET, .name = "net", .modes = P,
	  .help = "the connections the proxy refused (--net allow)" },

	{ .action = ACTION_UP, .name = "up", .modes = T | C | R | N,
	  .help = "up one line" },
	{ .action = ACTION_DOWN, .name = "down", .modes = T | C | R | N,
	  .help = "down one line" },
	{ .action = ACTION_LEFT, .name = "left", .modes = C | R,
	  .help = "left one column" },
	{ .action = ACTION_RIGHT, .name = "right", .modes = C | R,
	  .help = "right one column" },
	{ .action = ACTION_PAGE_UP, .name = "page-up", .modes = T | C | R,
	  .help = "up one page" },
	{ .action = ACTION_PAGE_DOWN, .name = "page-down", .modes = T | C | R,
	  .help = "down one page" },
	{ .action = ACTION_HALF_UP, .name = "half-up", .modes = T | C | R,
	  .help = "up half a page" },
	{ .action = ACTION_HALF_DOWN, .name = "half-down", .modes = T | C | R,
	  .help = "down half a page" },
	{ .action = ACTION_TOP, .name = "top", .modes = T | C | R | N,
	  .help = "go to the top" },
	{ .action = ACTION_BOTTOM, .name = "bottom", .modes = T | C | R | N,
	  .help = "go to the bottom" },
	{ .action = ACTION_CLOSE, .name = "close", .modes = T | C | R | N,
	  .help = "close and go back to the agent" },
	{ .action = ACTION_SELECT, .name = "select", .modes = T | R,
	  .help = "open the selected entry" },

	{ .action = ACTION_ROLLBACK, .name = "rollback", .modes = T | R,
	  .help = "roll the scratch back to the selected checkpoint" },

	{ .action = ACTION_APPROVE_FILE, .name = "approve-file", .modes = R,
	  .help = "approve the whole file (again: withdraw)" },
	{ .action = ACTION_APPROVE_HUNK, .name = "approve-hunk", .modes = R,
	  .help = "approve the hunk (or the selected lines), go to the next" },
	{ .action = ACTION_APPROVE_REST, .name = "approve-rest", .modes = R,
	  .help = "approve this hunk and the rest of the file" },
	{ .action = ACTION_UNAPPROVE, .name = "unapprove", .modes = R,
	  .help = "withdraw the approval of the hunk or selected lines" },
	{ .action = ACTION_SKIP, .name = "skip", .modes = R,
	  .help = "leave the hunk as it is, go to the next" },
	{ .action = ACTION_UNDO, .name = "undo", .modes = R,
	  .help = "undo the last approval" },
	{ .action = ACTION_REJECT_HUNK, .name = "reject-hunk", .modes = R,
	  .help = "take the hunk out of the scratch (asks first)" },
	{ .action = ACTION_REJECT_FILE, .name = "reject-file", .modes = R,
	  .help = "take the file's change out of the scratch (asks first)" },
	{ .action = ACTION_EDIT, .name = "edit", .modes = R,
	  .help = "edit the file in $EDITOR, in the sandbox" },
	{ .action = ACTION_PROMOTE, .name = "promote", .modes = R,
	  .help = "promote what is approved (shows what, asks first)" },
	{ .action = ACTION_UNPROMOTE, .name = "unpromote", .modes = R,
	  .help = "undo the last promotion (asks first)" },
	{ .action = ACTION_COMMENT, .name = "comment", .modes = R,
	  .help = "comment on the line, for the agent" },
	{ .action = ACTION_SEND_FEEDBACK, .name = "send-feedback", .modes = R,
	  .help = "send the comments and rejections to the agent" },
	{ .action = ACTION_WHITESPACE, .name = "toggle-whitespace",
	  .modes = R, .help = "show or hide whitespace changes" },
	{ .action = ACTION_CONTEXT_MORE, .name = "context-more", .modes = R,
	  .help = "more lines of context" },
	{ .action = ACTION_CONTEXT_LESS, .name = "context-less", .modes = R,
	  .help = "fewer lines of context" },
	{ .action = ACTION_RESOLVE_OURS, .name = "resolve-ours", .modes = R,
	  .help = "a conflict: keep the real tree's side (promotes)" },
	{ .action = ACTION_RESOLVE_THEIRS, .name = "resolve-theirs",
	  .modes = R, .help = "a conflict: take the scratch's side (promotes)" },
	{ .action = ACTION_NEXT_HUNK, .name = "next-hunk", .modes = R,
	  .help = "next hunk" },
	{ .action = ACTION_PREV_HUNK, .name = "prev-hunk", .modes = R,
	  .help = "previous hunk" },
	{ .action = ACTION_NEXT_FILE, .name = "next-file", .modes = R,
	  .help = "next file" },
	{ .action = ACTION_PREV_FILE, .name = "prev-file", .modes = R,
	  .help = "previous file" },
	{ .action = ACTION_SWITCH_FOCUS, .name = "switch-focus", .modes = R,
	  .help = "between the file list and the diff" },
	{ .action = ACTION_SHOW_TOTAL, .name = "show-total", .modes = R,
	  .help = "review every change again (not one turn's)" },
	{ .action = ACTION_ALLOW, .name = "allow", .modes = N,
	  .help = "allow the selected host for the rest of the session" },

	{ .action = ACTION_WORD_NEXT, .name = "word-next", .modes = C,
	  .help = "next word" },
	{ .action = ACTION_WORD_PREV, .name = "word-prev", .modes = C,
	  .help = "previous word" },
	{ .action = ACTION_LINE_START, .name = "line-start", .modes = C,
	  .help = "start of the line" },
	{ .action = ACTION_LINE_END, .name = "line-end", .modes = C,
	  .help = "end of the line" },
	{ .action = ACTION_SEARCH_FORWARD, .name = "search-forward",
	  .modes = C, .help = "search down" },
	{ .action = ACTION_SEARCH_BACKWARD, .name = "search-backward",
	  .modes = C, .help = "search up" },
	{ .action = ACTION_SEARCH_NEXT, .name = "search-next", .modes = C,
	  .help = "repeat the search" },
	{ .action = ACTION_SEARCH_PREV, .name = "search-prev", .modes = C,
	  .help = "repeat the search the other way" },
	{ .action = ACTION_BEGIN_SELECTION, .name = "begin-selection",
	  .modes = C | R, .help = "start (or stop) selecting" },
	{ .action = ACTION_SELECT_LINE, .name = "select-line", .modes = C,
	  .help = "start selecting whole lines" },
	{ .action = ACTION_COPY, .name = "copy", .modes = C,
	  .help = "copy the selection and leave copy mode" },

	{ .action = ACTION_NONE, .name = NULL, .modes = 0, .help = NULL }
};

static const char *const key_mode_names[MODE_COUNT] = {
	[MODE_PREFIX] = "prefix",
	[MODE_TIMELINE] = "timeline",
	[MODE_COPY] = "copy",
	[MODE_REVIEW] = "review",
	[MODE_NET] = "net",
};

const struct action_entry *
action_find(const char *name)
{
	const struct action_entry *e;

	for (e = action_table; e->name != NULL; e++) {
		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

const struct action_entry *
action_get(enum action action)
{
	const struct action_entry *e;

	for (e = action_table; e->name != NULL; e++) {
		if (e->action == action)
			return e;
	}
	return NULL;
}

const char *
key_mode_name(enum key_mode mode)
{
	if ((unsigned)mode >= MODE_COUNT)
		return NULL;
	return key_mode_names[mode];
}

int
key_mode_find(const char *name)
{
	int mode;

	for (mode = 0; mode < MODE_COUNT; mode++) {
		if (strcmp(key_mode_names[mode], name) == 0)
			return mode;
	}
	return -1;
}

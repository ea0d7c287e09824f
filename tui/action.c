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
	{ .action = ACTION_HELP, .name = "help", .modes = P,
	  .help = "show the key bindings" },
	{ .action = ACTION_QUIT, .name = "quit", .modes = P,
	  .help = "end the agent and leave" },
	{ .action = ACTION_REDRAW, .name = "redraw", .modes = P,
	  .help = "redraw the screen" },
	{ .action = ACTION_FOCUS_TIMELINE, .name = "focus-timeline",
	  .modes = P, .help = "move the focus to the timeline" },
	{ .action = ACTION_PASTE_BUFFER, .name = "paste-buffer", .modes = P,
	  .help = "paste the last copied text into the agent" },

	{ .action = ACTION_UP, .name = "up", .modes = T | C | R,
	  .help = "up one line" },
	{ .action = ACTION_DOWN, .name = "down", .modes = T | C | R,
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
	{ .action = ACTION_TOP, .name = "top", .modes = T | C | R,
	  .help = "go to the top" },
	{ .action = ACTION_BOTTOM, .name = "bottom", .modes = T | C | R,
	  .help = "go to the bottom" },
	{ .action = ACTION_CLOSE, .name = "close", .modes = T | C | R,
	  .help = "close and go back to the agent" },
	{ .action = ACTION_SELECT, .name = "select", .modes = T | R,
	  .help = "open the selected entry" },

	{ .action = ACTION_ROLLBACK, .name = "rollback", .modes = T,
	  .help = "roll the scratch back to the selected checkpoint" },

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
	  .modes = C, .help = "start selecting" },
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

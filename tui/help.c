/*
 * The help overlay: the bindings of one mode, generated from the keymap
 * (keymap_describe), in a box in the middle of the screen. The terminal UI
 * and `airlock review` both show it.
 */
#include "config.h"

#include <string.h>

#include "tui/tui.h"

void
help_draw(const struct keymap *km, enum key_mode mode, const char *title,
    WINDOW **win)
{
	struct buf text = BUF_INIT;
	int rows, cols, y = 1, h = 2, w;
	char *line, *save = NULL;
	size_t i;

	buf_printf(&text, "%s\n", title);
	keymap_describe(km, mode, &text);
	buf_addstr(&text, "\nany key closes this; `airlock keys` lists every "
	    "mode\n");
	for (i = 0; i < text.len; i++)
		h += text.data[i] == '\n';
	/* the last row stays: the status line, or the pane's own */
	getmaxyx(stdscr, rows, cols);
	w = cols > 80 ? 76 : cols - 2;
	if (h > rows - 1)
		h = rows - 1;
	if (*win != NULL)
		delwin(*win);
	*win = NULL;
	if (w >= 10 && h >= 3)
		*win = newwin(h, w, (rows - 1 - h) / 2, (cols - w) / 2);
	if (*win != NULL) {
		werase(*win);
		box(*win, 0, 0);
		for (line = strtok_r(text.data, "\n", &save); line != NULL &&
		    y < h - 1; line = strtok_r(NULL, "\n", &save))
			mvwaddnstr(*win, y++, 2, line, w - 4);
		wnoutrefresh(*win);
	}
	buf_free(&text);
}

/*
 * tui/: the terminal UI (design §7): the agent's pty rendered through
 * libvterm into ncursesw, the timeline, the review pane, the status line, and
 * keymaps. It uses core/ and snapshot/; nothing below it uses tui/.
 *
 * This build runs every session headless (core/cmd-run.c); the folder holds
 * only this header until the terminal UI lands.
 */
#ifndef AIRLOCK_TUI_H
#define AIRLOCK_TUI_H

#include "core/core.h"

#endif

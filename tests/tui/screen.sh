#!/bin/bash
# airlock inside GNU screen (in tmux): the TUI draws on screen's terminal
# (TERM=screen), keys pass through (screen's own prefix is C-a, airlock's
# C-]), the agent's size is screen's minus the status line, and it quits.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
if ! command -v screen >/dev/null 2>&1; then
	echo "Bail out! GNU screen is needed (apt-get install screen)"
	exit 1
fi
new_world
cd "$T" || exit 1
agent=$(tui_script agent.sh)
mkdir -m 700 "$W/screens"
# autodetach off: screen ends with its tmux pane (else it would detach
# and keep airlock running after the test)
printf 'startup_message off\nhardstatus off\nvbell off\nautodetach off\n' >"$W/screenrc"
TUI_ENV=(SCREENDIR="$W/screens")

tui_start 100 30 screen -c "$W/screenrc" -S airlock-test \
	"$AIRLOCK" run --name inscreen -- "$agent" "$AIRLOCK"
check "the agent starts inside airlock inside screen" tui_wait_for '^agent>'
check "airlock's status line is on screen's last row" tui_wait_status 'inscreen'
tui_type "size"
tui_keys Enter
check "the agent's terminal is screen's minus the status line" tui_wait_for '^size: 29 100$'
tui_type "through screen"
tui_keys Enter
check "typing reaches the agent" tui_wait_for '^got: through screen$'
tui_prefix t
check "the prefix passes through screen (timeline)" tui_wait_for "$TIMELINE0"
tui_prefix t
tui_wait_gone "$TIMELINE0"
tui_resize 80 20
check "a resize reaches the agent through screen" tui_wait_for '^winch: 19 80$'
tui_prefix q
check "quit (no changes): airlock and screen end" tui_wait_for '^\[exited 0\]'

finish

#!/bin/bash
# The TUI in tmux: a scripted agent starts in the pane, typing echoes, the
# status line says what the sandbox is, keys reach the agent byte for byte
# (the prefix twice sends it once), resizes reach the agent (and tiny sizes
# do not break airlock), and quitting without changes needs no answer.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
new_world
cd "$T" || exit 1
printf 'TOKEN=secret\n' >.env
agent=$(tui_script agent.sh)

tui_airlock 80 24 --name basic -- "$agent" "$AIRLOCK"
check "the agent starts in the pane" tui_wait_for '^agent>'
st=$(tui_status)
check "the status line is airlock's" grep -Eq '^( airlock|\[airlock)' <<<"$st"
contains "the status line names the session" "$st" basic
contains "the status line says the network" "$st" "net:host"
check "the status line counts what is hidden" grep -Eq '[1-9][0-9]* hidden' <<<"$st"

# Typing.
tui_type "hello wörld"
check "typed text echoes in the pane" tui_wait_for 'agent> hello wörld$'
tui_keys Enter
check "the agent reads the line" tui_wait_for '^got: hello wörld$'
tui_type "a mistake"
tui_keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace C-u
tui_type "size"
tui_keys Enter
check "the agent's terminal is the pane: 23 rows of 80" tui_wait_for '^size: 23 80$'

# Keys reach the agent as bytes; the prefix twice sends it.
raw() {  # raw N KEYS...: the agent reads N raw bytes
	local n=$1
	shift
	tui_type "raw $n"
	tui_keys Enter
	tui_wait_for '^raw ready' || return 1
	tui_keys "$@"
}
raw 1 'C-]' 'C-]'
check "prefix twice sends the prefix (0x1d) to the agent" tui_wait_for '^raw: 1d$'
raw 9 C-a é Up C-c Tab Escape
check "control keys, UTF-8, arrows, C-c, Tab and Escape reach the agent" \
	tui_wait_for '^raw: 01 c3 a9 1b 5b 41 03 09 1b$'
raw 2 C-b C-]
tui_keys C-]
check "C-b and a doubled prefix in one burst" tui_wait_for '^raw: 02 1d$'

# Pastes: bracketed only when the agent asked for it.
tmux_ set-buffer -b t "pasted"
raw 6
tmux_ paste-buffer -p -b t -t =al:
check "a paste reaches the agent as typed when it did not ask for bracketed paste" \
	tui_wait_for '^raw: 70 61 73 74 65 64$'
tui_type "bpaste 18"
tui_keys Enter
tui_wait_for '^raw ready'
tmux_ paste-buffer -p -b t -t =al:
check "... and between ESC[200~ and ESC[201~ when it did" \
	tui_wait_for '^raw: 1b 5b 32 30 30 7e 70 61 73 74 65 64 1b 5b 32 30 31 7e$'

# Title and mouse modes reach the outer terminal as the agent sets them.
tui_type "title the agent's title"
tui_keys Enter
tui_wait_for '^title set'
check "the agent's title becomes the outer terminal's" bash -c 'for i in $(seq 100); do
	[ "$(tmux -L "$0" -f /dev/null display -p -t =al: "#{pane_title}")" = "the agent'"'"'s title" ] && exit 0
	sleep 0.05; done; exit 1' "$TUI_SOCKET"
mouse_flag() { tmux_ display -p -t =al: '#{mouse_any_flag}#{mouse_sgr_flag}'; }
is "no mouse reports asked of the outer terminal at first" "$(mouse_flag)" 00
tui_type "mouse on"
tui_keys Enter
tui_wait_for '^mouse on'
check "mouse reports asked when the agent asks" bash -c 'for i in $(seq 100); do
	[ "$(tmux -L "$0" -f /dev/null display -p -t =al: "#{mouse_any_flag}#{mouse_sgr_flag}")" = 11 ] && exit 0
	sleep 0.05; done; exit 1' "$TUI_SOCKET"
tui_type "mouse off"
tui_keys Enter
tui_wait_for '^mouse off'
check "... and no longer when it stops" bash -c 'for i in $(seq 100); do
	[ "$(tmux -L "$0" -f /dev/null display -p -t =al: "#{mouse_any_flag}")" = 0 ] && exit 0
	sleep 0.05; done; exit 1' "$TUI_SOCKET"

# Resize: the agent's pty follows (SIGWINCH reaches it).
tui_resize 100 30
check "a larger window resizes the agent's pty (SIGWINCH)" tui_wait_for '^winch: 29 100$'
check "... and the status line moves to the new last row" tui_wait_status basic
tui_resize 60 12
check "a smaller window resizes it too" tui_wait_for '^winch: 11 60$'
for size in "20 3" "5 2" "1 1" "2 1" "1 5" "200 2"; do
	tui_resize $size
done
tui_resize 80 24
tui_wait_for '^winch: 23 80$'
tui_type "size"
tui_keys Enter
check "after tiny sizes (down to 1x1) the agent runs at 23x80" tui_wait_for '^size: 23 80$'
check "... and the status line is back" tui_wait_status basic
tmux_ list-sessions -F '#{session_name}' | grep -qx al &&
	! tui_capture | grep -q '^\[exited' && ok "airlock survives tiny sizes" ||
	{ not_ok "airlock survives tiny sizes"; tui_show; }

# Quit without changes: at once, no question.
tui_prefix q
check "prefix q without changes quits at once" tui_wait_for '^\[exited [0-9]+\]'
is "the session is no longer running" \
	"$("$AIRLOCK" list --json </dev/null | jq -r '.[] | select(.name == "basic") | .state')" exited

finish

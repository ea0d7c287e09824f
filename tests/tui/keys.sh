#!/bin/bash
# Prefix keys and keymaps: a bad keymap file is reported on the status line
# as FILE:LINE: WHY and the rest of it applies (hostile lines too); the help
# overlay lists the bindings; zoom; copy mode (search, select, copy to the
# outer terminal's clipboard with OSC 52); review; another prefix; quit asks
# when there are changes (n keeps going, y quits) and the session stays
# reviewable.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
new_world
cd "$T" || exit 1
agent=$(tui_script agent.sh)
# OSC 52 from airlock lands in tmux's paste buffers.
tmux_ set -g set-clipboard on

say() { tui_type "$1"; tui_keys Enter; }

# A keymap file with bad lines among good ones; the first bad one holds
# escapes (it is the one the status line shows).
{
	printf '# the test keymap\n'                       # 1
	printf 'set idle-ms 60000\n'                       # 2
	printf 'bind prefix \033[2J\033[31mred timeline\n' # 3: bad, escapes
	printf 'bind prefix x timeline\n'                  # 4
	printf 'unbind nomode y\n'                         # 5: bad
	printf 'bind prefix C-x no-such-action\n'          # 6: bad
	printf 'set prefix\n'                              # 7: bad
	printf 'bind prefix %s timeline\n' "$(head -c 5000 /dev/zero | tr '\0' k)" # 8: bad
	printf 'bind\n'                                    # 9: bad
	printf 'bind prefix T timeline\n'                  # 10
	printf 'bind prefix C-] send-prefix trailing words\n' # 11: bad
	printf 'set idle-ms -5\n'                          # 12: bad
	printf 'set idle-ms 99999999999999999999\n'        # 13: bad
	printf 'bind prefix \001 timeline\n'               # 14: bad (a control byte)
} >"$W/bad.keys"
export AIRLOCK_KEYS=$W/bad.keys

al keys
check "airlock keys reports each bad line as FILE:LINE: WHY" \
	test "$(grep -Ec 'bad\.keys:(3|5|6|7|8|9|11|12|13|14): ' <<<"$err$out")" -ge 10
check "... and never prints the file's escapes raw" bash -c '! grep -q $'"'"'\033'"'"' <<<"$0"' "$err$out"
contains "... and lists what still applies" "$out" timeline

tui_airlock 120 30 --name keys -- "$agent" "$AIRLOCK"
check "the agent starts" tui_wait_for '^agent>'
check "a bad keymap line is reported on the status line as FILE:LINE: WHY" \
	tui_wait_status 'bad\.keys:3: [^ ]'
check "escapes in a keymap file do not reach the screen" tui_wait_for '^agent ready'
check "... nor colour the status line" bash -c '! tmux -L "$0" -f /dev/null capture-pane -p -e -t =al: -S -1 -E -1 |
	grep -Eq "\[(3|38;5;)1m"' "$TUI_SOCKET"
tui_prefix x
check "the rest of the keymap applies (prefix x: timeline)" tui_wait_for "$TIMELINE0"
tui_prefix T
check "... and its last line too (prefix T closes it)" tui_wait_gone "$TIMELINE0"

# Help.
tui_prefix '?'
check "prefix ? shows the help overlay with the bindings" \
	tui_wait_for '(^|[^[:alnum:]])c([^[:alnum:]].*)?[Cc]heckpoint'
check "... from the active keymap (x: timeline)" \
	tui_wait_for '(^|[^[:alnum:]])x([^[:alnum:]].*)?[Tt]imeline'
tui_keys Escape
check "a key closes it" tui_wait_gone 'any key closes'
say "after help"
check "keys reach the agent again" tui_wait_for '^got: after help'
tui_prefix q
check "quit at once (no changes)" tui_wait_for '^\[exited [0-9]+\]'

# The rest with a good keymap (the message about the bad one would cover
# the status line for a while).
printf 'set idle-ms 60000\n' >"$W/good.keys"
AIRLOCK_KEYS=$W/good.keys
tui_airlock 120 30 --name keys2 -- "$agent" "$AIRLOCK"
tui_wait_for '^agent>'

# Zoom: with the timeline open, the agent's pane takes the whole window.
tui_prefix t
check "timeline open" tui_wait_for "$TIMELINE0"
check "the agent is narrower" tui_wait_for '^winch: 29 ([1-9]|[1-9][0-9]|10[0-9]|11[0-9]) +│'
tui_prefix z
check "prefix z zooms the agent's pane: no timeline" tui_wait_gone "$TIMELINE0"
check "... and the agent gets the full width" tui_wait_for '^winch: (29|30) 120$'
tui_prefix z
check "prefix z again: the timeline is back" tui_wait_for "$TIMELINE0"
tui_prefix t
tui_wait_gone "$TIMELINE0"

# Copy mode: scroll back, search, select a line, copy it (OSC 52).
say "lines 200"
tui_wait_for '^line 200$'
tui_prefix '['
check "prefix [ enters copy mode (a position on the status line)" \
	tui_wait_status '\[[0-9]+/[0-9]+\]'
tui_type '?line 42'
tui_keys Enter
check "a search backward finds a line in the scrollback" tui_wait_for '^line 42$'
tui_keys V y
check "select the line and copy it: OSC 52 reaches the outer terminal" \
	bash -c 'for i in $(seq 100); do
		tmux -L "$0" -f /dev/null show-buffer 2>/dev/null | grep -qx "line 42" && exit 0
		sleep 0.05; done; exit 1' "$TUI_SOCKET"
check "copying says so and leaves copy mode" tui_wait_status 'copied [0-9]+ bytes'
check "... the status line has no copy position" tui_wait_status_gone '\| copy \['
check "the live screen is back" tui_wait_for '^line 200$'
tui_prefix '['
tui_wait_status '\[[0-9]+/[0-9]+\]'
tui_keys q
check "q leaves copy mode" tui_wait_status_gone '\| copy \['
say "after copy"
check "keys reach the agent after copy mode" tui_wait_for '^got: after copy'

# The scrollback keeps 10,000 lines: after 12,000 on a 29-row pane, the top
# of copy mode is about line 1,972.
say "lines 12000"
tui_wait_for '^line 12000$'
tui_prefix '['
tui_wait_status '\[[0-9]+/[0-9]+\]'
tui_keys g
tui_wait_gone '^line 12000$'
top=$(tui_capture | sed -n '1s/^line \([0-9]*\)$/\1/p')
check "the scrollback holds 10,000 lines (the top is line ${top:-?})" \
	test "${top:-0}" -ge 1900 -a "${top:-0}" -le 2050
tui_keys q
tui_wait_status_gone '\| copy \['

# Review: the review pane over the agent (tests/tui/review.sh tests it).
say "write review.txt reviewed-content"
tui_wait_for '^wrote review.txt'
tui_prefix d
check "prefix d shows the session's changes" tui_wait_for '[│|] +1 +\+ *reviewed-content'
tui_keys q
check "q leaves the review" tui_wait_for '^agent>'
say "after review"
check "keys reach the agent after the review" tui_wait_for '^got: after review'

# Quit with changes: a question on the status line.
tui_prefix q
check "prefix q with changes asks on the status line" tui_wait_status 'quit\? \[y/N\]'
question=$(tui_status)
contains "... which says how to review them later" "$question" "airlock status"
tui_keys n
check "n: the question goes" tui_wait_status_gone 'quit\?'
say "still here"
check "... and the agent goes on" tui_wait_for '^got: still here'
tui_prefix q
tui_wait_status '\?'
tui_keys y
check "y: airlock quits" tui_wait_for '^\[exited [0-9]+\]'
al status keys2
contains "the session's changes stay after quitting" "$out" review.txt
is "... and it is not running" \
	"$("$AIRLOCK" list --json </dev/null | jq -r '.[] | select(.name == "keys2") | .state')" exited

# Another prefix: C-b; C-] is then an ordinary key.
printf 'set prefix C-b\nset idle-ms 60000\n' >"$W/other.keys"
AIRLOCK_KEYS=$W/other.keys
tui_airlock 100 24 --name other -- "$agent" "$AIRLOCK"
tui_wait_for '^agent>'
check "no error from a good keymap" bash -c '! grep -q "other.keys:" <<<"$0"' "$(tui_status)"
tui_keys C-b t
check "set prefix C-b: C-b t opens the timeline" tui_wait_for "$TIMELINE0"
tui_keys C-b t
tui_wait_gone "$TIMELINE0"
tui_wait_for '^winch: 23 100$'
say "raw 2"
tui_wait_for '^raw ready'
tui_keys 'C-]' C-b C-b
check "C-] goes to the agent, C-b twice sends C-b" tui_wait_for '^raw: 1d 02$'
tui_keys C-b q
check "quit at once (no changes)" tui_wait_for '^\[exited [0-9]+\]'

finish

#!/bin/bash
# Turns and the timeline: the timeline pane (prefix t) shows a line per
# checkpoint and updates the moment one lands, after each scripted turn:
# the agent's own `airlock checkpoint` (hook), `airlock checkpoint ID` from
# another terminal and the checkpoint key (user), Enter after the agent
# went quiet (prompt; not while it is busy), BEL / OSC 9 / OSC 777 (notify),
# and the agent's exit; never a checkpoint when nothing changed.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
new_world
cd "$T" || exit 1
agent=$(tui_script agent.sh)
# The first session never sees a prompt (the test's typing would count as
# one whenever the machine is slow); the second tests prompts, with a quiet
# time long enough that typing soon after the agent's output never counts.
printf 'set idle-ms 600000\n' >"$W/noprompt.keys"
idle=1500
printf '# quick turns for the test\nset idle-ms %d\n' "$idle" >"$W/prompt.keys"
export AIRLOCK_KEYS=$W/noprompt.keys
# more than the quiet time, as a user who reads before typing
quiet() { sleep "$(awk -v ms="$idle" 'BEGIN { print 1.5 * ms / 1000 }')"; }
T8='[0-9]{2}:[0-9]{2}:[0-9]{2}'

# timeline_line N REASON REST: the regex of checkpoint N's line
timeline_line() { printf '#%d +%s +%s +%s' "$1" "$T8" "$2" "$3"; }

# style_of TEXT: the colours and attributes TEXT starts with on screen.
style_of() {
	local f=$W/screen.txt
	tui_capture -e >"$f"
	python3 "$AIRLOCK_SRCDIR/tests/tui/cells.py" --style "$f" "$1"
}

# say LINE: types a line to the agent.
say() { tui_type "$1"; tui_keys Enter; }

tui_airlock 140 30 --name turns -- "$agent" "$AIRLOCK"
check "the agent starts" tui_wait_for '^agent>'

tui_prefix t
check "prefix t opens the timeline with checkpoint 0" tui_wait_for "$(timeline_line 0 start '')"
check "the timeline is a pane on the right, after a vertical line" \
	tui_wait_for '^agent>.*[│|] *#0 '
check "the agent's pty gets narrower (SIGWINCH)" tui_wait_for '^winch: 29 ([1-9]|[1-9][0-9]|1[0-3][0-9]) '
cols=$(tui_capture | sed -n 's/^winch: 29 \([0-9]*\) .*/\1/p' | tail -1)
sep=$(tui_capture | sed -n '1p' | awk -v c="${cols:-0}" '{ print substr($0, c + 1, 1) }')
check "the separator stands right after the agent's $cols columns" test -n "$sep" -a "$sep" != " "

# Hook-triggered turns: the agent asks for the checkpoint itself.
say "turn 1"
check "turn 1: the agent's checkpoint shows in the timeline" \
	tui_wait_for "$(timeline_line 1 agent 'turn 1 +\+1 +~0 +-0')"
say "turn 2"
check "turn 2: the timeline updates again" \
	tui_wait_for "$(timeline_line 2 agent 'turn 2 +\+1 +~0 +-0')"
screen=$(tui_capture)
r1=$(grep -n '#1 ' <<<"$screen" | head -1 | cut -d: -f1)
r2=$(grep -n '#2 ' <<<"$screen" | head -1 | cut -d: -f1)
check "the newest is last" test "${r1:-99}" -lt "${r2:-0}"
s1=$(style_of "#1 ") s2=$(style_of "#2 ")
check "the newest is highlighted ($s2; the one before: $s1)" test -n "$s2" -a "$s2" != "$s1"
is "agent checkpoints in the log" "$(log_of turns '[.[] | "\(.reason):\(.label)"] | join(",")')" \
	"start:null,agent:turn 1,agent:turn 2"
check "the status line shows the last checkpoint" tui_wait_status '#2 agent'
check "the status line counts the pending changes" tui_wait_status '(^|[^0-9])2 changes'

# From another terminal (reason user), and the checkpoint key.
say "write outside.txt o"
tui_wait_for '^wrote outside.txt'
al checkpoint -m "from outside" turns
is "airlock checkpoint ID from outside works while the TUI runs" "$rc" 0
check "... and shows in the timeline" \
	tui_wait_for "$(timeline_line 3 user 'from outside +\+1 +~0 +-0')"
tui_prefix c  # nothing changed: no checkpoint
say "write key.txt k"
tui_wait_for '^wrote key.txt'
tui_prefix c
check "prefix c checkpoints (and did not when nothing had changed)" \
	tui_wait_for "$(timeline_line 4 user '.*\+1 +~0 +-0')"
is "... reason user in the log" "$(log_of turns '.[4].reason')" user

# Notifications: BEL, OSC 9 and OSC 777 end a turn.
check "no bell yet" test "$(tmux_ display -p -t =al: '#{window_bell_flag}')" = 0
say "bell"
check "BEL: a notify checkpoint" tui_wait_for "$(timeline_line 5 notify '.*\+1 +~0 +-0')"
check "the bell reaches the outer terminal" \
	test "$(tmux_ display -p -t =al: '#{window_bell_flag}')" = 1
say "osc9"
check "OSC 9: a notify checkpoint" tui_wait_for "$(timeline_line 6 notify '.*\+1 +~0 +-0')"
say "osc777"
check "OSC 777: a notify checkpoint" tui_wait_for "$(timeline_line 7 notify '.*\+1 +~0 +-0')"
check "the OSC sequences leave no garbage in the pane" \
	bash -c '! tmux -L "$0" -f /dev/null capture-pane -p -t =al: | grep -Eq "turn done|777;|9;"' "$TUI_SOCKET"

# The exit checkpoint; the session stays reviewable.
say "exit 3 last.txt"
check "airlock exits with the agent's status" tui_wait_for '^\[exited 3\]'
is "the exit checkpoint" "$(log_of turns '.[-1] | "\(.number) \(.reason) \(.added)"')" "8 exit 1"
al status turns
contains "airlock status still lists the session's changes" "$out" "last.txt"
is "the log" "$(reasons turns)" "start,agent,agent,user,user,notify,notify,notify,exit"

# Idle-triggered: Enter after the agent was quiet for idle-ms.
export AIRLOCK_KEYS=$W/prompt.keys
tui_airlock 100 24 --name idle -- "$agent" "$AIRLOCK"
tui_wait_for '^agent>'
tui_prefix t
tui_wait_for "$TIMELINE0"
say "write idle1.txt x"
check "the agent works" tui_wait_for '^wrote idle1.txt'
quiet
# the agent writes idle2.txt as soon as it reads this line: the prompt's
# checkpoint is taken before the Enter reaches it, so it holds idle1 alone
say "write idle2.txt y"
check "Enter after the agent was quiet checkpoints (prompt)" \
	tui_wait_for "$(timeline_line 1 prompt '.*\+1 +~0 +-0')"
check "... before the agent got the Enter (idle2.txt is not in it)" \
	tui_wait_for '^wrote idle2.txt'
is "checkpoint 1 holds idle1.txt only" \
	"$(cd "$T" && "$AIRLOCK" status --at 1 idle 2>&1 | tr '\n' ' ')" "A idle1.txt "
# Enter while the agent prints is no prompt: one checkpoint of both files
# busy writes (at its start and end), at the Enter after it went quiet.
say "busy 20"
tui_wait_for '^busy 3 '
say "typed while busy"
check "the agent finishes" tui_wait_for '^busy done'
quiet
say "after quiet"
check "no prompt checkpoint while the agent was busy; one after" \
	tui_wait_for "$(timeline_line 2 prompt '.*\+3 +~0 +-0')"
quiet
say "nothing changed"
tui_wait_for '^got: nothing changed'
tui_prefix q
tui_wait_status 'quit\? \[y/N\]'
tui_keys y
tui_wait_for '^\[exited [0-9]+\]'
is "prompts in the log; none when nothing changed" "$(reasons idle)" "start,prompt,prompt"

finish

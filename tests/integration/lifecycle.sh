#!/bin/bash
# The headless run: exact argv and exit status, signals reaching the
# command, sessions in list, SIGKILL of airlock (nothing left behind,
# crashed, resumable), resume and discard.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1

al run --headless -- printf '[%s]' 'a b' '"q"' '' "it's" 'tab	x' '$HOME' '*'
is "argv passes exactly" "$out" "[a b][\"q\"][][it's][tab	x][\$HOME][*]"
is "a successful command exits 0" "$rc" 0
al run --headless -- sh -c 'exit 42'
is "the exit status passes" "$rc" 42
al run --headless -- sh -c 'kill -TERM $$'
is "death by a signal exits 128+N" "$rc" 143
al run --headless -- /nonexistent/cmd
is "a missing command exits 127" "$rc" 127
contains "a missing command is named" "$err" "/nonexistent/cmd"
al run --headless -- no-such-command-anywhere
is "a command not on PATH exits 127" "$rc" 127
al run --headless -- ./a.txt
is "a file that is not executable exits 126" "$rc" 126
al run --headless --name myname -- sh -c 'echo "$AIRLOCK_SESSION"'
sid=$out
al list --json
is "list --json has one object per run" "$(printf '%s' "$out" | jq length)" 7
is "list --json: name" "$(printf '%s' "$out" | jq -r ".[] | select(.id == $sid) | .name")" myname
is "list --json: exit status" "$(printf '%s' "$out" | jq -r '.[1].exit_status')" 42
is "list --json: state" "$(printf '%s' "$out" | jq -r '.[1].state')" exited
is "list --json: command" "$(printf '%s' "$out" | jq -c '.[0].command')" \
	'["printf","[%s]","a b","\"q\"","","it'"'"'s","tab\tx","$HOME","*"]'
is "list --json: tree" "$(printf '%s' "$out" | jq -r '.[0].tree')" "$T"
is "list --json: RFC 3339 times" "$(printf '%s' "$out" | jq -r '.[0].started, .[0].ended' | grep -cxE '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z')" 2
is "list --json: keys" "$(printf '%s' "$out" | jq -c '.[0] | keys')" \
	'["changes","checkpoints","command","ended","exit_status","id","name","started","state","tree"]'

# Signals sent to airlock reach the command.
for sig in INT TERM HUP WINCH; do
	o=$W/sig.$sig
	"$AIRLOCK" run --headless -- sh -c "trap 'echo got $sig; exit 7' $sig; echo ready; while :; do sleep 0.05; done" >"$o" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q ready "$o" 2>/dev/null && break; sleep 0.05; done
	kill -s "$sig" "$pid"
	wait "$pid"
	code=$?
	is "SIG$sig reaches the command" "$(cat "$o")" "ready
got $sig"
	is "SIG$sig: airlock exits with the command's status" "$code" 7
done

# SIGKILL of airlock: the command dies, no mount is left, the session is
# crashed, its scratch is intact and it resumes.
o=$W/kill.out
"$AIRLOCK" run --headless --name victim -- sh -c 'echo kept >survivor.txt; echo ready; exec sleep 1000.4242' >"$o" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$o" 2>/dev/null && break; sleep 0.05; done
check "the command is running" sh -c "pgrep -f 'sleep 1000[.]4242' >/dev/null"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
for _ in $(seq 50); do pgrep -f 'sleep 1000[.]4242' >/dev/null || break; sleep 0.1; done
check "no process is left after SIGKILL" sh -c '! pgrep -f "sleep 1000[.]4242"'
check "no mount is left on the host" sh -c "! grep -F ' $T ' /proc/self/mounts"
check "no mount of the store is left" sh -c "! grep -F '$W/store' /proc/self/mounts"
al list --json
is "a killed session is crashed" "$(printf '%s' "$out" | jq -r '.[] | select(.name == "victim") | .state')" crashed
al status victim
is "the crashed session's scratch is intact" "$out" "A survivor.txt"
check "the real tree is untouched" test ! -e "$T/survivor.txt"
al run --headless --resume victim -- cat survivor.txt
is "--resume mounts the same scratch" "$out" "kept"
is "--resume exits with the command's status" "$rc" 0
al list --json
is "a resumed session ends as exited" "$(printf '%s' "$out" | jq -r '.[] | select(.name == "victim") | .state')" exited

# A session cannot run twice at once.
"$AIRLOCK" run --headless --name busy -- sh -c 'echo ready; sleep 3' >"$W/busy.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$W/busy.out" 2>/dev/null && break; sleep 0.05; done
al run --headless --resume busy -- true
is "resuming a running session exits 1" "$rc" 1
contains "resuming a running session says so" "$err" "is running in another airlock"
al discard --yes busy
is "discarding a running session exits 1" "$rc" 1
al list --json
is "a running session is listed as running" "$(printf '%s' "$out" | jq -r '.[] | select(.name == "busy") | .state')" running
wait "$pid"

# Discard.
al discard victim
is "discard without a terminal or --yes exits 1" "$rc" 1
contains "discard without a terminal asks for --yes" "$err" "pass --yes"
dir=$(ls -d "$W"/store/*/sessions/* | head -1)
al discard --yes victim
is "discard --yes exits 0" "$rc" 0
al status victim
is "a discarded session is gone" "$rc" 1
check "the real tree is untouched by discard" test -f "$T/a.txt"

finish

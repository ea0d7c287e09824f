#!/bin/bash
# Checkpoints and rollbacks: checkpoint 0 at start and one at exit, the
# agent's `airlock checkpoint` through agent.sock (rate limited, hostile
# input refused without harm), checkpoints from another terminal, a live
# rollback while the command runs (its shell keeps its cwd and sees the
# restored files), rollbacks of an ended session and of a rollback.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# log_field ID JQ: a jq filter over `airlock log --json ID`.
log_field() {
	"$AIRLOCK" log --json "$1" | jq -r "$2"
}

# waitfor FILE TEXT: until FILE holds TEXT (20 s at most).
waitfor() {
	for _ in $(seq 200); do grep -qa -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

# section FILE NAME: the lines between "== NAME" and the next "== ".
section() {
	awk -v n="== $2" '$0 == n { on = 1; next } /^== / { on = 0 } on' "$1"
}

# The fingerprint of the merged view, printed from inside the sandbox.
fp_inside='tree_fingerprint "$T"'
fp_func=$(declare -f tree_fingerprint)

# A small client for agent.sock, to send what airlock never would.
cat >"$W/client.py" <<'EOF'
import socket, sys, time

path, mode = sys.argv[1], sys.argv[2]

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    return s

def ask(data, shut=False):
    s = connect()
    if data:
        s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
    s.close()
    return out.decode("ascii", "replace").strip()

if mode == "garbage":
    for data in [b"x" * 4096, b"sta\0tus\n", b"\xff\xfe\x00\n",
                 b"rollback 0\n", b"promote --all\n",
                 b"checkpoint \x1b[31mred\n", b"status\nstatus\n"]:
        print(ask(data))
    print(ask(b"status", shut=True))
    connect().close()
    print(ask(b"status\n"))
elif mode == "flood":
    answers = [ask(b"checkpoint\n") for _ in range(int(sys.argv[3]))]
    print("limited", sum(a == "error rate limited" for a in answers))
    print("first", answers[0])
elif mode == "hold":
    held = [connect() for _ in range(int(sys.argv[3]))]
    time.sleep(0.2)
    # one past the cap: answered at once, before it says anything
    print("extra", ask(b""))
    print("holding", flush=True)
    time.sleep(float(sys.argv[4]))
EOF

# Checkpoint 0 at start, one at exit, none when nothing changed.
al run --headless -- sh -c 'echo x >new.txt'
is "a session runs" "$rc" 0
is "checkpoint 0 at start and one at exit" \
	"$(log_field 1 '[.[] | "\(.number) \(.reason)"] | join(",")')" "0 start,1 exit"
al run --headless -- true
is "no exit checkpoint when nothing changed" \
	"$(log_field 2 '[.[] | "\(.number) \(.reason)"] | join(",")')" "0 start"
al checkpoint 2
is "checkpoint of an unchanged ended session says so" "$out" "no changes since checkpoint 0"
is "... and exits 0" "$rc" 0
al run --headless --resume 1 -- sh -c 'echo y >>new.txt'
is "--resume: the exit checkpoint" \
	"$(log_field 1 '[.[] | .reason] | join(",")')" "start,exit,exit"
al checkpoint -m "by hand" 1
is "checkpoint of an ended session, nothing changed" "$out" "no changes since checkpoint 2"

# The agent's checkpoints through agent.sock.
al run --headless --name agent -- sh -c '
	a=$0; store=$1
	test -S /run/airlock/agent.sock && echo "agent.sock is there"
	ls -A "$store" | wc -l
	echo 1 >f; "$a" checkpoint -m "turn 1"
	"$a" checkpoint -m again
	echo 2 >f; "$a" checkpoint
	"$a" rollback 0; echo "rollback inside: $?"
	"$a" checkpoint -m "$(printf "bad\tlabel")"; echo "bad label: $?"' "$AIRLOCK" "$AIRLOCK_HOME"
# session_id NAME
session_id() {
	"$AIRLOCK" list --json | jq -r ".[] | select(.name == \"$1\") | .id"
}
sid=$(session_id agent)
is "airlock checkpoint inside the sandbox" "$out" "agent.sock is there
0
checkpoint 1 of session $sid
no changes since checkpoint 1
checkpoint 2 of session $sid
rollback inside: 1
bad label: 2"
contains "rollback inside is refused" "$err" "airlock: rollback: not available inside the sandbox"
is "agent checkpoints: reasons and labels" \
	"$(log_field agent '[.[] | "\(.reason):\(.label)"] | join(",")')" "start:null,agent:turn 1,agent:null"

# Rate limit: a burst passes, then one a second.
al run --headless --name flood -- sh -c 'echo x >f; "$0" "$1" /run/airlock/agent.sock flood 12' "$PY" "$W/client.py"
limited=$(printf '%s\n' "$out" | sed -n 's/^limited //p')
check "agent checkpoints are rate limited ($limited of 12)" test "${limited:-0}" -ge 5
contains "the first of a burst passes" "$out" "first ok 1"

# Garbage on agent.sock: refused, and the supervisor goes on.
al run --headless --name garbage -- sh -c '"$0" "$1" /run/airlock/agent.sock garbage; echo z >f; "$2" checkpoint' "$PY" "$W/client.py" "$AIRLOCK"
is "garbage on agent.sock is refused line by line" "$out" "error request too long
error NUL byte in the request
error NUL byte in the request
error rollback is not allowed on agent.sock
error unknown request
error label holds a control character
error one request per connection
error incomplete request (no newline)
ok 0
checkpoint 1 of session $(session_id garbage)"
is "the session still ends well" "$rc" 0

# Silent clients fill agent.sock's slots; ctl.sock still answers.
o=$W/hold.out
"$AIRLOCK" run --headless --name hold -- sh -c 'echo h >held; "$0" "$1" /run/airlock/agent.sock hold 8 5' "$PY" "$W/client.py" >"$o" 2>&1 &
pid=$!
check "the holding client started" waitfor "$o" holding
contains "a connection past the cap is refused" "$(cat "$o")" "extra error busy"
timeout 15 "$AIRLOCK" checkpoint -m while-held hold >/dev/null 2>&1
is "a checkpoint from outside while agent.sock is full" "$?" 0
wait "$pid"
is "the held session exits 0" "$?" 0

# A checkpoint from another terminal while the command runs.
o=$W/outside.out
"$AIRLOCK" run --headless --name outside -- sh -c 'go=0; trap "go=1" WINCH; echo o >o.txt; echo ready
	for i in $(seq 600); do [ $go = 1 ] && break; sleep 0.1; done; echo done' >"$o" 2>&1 &
pid=$!
check "the command is ready" waitfor "$o" ready
al checkpoint -m "from outside" outside
osid=$(session_id outside)
is "checkpoint from outside while running" "$out" "checkpoint 1 of session $osid"
al checkpoint outside
is "again: nothing changed" "$out" "no changes since checkpoint 1"
al rollback 7 outside
is "rollback to a missing checkpoint exits 1" "$rc" 1
is "... and says so" "$err" "airlock: rollback: session $osid has no checkpoint 7"
kill -WINCH "$pid"
wait "$pid"
is "the command goes on and exits 0" "$?" 0
is "outside checkpoints: reason user, label" \
	"$(log_field outside '[.[] | "\(.reason):\(.label)"] | join(",")')" "start:null,user:from outside"

# Usage.
al rollback
is "rollback without N exits 2" "$rc" 2
al rollback x
is "rollback x exits 2" "$rc" 2
al rollback 1 2 3
is "rollback with too many arguments exits 2" "$rc" 2
al checkpoint -m "$(printf 'two\nlines')"
is "a label with a newline exits 2" "$rc" 2
contains "... and says why" "$err" "airlock: checkpoint: -m: label holds a control character"
al checkpoint a b
is "checkpoint with two sessions exits 2" "$rc" 2
al checkpoint no-such-session
is "checkpoint of an unknown session exits 1" "$rc" 1

# The live rollback: the agent's state A (checkpointed), then B; rolled
# back to A from outside while its shell waits in src/deep.
new_world
cd "$T" || exit 1
before_all=$(tree_fingerprint_all "$T")
initial=$(tree_fingerprint "$T")
state_a='printf "changed\n" >a.txt
printf "new\n" >new.txt
mkdir -p newdir/sub && printf "x\n" >newdir/sub/f
mkdir emptynew
chmod 644 run.sh
chmod 700 src
rm link && ln -s src/main.c link
rm -rf empty
printf "nl\n" >"$(printf "new\nline")"'
state_b='cd src/deep
printf "again\n" >../../a.txt
rm ../../new.txt
printf "b\n" >../../b.txt
rm -rf ../../newdir
mkdir ../../empty ../../emptynew/inner
chmod 755 ../../src
ln -sf a.txt ../../link
printf "two\n" >lines.txt
chmod 600 ../../run.sh
rm -f "../../$(printf "new\nline")"'
o=$W/live.out
"$AIRLOCK" run --headless --name live -- bash -c "$fp_func
T=\$1; set -e
$state_a
\"\$0\" checkpoint -m A >/dev/null
echo '== A'; $fp_inside
$state_b
echo '== B'; $fp_inside
go=0; trap 'go=1' WINCH
echo '== ready'
for i in \$(seq 600); do [ \$go = 1 ] && break; sleep 0.1; done
echo '== after'; $fp_inside
echo '== cwd'; pwd; cat lines.txt; ls -ld . | cut -c1-10
echo '== end'" "$AIRLOCK" "$T" >"$o" 2>&1 &
pid=$!
check "the agent reached state B" waitfor "$o" "== ready"
al rollback 1 live
is "rollback while the command runs" "$out" "rolled back session 1 to checkpoint 1 (now checkpoint 3)"
is "... exits 0" "$rc" 0
kill -WINCH "$pid"
wait "$pid"
is "the command exits 0 after the rollback" "$?" 0
state_a_fp=$(section "$o" A)
state_b_fp=$(section "$o" B)
check "states A and B differ" test "$state_a_fp" != "$state_b_fp"
is "after the rollback the command sees state A exactly" "$(section "$o" after)" "$state_a_fp"
is "its shell kept its cwd, with the file of state A" "$(section "$o" cwd)" "$T/src/deep
one
two
three
drwxr-xr-x"
cp -a "$T" "$W/native"
(cd "$W/native" && eval "$state_a")
is "state A equals the same script run natively" "$state_a_fp" "$(tree_fingerprint "$W/native")"
is "the real tree is byte-for-byte unchanged" "$(tree_fingerprint_all "$T")" "$before_all"
is "the state before the rollback was checkpointed" \
	"$(log_field live '[.[] | "\(.number):\(.reason):\(.label)"] | join(",")')" \
	"0:start:null,1:agent:A,2:user:before rollback to 1,3:rollback:null"
fp_resume() {
	al run --headless --resume live -- bash -c "$fp_func; tree_fingerprint \"\$0\"" "$T"
	printf '%s\n' "$out"
}

# An ended session: its scratch is restored directly.
al rollback 0 live
is "rollback of an ended session" "$out" "rolled back session 1 to checkpoint 0 (now checkpoint 4)"
is "the merged view is the real tree again" "$(fp_resume)" "$initial"
al status live
is "... and status lists no change" "$out" ""
al rollback 2 live
is "rollback to the state before the first rollback" "$out" "rolled back session 1 to checkpoint 2 (now checkpoint 5)"
is "the merged view is state B again" "$(fp_resume)" "$state_b_fp"
al rollback 4 live
is "a rollback undone by rolling back to the checkpoint before it" "$out" "rolled back session 1 to checkpoint 4 (now checkpoint 6)"
is "the merged view is the real tree again" "$(fp_resume)" "$initial"
al rollback 3 live
is "the merged view is state A again" "$(fp_resume)" "$state_a_fp"
is "rollbacks append history, never remove it" \
	"$(log_field live '[.[] | .reason] | join(",")')" \
	"start,agent,user,rollback,rollback,rollback,rollback,rollback"
is "the real tree is still byte-for-byte unchanged" "$(tree_fingerprint_all "$T")" "$before_all"

# A promotion in progress holds promote.lock: no rollback meanwhile.
lockfile=$(ls -d "$W"/store/*/sessions/1)/promote.lock
flock -x "$lockfile" sh -c 'echo locked >"$0"; sleep 3' "$W/locked" &
lpid=$!
check "a promotion holds promote.lock" waitfor "$W/locked" locked
al rollback 0 live
is "rollback during a promotion exits 1" "$rc" 1
is "... and says so" "$err" "airlock: rollback: a promotion of session 1 is in progress (or a rollback or reject): roll back once it is done"
wait "$lpid"
al rollback 0 live
is "once the promotion is done, rollback works" "$rc" 0

# A live rollback makes paths the real tree's again by copying them into
# the merged view; its checkpoint stands for the one rolled back to: the
# copies are no scratch content (nothing stored), and stay so until the
# agent changes one.
new_world
cd "$T" || exit 1
mkdir -p vendor/lib
for i in $(seq 40); do printf 'vendored %s\n' "$i" >"vendor/lib/v$i.c"; done
mkdir other && echo other >other/o.txt
head -c 300000 /dev/urandom | base64 >big.txt
git add -A >/dev/null && git commit -qm vendor
initial=$(tree_fingerprint "$T")
o=$W/copies.out
"$AIRLOCK" run --headless --name copies -- bash -c "$fp_func
set -e
rm -rf vendor other
tr a-z A-Z <big.txt >big.new && mv big.new big.txt
\"\$0\" checkpoint -m changed >/dev/null
echo '== ready'
go=0; trap 'go=1' WINCH
for i in \$(seq 600); do [ \$go = 1 ] && break; sleep 0.1; done
echo '== after'; tree_fingerprint \"\$1\"; echo '== end'
echo agent >>vendor/lib/v7.c
echo '== appended'
go=0
for i in \$(seq 600); do [ \$go = 1 ] && break; sleep 0.1; done
echo '== done'" "$AIRLOCK" "$T" >"$o" 2>&1 &
pid=$!
check "the agent removed vendor and rewrote big.txt" waitfor "$o" "== ready"
al rollback 0 copies
is "rollback to the state before the turn" "$out" \
	"rolled back session 1 to checkpoint 0 (now checkpoint 2)"
is "its checkpoint stores nothing: the copies are the real tree's" \
	"$(log_field copies '.[-1] | "\(.reason) \(.bytes)"')" "rollback 0"
al status --at 2 copies
is "... and holds no change, as checkpoint 0" "$out" ""
kill -WINCH "$pid"
check "the agent saw the rollback" waitfor "$o" "== appended"
is "the agent sees the real tree again" \
	"$(sed -n '/== after/,/== end/p' "$o" | sed '1d;$d')" "$initial"
al checkpoint copies
is "a copy the agent changed is recorded" "$out" "checkpoint 3 of session 1"
# (and with it the directories it is in: a directory copy is taken for
# the real tree's only whole, so its other files are recorded too)
is "... with its content" "$(log_field copies '.[-1].bytes > 0')" "true"
al diff --turn 3 copies
contains "... the change shows in the turn's diff" "$out" "+agent"
al checkpoint copies
is "nothing changed since: no checkpoint" "$out" "no changes since checkpoint 3"
# again while it runs: vendor, recorded whole (an opaque directory) in 3,
# goes back to the real tree's
al rollback 2 copies
is "a second live rollback, to the first's checkpoint" "$out" \
	"rolled back session 1 to checkpoint 2 (now checkpoint 4)"
al status --at 4 copies
is "... holds no change" "$out" ""
kill -WINCH "$pid"
wait "$pid"
is "the command exits 0" "$?" 0
al run --headless --resume copies -- bash -c "$fp_func; tree_fingerprint \"\$0\"" "$T"
is "the merged view is the real tree again" "$out" "$initial"
# the user edits a real file the rollback copied back: the scratch's copy
# holds what the real file had then, its base, so the change is the real
# tree's alone and promotion leaves it
echo "the user's line" >>big.txt
echo "the user's line" >>other/o.txt
al promote --all copies
is "promotion after the user edited copied files" "$rc" 0
is "... keeps the user's edit" "$(tail -n 1 big.txt)" "the user's line"
is "... also of a file first seen as a copy" "$(cat other/o.txt)" \
	"$(printf "other\nthe user's line")"
al fsck
is "fsck is clean" "$rc" 0

# Several operations are in flight to the warden at once; when one fails,
# those after it are skipped, not applied, and the first failure is the
# error. The warden waits before each operation (a test seam); once d/f is
# restored (the first), the agent makes z3 a directory: z1 and z2 are
# restored, z3's write fails, z4 and z5 stay as they were.
new_world
cd "$T" || exit 1
o=$W/fails.out
AIRLOCK_TEST_APPLY_DELAY_MS=300 "$AIRLOCK" run --headless --name fails -- bash -c '
set -e
mkdir d; echo one >d/f
for i in 1 2 3 4 5; do echo one >"z$i"; done
"$0" checkpoint -m one >/dev/null
echo two >d/f
for i in 1 2 3 4 5; do echo two >"z$i"; done
echo "== ready"
for i in $(seq 600); do [ "$(cat d/f)" = one ] && break; sleep 0.02; done
rm z3; mkdir z3; echo keep >z3/keep
echo "== planted"
go=0; trap "go=1" WINCH
for i in $(seq 600); do [ $go = 1 ] && break; sleep 0.1; done
for i in 1 2 4 5; do echo "z$i $(cat "z$i")"; done
echo "== end"' "$AIRLOCK" >"$o" 2>&1 &
pid=$!
check "the agent made its files" waitfor "$o" "== ready"
al rollback 1 fails
is "a failed operation fails the rollback" "$rc" 1
contains "... names the first failure" "$err" "z3"
case $err in *skipped*) not_ok "... not the operations skipped after it"; diag "$err" ;; *) ok "... not the operations skipped after it" ;; esac
contains "... and the checkpoint before it" "$err" "checkpoint 2 holds the state before it"
check "the agent planted z3 meanwhile" grep -q "== planted" "$o"
kill -WINCH "$pid"
wait "$pid"
is "the command goes on after the failed rollback" "$?" 0
is "the operations before the failure were applied, those after skipped" \
	"$(sed -n "/== planted/,/== end/p" "$o" | grep "^z" | tr "\n" " ")" \
	"z1 one z2 one z4 two z5 two "
al rollback 2 fails
is "... and the checkpoint before it restores" "$rc" 0

# A live rollback that the command's exit interrupts is finished on the
# scratch once the sandbox is gone. The warden waits before each operation
# (a test seam), and the command exits as soon as the second one (removing
# f1) is done, with 20 more to go.
new_world
cd "$T" || exit 1
initial=$(tree_fingerprint "$T")
o=$W/quits.out
AIRLOCK_TEST_APPLY_DELAY_MS=200 "$AIRLOCK" run --headless --name quits -- bash -c '
set -e
for i in $(seq 20); do printf "%s\n" "$i" >"f$i"; done
rm -rf src; printf "x\n" >a.txt
"$0" checkpoint -m made >/dev/null
echo "== ready"
for i in $(seq 600); do [ -e f1 ] || break; sleep 0.05; done
echo "== f1 gone"
exit 3' "$AIRLOCK" >"$o" 2>&1 &
pid=$!
check "the command made its files" waitfor "$o" "== ready"
al rollback 0 quits
is "rollback interrupted by the command's exit exits 0" "$rc" 0
is "... and says where it got" "$out" "rolled back session 1 to checkpoint 0 (now checkpoint 2)"
is "... with nothing on stderr" "$err" ""
wait "$pid"
is "airlock exits with the command's status" "$?" 3
check "the command exited halfway through" grep -q "== f1 gone" "$o"
is "the rollback was finished on the scratch" \
	"$(log_field quits '[.[] | "\(.number):\(.reason):\(.label)"] | join(",")')" \
	"0:start:null,1:agent:made,2:rollback:finished after the command exited"
al run --headless --resume quits -- bash -c "$fp_func; tree_fingerprint \"\$0\"" "$T"
is "the merged view is the real tree again" "$out" "$initial"
al status quits
is "... and status lists no change" "$out" ""
al fsck
is "fsck is clean" "$rc" 0

finish

#!/bin/bash
# The checkpoint store from the command line: log, turn diffs, status at a
# checkpoint, gc and fsck, kill -9 during checkpoints, a full disk.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1

al run --headless --name turns -- sh -c '
	echo turn1 >>a.txt
	"$AIRLOCK_BIN" checkpoint -m one >/dev/null
	rm -rf src/deep; echo new >new.txt
	"$AIRLOCK_BIN" checkpoint -m two >/dev/null
	ln -s new.txt link2' 2>/dev/null
is "the session ran" "$rc" 0
al log --json
is "log --json: one object per checkpoint" "$(printf '%s' "$out" | jq length)" 4
is "log --json: keys" "$(printf '%s' "$out" | jq -c '.[0] | keys')" \
	'["added","bytes","deleted","label","modified","number","reason","time"]'
is "log --json: reasons" "$(printf '%s' "$out" | jq -c '[.[].reason]')" '["start","agent","agent","exit"]'
is "log --json: labels" "$(printf '%s' "$out" | jq -c '[.[].label]')" '[null,"one","two",null]'
is "log --json: counts of turn 1 (a real file modified)" "$(printf '%s' "$out" | jq -c '.[1] | [.added, .modified, .deleted]')" '[0,1,0]'
is "log --json: counts of turn 2" "$(printf '%s' "$out" | jq -c '.[2] | [.added, .modified, .deleted]')" '[1,0,1]'
check "log --json: new bytes are counted" test "$(printf '%s' "$out" | jq '.[1].bytes')" -gt 0
al log turns
contains "log prints a table" "$out" "agent"
contains "log prints labels" "$out" "one"

al diff --turn 1 --name-status
is "diff --turn 1 shows only turn 1" "$out" "M	a.txt"
al diff --turn 2 --name-status
is "diff --turn 2 shows only turn 2" "$out" "A	new.txt
D	src/deep/lines.txt"
al diff --turn 1
contains "diff --turn 1 is a patch" "$out" "+turn1"
al diff --from 1 --to 3 --name-status
is "diff --from 1 --to 3" "$out" "A	link2
A	new.txt
D	src/deep/lines.txt"
al diff --from 0 --name-status
is "diff --from 0 goes to the newest" "$out" "M	a.txt
A	link2
A	new.txt
D	src/deep/lines.txt"
al status --at 1
is "status --at 1" "$out" "M a.txt"
al status --at 2 --json
is "status --at N --json" "$(printf '%s' "$out" | jq -c '[.[].path]')" '["a.txt","new.txt","src/deep/lines.txt"]'
al diff --turn 9
is "a missing checkpoint exits 1" "$rc" 1
al diff --turn 0
is "--turn 0 is a usage error" "$rc" 2
al diff --turn x
is "--turn x is a usage error" "$rc" 2
al status --at -1
is "--at -1 is a usage error" "$rc" 2
al diff --turn 1 --from 0
is "diff: --turn and --from are exclusive" "$rc" 2
al diff --to 2
is "diff: --to needs --from" "$rc" 2
al review --turn 0
is "review --turn 0 is a usage error" "$rc" 2
contains "... which says why" "$err" "--turn takes a checkpoint number from 1 on"
al review --turn 1 --from 0
is "review: --turn and --from are exclusive" "$rc" 2
al review --from x
is "review --from x is a usage error" "$rc" 2
al review a b
is "review takes one session" "$rc" 2
al review --turn 1
is "review without a terminal exits 1" "$rc" 1
contains "... and says it needs one" "$err" "airlock: review: needs a terminal"
al list --json
is "list counts checkpoints" "$(printf '%s' "$out" | jq '.[0].checkpoints')" 4

# fsck on a healthy store; gc after a rollback and a discard.
al fsck
is "fsck of a healthy store exits 0" "$rc" 0
al run --headless --name big -- sh -c 'head -c 3000000 /dev/urandom >big.bin'
before=$(du -sk "$W/store" 2>/dev/null | cut -f1)
al discard --yes big
al gc --dry-run
is "gc --dry-run exits 0" "$rc" 0
contains "gc --dry-run reports what it would free" "$out" "would free"
al gc
is "gc exits 0" "$rc" 0
contains "gc reports the bytes freed" "$out" "freed 2."
after=$(du -sk "$W/store" 2>/dev/null | cut -f1)
check "gc frees the space of the discarded session" test "$after" -lt $((before - 2000))
al fsck
is "fsck is clean after gc" "$rc" 0
al diff --turn 1 turns --name-status
is "the remaining session still reads back after gc" "$out" "M	a.txt"

# A pack deleted by hand: fsck fails and names what is lost.
pack=$(ls "$W"/store/*/packs/*.zst | head -1)
mv "$pack" "$W/pack.saved"
al fsck
is "fsck with a missing pack exits 1" "$rc" 1
contains "fsck names the lost path" "$out$err" "a.txt"
contains "fsck names the session" "$out$err" "session 1"
mv "$W/pack.saved" "$pack"
al fsck
is "fsck is clean again with the pack back" "$rc" 0

# kill -9 during checkpoints, 50 times: fsck stays clean and the last
# committed checkpoint restores exactly.
al run --headless --name crash -- sh -c 'mkdir -p work && for i in $(seq 80); do head -c 8000 /dev/urandom >work/f$i; done'
sid=$(printf '%s' "$("$AIRLOCK" list --json)" | jq '.[] | select(.name == "crash") | .id')
upper=$(ls -d "$W"/store/*/sessions/"$sid"/upper)
declare -A fp
bad_fsck=0 bad_restore=0 killed=0
for i in $(seq 50); do
	for j in $(seq $((i % 7 + 1))); do head -c 8000 /dev/urandom >"$upper/work/f$(((i * 13 + j * 7) % 80 + 1))"; done
	[ $((i % 5)) -eq 0 ] && rm -f "$upper/work/f$((i % 80 + 1))"
	fp[$i]=$(tree_fingerprint "$upper")
	"$AIRLOCK" checkpoint -m "iter-$i" crash >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$((RANDOM % 10))"
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	"$AIRLOCK" fsck >/dev/null 2>&1 || bad_fsck=$((bad_fsck + 1))
	last=$("$AIRLOCK" log --json crash | jq -r '.[-1] | "\(.number) \(.label)"')
	label=${last#* }
	case $label in
	iter-*)
		"$AIRLOCK" rollback "${last%% *}" crash >/dev/null 2>&1
		[ "$(tree_fingerprint "$upper")" = "${fp[${label#iter-}]}" ] || bad_restore=$((bad_restore + 1))
		;;
	esac
done
diag "killed $killed of 50 checkpoints mid-way"
is "kill -9 during checkpoints: fsck clean every time" "$bad_fsck" 0
is "kill -9 during checkpoints: the last committed checkpoint restores exactly" "$bad_restore" 0
check "kill -9 during checkpoints: some were killed mid-way" test "$killed" -gt 0
al gc
is "gc reclaims what the kills left" "$rc" 0
al fsck
is "fsck clean after gc of the kills" "$rc" 0

# A full disk: a clear error, earlier checkpoints intact.
n_before=$("$AIRLOCK" log --json crash | jq length)
if [ "$(id -u)" = 0 ]; then
	small=$W/small
	mkdir -p "$small"
	size=$(du -sk "$W/store" 2>/dev/null | cut -f1)
	mount -t tmpfs -o size=$((size + 1500))k tmpfs "$small"
	cp -a "$W/store" "$small/store" || diag "the store did not fit"
	head -c 1200000 /dev/urandom >"$(ls -d "$small"/store/*/sessions/"$sid"/upper)/work/huge.bin"
	AIRLOCK_HOME=$small/store al checkpoint crash
	is "a full disk exits 1" "$rc" 1
	contains "a full disk says so" "$err" "No space left on device"
	AIRLOCK_HOME=$small/store al log --json crash
	is "a full disk keeps the earlier checkpoints" "$(printf '%s' "$out" | jq length)" "$n_before"
	AIRLOCK_HOME=$small/store al fsck
	is "fsck is clean after a full disk" "$rc" 0
	umount "$small"
else
	# Unprivileged, a file size limit is the same error path (EFBIG).
	head -c 3000000 /dev/urandom >"$upper/work/huge.bin"
	(ulimit -f 2048; "$AIRLOCK" checkpoint crash >"$W/full.out" 2>&1; echo $? >"$W/full.rc")
	is "a write limit exits 1" "$(cat "$W/full.rc")" 1
	contains "a write limit says so" "$(cat "$W/full.out")" "File too large"
	al log --json crash
	is "a write limit keeps the earlier checkpoints" "$(printf '%s' "$out" | jq length)" "$n_before"
	al fsck
	is "fsck is clean after a write limit" "$rc" 0
fi

# Retention: ended sessions keep only their newest checkpoint with
# --prune-ended; a running one keeps all.
new_world
cd "$T" || exit 1
al run --headless -- sh -c 'a=$0; dd if=/dev/urandom of=big1 bs=64k count=16 2>/dev/null; "$a" checkpoint -m one >/dev/null; rm big1; printf "two\n" >a.txt; "$a" checkpoint >/dev/null; printf "three\n" >a.txt' "$AIRLOCK"
al log --json
is "a session with several checkpoints" "$(printf '%s' "$out" | jq length)" 4
al gc --prune-ended x
is "--prune-ended takes days" "$rc" 2
al gc --prune-ended 1
is "--prune-ended 1 leaves a session that ended just now" "$(al log --json; printf '%s' "$out" | jq length)" 4
al gc --dry-run --prune-ended 0
contains "--dry-run says what it would prune" "$out" "would prune session 1"
al log --json
is "... and prunes nothing" "$(printf '%s' "$out" | jq length)" 4
al gc --prune-ended 0
is "gc --prune-ended 0" "$rc" 0
contains "... says what it dropped" "$out" "session 1: kept checkpoint 3, dropped 3 older ones"
contains "... and frees the blob only older checkpoints held" "$out" "freed 1."
al log --json
is "only the newest checkpoint is left" "$(printf '%s' "$out" | jq -c '[.[] | .number]')" "[3]"
al fsck
is "fsck is clean after pruning" "$rc" 0
al diff
contains "the session still shows its change" "$out" "+three"
al rollback 3
is "rollback to the kept checkpoint works" "$rc" 0
al promote --all
is "and it promotes" "$(cat a.txt)" three

finish

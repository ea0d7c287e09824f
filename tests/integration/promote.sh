#!/bin/bash
# Approvals and promotion: exactly the chosen changes reach the real tree,
# per file or per hunk; conflicts stop a promotion with nothing written;
# whatever the agent left in the scratch, nothing is written outside the
# real tree; unpromote restores the tree byte for byte; an interrupted
# promotion is finished by the next command.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"

# A canary outside every real tree: nothing may touch it.
canary_dir() {
	C=$W/outside
	mkdir -p "$C/etc"
	printf 'canary\n' >"$C/canary"
	printf 'passwd\n' >"$C/etc/passwd"
	canary=$(tree_fingerprint_all "$C")
}
canary_ok() { is "$1: nothing outside the real tree changed" "$(tree_fingerprint_all "$C")" "$canary"; }

twenty() { seq 1 20 | sed 's/^/line /'; }

# A quick fingerprint of a big tree (names, types, modes, targets, content).
quick_fingerprint() {
	(cd "$1" && find . -path ./.git -prune -o -printf '%p %y %m %l\n' | LC_ALL=C sort &&
		find . -path ./.git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# --- usage ---------------------------------------------------------------
new_world
cd "$T" || exit 1
al run --headless -- true
al promote
is "promote without a choice is a usage error" "$rc" 2
contains "... and says what to give" "$err" "--approved or --all"
al promote --all --approved
is "--all with --approved is a usage error" "$rc" 2
al approve
is "approve without paths is a usage error" "$rc" 2
al approve a.txt --hunk x
is "a bad --hunk is a usage error" "$rc" 2
al promote /etc/passwd
is "a path outside the tree is refused" "$rc" 1
contains "... and named" "$err" "outside the real tree"
al promote --all
is "nothing to promote" "$out" "nothing to promote"

# --- approve 2 of 3 hunks, promote, exactly those 2 -----------------------
new_world
cd "$T" || exit 1
twenty >f.txt
git add f.txt && git commit -qm f
al run --headless -- sh -c 'sed -i "s/^line 2$/LINE 2/; s/^line 10$/LINE 10/; s/^line 19$/LINE 19/" f.txt'
al diff -- f.txt
contains "diff numbers the hunks" "$out" "@@ hunk 3"
al approve f.txt --hunk 1,3
is "approve --hunk 1,3 succeeds" "$rc" 0
contains "... and counts them" "$out" "2 of 3 hunks approved"
al status --json
is "status --json: partly approved, 2 of 3" \
	"$(printf '%s' "$out" | jq -c '.[] | select(.path == "f.txt") | [.approval, .hunks, .approved_hunks]')" \
	'["partial",3,2]'
al status
is "status marks it" "$out" "M f.txt [approved 2 of 3 hunks]"
before=$(tree_fingerprint_all "$T")
al promote --approved --dry-run
contains "--dry-run says what it would write" "$out" "would write  f.txt (approved hunks)"
is "--dry-run writes nothing" "$(tree_fingerprint_all "$T")" "$before"
al promote --approved
is "promote --approved succeeds" "$rc" 0
is "the real file holds exactly the two approved hunks" "$(cat f.txt)" \
	"$(twenty | sed 's/^line 2$/LINE 2/; s/^line 19$/LINE 19/')"
al diff -- f.txt
contains "the third hunk is still a change" "$out" "+LINE 10"
is "... the only one left" "$(printf '%s\n' "$out" | grep -c '^@@')" 1
al approve f.txt
al status
is "a whole-file approval" "$out" "M f.txt [approved]"
printf 'line 1\n' >"$W/agent2"
al run --headless --resume 1 -- sh -c 'printf "more\n" >>f.txt'
al status
is "the approval lapses when the agent changes the file again" "$out" "M f.txt [approval lapsed]"
al promote --approved
contains "a lapsed approval is not promoted" "$out" "approval lapsed"
is "... the real file is as it was" "$(grep -c LINE f.txt)" 2
al unapprove f.txt
contains "unapprove" "$out" "unapproved f.txt"

# --- approve some lines, promote exactly those ------------------------------
new_world
cd "$T" || exit 1
twenty >g.txt
git add g.txt && git commit -qm g
al run --headless -- sh -c 'sed -i "s/^line 5$/five\nsix/; s/^line 15$/fifteen/" g.txt'
# its + and - lines in order: -line 5, +five, +six, -line 15, +fifteen
al approve g.txt --lines 1,2
is "approve --lines succeeds" "$rc" 0
contains "... and counts them" "$out" "approved 2 lines of g.txt"
al status
is "status: approved in part, by lines" "$out" "M g.txt [approved 0 of 2 hunks and some lines]"
al status --json
is "status --json: partial" \
	"$(printf '%s' "$out" | jq -c '.[] | select(.path == "g.txt") | [.approval, .hunks, .approved_hunks]')" \
	'["partial",2,0]'
al approve g.txt --lines 6
is "a line past the last is refused" "$rc" 1
contains "... and said so" "$err" "the change has 5 added and deleted lines"
al approve g.txt --lines 1 --hunk 1
is "--lines with --hunk is a usage error" "$rc" 2
al reject g.txt --lines 1
is "reject --lines is a usage error" "$rc" 2
al approve g.txt --lines 0
is "line 0 is a usage error" "$rc" 2
al promote --approved
is "promote --approved with lines succeeds" "$rc" 0
is "the real file holds exactly the approved lines" "$(cat g.txt)" \
	"$(twenty | sed 's/^line 5$/five/')"
al diff -- g.txt
contains "what was not approved is still a change" "$out" "+six"
contains "... the second hunk too" "$out" "+fifteen"
al approve g.txt --lines 1-3
is "every line of the rest" "$rc" 0
al status
is "every line approved is the whole change" "$out" "M g.txt [approved]"

# --- promote --all: kinds, modes, specials, risky, setuid -----------------
new_world
canary_dir
cd "$T" || exit 1
printf 'gone\n' >old.txt
mkdir -p rmdir/sub && printf 'x\n' >rmdir/sub/x && printf 'y\n' >rmdir/y
mkdir totype && printf 'z\n' >totype/z
printf 'f\n' >fileto
git add -A && git commit -qm more
orig=$(tree_fingerprint "$T")
agent='
set -e
printf "changed\n" >a.txt
printf "new\n" >new.txt
mkdir -p newdir/sub && printf "deep\n" >newdir/sub/f
mkdir emptynew
chmod 700 src
rm old.txt
rm -rf rmdir
rm -rf totype && ln -s a.txt totype
rm fileto && mkdir fileto && printf "in\n" >fileto/in
ln -s /etc etclink
ln -s "$HOME" homelink
ln -s .. uplink
mkfifo fifo
python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.bind(\"sock\")"
printf "#!/bin/sh\n" >suid && chmod 4755 suid
printf "#!/bin/sh\n" >tool && chmod 755 tool
printf "nl\n" >"$(printf "new\nline")"
printf "hard\n" >h1 && ln h1 h2
mkdir -p .git/hooks && printf "#!/bin/sh\n" >.git/hooks/pre-commit
'
al run --headless -- sh -c "$agent"
is "the agent's script succeeds inside" "$rc" 0
al log --json
checkpoints=$(printf '%s' "$out" | jq length)
is "the real tree is untouched before promotion" "$(tree_fingerprint "$T")" "$orig"
al promote --all
is "promote --all succeeds" "$rc" 0
contains "a fifo is refused" "$out" "refused fifo: a fifo"
contains "a socket is refused" "$out" "refused sock: a socket"
contains "a risky path is skipped" "$out" "skipped .git/hooks/pre-commit: risky"
contains "a new executable is risky: skipped" "$out" "skipped tool: risky"
is "a modified file" "$(cat a.txt)" changed
is "a new file in new directories" "$(cat newdir/sub/f)" deep
check "an empty new directory" test -d emptynew
is "a directory mode" "$(stat -c %a src)" 700
check "a deleted file" test ! -e old.txt
check "a deleted directory with all below" test ! -e rmdir
is "a directory became a symlink" "$(readlink totype)" a.txt
is "a file became a directory" "$(cat fileto/in)" in
is "a symlink to /etc is made as a link, not followed" "$(readlink etclink)" /etc
is "a symlink to .. is made as a link" "$(readlink uplink)" ..
check "no fifo was made" test ! -e fifo
check "no socket was made" test ! -e sock
is "a name with a newline" "$(cat "$(printf 'new\nline')")" nl
is "hard links arrive as two files" "$(cat h1 h2)" "hard
hard"
check "the risky hook was not written" test ! -e .git/hooks/pre-commit
canary_ok "promote --all"
al status
is "what was promoted is no longer a change" "$out" 'A .git/hooks/pre-commit [risky]
A fifo
A sock
A suid [risky]
A tool [risky]'
al fsck
is "fsck is clean after a promotion" "$rc" 0
al log --json
is "the checkpoints are all still there (nothing changed: none added)" "$(printf '%s' "$out" | jq length)" "$checkpoints"
al run --headless --resume 1 -- cat newdir/sub/f
is "promotion copies: the scratch keeps the agent's files" "$out" deep
al promote --all --include-risky
check "--include-risky writes the risky path" test -e .git/hooks/pre-commit
contains "the setuid bit is dropped (and said)" "$out" "write  suid (setuid/setgid dropped)"
is "setuid dropped, exec bit kept" "$(stat -c %a suid)" 755
is "the exec bit is kept" "$(stat -c %a tool)" 755
al promote --list
contains "promote --list" "$out" "2    "
al unpromote
is "unpromote of the second" "$rc" 0
check "... removes the hook" test ! -e .git/hooks/pre-commit
check "... and the new executable" test ! -e tool
al unpromote 1
is "unpromote of the first" "$rc" 0
is "the real tree is byte for byte as before" "$(tree_fingerprint "$T")" "$orig"
al unpromote 1
is "a promotion is undone once" "$rc" 1
al promote --all
is "promoting again after unpromote works" "$(cat a.txt)" changed
printf 'user\n' >a.txt
al unpromote
is "unpromote refuses where the user changed a file since" "$rc" 3
contains "... and names it" "$out" "changed since the promotion: a.txt"
is "... nothing restored" "$(cat new.txt)" new
al unpromote --force
is "unpromote --force restores" "$rc" 0
check "... the new file is gone" test ! -e new.txt
al unpromote
is "the forced unpromote is itself undoable" "$(cat a.txt)" user
canary_ok "unpromote"

# --- conflicts ------------------------------------------------------------
new_world
cd "$T" || exit 1
twenty >f.txt
printf 'keep\n' >del.txt
printf 'shape\n' >shape.txt
git add -A && git commit -qm c
al run --headless -- sh -c 'sed -i "s/^line 2$/AGENT 2/" f.txt; printf "agent\n" >a.txt; printf "agent\n" >del.txt; printf "agent\n" >shape.txt'
sed -i 's/^line 18$/USER 18/' f.txt
al status
contains "status: a clean merge" "$out" "M f.txt [real tree changed too: merges]"
al promote f.txt
is "a clean three-way merge is promoted" "$rc" 0
contains "... and said" "$out" "f.txt (merged)"
is "... with both sides' edits" "$(sed -n '2p;18p' f.txt)" "AGENT 2
USER 18"
printf 'user\n' >a.txt
rm del.txt
rm shape.txt && mkdir shape.txt
before=$(tree_fingerprint_all "$T")
al status --json
is "status --json: conflict" "$(printf '%s' "$out" | jq -c '[.[] | select(.conflict) | .path]')" '["a.txt","del.txt","shape.txt"]'
al promote --all
is "conflicts stop the promotion: exit 3" "$rc" 3
contains "same lines: a conflict" "$out" "conflict a.txt: changed in the real tree too, on the same lines"
contains "a file the user deleted: a conflict" "$out" "conflict del.txt: the real tree changed it"
contains "a file the user made a directory: a conflict" "$out" "conflict shape.txt: the real tree changed it since the checkpoint (was a file, now a directory)"
is "nothing was written" "$(tree_fingerprint_all "$T")" "$before"
al diff --conflicts
contains "diff --conflicts shows the merge with markers" "$out" "<<<<<<<"
al promote --all --ours
is "--ours keeps the real tree's side" "$(cat a.txt)" user
check "--ours leaves the user's directory" test -d shape.txt
al promote a.txt --theirs
is "--theirs takes the scratch's side" "$(cat a.txt)" agent
al promote shape.txt --theirs
is "--theirs replaces the user's directory (kept in the record)" "$(cat shape.txt)" agent
al unpromote
check "... and unpromote brings the directory back" test -d shape.txt

# --- hostile: the real tree changes shape under a path (race) -------------
new_world
canary_dir
cd "$T" || exit 1
mkdir dir && printf 'x\n' >dir/x
git add -A && git commit -qm d
al run --headless -- sh -c 'printf "agent\n" >dir/new; printf "agent\n" >dir/x'
rm -rf dir && ln -s "$C" dir
al promote --all
is "a directory replaced by a symlink: exit 3" "$rc" 3
contains "... named" "$out" "conflict dir/new: a parent directory is a symlink in the real tree now"
canary_ok "symlink race"
check "nothing was written through the symlink" test ! -e "$C/new"

# --- hostile names, a 1 GiB file, a running session ----------------------
new_world
canary_dir
cd "$T" || exit 1
"$AIRLOCK" run --headless -- sh -c '
go=0; trap "go=1" WINCH
printf "a\n" >..a; printf "b\n" >...; printf "c\n" >"a..b"
mkdir -p "d..d/..e" && printf "e\n" >"d..d/..e/f"
printf "r\n" >"$(printf "x\rcr")"
truncate -s 1G big
printf "ready\n" >ready
while [ $go = 0 ]; do sleep 0.05; done
printf "after\n" >late' >"$W/run.out" 2>&1 &
runpid=$!
for _ in $(seq 1 400); do "$AIRLOCK" status 2>/dev/null | grep -q ready && break; sleep 0.05; done
al promote --all
is "promote --all of a running session" "$rc" 0
is "names with dots are names" "$(cat ..a ... a..b d..d/..e/f)" "a
b
c
e"
is "a name with a carriage return" "$(cat "$(printf 'x\rcr')")" r
is "a 1 GiB file arrives whole" "$(stat -c %s big)" 1073741824
is "... with its content (zeros)" "$(cmp -n 1073741824 big /dev/zero 2>&1 && echo same)" same
check "nothing the agent writes later is promoted" test ! -e late
canary_ok "running session"
kill -WINCH $runpid
wait $runpid
is "the session ends normally" "$?" 0

# --- an agent's git commit, promoted --------------------------------------
new_world
cd "$T" || exit 1
al run --headless -- sh -c 'printf "by agent\n" >agent.txt && git add agent.txt && git -c user.email=a@example.com -c user.name=agent commit -qm "agent commit"'
is "the agent commits inside" "$rc" 0
al promote --all --include-risky
is "promote --all --include-risky" "$rc" 0
check "git fsck is clean in the real repository" git fsck --no-progress
is "git log shows the agent's commit" "$(git log -1 --format=%s)" "agent commit"
is "and the work tree has its file" "$(cat agent.txt)" "by agent"

# --- reject ------------------------------------------------------------------
new_world
cd "$T" || exit 1
twenty >f.txt
git add -A && git commit -qm f
al run --headless -- sh -c 'sed -i "s/^line 2$/X 2/; s/^line 10$/X 10/; s/^line 19$/X 19/" f.txt; printf "agent\n" >a.txt; printf "n\n" >n.txt'
al reject f.txt --hunk 2
is "reject --hunk" "$rc" 0
contains "... checkpointed" "$out" "(reject)"
al diff -- f.txt
is "the rejected hunk left the scratch" "$(printf '%s\n' "$out" | grep -c '^@@')" 2
al run --headless --resume 1 -- cat f.txt
is "the agent's next cat shows the old text there" "$(printf '%s\n' "$out" | sed -n 10p)" "line 10"
al reject a.txt n.txt
al status
is "a rejected path is no longer a change" "$out" "M f.txt"
al log --json
is "the reject checkpoints have the reason" "$(printf '%s' "$out" | jq -r '[.[] | select(.reason == "reject")] | length')" 2

# --- reject in a running session, through its airlock ---------------------
# waitfor FILE TEXT: until FILE holds TEXT (20 s at most).
waitfor() {
	for _ in $(seq 200); do grep -qa -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# section FILE NAME: the lines between "== NAME" and the next "== ".
section() {
	awk -v n="== $2" '$0 == n { on = 1; next } /^== / { on = 0 } on' "$1"
}
# hex TEXT: TEXT in lowercase hex, as the reject request carries paths.
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
# ask SOCKET LINE: one raw request, and its answer.
ask() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
print(out.decode("ascii", "replace").strip())' "$1" "$2"
}
new_world
cd "$T" || exit 1
nl=$(printf 'n\nl.txt')
twenty >f.txt
printf 'real other\n' >other.txt
printf 'real nl\n' >"$nl"
git add -A && git commit -qm f
before_all=$(tree_fingerprint_all "$T")
o=$W/live-reject.out
"$AIRLOCK" run --headless --name lr -- bash -c '
nl=$(printf "n\nl.txt")
sed -i "s/^line 2$/X 2/; s/^line 10$/X 10/; s/^line 19$/X 19/" f.txt
printf "agent other\n" >other.txt
printf "agent nl\n" >"$nl"
printf "new\n" >added.txt
rm -rf src/deep
chmod 700 empty
echo "== agent.sock"
python3 -c "
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(\"/run/airlock/agent.sock\")
s.sendall(b\"reject - 66\\n\")
print(s.recv(4096).decode().strip())"
go=0; trap "go=1" WINCH
echo "== ready"
for i in $(seq 600); do [ $go = 1 ] && break; sleep 0.1; done
echo "== f.txt"; cat f.txt
echo "== others"; cat other.txt "$nl" src/deep/lines.txt; stat -c %a empty
ls added.txt 2>/dev/null || echo "no added.txt"
echo "== end"' >"$o" 2>&1 &
pid=$!
check "the agent made its changes" waitfor "$o" "== ready"
is "agent.sock refuses a reject" "$(section "$o" agent.sock)" "error reject is not allowed on agent.sock"
al reject f.txt --hunk 2
is "reject --hunk while the command runs" "$rc" 0
contains "... rejects the hunk" "$out" "rejected 1 hunk of f.txt"
contains "... and checkpoints" "$out" "(reject)"
al diff -- f.txt
is "... the hunk left the scratch" "$(printf '%s\n' "$out" | grep -c '^@@')" 2
al reject other.txt "$nl" added.txt src/deep empty
is "reject of whole paths while the command runs" "$rc" 0
contains "... a path with a newline" "$out" 'rejected "n\nl.txt"'
contains "... a deleted directory" "$out" "rejected src/deep"
al status lr
is "only the kept hunks are left" "$out" "M f.txt"
ctl=$(find "$AIRLOCK_HOME" -name ctl.sock 2>/dev/null | head -1)
is "ctl.sock refuses a path with .." "$(ask "$ctl" "reject - $(hex ../outside)")" \
	'error reject: the path has an empty, "." or ".." component'
is "ctl.sock refuses a .. inside a path" "$(ask "$ctl" "reject - $(hex src/../../x)")" \
	'error reject: the path has an empty, "." or ".." component'
is "ctl.sock refuses an absolute path" "$(ask "$ctl" "reject - $(hex /etc/passwd)")" \
	"error reject: the path is absolute"
is "ctl.sock refuses a path that is no change" "$(ask "$ctl" "reject - $(hex a.txt)")" \
	"error a.txt: no change there (airlock status lists them)"
is "ctl.sock refuses a hunk past the last" "$(ask "$ctl" "reject 3 $(hex f.txt)")" \
	"error --hunk 3: the change has 2 hunks"
kill -WINCH "$pid"
wait "$pid"
is "the command exits 0 after the rejects" "$?" 0
is "the agent's next cat shows the old text for hunk 2 only" "$(section "$o" f.txt | sed -n '2p;10p;19p')" "X 2
line 10
X 19"
is "... and the real tree's other paths: deleted ones back, added ones gone" "$(section "$o" others)" "real other
real nl
one
two
three
755
no added.txt"
is "the real tree is untouched" "$(tree_fingerprint_all "$T")" "$before_all"
al log --json lr
is "each reject is checkpointed with its reason" "$(printf '%s' "$out" | jq -r '[.[] | select(.reason == "reject")] | length')" 6
al status lr
is "after the session, only the kept hunks are left" "$out" "M f.txt"


# --- libgit2: loaded to diff and merge only, never to promote whole files --
new_world
cd "$T" || exit 1
al run --headless -- sh -c 'printf "more\n" >>a.txt; sed -i "s/^three$/THREE/" src/deep/lines.txt'
# (LD_DEBUG: the loader says on stderr what it loads)
LD_DEBUG=libs "$AIRLOCK" diff >/dev/null 2>"$W/ld.err"
contains "airlock diff loads libgit2" "$(cat "$W/ld.err")" "libgit2.so"
lib=$(sed -n 's/.*trying file=\(.*libgit2\.so[^ ]*\)$/\1/p' "$W/ld.err" | head -1)
check "... from a file the loader names" test -f "$lib"
LD_DEBUG=files "$AIRLOCK" promote a.txt >/dev/null 2>"$W/ld.err"
is "a promotion of a whole file succeeds" "$?" 0
is "... never loading libgit2" "$(grep -c libgit2 "$W/ld.err")" 0
is "... the file is promoted" "$(cat a.txt)" "$(printf 'hello\nmore')"
al unpromote
is "it is unpromoted" "$(cat a.txt)" "hello"
# The user edits another line of a file the session changed: promoting it
# merges. With libgit2's file hidden (an empty file mounted over it, in a
# mount namespace of its own), whole files still promote, and what needs
# libgit2 fails saying why, writing nothing.
sed -i 's/^one$/ONE/' src/deep/lines.txt
: >"$W/empty.so"
nogit2() {
	local o e ns="unshare -m"
	[ "$(id -u)" = 0 ] || ns="unshare -r -m"
	o=$(mktemp) e=$(mktemp)
	$ns sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh \
		"$W/empty.so" "$lib" "$AIRLOCK" "$@" >"$o" 2>"$e" </dev/null
	rc=$?
	out=$(cat "$o")
	err=$(cat "$e")
	rm -f "$o" "$e"
}
nogit2 diff
is "without libgit2, diff fails" "$rc" 1
contains "... saying it cannot load it, and why" "$err" "airlock: diff: cannot load libgit2.so."
contains "... (the loader's reason)" "$err" "file too short"
before=$(tree_fingerprint "$T")
nogit2 promote src/deep/lines.txt
is "a promotion that merges fails" "$rc" 1
contains "... saying libgit2 is missing (not a conflict)" "$err" "airlock: promote: cannot load libgit2.so."
is "... writing nothing" "$(tree_fingerprint "$T")" "$before"
nogit2 promote a.txt
is "a promotion of a whole file succeeds without libgit2" "$rc" 0
is "... the file is promoted" "$(cat a.txt)" "$(printf 'hello\nmore')"
al promote src/deep/lines.txt
is "with libgit2, the merge is promoted" "$rc" 0
is "... both sides' edits are there" "$(cat src/deep/lines.txt)" "$(printf 'ONE\ntwo\nTHREE')"

# --- interrupted promotions are finished by the next command --------------
# 20k files; each round kills a promotion (or, once promoted, the unpromote
# that undoes it) at a random moment; the next command finishes it: the
# real tree is then exactly before or exactly after, and fsck is clean.
new_world
cd "$T" || exit 1
al run --headless -- sh -c 'for d in $(seq 0 19); do mkdir -p many/d$d; for i in $(seq 0 999); do echo "$d $i" >many/d$d/f$i; done; done; printf "x\n" >a.txt'
is "20k files made inside" "$rc" 0
fp() {
	(cd "$T" && find . -path ./.git -prune -o -printf '%p %y %m %s\n' | LC_ALL=C sort &&
		find . -path ./.git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 cat) | sha256sum
}
before=$(fp)
"$AIRLOCK" promote --all >/dev/null 2>&1
after=$(fp)
"$AIRLOCK" unpromote >/dev/null 2>&1
check "a promotion of the 20k files changes the tree" test "$after" != "$before"
is "unpromote restores it" "$(fp)" "$before"
kills=0 finished=0 bad=0 promoted=0
state=$before
for i in $(seq 1 50); do
	if [ "$state" = "$before" ]; then
		"$AIRLOCK" promote --all >/dev/null 2>&1 &
	else
		"$AIRLOCK" unpromote >/dev/null 2>&1 &
	fi
	pid=$!
	sleep "$(( (i * 7919) % 1400 / 1000 )).$(printf '%03d' $(( (i * 7919) % 1400 % 1000 + 30 )))"
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
	# any command finishes what was interrupted
	"$AIRLOCK" log >/dev/null 2>"$W/log.err"
	grep -q "was interrupted" "$W/log.err" && finished=$((finished + 1))
	state=$(fp)
	if [ "$state" = "$after" ]; then
		promoted=$((promoted + 1))
	elif [ "$state" != "$before" ]; then
		bad=$((bad + 1))
		diag "run $i: neither before nor after:" "$(cat "$W/log.err")"
	fi
	if [ $((i % 10)) = 0 ] || [ "$bad" != 0 ]; then
		"$AIRLOCK" fsck >"$W/fsck.out" 2>&1 || { bad=$((bad + 1)); diag "run $i: fsck:" "$(head -5 "$W/fsck.out")"; }
	fi
	[ "$bad" -gt 3 ] && break
done
diag "kill -9 of 50 promotions and unpromotions of 20k files: $kills killed, $finished finished by the next command, $promoted left promoted"
is "after each kill -9: exactly before or exactly after, fsck clean" "$bad" 0
check "some were really interrupted and finished" test "$finished" -gt 10
al fsck
is "fsck is clean at the end" "$rc" 0
[ "$(fp)" = "$after" ] && "$AIRLOCK" unpromote >/dev/null 2>&1
is "unpromote restores the tree at the end" "$(fp)" "$before"
check "no staging directory is left" test -z "$(ls -a "$T" | grep airlock-promote)"

finish

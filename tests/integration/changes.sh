#!/bin/bash
# What a command did in the sandbox: the real tree stays byte-for-byte
# unchanged, status lists exactly the changes, and `airlock diff | git apply`
# on a copy of the original reproduces them.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1

# The agent's work, run once in the sandbox and once natively on a copy.
agent_script='
set -e
printf "changed\n" >a.txt
printf "new\n" >new.txt
mkdir -p newdir/sub && printf "x\n" >newdir/sub/f
mkdir emptynew
chmod 644 run.sh
chmod 700 src
rm link && ln -s src/main.c link
ln -s /etc/passwd outlink
mv src/deep src/moved
rm -rf empty
printf "space\n" >"sp ace.txt"
printf "nl\n" >"$(printf "new\nline")"
printf "bad\n" >"$(printf "bad\377name")"
printf "tab\n" >"$(printf "t\tab")"
'
cp -a "$T" "$W/expected"
(cd "$W/expected" && sh -c "$agent_script")
before=$(tree_fingerprint_all "$T")
al run --headless -- sh -c "$agent_script"
is "the agent's script succeeds inside" "$rc" 0
is "the real tree is byte-for-byte unchanged" "$(tree_fingerprint_all "$T")" "$before"

al status
is "status lists exactly the changes" "$out" 'M a.txt
A "bad\377name"
D empty/
A emptynew/
M link
A "new\nline"
A new.txt
A newdir/sub/f
A outlink
M run.sh (mode 100755 -> 100644)
A "sp ace.txt"
M src/ (mode 040755 -> 040700)
D src/deep/lines.txt
A src/moved/lines.txt
A "t\tab"'
is "status exits 0" "$rc" 0

al status --json
is "status --json has one object per change" "$(printf '%s' "$out" | jq length)" 15
is "status --json: fields" "$(printf '%s' "$out" | jq -c '.[0] | keys')" \
	'["approval","approved_hunks","change","conflict","hunks","path","risky"]'
is "status --json: a modified file" "$(printf '%s' "$out" | jq -c '.[] | select(.path == "a.txt") | [.change, .hunks]')" '["modified",1]'
is "status --json: a mode change" "$(printf '%s' "$out" | jq -r '.[] | select(.path == "run.sh") | .change')" mode
is "status --json: a name with a newline" "$(printf '%s' "$out" | jq -r '.[] | select(.path == "new\nline") | .change')" added
is "status --json: a name that is not UTF-8 has path_base64" \
	"$(printf '%s' "$out" | jq -r '.[] | select(.path_base64 != null) | .path_base64' | base64 -d | od -An -c | tr -s ' ')" \
	" b a d 377 n a m e"

# diff | git apply on a copy of the original reproduces the text changes.
al diff
is "diff exits 0" "$rc" 0
printf '%s\n' "$out" >"$W/patch"
cp -a "$T" "$W/copy"
(cd "$W/copy" && git apply "$W/patch") 2>"$W/apply.err"
is "git apply accepts the diff" "$?$(cat "$W/apply.err")" 0
files_fingerprint() { tree_fingerprint "$1" | grep -av -e ' directory ' ; }
is "the patched copy has the agent's files, links and modes" \
	"$(files_fingerprint "$W/copy")" "$(files_fingerprint "$W/expected")"

# The merged view seen again through --resume equals the native result.
al run --headless --resume 1 -- sh -c 'cd "$0" && find . -path ./.git -prune -o -print | LC_ALL=C sort | while IFS= read -r p; do if [ -L "$p" ]; then echo "$p l $(readlink "$p")"; elif [ -f "$p" ]; then echo "$p f $(stat -c %a "$p") $(sha256sum <"$p" | cut -c1-64)"; else echo "$p d $(stat -c %a "$p")"; fi; done' "$T"
(cd "$W/expected" && find . -path ./.git -prune -o -print | LC_ALL=C sort | while IFS= read -r p; do if [ -L "$p" ]; then echo "$p l $(readlink "$p")"; elif [ -f "$p" ]; then echo "$p f $(stat -c %a "$p") $(sha256sum <"$p" | cut -c1-64)"; else echo "$p d $(stat -c %a "$p")"; fi; done) >"$W/expected.list"
is "the merged view equals the native result" "$out" "$(cat "$W/expected.list")"

al diff --name-status
is "diff --name-status" "$(printf '%s' "$out" | head -3)" 'M	a.txt
A	"bad\377name"
M	link'
al diff --stat
contains "diff --stat counts files" "$out" "files changed"
al diff -- src
is "diff PATH limits the output" "$(printf '%s\n' "$out" | grep '^diff --git')" 'diff --git a/src/deep/lines.txt b/src/deep/lines.txt
diff --git a/src/moved/lines.txt b/src/moved/lines.txt'

# rm -rf of the whole tree, then git init && git commit inside.
new_world
cd "$T" || exit 1
before=$(tree_fingerprint_all "$T")
al run --headless -- sh -c 'cd / && rm -rf "$0"/* "$0"/.git; ls -A "$0"' "$T"
is "rm -rf of the whole tree empties the view" "$out" ""
is "rm -rf: the real tree is byte-for-byte unchanged" "$(tree_fingerprint_all "$T")" "$before"
al status
contains "rm -rf: status lists deleted files" "$out" "D a.txt"
contains "rm -rf: status lists deleted files below directories" "$out" "D src/deep/lines.txt"
contains "rm -rf: status lists deleted git internals" "$out" "D .git/HEAD"
check "rm -rf: nothing is listed as added" sh -c "! printf '%s' \"\$0\" | grep -q '^A '" "$out"
al run --headless --resume 1 -- sh -c 'git init -q . && git config user.email a@b && git config user.name agent && echo again >a.txt && git add a.txt && git commit -qm agent && git log --format=%s'
is "git init && git commit work inside" "$out" "agent"
is "git: the real tree is byte-for-byte unchanged" "$(tree_fingerprint_all "$T")" "$before"
check "git: the real repository's history is untouched" sh -c "cd '$T' && test \"\$(git log --format=%s)\" = initial"
al status
contains "git: status shows the new a.txt" "$out" "M a.txt"
contains "git: status shows the agent's .git" "$out" "M .git/index"

# A tree under /tmp (the sandbox's /tmp is private) and under $HOME.
for where in /tmp "$HOME"; do
	sub=$(mktemp -d "$where/airlock-tree.XXXXXX")
	printf 'x\n' >"$sub/f"
	al run --headless -C "$sub" -- sh -c 'echo y >f; echo made >g; cat f'
	is "a tree under $where: the command sees its writes" "$out" "y"
	is "a tree under $where: the real file is untouched" "$(cat "$sub/f")" "x"
	al status -C "$sub"
	is "a tree under $where: status" "$out" "M f
A g"
	rm -rf "$sub"
done

finish

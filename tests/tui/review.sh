#!/bin/bash
# The review pane (prefix d, and Enter on a checkpoint of the timeline),
# driven with keys on a scripted agent: approve 2 of 3 hunks and promote
# them; comment and reject a hunk, the agent sees the old text and gets
# the feedback as its input; a turn's review shows that turn alone;
# rollback from there while the agent runs; a conflict shows its three
# sides and "ours" writes nothing of the agent's; the same flow with the
# emacs keymap; `airlock review` on an ended session.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
new_world
cd "$T" || exit 1
agent=$(tui_script agent.sh)
printf 'set idle-ms 600000\n' >"$W/vi.keys"
printf 'set keymap emacs\nset idle-ms 600000\n' >"$W/emacs.keys"
export AIRLOCK_KEYS=$W/vi.keys
seq -f 'line %g' 30 >doc.txt
seq -f 'line %g' 30 >emacs.txt
seq -f 'line %g' 10 >lines.txt
printf 'a\nb\nc\nd\ne\nf\ng\nh\n' >conf.txt
printf 'a\nb\nc\nd\n' >conf2.txt
printf 'alpha beta gamma\n' >words.txt
printf 'a b\n' >ws.txt
git add -A >/dev/null && git commit -qm 'review files'
# the user's editor: changes line 1 of the copy it is given
cat >"$W/ed.sh" <<'EOF'
#!/bin/sh
if grep -q '^<<<<<<< ' "$1"; then
	printf 'a\nb\nc resolved\nd\n' >"$1"
else
	sed -i "1s/.*/edited by the user/" "$1"
fi
EOF
chmod 755 "$W/ed.sh"
TUI_ENV=(EDITOR="$W/ed.sh")

say() { tui_type "$1"; tui_keys Enter; }
# three hunks: lines 2, 15 and 28 (more than 6 lines apart)
three='s/^line \(2\|15\|28\)$/line \1 changed/'

tui_airlock 150 32 --name rev -- "$agent" "$AIRLOCK"
check "the agent starts" tui_wait_for '^agent>'
say "run sed -i '$three' doc.txt && sed -i 's/^line \([45]\)$/X\1/' lines.txt && echo edited"
tui_wait_for '^edited'

# 1. approve hunks 1 and 3 of 3 with the keys, promote
tui_prefix d
check "prefix d opens the review: the file list with counts" tui_wait_for '2 files \+0 ~2 -0'
check "... the changed file, not approved yet" tui_wait_for '\[ \] M doc\.txt'
tui_keys Enter
check "Enter shows its diff: hunks with both sides' line numbers" \
	tui_wait_for '^.*[│|] +2 +- *line 2$'
check "... the new side numbered too" tui_wait_for '[│|] +2 +\+ *line 2 changed'
check "... a hunk header" tui_wait_for '@@ -1,5 \+1,5 @@'
tui_keys y
check "y approves the hunk and goes to the next (2 of 3)" tui_wait_for 'doc\.txt +hunk 2/3'
tui_keys n
check "n skips it (3 of 3)" tui_wait_for 'doc\.txt +hunk 3/3'
tui_keys y
check "the list says partly approved, 2 of 3 hunks" tui_wait_for '\[~\] M doc\.txt.* 2/3'
check "... and the next file to decide on is shown" tui_wait_for 'lines\.txt +hunk 1/1'
# select two lines of its hunk (-line 5, +X4) and approve them alone
tui_keys j j j j j v j
check "v selects lines" tui_wait_for 'selecting lines'
tui_keys y
check "y approves the selected lines" tui_wait_for 'approved 2 lines'
check "... marked in the diff" tui_wait_for '[│|] +5 +\*- *line 5'
check "... the file partly approved" tui_wait_for '\[~\] M lines\.txt'
is "airlock status agrees" "$("$AIRLOCK" status --json rev </dev/null | jq -r '.[] | select(.path == "doc.txt") | "\(.approval) \(.approved_hunks)/\(.hunks)"')" "partial 2/3"
tui_keys P
check "P shows what would be promoted and asks" tui_wait_for 'promote this into the real tree\? \[y/N\]'
check "... the dry run names the file" tui_wait_for 'doc\.txt'
tui_keys y
check "y promotes" tui_wait_for 'promoting done'
expected=$(seq -f 'line %g' 30 | sed 's/^line \(2\|28\)$/line \1 changed/')
is "the real file holds exactly the two approved hunks" "$(cat doc.txt)" "$expected"
is "... and the other exactly the two approved lines" "$(cat lines.txt | tr '\n' ' ')" \
	"line 1 line 2 line 3 line 4 X4 line 6 line 7 line 8 line 9 line 10 "

# 2. comment on the rest, reject it, send the feedback
tui_keys q    # closes the command's output
tui_keys q    # closes the review
tui_wait_for '^agent>'
tui_prefix d
check "the review again: the hunk left" tui_wait_for '\[ \] M doc\.txt'
tui_keys Enter
tui_wait_for '@@ -12,7 \+12,7 @@'
tui_keys ']'
tui_keys c
check "c asks for a comment" tui_wait_for 'comment on doc\.txt'
tui_type "use a constant here"
tui_keys Enter
check "the comment is noted" tui_wait_for 'noted \(1 for the agent'
tui_keys x
check "x asks before rejecting the hunk" tui_wait_for 'reject this hunk of doc\.txt\? .*\[y/N\]'
tui_keys y
check "the hunk is rejected" tui_wait_for 'rejected: the scratch is as before'
check "... and the file is no change any more" tui_wait_gone 'M doc\.txt'
wait_log rev '.[-1].reason == "reject"'
is "checkpointed with the reason reject" "$(log_of rev '.[-1].reason')" reject
tui_keys S
check "S asks before sending the feedback" tui_wait_for 'send 2 notes to the agent'
tui_keys y
tui_keys q
check "the agent got the feedback as its input" \
	tui_wait_for '^got: Review of your changes \(airlock\)'
check "... with the comment" tui_wait_for 'doc\.txt:1[2-8]: use a constant here'
check "... and the rejected change" tui_wait_for 'I rejected this change to doc\.txt'
say "run sed -n 15p doc.txt"
check "the agent's next cat shows the old text" tui_wait_for '^line 15$'
check "... not the rejected one" tui_wait_gone '^line 15 changed$' 1

# $EDITOR on the file as the agent sees it: the result goes into the
# sandbox while the agent runs
tui_prefix d
tui_wait_for 'M lines\.txt'
tui_keys e
check "e runs \$EDITOR and writes the result into the scratch" tui_wait_for 'edited lines\.txt \(#[0-9]+\)'
check "... checkpointed (edit)" wait_log rev '.[-1].reason == "edit"'
check "... and the review shows it" tui_wait_for '[│|] +1 +\+ *edited by the user'
tui_keys q
say "run head -n 1 lines.txt"
check "the running agent sees the edit" tui_wait_for '^edited by the user$'

# 3. a turn's review, and rollback from it while the agent runs
say "turn 1"
tui_wait_for '^working on turn 1'
wait_log rev '.[-1].label == "turn 1"'
say "turn 2"
wait_log rev '.[-1].label == "turn 2"'
n1=$(log_of rev '.[] | select(.label == "turn 1") | .number')
tui_prefix T
tui_wait_for "$TIMELINE0"
tui_keys k Enter
check "Enter on turn 1's checkpoint opens the review of that turn" \
	tui_wait_for '\[ \] A turn1\.txt'
check "... which lists that turn's file alone" tui_wait_gone 'turn2\.txt' 1
check "... and says which turn" tui_wait_for "turn #$((n1 - 1))\.\.#$n1"
tui_keys R
check "R asks before rolling back to that checkpoint" tui_wait_for "roll the scratch back to #$n1\? \[y/N\]"
tui_keys y
check "rolled back" tui_wait_for 'rolled back'
tui_keys q
tui_keys 'C-]' t
# the agent's pty gets its width back: its SIGWINCH line first
tui_wait_for '^winch: 31 150'
say "run ls turn*.txt"
check "the running agent sees the rollback: turn1.txt" tui_wait_for '^turn1\.txt$'
check "... and no turn2.txt" tui_wait_gone '^turn2\.txt$' 1

# 4. a conflict: the real file changed under the agent's change
say "run sed -i 's/^c$/c agent/' conf.txt conf2.txt && echo conf"
tui_wait_for '^conf$'
tui_prefix c
wait_log rev '.[-1].reason == "user"'
sed -i 's/^c$/c real/' conf.txt conf2.txt
tui_prefix d
check "the conflict is marked in the list" tui_wait_for 'M conf\.txt conflict'
tui_keys Enter
check "its three sides: the real tree's" tui_wait_for '^.*[│|]<<<<<<< conf\.txt \(real tree\)'
check "... the base" tui_wait_for '[│|]\|\|\|\|\|\|\| conf\.txt \(base\)'
check "... the scratch's" tui_wait_for '[│|]>>>>>>> conf\.txt \(scratch\)'
check "... both texts" tui_wait_for '[│|]c agent'
tui_keys o
check "o asks to resolve with the real tree's side" tui_wait_for 'resolve conf\.txt with the real tree'
tui_keys y
check "resolved" tui_wait_for 'resolving done'
is "ours: nothing of the agent's is written" "$(cat conf.txt)" "$(printf 'a\nb\nc real\nd\ne\nf\ng\nh')"
# the other conflict, resolved in $EDITOR
tui_keys q Tab j
check "the second conflict" tui_wait_for 'conf2\.txt +hunk|conf2\.txt$'
tui_keys e
check "e on a conflict: edited and resolved" tui_wait_for 'resolved by hand'
check "... it conflicts no more" tui_wait_gone 'conf2\.txt conflict' 2
tui_keys a P
tui_wait_for 'promote this into the real tree\? \[y/N\]'
tui_keys y
check "... and promotes as resolved" tui_wait_for 'promoting done'
is "the real file holds the resolution" "$(cat conf2.txt)" "$(printf 'a\nb\nc resolved\nd')"
tui_keys q q
tui_prefix q
tui_wait_status 'quit\? \[y/N\]'
tui_keys y
check "the session ends" tui_wait_for '^\[exited [0-9]+\]'

# 5. the emacs keymap: the same approval flow
export AIRLOCK_KEYS=$W/emacs.keys
tui_airlock 150 32 --name emacs -- "$agent" "$AIRLOCK"
tui_wait_for '^agent>'
say "run sed -i '$three' emacs.txt && echo edited"
tui_wait_for '^edited'
# hostile names and content: escapes, a newline, invalid UTF-8
say "run printf 'ok\\033[31mred\\377\\n' >\"\$(printf 'evil\\033[31mname\\nx')\" && echo hostile"
tui_wait_for '^hostile'
say "run mv doc.txt moved.txt && echo moved"
tui_wait_for '^moved'
say "run sed -i s/two/2/ src/deep/lines.txt && sed -i s/beta/BETA/ words.txt && sed -i 's/a b/a  b/' ws.txt && echo more"
tui_wait_for '^more'
tui_prefix d
check "emacs: prefix d opens the review" tui_wait_for '\[ \] M emacs\.txt'
check "a hostile name is shown with its controls as ?" tui_wait_for 'A evil\?\[31mname\?x'
check "a rename is detected (libgit2's similarity)" tui_wait_for 'R moved\.txt from doc\.txt 100%'
tui_keys C-n C-n Enter
check "its content's controls are shown as ? too" tui_wait_for '[│|] +1 +\+ *ok\?\[31mred\?$'
tui_keys Tab C-p
check "back on the list" tui_wait_for 'emacs\.txt +hunk'
tui_keys Enter
tui_wait_for '@@ -1,5 \+1,5 @@'
tui_keys s
check "emacs: s approves the hunk" tui_wait_for 'emacs\.txt +hunk 2/3'
tui_keys Space
check "emacs: Space skips" tui_wait_for 'emacs\.txt +hunk 3/3'
tui_keys s
check "emacs: partly approved" tui_wait_for '\[~\] M emacs\.txt.* 2/3'
tui_keys P
tui_wait_for 'promote this into the real tree\? \[y/N\]'
tui_keys y
check "emacs: promoted" tui_wait_for 'promoting done'
is "emacs: the real file holds the two approved hunks" "$(cat emacs.txt)" \
	"$(seq -f 'line %g' 30 | sed 's/^line \(2\|28\)$/line \1 changed/')"
tui_keys q 'C-g'
tui_prefix q
tui_wait_status 'quit\? \[y/N\]'
tui_keys y
tui_wait_for '^\[exited [0-9]+\]'

# 6. airlock review on the ended session: approve the rest, promote
tui_start 150 32 "$AIRLOCK" review emacs
check "airlock review opens on an ended session: the hunk left" tui_wait_for '\[ \] M emacs\.txt'
tui_keys C-n S
check "approve-file approves the whole file" tui_wait_for '\[x\] M emacs\.txt'
tui_keys C-_
check "undo takes the approval back" tui_wait_for '\[ \] M emacs\.txt'
tui_keys S
tui_wait_for '\[x\] M emacs\.txt'
tui_keys P
tui_wait_for 'promote this into the real tree\? \[y/N\]'
tui_keys y
check "... and it promotes" tui_wait_for 'promoting done'
is "the real file holds the agent's whole change" "$(cat emacs.txt)" \
	"$(seq -f 'line %g' 30 | sed "$three")"
tui_keys q U
check "U asks before undoing the promotion" tui_wait_for 'undo the last promotion'
tui_keys y
check "... and undoes it" tui_wait_for 'unpromoting done'
is "the real file is as before that promotion" "$(cat emacs.txt)" \
	"$(seq -f 'line %g' 30 | sed 's/^line \(2\|28\)$/line \1 changed/')"
tui_keys q
# directories fold; the changed word is highlighted; whitespace and context
tui_keys 'M-<' C-n C-n C-n C-n
tui_keys C-b
check "a directory folds" tui_wait_for '^\+ src/'
check "... its files hidden" tui_wait_gone 'M lines\.txt' 2
tui_keys Enter
check "... and unfolds" tui_wait_for '^- src/'
check "... its files back, below its subdirectory" tui_wait_for '^    \[ \] M lines\.txt'
tui_keys 'M->' Enter
check "a whitespace change shows" tui_wait_for '[│|] +1 +\+ *a  b$'
tui_keys w
check "toggle-whitespace hides it" tui_wait_gone '[│|] +1 +\+ *a  b$' 3
check "... and says so" tui_wait_for 'ws\.txt.*context 3 -w'
tui_keys w
tui_wait_for '[│|] +1 +\+ *a  b$'
tui_keys Tab C-p
tui_wait_for '[│|] +1 +\+ *alpha BETA gamma'
tui_capture -e >"$W/words.screen"
sw=$(python3 "$AIRLOCK_SRCDIR/tests/tui/cells.py" --style "$W/words.screen" "BETA")
sa=$(python3 "$AIRLOCK_SRCDIR/tests/tui/cells.py" --style "$W/words.screen" "alpha BETA")
check "the changed word is highlighted ($sw) apart from the line ($sa)" test -n "$sw" -a "$sw" != "$sa"
tui_keys Enter +
check "context-more shows more context" tui_wait_for 'words\.txt.*context 4'
tui_keys '?'
check "? shows the review keys, from the keymap" tui_wait_for 'review keys:'
check "... with what each does" tui_wait_for 'approve the hunk \(or the selected lines\)'
tui_keys x
check "... and any key closes it" tui_wait_gone 'review keys:' 3
tui_keys C-g C-g
check "q leaves airlock review" tui_wait_for '^\[exited 0\]'

# 7. a diff of megabytes: its first lines at once, the whole diff made on
# a thread while the keys work (held back 5 s here), then shown in place
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "%08d some text of a line\n", i }' >big.txt
git add big.txt >/dev/null && git commit -qm big
"$AIRLOCK" run --headless --name big -- sed -i '1~2s/ / edited /' big.txt
export AIRLOCK_KEYS=$W/vi.keys
TUI_ENV+=(AIRLOCK_TEST_DIFF_DELAY_MS=5000)
tui_start 150 32 "$AIRLOCK" review big
check "a big diff: its first lines at once" tui_wait_for '[│|] +1 +\+ *00000000 edited some'
check "... said to be only its first lines" tui_wait_for 'big\.txt +\(its first lines: diffing the whole file'
tui_keys Enter y
check "... approving a hunk waits for the whole diff" tui_wait_for 'still being made'
tui_keys G
check "the whole diff replaces the first lines" tui_wait_for 'big\.txt +hunk 1/1'
check "... and G pressed meanwhile went to its end" tui_wait_for '40000 +00039999 some text'
tui_keys g
check "... the hunk with the whole file's counts" tui_wait_for '@@ -1,40000 \+1,40000 @@'
tui_keys y
check "then the hunk can be approved" tui_wait_for '\[x\] M big\.txt'
tui_keys q
check "q leaves it" tui_wait_for '^\[exited 0\]'
tui_start 150 32 "$AIRLOCK" review big
tui_wait_for 'big\.txt +\(its first lines: diffing the whole file'
tui_keys q
check "q while the diff is being made leaves at once (not 5 s later)" \
	tui_wait_for '^\[exited 0\]' 3

finish

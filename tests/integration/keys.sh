#!/bin/sh
# airlock keys (the bindings in effect, the user's keymap file and its
# errors) and airlock hooks (each agent's configuration parses, and the hook
# it configures checkpoints each turn inside the sandbox, fails harmlessly
# outside).
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# The defaults, from the copy built in (this airlock is not installed).
al keys
is "keys exits 0" "$rc" 0
is "keys prints nothing on stderr" "$err" ""
is "keys starts with the prefix" "$(printf '%s\n' "$out" | head -1)" "set prefix C-]"
contains "keys: prefix c" "$out" "bind prefix c checkpoint"
contains "keys: prefix C-] sends the prefix" "$out" "bind prefix C-] send-prefix"
contains "keys: copy mode y" "$out" "bind copy y copy"
contains "keys: timeline R" "$out" "bind timeline R rollback"
contains "keys: the help of an action" "$out" "# take a checkpoint now"
bad=$(printf '%s\n' "$out" | grep -Ev '^(set (prefix|idle-ms) [^ ]+|bind (prefix|timeline|copy|review|net) [^ ]+ [a-z-]+ +# .+)$')
is "every line of keys is a keymap line" "$bad" ""

# What keys prints reads back as the same keymap.
printf '%s\n' "$out" >"$W/dump.keys"
first=$out
export AIRLOCK_KEYS="$W/dump.keys"
al keys
unset AIRLOCK_KEYS
is "keys output loads as a keymap file" "$rc:$err" "0:"
is "... and gives the same bindings" "$out" "$first"

al keys --mode copy
is "keys --mode copy exits 0" "$rc" 0
is "keys --mode copy prints copy bindings only" \
	"$(printf '%s\n' "$out" | grep -vc '^bind copy ')" 0
contains "keys --mode copy has v" "$out" "bind copy v begin-selection"
al keys --mode nosuch
is "keys --mode nosuch exits 2" "$rc" 2
contains "keys --mode nosuch says why" "$err" "airlock: keys: unknown mode 'nosuch'"
al keys extra
is "keys with an argument exits 2" "$rc" 2

# The user's file, in the XDG place.
mkdir -p "$XDG_CONFIG_HOME/airlock"
printf 'set prefix C-a\nbind prefix x quit\nunbind prefix c\n' >"$XDG_CONFIG_HOME/airlock/keys"
al keys
is "keys with a user file exits 0" "$rc:$err" "0:"
contains "the user's prefix" "$out" "set prefix C-a"
contains "send-prefix moves with the prefix" "$out" "bind prefix C-a send-prefix"
contains "the user's binding" "$out" "bind prefix x quit"
case $out in *"bind prefix c "*) not_ok "unbind removes c" ;; *) ok "unbind removes c" ;; esac

# $AIRLOCK_KEYS wins; bad lines are named, the rest still loads.
printf 'bind prefix y zoom\nbind prefix z nope\nbind nosuch a quit\n\nset idle-ms 5\nbind copy M-y copy\n' >"$W/bad.keys"
export AIRLOCK_KEYS="$W/bad.keys"
al keys
unset AIRLOCK_KEYS
is "bad lines: exit 1" "$rc" 1
is "bad lines are named FILE:LINE on stderr" "$err" "airlock: keys: $W/bad.keys:2: unknown action 'nope'
airlock: keys: $W/bad.keys:3: unknown mode 'nosuch' (prefix, timeline, copy, review or net)
airlock: keys: $W/bad.keys:5: idle-ms '5' is not a number of milliseconds from 100 to 600000"
contains "bad lines: the bindings are still printed" "$out" "bind prefix y zoom"
contains "bad lines: the lines after them load" "$out" "bind copy M-y copy"
contains "bad lines: \$AIRLOCK_KEYS replaces the XDG file" "$out" "set prefix C-]"

# Hostile files: binary garbage, NUL bytes, a huge line; a directory.
head -c 100000 /dev/urandom >"$W/garbage.keys"
printf '\nbind prefix g zoom\n' >>"$W/garbage.keys"
export AIRLOCK_KEYS="$W/garbage.keys"
al keys
unset AIRLOCK_KEYS
is "garbage: exit 1" "$rc" 1
contains "garbage: the good line loads" "$out" "bind prefix g zoom"
check "garbage: stderr stays short" test "$(printf '%s\n' "$err" | wc -l)" -le 52
printf 'bind prefix\000 h zoom\n%02000d\nbind prefix i zoom\n' 0 >"$W/nul.keys"
export AIRLOCK_KEYS="$W/nul.keys"
al keys
is "NUL and huge lines: named" "$err" "airlock: keys: $W/nul.keys:1: NUL byte in the line
airlock: keys: $W/nul.keys:2: line too long (more than 1024 bytes)"
contains "NUL and huge lines: the rest loads" "$out" "bind prefix i zoom"
export AIRLOCK_KEYS="$W"
al keys
unset AIRLOCK_KEYS
is "a directory as the keymap file" "$rc:$err" "1:airlock: keys: $W: not a regular file"

# set keymap emacs starts over from the emacs keymap.
printf 'bind copy x copy\nset keymap emacs\n' >"$W/emacs.keys"
export AIRLOCK_KEYS="$W/emacs.keys"
al keys --mode copy
unset AIRLOCK_KEYS
is "set keymap emacs: exit 0" "$rc:$err" "0:"
contains "set keymap emacs: C-Space" "$out" "bind copy C-Space begin-selection"
contains "set keymap emacs: M-w" "$out" "bind copy M-w copy"
case $out in *"bind copy x "*|*"bind copy h "*) not_ok "set keymap emacs drops what came before" ;;
*) ok "set keymap emacs drops what came before" ;; esac

# airlock hooks: each configuration parses, and says where it goes.
al hooks claude
is "hooks claude exits 0" "$rc" 0
claude_cmd=$(printf '%s\n' "$out" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
(h,) = d["hooks"]["Stop"]
(c,) = h["hooks"]
assert c["type"] == "command"
print(c["command"])')
is "hooks claude: a Stop hook that runs airlock checkpoint" "$claude_cmd" \
	"airlock checkpoint --from-hook -m 'claude turn'"
contains "hooks claude: where" "$err" ".claude/settings.json"
contains "hooks claude: outside airlock" "$err" "fails harmlessly"

al hooks gemini
is "hooks gemini exits 0" "$rc" 0
gemini_cmd=$(printf '%s\n' "$out" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
(h,) = d["hooks"]["AfterAgent"]
(c,) = h["hooks"]
assert c["type"] == "command"
print(c["command"])')
is "hooks gemini: an AfterAgent hook" "$gemini_cmd" \
	"airlock checkpoint --from-hook -m 'gemini turn'"
contains "hooks gemini: where" "$err" ".gemini/settings.json"

al hooks codex
is "hooks codex exits 0" "$rc" 0
codex_argv=$(printf '%s\n' "$out" | "$PY" -c 'import sys, tomllib
d = tomllib.loads(sys.stdin.read())
assert list(d) == ["notify"], d
print(" | ".join(d["notify"]))')
is "hooks codex: a notify program" "$codex_argv" \
	"airlock | checkpoint | --from-hook | -m | codex turn"
contains "hooks codex: where" "$err" "~/.codex/config.toml"

al hooks vim
is "hooks vim exits 2" "$rc" 2
contains "hooks vim says why" "$err" "airlock: hooks: unknown agent 'vim' (claude, gemini or codex)"
contains "hooks vim prints the usage" "$err" "usage: airlock hooks claude|gemini|codex"
al hooks
is "hooks without an agent exits 2" "$rc" 2
al hooks claude codex
is "hooks with two agents exits 2" "$rc" 2

# Outside a sandbox the hook fails harmlessly: exit 1 (2 would make Claude
# Code and Gemini CLI go on with the turn), nothing on stdout.
al run --headless -- sh -c 'echo x >f'
json='{"type":"agent-turn-complete","turn-id":"1"}'
before=$("$AIRLOCK" log --json | jq length)
al checkpoint --from-hook -m "codex turn" "$json"
is "--from-hook outside: exit 1" "$rc" 1
is "--from-hook outside: stdout empty" "$out" ""
contains "--from-hook outside: says so" "$err" "airlock: checkpoint: not inside an airlock sandbox"
is "--from-hook outside: no checkpoint taken" "$("$AIRLOCK" log --json | jq length)" "$before"
al checkpoint --from-hook --bogus
is "--from-hook with a bad option exits 1, not 2" "$rc" 1
al checkpoint --from-hook -m "$(printf 'bad\tlabel')"
is "--from-hook with a bad label exits 1, not 2" "$rc" 1
al checkpoint --bogus
is "without --from-hook a bad option is still a usage error" "$rc" 2

# Inside: the three configurations, run as the agents would run them.
al run --headless --name hooks -- sh -c '
	PATH=$0:$PATH
	echo 1 >f; eval "$1" </dev/null; echo "claude: $?"
	echo 2 >f; eval "$2" </dev/null; echo "gemini: $?"
	echo 3 >f; airlock checkpoint --from-hook -m "codex turn" "$3"; echo "codex: $?"
	airlock checkpoint --from-hook -m "codex turn" "$3"; echo "unchanged: $?"' \
	"$AIRLOCK_COPY" "$claude_cmd" "$gemini_cmd" "$json"
is "hooks inside: each exits 0, stdout stays empty" "$out" "claude: 0
gemini: 0
codex: 0
unchanged: 0"
contains "hooks inside: reported on stderr" "$err" "no changes since checkpoint"
is "hooks inside: one checkpoint per turn, reason agent" \
	"$("$AIRLOCK" log --json hooks | jq -r '[.[] | "\(.reason):\(.label)"] | join(",")')" \
	"start:null,agent:claude turn,agent:gemini turn,agent:codex turn"

finish

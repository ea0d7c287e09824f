# Shared helpers of the TUI tests: tests/integration/lib.sh (TAP, a world
# with a real tree and a store) plus a private tmux server in which airlock
# runs as a user would run it, and reference sessions that run the same
# programs directly, to compare screens with.
#
# Sessions are named: "al" is airlock (tui_* functions), "ref" the direct
# reference (ref_* functions). airlock's window is W x H; the agent pane is
# its first H-1 rows (the last one is airlock's status line), so a reference
# is started at W x (H-1).
#
# Every pane runs its command with a clean environment (the world's HOME,
# AIRLOCK_HOME, XDG_CONFIG_HOME, PATH, LANG=C.UTF-8, AIRLOCK_KEYS when set,
# TUI_ENV, an array of more VAR=VALUE, and for the reference REF_ENV too,
# e.g. the agent's TERM) and prints "[exited N]" when it
# ends, then waits, so the screen stays to look at.
#
# Waits poll the screen every 50 ms; nothing sleeps a fixed time when a
# wait for the screen can say when.

set -u
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"

if ! command -v tmux >/dev/null 2>&1; then
	echo "Bail out! tmux is needed for the TUI tests"
	exit 1
fi

TUI_TMP=$(mktemp -d "${AIRLOCK_TEST_TMP:-/var/tmp}/airlock-tui.XXXXXX")
chmod 755 "$TUI_TMP"
TUI_SOCKET=airlock-test-$$
TUI_TIMEOUT=${TUI_TIMEOUT:-15}
TUI_ENV=()
REF_ENV=()
unset TMUX TMUX_PANE
export TMUX_TMPDIR=$TUI_TMP
declare -A TUI_WIDTH TUI_HEIGHT

tmux_() { tmux -L "$TUI_SOCKET" -f /dev/null "$@"; }

# The server: no status line of its own, tmux-256color inside, panes as big
# as asked (no client is attached).
tmux_ start-server \; set -g exit-empty off \; \
	set -g default-terminal tmux-256color \; set -g status off \; \
	set -g escape-time 0 \; set -g history-limit 2000 \; \
	set -g default-size 80x24 || { echo "Bail out! tmux does not start"; exit 1; }

# At exit, also when a script ends early (finish cleans the worlds too; a
# second time does no harm).
tui_cleanup() {
	tmux_ kill-server >/dev/null 2>&1
	rm -rf "$TUI_TMP"
	cleanup_world
}
trap 'tui_cleanup' EXIT

# session_start NAME W H CMD...: runs CMD in a new session of W x H in the
# current directory.
session_start() {
	local name=$1 w=$2 h=$3 envs
	shift 3
	envs=(HOME="$HOME" PATH="$PATH" LANG=C.UTF-8 USER="${USER:-$(id -un)}"
		LOGNAME="${LOGNAME:-$(id -un)}" SHELL=/bin/sh)
	[ -n "${AIRLOCK_HOME:-}" ] && envs+=(AIRLOCK_HOME="$AIRLOCK_HOME")
	[ -n "${XDG_CONFIG_HOME:-}" ] && envs+=(XDG_CONFIG_HOME="$XDG_CONFIG_HOME")
	[ -n "${AIRLOCK_KEYS:-}" ] && envs+=(AIRLOCK_KEYS="$AIRLOCK_KEYS")
	envs+=("${TUI_ENV[@]}")
	[ "$name" = ref ] && envs+=("${REF_ENV[@]}")
	tmux_ kill-session -t "=$name" >/dev/null 2>&1
	TUI_WIDTH[$name]=$w
	TUI_HEIGHT[$name]=$h
	tmux_ new-session -d -s "$name" -x "$w" -y "$h" -c "$PWD" \
		sh -c 'env -i TERM="$TERM" "$@"; echo "[exited $?]"; exec sleep 86400' \
		sh "${envs[@]}" "$@"
}

# session_capture NAME [-e] [FIRST LAST]: the screen (rows FIRST..LAST).
session_capture() {
	local name=$1 e=""
	shift
	if [ "${1:-}" = -e ]; then e=-e; shift; fi
	if [ $# -eq 2 ]; then
		tmux_ capture-pane -p $e -t "=$name:" -S "$1" -E "$2"
	else
		tmux_ capture-pane -p $e -t "=$name:"
	fi
}

# session_show NAME: the screen as TAP diagnostics, rows numbered, "|" at
# the right edge.
session_show() {
	local w=${TUI_WIDTH[$1]}
	diag "screen of $1 (${w}x${TUI_HEIGHT[$1]}, cursor $(session_cursor "$1")):"
	session_capture "$1" | awk -v w="$w" '{ printf "%2d %-*s|\n", NR - 1, w, $0 }' |
		sed 's/^/# /'
}

# session_cursor NAME: "X Y VISIBLE"
session_cursor() {
	tmux_ display -p -t "=$1:" '#{cursor_x} #{cursor_y} #{cursor_flag}'
}

# session_wait_for NAME REGEX [TIMEOUT]: until a row of the screen matches
# the extended regular expression; else the screen as diagnostics and 1.
session_wait_for() {
	local name=$1 re=$2 t=${3:-$TUI_TIMEOUT} end
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
		session_capture "$name" | grep -Eq -- "$re" && return 0
		sleep 0.05
	done
	diag "timed out after ${t}s waiting for /$re/ on $name"
	session_show "$name"
	return 1
}

# session_wait_gone NAME REGEX [TIMEOUT]: until no row matches.
session_wait_gone() {
	local name=$1 re=$2 t=${3:-$TUI_TIMEOUT} end
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
		session_capture "$name" | grep -Eq -- "$re" || return 0
		sleep 0.05
	done
	diag "timed out after ${t}s waiting for /$re/ to go from $name"
	session_show "$name"
	return 1
}

session_keys() { local name=$1; shift; tmux_ send-keys -t "=$name:" "$@"; }
# session_type NAME TEXT: the text literally (no key names)
session_type() { tmux_ send-keys -t "=$1:" -l -- "$2"; }
session_resize() {
	TUI_WIDTH[$1]=$2
	TUI_HEIGHT[$1]=$3
	tmux_ resize-window -t "=$1:" -x "$2" -y "$3"
}
session_kill() { tmux_ kill-session -t "=$1" >/dev/null 2>&1; }

# The airlock session. tui_start W H CMD... runs any command; tui_airlock
# W H [RUN-OPTIONS] -- CMD... runs `airlock run RUN-OPTIONS -- CMD` and
# waits for its status line. TUI_HEADLESS=1 adds --headless (to try the
# harness on a build without the TUI; the status line is then not waited
# for).
tui_start() { session_start al "$@"; }
tui_airlock() {
	local w=$1 h=$2
	shift 2
	if [ "${TUI_HEADLESS:-0}" = 1 ]; then
		tui_start "$w" "$h" "$AIRLOCK" run --headless "$@"
	else
		tui_start "$w" "$h" "$AIRLOCK" run "$@" && tui_wait_status '.'
	fi
}
tui_keys() { session_keys al "$@"; }
tui_type() { session_type al "$@"; }
tui_capture() { session_capture al "$@"; }
tui_wait_for() { session_wait_for al "$@"; }
tui_wait_gone() { session_wait_gone al "$@"; }
tui_resize() { session_resize al "$@"; }
tui_show() { session_show al; }
tui_cursor() { session_cursor al; }
tui_kill() { session_kill al; }

# tui_agent [-e]: the agent pane's rows (all but the status line).
tui_agent() {
	local e=""
	[ "${1:-}" = -e ] && e=-e
	if [ "${TUI_HEADLESS:-0}" = 1 ]; then
		session_capture al $e
	else
		session_capture al $e 0 $((TUI_HEIGHT[al] - 2))
	fi
}
# tui_status: the status line (the last row).
tui_status() { session_capture al $((TUI_HEIGHT[al] - 1)) $((TUI_HEIGHT[al] - 1)); }
# tui_wait_status REGEX [TIMEOUT]: until the status line matches.
tui_wait_status() {
	local re=$1 t=${2:-$TUI_TIMEOUT} end
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
		tui_status | grep -Eq -- "$re" && return 0
		sleep 0.05
	done
	diag "timed out after ${t}s waiting for /$re/ on the status line"
	tui_show
	return 1
}
# tui_wait_status_gone REGEX [TIMEOUT]: until the status line does not
# match.
tui_wait_status_gone() {
	local re=$1 t=${2:-$TUI_TIMEOUT} end
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
		tui_status | grep -Eq -- "$re" || return 0
		sleep 0.05
	done
	diag "timed out after ${t}s waiting for /$re/ to leave the status line"
	tui_show
	return 1
}
# The timeline's first line (the status line shows "#0 start" too).
TIMELINE0='[│|x] ?#0 [0-9:]+ start'
# tui_prefix KEY...: the prefix (C-]) then the keys.
tui_prefix() { tui_keys 'C-]' "$@"; }

# The reference session: the same program run directly in tmux.
# ref_start W H CMD...; ref_like_agent CMD... starts it at the size of
# airlock's agent pane.
ref_start() { session_start ref "$@"; }
ref_like_agent() {
	local rows=$((TUI_HEIGHT[al] - 1))
	[ "${TUI_HEADLESS:-0}" = 1 ] && rows=${TUI_HEIGHT[al]}
	ref_start "${TUI_WIDTH[al]}" "$rows" "$@"
}
ref_keys() { session_keys ref "$@"; }
ref_type() { session_type ref "$@"; }
ref_capture() { session_capture ref "$@"; }
ref_wait_for() { session_wait_for ref "$@"; }
ref_resize() { session_resize ref "$@"; }
ref_show() { session_show ref; }
ref_kill() { session_kill ref; }

# ref_env_like_agent: sets REF_ENV to the terminal variables airlock gives
# its agent (TERM, COLORTERM), so that a program run directly picks the
# same colours and sequences as inside airlock. Runs airlock once for it.
ref_env_like_agent() {
	local v
	tui_airlock 80 24 --name env -- sh -c 'echo "env=$TERM,${COLORTERM:-}."; exec sleep 3600'
	tui_wait_for '^env=.*\.$' || return 1
	v=$(tui_capture | sed -n 's/^env=\(.*\)\.$/\1/p')
	tui_kill
	REF_ENV=(TERM="${v%%,*}")
	[ -n "${v#*,}" ] && REF_ENV+=(COLORTERM="${v#*,}")
	diag "the agent's terminal: TERM=${v%%,*} COLORTERM=${v#*,}"
}

# both_keys KEYS...: the same keys to both sessions.
both_keys() { tui_keys "$@"; ref_keys "$@"; }
both_type() { tui_type "$1"; ref_type "$1"; }
both_wait_for() { tui_wait_for "$@" && ref_wait_for "$@"; }

# screens_differ: empty when airlock's agent pane shows what the reference
# shows (cells, colours, attributes, cursor), else the differences.
screens_differ() {
	local a r
	a=$(tui_agent -e) r=$(ref_capture -e)
	python3 "$AIRLOCK_SRCDIR/tests/tui/cells.py" <(printf '%s\n' "$r") \
		<(printf '%s\n' "$a") "${TUI_HEIGHT[ref]}"
	a=$(tui_cursor) r=$(session_cursor ref)
	[ "$a" = "$r" ] || echo "cursor (x y visible): want $r, got $a"
}

# compare_screens DESC [TIMEOUT]: passes as soon as the two screens are the
# same (programs draw in steps); else both screens and the differences as
# diagnostics.
compare_screens() {
	local desc=$1 t=${2:-$TUI_TIMEOUT} end d
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	while :; do
		d=$(screens_differ)
		if [ -z "$d" ]; then
			ok "$desc"
			return 0
		fi
		[ "$(($(date +%s%N) / 1000000))" -lt "$end" ] || break
		sleep 0.1
	done
	not_ok "$desc"
	diag "differences (want: direct in tmux; got: inside airlock):"
	diag "$d"
	ref_show
	tui_show
	return 1
}

# tui_script NAME: copies tests/tui/NAME to the world (where the sandbox
# sees it) and prints its path.
tui_script() {
	cp "$AIRLOCK_SRCDIR/tests/tui/$1" "$W/$1"
	chmod 755 "$W/$1"
	printf '%s\n' "$W/$1"
}

# log_of SESSION JQ: a jq filter over `airlock log --json SESSION`.
log_of() { "$AIRLOCK" log --json "$1" </dev/null | jq -r "$2"; }

# wait_log SESSION JQ-CONDITION [TIMEOUT]: until the condition holds of
# the session's log (an array).
wait_log() {
	local s=$1 cond=$2 t=${3:-$TUI_TIMEOUT} end
	end=$(($(date +%s%N) / 1000000 + t * 1000))
	while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
		[ "$("$AIRLOCK" log --json "$s" </dev/null 2>/dev/null | jq -r "$cond" 2>/dev/null)" = true ] &&
			return 0
		sleep 0.05
	done
	diag "timed out after ${t}s waiting for the log of $s to satisfy: $cond" \
		"$("$AIRLOCK" log "$s" </dev/null 2>&1)"
	return 1
}

# reasons SESSION: the reasons of its checkpoints, comma-separated.
reasons() { log_of "$1" '[.[] | .reason] | join(",")'; }

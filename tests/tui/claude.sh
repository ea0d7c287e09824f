#!/bin/bash
# A real agent: Claude Code (from the npm registry; .ci/run installs it in
# /opt/airlock-agents) starts inside airlock with a fresh HOME and no
# network, and its first screen looks as it does directly in tmux. No
# network is needed: both sides send its requests to a closed port, so both
# show the same "Unable to connect" welcome screen, after which Claude Code
# exits 1; a shell around it keeps the screen (and airlock running).
#
# AIRLOCK_TEST_CLAUDE names the binary (default: /opt/airlock-agents/bin/claude,
# then claude on PATH). When it is missing the test skips, unless
# AIRLOCK_TEST_REQUIRE_AGENT=1 (CI), where it fails.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
claude=${AIRLOCK_TEST_CLAUDE:-/opt/airlock-agents/bin/claude}
[ -x "$claude" ] || claude=$(command -v claude || true)
if [ -z "$claude" ] || [ ! -x "$claude" ]; then
	if [ "${AIRLOCK_TEST_REQUIRE_AGENT:-0}" = 1 ]; then
		not_ok "Claude Code is installed (AIRLOCK_TEST_CLAUDE, /opt/airlock-agents/bin/claude or PATH)"
		finish
		exit 1
	fi
	echo "1..0 # SKIP Claude Code is not installed: npm install -g --prefix /opt/airlock-agents @anthropic-ai/claude-code"
	exit 0
fi
new_world
cd "$T" || exit 1
diag "$("$claude" --version 2>&1 | head -1)"
mkdir "$W/refhome"
TUI_ENV=(HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
	CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1)
check "the agent's terminal variables" ref_env_like_agent
REF_ENV+=(HOME="$W/refhome")

cmd=(sh -c '"$0"; echo "claude exited $?"; exec sleep 3600' "$claude")
tui_airlock 100 31 --name claude --net none -- "${cmd[@]}"
check "Claude Code starts inside airlock" tui_wait_for 'Welcome to Claude Code' 30
ref_like_agent "${cmd[@]}"
check "Claude Code starts directly" ref_wait_for 'Welcome to Claude Code' 30
both_wait_for '^claude exited [0-9]+' 30
compare_screens "Claude Code's first screen looks as it does in tmux" 20
tui_prefix q
check "quit" tui_wait_for '^\[exited [0-9]+\]'
finish

# Shared helpers of the integration tests: TAP output and a private world
# (HOME, store, real tree) per test script, under the build directory.
#
# Each script sources this file, calls the checks, and ends with `finish`.
# Tests never skip: a missing kernel feature is a failure here.

set -u
: "${AIRLOCK_BIN:?AIRLOCK_BIN must point at the built airlock}"
# The sandbox has a private /tmp: a build under /tmp would not be visible to
# commands inside that call airlock themselves. Use a copy that is.
AIRLOCK_COPY=$(mktemp -d "${AIRLOCK_TEST_TMP:-/var/tmp}/airlock-bin.XXXXXX")
chmod 755 "$AIRLOCK_COPY"
cp "$AIRLOCK_BIN" "$AIRLOCK_COPY/airlock"
AIRLOCK=$AIRLOCK_COPY/airlock
AIRLOCK_BIN=$AIRLOCK
export AIRLOCK_BIN
WORLDS=""
tap_n=0
tap_failed=0

ok() { tap_n=$((tap_n + 1)); printf 'ok %d - %s\n' "$tap_n" "$*"; }
not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	printf 'not ok %d - %s\n' "$tap_n" "$*"
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# is DESCRIPTION GOT WANT
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "got:" "$2" "want:" "$3"
	fi
}

# contains DESCRIPTION HAYSTACK NEEDLE
contains() {
	case $2 in
	*"$3"*) ok "$1" ;;
	*) not_ok "$1"; diag "missing: $3" "in:" "$2" ;;
	esac
}

finish() {
	printf '1..%d\n' "$tap_n"
	cleanup_world
	[ "$tap_failed" -eq 0 ]
}

# A fresh world: $W/home (HOME), $W/store (AIRLOCK_HOME), $W/tree (a git
# repository with a few files, the real tree). In /var/tmp by default (outside
# any git checkout; AIRLOCK_TEST_TMP overrides), owned by whoever runs the
# tests.
new_world() {
	W=$(mktemp -d "${AIRLOCK_TEST_TMP:-/var/tmp}/airlock-test.XXXXXX")
	WORLDS="$WORLDS $W"
	export HOME=$W/home AIRLOCK_HOME=$W/store XDG_CONFIG_HOME=$W/home/.config
	unset XDG_STATE_HOME
	mkdir -p "$HOME" "$W/tree"
	T=$W/tree
	(
		cd "$T" || exit 1
		git init -q .
		git config user.email t@example.com
		git config user.name tester
		printf 'hello\n' >a.txt
		mkdir -p src/deep
		printf 'int main(void) { return 0; }\n' >src/main.c
		printf 'one\ntwo\nthree\n' >src/deep/lines.txt
		printf '#!/bin/sh\necho hi\n' >run.sh
		chmod 755 run.sh
		ln -s a.txt link
		mkdir empty
		git add -A >/dev/null 2>&1
		git commit -qm initial
	)
}

cleanup_world() {
	local w
	# Scratch dirs may hold entries without permissions: chmod first.
	for w in $WORLDS "$AIRLOCK_COPY"; do
		chmod -R u+rwX "$w" 2>/dev/null
		rm -rf "$w"
	done
}

# Prints a listing of a tree that changes when any name, type, mode, link
# target or content changes.
tree_fingerprint() {
	(cd "$1" && find . -path ./.git -prune -o -print0 | LC_ALL=C sort -z |
		while IFS= read -r -d '' p; do
			if [ -L "$p" ]; then
				printf '%s l %s\n' "$p" "$(readlink "$p")"
			elif [ -f "$p" ]; then
				printf '%s f %s %s\n' "$p" "$(stat -c %a "$p")" \
					"$(sha256sum <"$p" | cut -c1-64)"
			else
				printf '%s %s %s\n' "$p" "$(stat -c %F "$p")" "$(stat -c %a "$p")"
			fi
		done)
}

# Same, including .git.
tree_fingerprint_all() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %F %a %s %Y' &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# al ARGS...: runs airlock, capturing stdout in $out, stderr in $err and the
# exit code in $rc.
al() {
	local o e
	o=$(mktemp) e=$(mktemp)
	"$AIRLOCK" "$@" >"$o" 2>"$e" </dev/null
	rc=$?
	out=$(cat "$o")
	err=$(cat "$e")
	rm -f "$o" "$e"
}

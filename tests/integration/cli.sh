#!/bin/sh
# The command line: help, version, usage errors and the clear errors of
# airlock run (each with its message and exit code).
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1

al --help
is "--help exits 0" "$rc" 0
contains "--help lists run" "$out" "run "
contains "--help lists discard" "$out" "discard"
al help status
is "help status exits 0" "$rc" 0
contains "help status shows usage" "$out" "usage: airlock status"
al help nosuch
is "help of an unknown command exits 2" "$rc" 2
contains "help of an unknown command names it" "$err" "nosuch"
al version
is "version exits 0" "$rc" 0
contains "version prints the version" "$out" "airlock 0."
al --version
contains "--version prints the version" "$out" "airlock 0."
al frobnicate
is "an unknown command exits 2" "$rc" 2
contains "an unknown command suggests --" "$err" "airlock: frobnicate: unknown command; to run a program in the sandbox use \`airlock -- frobnicate\`"
al run --headless --bogus -- true
is "an unknown option exits 2" "$rc" 2
contains "an unknown option is named" "$err" "airlock: run: unknown or incomplete option '--bogus'"
al list --json extra
is "list with an extra argument exits 2" "$rc" 2

# Errors of airlock run.
al run --headless -C "$W/nonexistent" -- true
is "-C to a missing directory exits 1" "$rc" 1
contains "-C to a missing directory is named" "$err" "airlock: -C: $W/nonexistent: No such file or directory"
: >"$W/plainfile"
al run --headless -C "$W/plainfile" -- true
is "-C to a file exits 1" "$rc" 1
contains "-C to a file says not a directory" "$err" "airlock: -C: $W/plainfile: not a directory"
al run --headless --
is "an empty command after -- exits 2" "$rc" 2
contains "an empty command after -- is explained" "$err" "airlock: run: empty command after --"
al run --headless -- ''
is "an empty command name exits 2" "$rc" 2
contains "an empty command name is explained" "$err" "airlock: run: empty command name"
al run --headless --name 42 -- true
is "a numeric --name exits 2" "$rc" 2

AIRLOCK_HOME=$T/.store al run --headless -- true
is "a store inside the real tree exits 1" "$rc" 1
contains "a store inside the real tree is explained" "$err" "airlock: run: the store $T/.store is inside the real tree $T"
mkdir -p "$W/store/inner"
al run --headless -C "$W/store/inner" -- true
is "a tree inside the store exits 1" "$rc" 1
contains "a tree inside the store is explained" "$err" "is inside the store $W/store"

printf 'deny ~/x\nalow ~/y\n' >"$W/bad.policy"
al run --headless --policy "$W/bad.policy" -- true
is "a bad policy line exits 2" "$rc" 2
contains "a bad policy line names file:line" "$err" "airlock: policy: $W/bad.policy:2:"
printf 'rw ~/.ssh\n' >"$T/.airlock-policy"
al run --headless -- true
is "a tree policy that loosens exits 2" "$rc" 2
contains "a tree policy that loosens names file:line" "$err" "$T/.airlock-policy:1:"
rm -f "$T/.airlock-policy"
al run --headless --policy "$W/missing.policy" -- true
is "a missing --policy file exits 2" "$rc" 2
contains "a missing --policy file is named" "$err" "$W/missing.policy"
al run --headless --net sideways -- true
is "a bad --net exits 2" "$rc" 2

# Commands on a tree without sessions.
al status
is "status without sessions exits 1" "$rc" 1
contains "status without sessions says how to start" "$err" "airlock run"
al list
is "list without sessions exits 0" "$rc" 0
is "list without sessions prints nothing" "$out" ""
al list --json
is "list --json without sessions is an empty array" "$out" "[]"
al discard --yes 7
is "discard of an unknown session exits 1" "$rc" 1
contains "discard of an unknown session names it" "$err" "no session 7"

# A failed start leaves no session behind.
al list --json
is "failed runs leave no sessions" "$out" "[]"

# A kernel that cannot build the sandbox: airlock says what is missing and
# how to fix it. These kernels cannot be booted here, so the check reads a
# fake /proc (AIRLOCK_TEST_PROCDIR) and version (AIRLOCK_TEST_RELEASE).
fake=$W/proc
mkdir -p "$fake/sys/kernel" "$fake/sys/user"
printf 'nodev\tproc\nnodev\toverlay\n' >"$fake/filesystems"
echo 1 >"$fake/sys/kernel/unprivileged_userns_clone"
echo 100 >"$fake/sys/user/max_user_namespaces"
kcheck() { AIRLOCK_TEST_PROCDIR=$fake AIRLOCK_TEST_RELEASE=${1:-6.1.0} al run --headless -- true; }
kcheck 5.10.0
is "a kernel older than 5.11 exits 1" "$rc" 1
contains "a kernel older than 5.11 is named" "$err" "airlock: run: Linux 5.10.0 is too old: airlock needs Linux 5.11 or later"
kcheck
is "the fake /proc of a working kernel passes" "$rc" 0
printf 'nodev\tproc\n' >"$fake/filesystems"
kcheck 6.1.0-no-such-modules
is "no overlayfs exits 1" "$rc" 1
contains "no overlayfs says how to fix it" "$err" "airlock: run: overlayfs is not available: modprobe overlay"
printf 'nodev\toverlay\n' >"$fake/filesystems"
echo 0 >"$fake/sys/kernel/unprivileged_userns_clone"
kcheck
if [ "$(id -u)" = 0 ]; then
	is "as root, disabled user namespaces do not matter" "$rc" 0
else
	is "disabled user namespaces exit 1" "$rc" 1
	contains "disabled user namespaces name the sysctl" "$err" "kernel.unprivileged_userns_clone = 0): as root, run sysctl -w kernel.unprivileged_userns_clone=1"
fi
echo 1 >"$fake/sys/kernel/unprivileged_userns_clone"
echo 0 >"$fake/sys/user/max_user_namespaces"
kcheck
if [ "$(id -u)" = 0 ]; then
	is "as root, user.max_user_namespaces = 0 does not matter" "$rc" 0
else
	is "max_user_namespaces = 0 exits 1" "$rc" 1
	contains "max_user_namespaces = 0 names the sysctl" "$err" "user.max_user_namespaces = 0"
fi
echo 100 >"$fake/sys/user/max_user_namespaces"
echo 1 >"$fake/sys/kernel/apparmor_restrict_unprivileged_userns"
kcheck
if [ "$(id -u)" = 0 ]; then
	is "as root, the AppArmor restriction does not matter" "$rc" 0
else
	is "the AppArmor restriction exits 1" "$rc" 1
	contains "the AppArmor restriction says how to fix it" "$err" "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)"
fi

finish

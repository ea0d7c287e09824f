#!/bin/bash
# The round trip of the issue: a scratch full of hostile content,
# checkpointed, everything changed, rolled back (live while the agent runs,
# and again offline): the merged view is identical to the first state.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1

# A listing of the merged view that any byte in a name survives: path (as a
# Python bytes repr), type, mode, size, link target or SHA-256.
cat >"$W/list.py" <<'PY'
import hashlib, os, stat, sys
root = os.fsencode(sys.argv[1])
skip = {os.fsencode(s) for s in sys.argv[2:]}
out = []
for top, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if d != b".git"]
    for name in sorted(dirs + files):
        p = os.path.join(top, name)
        rel = os.path.relpath(p, root)
        if rel in skip:
            continue
        st = os.lstat(p)
        line = "%r %o %d" % (rel, st.st_mode, st.st_size if not stat.S_ISDIR(st.st_mode) else 0)
        if stat.S_ISLNK(st.st_mode):
            line += " -> %r" % os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            if st.st_mode & 0o444 == 0:
                os.chmod(p, st.st_mode | 0o400)
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            if st.st_mode & 0o444 == 0:
                os.chmod(p, st.st_mode)
            line += " " + h.hexdigest()
        out.append(line)
print("\n".join(sorted(out)))
PY
cat >"$W/hostile.sh" <<'SH'
set -e
printf 'nl\n' >"$(printf 'new\nline')"
printf 'sp\n' >"with space"
printf 'bad\n' >"$(printf 'bad\377\376name')"
long=$(printf 'n%.0s' $(seq 255))
printf 'long\n' >"$long"
deep=.
while [ ${#deep} -lt 3900 ]; do deep=$deep/dddddddddddddddddddddddddddddddddddddddddddddddddd; done
mkdir -p "$deep" && printf 'deep\n' >"$deep/leaf"
: >empty-file
truncate -s 2G sparse.bin
printf 'tail' | dd of=sparse.bin bs=1 seek=$((2 * 1024 * 1024 * 1024 - 4)) conv=notrunc 2>/dev/null
ln -s /etc/passwd abs-link
ln -s ../../../../outside out-link
mkfifo a-fifo
python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("a-sock")'
printf 'linked\n' >hard1 && ln hard1 hard2
printf 'secret\n' >mode000 && chmod 000 mode000
chmod 4755 run.sh
mkdir -p emptydir
printf 'changed\n' >a.txt
rm -rf src/deep
SH
cat >"$W/change.sh" <<'SH'
set -e
cd "$1"
find . -mindepth 1 -maxdepth 1 ! -name .git ! -name keep ! -name moving -exec rm -rf {} +
printf 'other\n' >a.txt
mkdir -p src/deep && printf 'different\n' >src/deep/lines.txt
ln -s a.txt with\ space
mkdir "$(printf 'new\nline')"
SH

o=$W/live.out
"$AIRLOCK" run --headless --name rt -- bash -c '
	set -e
	W=$0 T=$1 A=$2
	mkdir keep
	bash "$W/hostile.sh"
	# A file rewritten, whole, while the checkpoint reads it.
	( i=0; while :; do i=$((i + 1)); yes "v$i" | head -c 3000000 >moving.tmp; mv moving.tmp moving; done ) &
	writer=$!
	sleep 0.3
	"$A" checkpoint -m first
	kill $writer; wait $writer 2>/dev/null || true
	echo "== first"; python3 "$W/list.py" "$T" moving moving.tmp
	cd keep
	bash "$W/change.sh" "$T"
	echo "== changed"; python3 "$W/list.py" "$T" moving moving.tmp
	go=0; trap "go=1" WINCH
	echo "== ready"
	for i in $(seq 900); do [ $go = 1 ] && break; sleep 0.1; done
	echo "== after"; python3 "$W/list.py" "$T" moving moving.tmp
	echo "== cwd $(pwd)"
	echo "== moving"; sort -u "$T/moving" | wc -l
	echo "== end"' "$W" "$T" "$AIRLOCK" >"$o" 2>&1 &
pid=$!
waitfor() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
section() { sed -n "/^== $2\$/,/^== /p" "$1" | sed '1d;$d'; }
# same DESC FILE1 FILE2: the listings are identical (a short diff if not).
same() {
	if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1"; diag "$(diff "$2" "$3" | cut -c1-200 | head -20)"; fi
}
check "the agent built the hostile scratch" waitfor "$o" "== ready"
section "$o" first >"$W/first"
section "$o" changed >"$W/changed"
check "the first state has a name with a newline" grep -q "^b'new\\\\nline' " "$W/first"
check "the first state has a name that is not UTF-8" grep -q "^b'bad\\\\xff\\\\xfename' " "$W/first"
check "the first state has a 255-byte name" grep -q "^b'nnnnnnnnnn.*' 100644 5 " "$W/first"
check "the first state has a path near PATH_MAX" grep -q "/leaf' 100644 5 " "$W/first"
check "the first state lists the 2 GiB sparse file" grep -q "^b'sparse.bin' 100644 2147483648 " "$W/first"
check "the first state lists the fifo" grep -q "^b'a-fifo' 10644 " "$W/first"
check "the first state lists the socket" grep -q "^b'a-sock' 140" "$W/first"
check "the changed state has neither" sh -c "! grep -q \"^b'a-\(fifo\|sock\)' \" '$W/changed'"
check "the first state lists the links" grep -q "^b'out-link' 120777 .* -> b'../../../../outside'" "$W/first"
check "everything changed" sh -c "! cmp -s '$W/first' '$W/changed'"
ckpt=$("$AIRLOCK" log --json rt | jq '[.[] | select(.label == "first")][0].number')
al rollback "$ckpt" rt
is "live rollback of the hostile scratch exits 0" "$rc" 0
kill -WINCH "$pid"
wait "$pid"
is "the agent exits 0" "$?" 0
# Fifos and sockets come back too (the warden makes them, never devices).
section "$o" after >"$W/after"
same "live: the merged view is identical to the first state" "$W/after" "$W/first"
contains "live: the agent's shell kept its cwd" "$(grep '^== cwd' "$o")" "== cwd $T/keep"
is "the file rewritten while checkpointed is one whole version" "$(section "$o" moving)" 1

# Offline: to the changed state, then back to the first.
changed_ckpt=$("$AIRLOCK" log --json rt | jq '[.[] | select(.label == "before rollback to '"$ckpt"'")][0].number')
al rollback "$changed_ckpt" rt
is "offline rollback to the changed state exits 0" "$rc" 0
"$AIRLOCK" run --headless --resume rt -- python3 "$W/list.py" "$T" moving moving.tmp >"$W/offline1" 2>&1
same "offline: the merged view is the changed state" "$W/offline1" "$W/changed"
al rollback "$ckpt" rt
is "offline rollback to the first state exits 0" "$rc" 0
"$AIRLOCK" run --headless --resume rt -- python3 "$W/list.py" "$T" moving moving.tmp >"$W/offline2" 2>&1
same "offline: the merged view is identical to the first state" "$W/offline2" "$W/first"
al fsck
is "fsck is clean after the round trip" "$rc" 0

finish

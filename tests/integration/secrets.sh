#!/bin/bash
# What the sandbox hides and forbids: secrets, the store, the network with
# --net none, writes outside the tree; and that they work outside.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1
mkdir -p "$HOME/.ssh" "$HOME/.aws"
printf 'PRIVATE KEY\n' >"$HOME/.ssh/id_rsa"
printf '[default]\nsecret\n' >"$HOME/.aws/credentials"
printf 'TOKEN=s3cret\n' >"$T/.env"
mkdir -p "$T/config"
printf 'DB=pw\n' >"$T/config/.env.local"
printf 'KEY\n' >"$T/config/server.pem"
printf 'visible\n' >"$HOME/notes.txt"

check "outside: ~/.ssh/id_rsa is readable" grep -q 'PRIVATE KEY' "$HOME/.ssh/id_rsa"
al run --headless -- cat "$HOME/.ssh/id_rsa"
check "inside: ~/.ssh/id_rsa cannot be read" test "$rc" -ne 0
al run --headless -- ls -A "$HOME/.ssh"
is "inside: ~/.ssh is empty" "$out" ""
al run --headless -- cat "$HOME/.aws/credentials"
check "inside: ~/.aws/credentials cannot be read" test "$rc" -ne 0
al run --headless -- cat .env config/.env.local config/server.pem
is "inside: .env, .env.* and *.pem read empty" "$out" ""
al run --headless -- sh -c 'echo x > .env'
check "inside: .env cannot be written" test "$rc" -ne 0
check "outside: .env is intact" grep -q s3cret "$T/.env"
al run --headless -- cat "$HOME/notes.txt"
is "inside: the rest of HOME is readable" "$out" "visible"
store=$(ls -d "$W"/store/*/ | head -1)
check "outside: the store exists" test -f "$store/index.mdb"
al run --headless -- sh -c "ls -A '$W/store'; cat '$store/index.mdb' | wc -c"
is "inside: the store is hidden" "$out" "0"
al run --headless -- cat /run/airlock/policy
contains "inside: /run/airlock/policy explains the plan" "$out" "$HOME/.ssh"
al run --headless -- sh -c 'echo "$SSH_AUTH_SOCK|$GITHUB_TOKEN|$KEEP_ME"'
check "inside: SSH_AUTH_SOCK and *_TOKEN are dropped" test "$out" = "||"
SSH_AUTH_SOCK=/x GITHUB_TOKEN=t KEEP_ME=k al run --headless -- sh -c 'echo "$SSH_AUTH_SOCK|$GITHUB_TOKEN|$KEEP_ME"'
is "inside: other variables pass, secrets do not" "$out" "||k"

# Writes outside the tree.
al run --headless -- sh -c "echo gone > '$HOME/new-in-home'; echo gone > /tmp/new-in-tmp; cat '$HOME/new-in-home' /tmp/new-in-tmp"
is "inside: HOME and /tmp are writable" "$out" "gone
gone"
check "outside: writes to HOME do not survive" test ! -e "$HOME/new-in-home"
check "outside: writes to /tmp do not survive" test ! -e /tmp/new-in-tmp
al run --headless -- sh -c 'cat /tmp/new-in-tmp'
check "the next run does not see the last run's /tmp" test "$rc" -ne 0
al run --headless -- sh -c 'touch /usr/airlock-test 2>&1; echo "rc=$?"'
contains "inside: /usr is not writable" "$out" "rc=1"
check "outside: nothing was written to /usr" test ! -e /usr/airlock-test
al run --headless -- sh -c 'touch /etc/airlock-test; echo "rc=$?"'
contains "inside: /etc is not writable" "$out" "rc=1"

# Devices, proc, ptys inside.
al run --headless -- sh -c 'echo $$; test -c /dev/null && test -c /dev/urandom && test -d /dev/pts && test -w /dev/shm && echo devices'
is "inside: the command is not PID 1 but a child of the warden" "$(printf '%s\n' "$out" | head -1)" 2
contains "inside: /dev has null, urandom, pts, shm" "$out" devices
al run --headless -- sh -c 'script -qc "tty" /dev/null </dev/null'
contains "inside: programs can open ptys" "$out" "/dev/pts/"

# --net none: a server on 127.0.0.1 outside cannot be reached.
port=$((20000 + RANDOM % 20000))
python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5); s.settimeout(15)
try:
    while True:
        c,_=s.accept(); c.sendall(b"hello from outside\n"); c.close()
except Exception: pass' "$port" &
srv=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
al run --headless -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -1 <&3"
is "--net host (default) reaches 127.0.0.1 outside" "$out" "hello from outside"
al run --headless --net none -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -1 <&3"
check "--net none cannot reach 127.0.0.1 outside" test "$rc" -ne 0
is "--net none: nothing was received" "$out" ""
al run --headless --net none -- sh -c "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
is "--net none has only loopback" "$out" "lo"
printf 'net none\n' >"$W/none.policy"
al run --headless --policy "$W/none.policy" -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -1 <&3"
check "net none in a policy file cuts the network too" test "$rc" -ne 0
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null

finish

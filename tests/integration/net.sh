#!/bin/bash
# --net none and --net allow: servers on 127.0.0.1 outside the sandbox
# (started here); inside, the only way out is airlock's proxy (HTTP proxy
# and CONNECT on 127.0.0.1:3128, SOCKS5 on :1080), which lets through the
# allow-list and logs every connection; `airlock net --json` says what
# happened; hostile clients do not stop it from serving.
. "$AIRLOCK_SRCDIR/tests/integration/lib.sh"
new_world
cd "$T" || exit 1
for tool in curl python3; do
	command -v "$tool" >/dev/null || { echo "Bail out! $tool is needed"; exit 1; }
done
PY=$(command -v python3)

# Two HTTP servers outside: each answers "NAME PATH" and counts requests
# in its log file.
cat >"$W/server.py" <<'EOF'
import http.server, socketserver, sys
name, portfile, logfile = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("%s %s\n" % (name, self.path)).encode()
        with open(logfile, "a") as f:
            f.write(self.path + "\n")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
s = S(("127.0.0.1", 0), H)
open(portfile, "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
"$PY" "$W/server.py" good "$W/good.port" "$W/good.log" &
good_pid=$!
"$PY" "$W/server.py" other "$W/other.port" "$W/other.log" &
other_pid=$!
trap 'kill $good_pid $other_pid 2>/dev/null' EXIT
for f in good other; do
	for _ in $(seq 100); do [ -s "$W/$f.port" ] && break; sleep 0.05; done
done
GOOD=$(cat "$W/good.port") OTHER=$(cat "$W/other.port")
touch "$W/good.log" "$W/other.log"
check "the servers listen" test -n "$GOOD" -a -n "$OTHER"
is "the allowed server answers outside" "$(curl -s "http://127.0.0.1:$GOOD/x")" "good /x"
: >"$W/good.log"

requests() { wc -l <"$W/$1.log" | tr -d ' '; }

# --net none: no way out at all.
al run --headless --net none -- sh -c "
	curl -s -m 5 http://127.0.0.1:$GOOD/none1 && echo direct-ok
	curl -s -m 5 -x http://127.0.0.1:3128 http://localhost:$GOOD/none2 && echo proxy-ok
	curl -s -m 5 --socks5-hostname 127.0.0.1:1080 http://localhost:$GOOD/none3 && echo socks-ok
	echo done"
is "--net none: nothing gets through, by any route" "$out" "done"
is "... and the server saw nothing" "$(requests good)" 0

# --net allow: only localhost:GOOD.
al run --headless --name allow --net "allow:localhost:$GOOD" -- sh -c "
	echo \"env: \$HTTP_PROXY \$https_proxy \$ALL_PROXY \$NO_PROXY\"
	echo \"ssh: \$GIT_SSH_COMMAND\"
	curl -s -m 5 http://127.0.0.1:$GOOD/direct && echo direct-ok
	curl -s -m 5 --noproxy '' http://localhost:$GOOD/http
	curl -s -m 5 --noproxy '' -p http://localhost:$GOOD/connect
	curl -s -m 5 --noproxy '' -o /dev/null -w 'other %{http_code}\n' http://localhost:$OTHER/refused
	curl -s -m 5 --noproxy '' -o /dev/null -w 'literal %{http_code}\n' http://127.0.0.1:$GOOD/literal
	curl -s -m 5 --noproxy '' -p -o /dev/null -w 'connect-other %{http_code}\n' http://localhost:$OTHER/c 2>/dev/null || echo connect-other refused
	curl -s -m 5 --noproxy '' -o /dev/null -w 'keep1 %{http_code}\n' http://localhost:$GOOD/keep1 \
		--next -s -m 5 --noproxy '' -o /dev/null -w 'keep2 %{http_code} new connections %{num_connects}\n' \
		http://localhost:$OTHER/keep2
	curl -s -m 5 --noproxy '' --socks5-hostname 127.0.0.1:1080 http://localhost:$GOOD/socks
	curl -s -m 5 --noproxy '' --socks5-hostname 127.0.0.1:1080 http://localhost:$OTHER/socks-refused || echo socks-refused
	curl -s -m 5 --noproxy '' --socks5 127.0.0.1:1080 http://127.0.0.1:$GOOD/socks-literal || echo socks-literal-refused
	printf 'GET / HTTP/1.0\r\n\r\n' | $AIRLOCK connect localhost $GOOD | head -1
	$AIRLOCK connect localhost $OTHER </dev/null; echo connect-exit \$?
	echo done"
diag "$out" "$err"
contains "the agent gets the proxy variables" "$out" "env: http://127.0.0.1:3128 http://127.0.0.1:3128 socks5h://127.0.0.1:1080 localhost,127.0.0.1,::1"
contains "... and git's ssh goes through airlock connect" "$out" "ssh: ssh -o 'ProxyCommand=$AIRLOCK connect %h %p'"
case $out in *direct-ok*) not_ok "no direct connection" ;; *) ok "no direct connection" ;; esac
contains "plain HTTP through the proxy to the allowed host" "$out" "good /http"
contains "CONNECT to the allowed host" "$out" "good /connect"
contains "another port is refused (403)" "$out" "other 403"
contains "127.0.0.1 spelled as a literal is refused" "$out" "literal 403"
case $out in
*"connect-other 200"*) not_ok "CONNECT to another port is refused" ;;
*) ok "CONNECT to another port is refused" ;;
esac
contains "a kept-alive first request works" "$out" "keep1 200"
contains "... the second, to a refused host, on the same connection, is refused" "$out" "keep2 403 new connections 0"
contains "SOCKS5 with a host name: allowed" "$out" "good /socks"
contains "SOCKS5: a refused host" "$out" "socks-refused"
contains "SOCKS5: an IP literal is refused" "$out" "socks-literal-refused"
contains "airlock connect: through the proxy" "$out" "HTTP/1.1 200"
contains "airlock connect: refused, exit 1" "$out" "connect-exit 1"
is "the other server never saw a request" "$(requests other)" 0
is "the allowed one saw exactly the allowed requests" "$(sort "$W/good.log" | tr '\n' ' ')" "/ /connect /http /keep1 /socks "

# airlock net: the log says what happened.
al net --json allow
check "airlock net --json is JSON" jq -e 'type == "array"' <<<"$out"
is "allowed connections logged" "$(jq -r "[.[] | select(.allowed) | .host] | sort | unique | join(\",\")" <<<"$out")" "localhost"
is "... their port" "$(jq -r "[.[] | select(.allowed) | .port] | unique | join(\",\")" <<<"$out")" "$GOOD"
is "refused: the other port, the literals" \
	"$(jq -r "[.[] | select(.allowed | not) | \"\(.host):\(.port)\"] | sort | unique | join(\",\")" <<<"$out")" \
	"127.0.0.1:$GOOD,localhost:$OTHER"
is "every request that got an answer was counted" "$(jq '[.[] | select(.allowed and .received > 0)] | length >= 5' <<<"$out")" true
is "time, via and duration are there" "$(jq -r '.[0] | [(.time | test("^[0-9]{4}-")), (.via | length > 0), (.duration_ms >= 0)] | all' <<<"$out")" true
al net allow
contains "airlock net in words" "$out" "refused  localhost:$OTHER"

# Hostile clients: garbage, huge headers, 1000 connections, a slow sender;
# the proxy keeps serving the allowed host, and stays small.
cat >"$W/hostile.py" <<'EOF'
import socket, sys, time, os
good = sys.argv[1]
def conn(port=3128):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s
def fetch():
    s = conn()
    s.sendall(("GET http://localhost:%s/alive HTTP/1.0\r\n\r\n" % good).encode())
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace")
# garbage
s = conn(); s.sendall(os.urandom(5000).replace(b"\r\n\r\n", b"") + b"\r\n\r\n"); s.settimeout(10)
try: print("garbage:", s.recv(100).split(b"\r\n")[0].decode(errors="replace"))
except Exception as e: print("garbage:", e)
s.close()
# an oversized header
s = conn(); s.settimeout(10)
try:
    s.sendall(b"GET http://localhost:%s/big HTTP/1.1\r\nX: " % good.encode() + b"a" * 200000 + b"\r\n\r\n")
except Exception:
    pass
try: print("big:", s.recv(100).split(b"\r\n")[0].decode(errors="replace"))
except Exception as e: print("big:", e)
s.close()
# SOCKS garbage
s = conn(1080); s.sendall(b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00"); s.settimeout(10)
try: print("socks4:", len(s.recv(100)))
except Exception as e: print("socks4:", e)
s.close()
# a slow sender, then 1000 connections held open
slow = conn(); slow.sendall(b"GET http://local")
many = []
for i in range(1000):
    try:
        many.append(conn())
    except Exception as e:
        print("connect failed at", i, e); break
print("held:", len(many))
for s in many:
    s.close()
time.sleep(0.5)
print("after flood:", fetch())
try:
    slow.sendall(b"host")
except Exception:
    pass
print("still:", fetch())
EOF
cp "$W/hostile.py" "$T/hostile.py"
# airlock in the background: its proxy thread's memory is watched meanwhile
"$AIRLOCK" run --headless --name hostile --net "allow:localhost:$GOOD" -- \
	"$PY" hostile.py "$GOOD" >"$W/hostile.out" 2>&1 </dev/null &
apid=$!
rss_max=0
while kill -0 "$apid" 2>/dev/null; do
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$apid/status" 2>/dev/null)
	[ -n "$rss" ] && [ "$rss" -gt "$rss_max" ] && rss_max=$rss
	sleep 0.1
done
wait "$apid"
out=$(cat "$W/hostile.out") err=""
diag "airlock's largest resident size during the flood: $rss_max kB"
check "memory stays bounded (under 100 MB with 1000 connections)" test "$rss_max" -lt 102400
diag "$out" "$err"
contains "garbage gets a 400" "$out" "garbage: HTTP/1.1 400"
case $out in *"big: HTTP/1.1 4"*) ok "an oversized header gets a 4xx" ;; *) not_ok "an oversized header gets a 4xx" ;; esac
contains "1000 connections are taken (or held off) without a crash" "$out" "held:"
contains "the proxy serves the allowed host after the flood" "$out" "after flood: HTTP/1.1 200"
contains "... and while a slow sender holds a connection" "$out" "still: HTTP/1.1 200"
al net --json hostile
is "every refusal is logged (garbage, big header, SOCKS4)" "$(jq '[.[] | select(.allowed | not)] | length >= 3' <<<"$out")" true

finish

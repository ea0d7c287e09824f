#!/bin/bash
# --net allow in the terminal UI: the status line counts the connections
# the proxy refused, prefix n lists them, and one can be allowed for the
# rest of the session (after a question); the agent then gets through.
. "$AIRLOCK_SRCDIR/tests/tui/lib.sh"
new_world
cd "$T" || exit 1
command -v curl >/dev/null || { echo "Bail out! curl is needed"; exit 1; }
agent=$(tui_script agent.sh)
printf 'set idle-ms 600000\n' >"$W/keys"
export AIRLOCK_KEYS=$W/keys

# one HTTP server outside, on 127.0.0.1; the allow-list names another port
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"served\n")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()' "$W/port" &
server=$!
trap 'kill $server 2>/dev/null; tui_cleanup' EXIT  # lib.sh's cleanup too
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
PORT=$(cat "$W/port")

say() { tui_type "$1"; tui_keys Enter; }
fetch="run curl -s -m 5 --noproxy '' -o /dev/null -w 'code %{http_code}\\n' http://localhost:$PORT/"

tui_airlock 120 30 --name net --net "allow:localhost:1" -- "$agent" "$AIRLOCK"
check "the agent starts" tui_wait_for '^agent>'
check "the status line says net:allow" tui_wait_status 'net:allow'
say "$fetch"
check "the proxy refuses a host the list does not name (403)" tui_wait_for '^code 403'
check "the status line counts it" tui_wait_status 'net:allow 1 refused'
tui_prefix n
check "prefix n lists the refused connections" tui_wait_for "localhost:$PORT"
check "... and says how to allow one" tui_wait_for 'a: allow for this session'
tui_keys a
check "a asks first" tui_wait_status "allow localhost:$PORT for the rest of this session\\? \\[y/N\\]"
tui_keys y
check "y allows it" tui_wait_status "localhost:$PORT is allowed until the session ends"
tui_keys q
say "$fetch"
check "the agent now gets through" tui_wait_for '^code 200'
is "the log has the refusal and the allowed one" \
	"$("$AIRLOCK" net --json net </dev/null | jq -r '[.[] | .allowed] | map(tostring) | join(",")')" "false,true"
tui_prefix q
tui_wait_status 'quit\? \[y/N\]|quitting'
tui_keys y
check "the session ends" tui_wait_for '^\[exited [0-9]+\]'

finish

/*
 * core/: airlock's commands, sessions, the sandbox and its warden, policy,
 * changes and diffs. Uses snapshot/; knows nothing of ncurses.
 *
 * Conventions are those of snapshot/snapshot.h: fallible functions return -1
 * (or NULL) and set *cause; messages name the path, session or line.
 */
#ifndef AIRLOCK_CORE_H
#define AIRLOCK_CORE_H

#include <sys/stat.h>
#include <sys/types.h>
#include <stdio.h>

#include "snapshot/snapshot.h"

/* Exit codes of the command line (design §8). */
#define EXIT_OK 0
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONFLICT 3

/* log.c: messages to the user, always "airlock: WHAT: WHY". */
void log_error(const char *what, const char *fmt, ...) PRINTFLIKE(2, 3);
void log_warn(const char *what, const char *fmt, ...) PRINTFLIKE(2, 3);
/* Prints "airlock: what: cause" and frees cause. */
void log_cause(const char *what, char *cause);
/* Appends a size for people: "512 B", "3.4 KiB", "1.2 GiB". */
void log_bytes(struct buf *out, uint64_t bytes);

/* quote.c: printing paths that may hold any byte. */
#define QUOTE_SPACE 0x1  /* also quote names with a space (status) */
/*
 * Appends path to out as git does: unchanged when it is safe, else inside
 * double quotes with C escapes (\n, \t, \", \\, and \ooo for control bytes and
 * bytes that are not valid UTF-8). Valid UTF-8 is kept as it is.
 */
void quote_path(struct buf *out, const char *path, size_t len, int flags);
/* 1 when the bytes are valid UTF-8 (no overlong forms, no surrogates). */
int utf8_valid(const char *, size_t);
/* json.c */
void json_string(struct buf *out, const char *, size_t len);
/* "path": ..., and "path_base64" when path is not valid UTF-8. */
void json_path_fields(struct buf *out, const char *path, size_t len);
void json_time(struct buf *out, int64_t unix_seconds); /* RFC 3339 UTC, or null when 0 */
void base64_encode(struct buf *out, const void *, size_t);

/* policy.c
 *
 * The effective sandbox policy: defaults, then ~/.config/airlock/policy, then
 * --policy FILE, then <tree>/.airlock-policy (which may only add
 * restrictions). Files hold one rule a line:
 *   deny PATH | ro PATH | rw PATH | tmp PATH
 *   net none | net host | net allow HOST[:PORT]...
 *   env pass NAME | env drop NAME     (NAME may end in or start with '*')
 * '#' starts a comment. PATH is absolute, ~/..., or relative to the real tree;
 * a deny PATH without '/' is a name pattern (fnmatch) matched inside the tree.
 */
enum policy_action {
	POLICY_DENY,
	POLICY_RO,
	POLICY_RW,
	POLICY_TMP,
};
enum net_mode {
	NET_HOST,
	NET_NONE,
	NET_ALLOW,
};
struct policy_rule {
	enum policy_action action;
	char *path;      /* absolute path, or the pattern when is_pattern */
	int is_pattern;
	char *origin;    /* "default" or "FILE:LINE" */
};
struct policy_env {
	char *name;      /* may start or end with '*' */
	int pass;        /* 1 pass, 0 drop */
	char *origin;
};
struct policy {
	struct policy_rule *rules;
	size_t nrules;
	struct policy_env *env;
	size_t nenv;
	enum net_mode net;
	/* "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT"; HOST is a lower-case
	 * name, "*.NAME" (every name below NAME, not NAME) or IPv4. */
	char **net_allow;
	size_t nnet_allow;
	char *net_origin;
	char *walk_cache;   /* file caching the secret walk, or NULL */
};
void policy_init(struct policy *);
void policy_free(struct policy *);
/* Adds the built-in defaults (deny list, env drops, net host). */
void policy_add_defaults(struct policy *, const char *home);
/*
 * Parses one policy file's text. restrict_only: the file is the tree's own
 * and may only add restrictions (deny, ro, stricter net, env drop); any other
 * rule is an error. Relative paths are taken below tree. Returns 0, or -1
 * with *cause "FILE:LINE: what is wrong".
 */
int policy_parse(struct policy *, const char *file, const char *text,
    size_t len, int restrict_only, const char *home, const char *tree,
    char **cause);
/* Defaults + user file + extra (may be NULL) + tree file. 0 or -1. */
int policy_load(struct policy *, const char *home, const char *tree,
    const char *extra, char **cause);
/*
 * Matches a name against a shell pattern (*, ?, [set], [!set], [a-z]) byte by
 * byte: unlike fnmatch(3) in a UTF-8 locale, a name that is not valid UTF-8
 * still matches, and no multibyte conversion slows the walk down.
 */
int policy_glob_match(const char *pattern, const char *name);
/* Checks one allow entry (HOST, HOST:PORT, *.NAME[:PORT], IPv4[:PORT],
 * [IPV6][:PORT]) and returns it normalised (host lower-cased), or NULL with
 * *cause "'ENTRY': what is wrong". */
char *policy_net_entry(const char *entry, char **cause);
/* Parses a --net argument ("none", "host", "allow:H[:P],..."). */
int policy_set_net(struct policy *, const char *arg, char **cause);

/* proxy.c: the connection proxy of --net allow (design §3)
 *
 * A thread of its own runs one poll(2) loop over the listening sockets it
 * is handed, their clients and the connections it makes for them. Clients
 * speak HTTP (CONNECT HOST:PORT, or plain requests with an absolute URI,
 * every request on a kept-alive connection checked again) or SOCKS5
 * (CONNECT, no authentication, host names or IP literals). The host the
 * client asked for is matched against the allow entries (proxy_match),
 * resolved by the proxy itself on resolver threads (a slow DNS answer
 * holds up no one else), and only the addresses it resolves to are
 * connected to; an IP literal passes only when an entry names it.
 *
 * Every connection, allowed or refused, becomes an event: a JSON line
 * appended to the log file and an entry in a queue the caller drains
 * (proxy_event_fd, proxy_event_take). A refused HTTP client gets a status
 * (403, 400, 431, 502, 503, 504...) with a one-line body "airlock: WHAT:
 * WHY"; a SOCKS client gets its reply code.
 *
 * Limits, since the agent controls everything sent here: request heads of
 * PROXY_HEAD_MAX bytes and PROXY_HEAD_LINES lines, read within 10 s;
 * PROXY_CONNS_MAX clients at once (more are answered 503, or SOCKS method
 * 0xff, and closed, and logged); 10 s to resolve and connect (shared
 * between the addresses a name has); a tunnel or request idle for 10
 * minutes is cut; 64 KiB buffered each way per connection, and bodies that
 * need no parsing (tunnels, Content-Length) relayed by splice(2) through
 * pipes. Tests shorten the timeouts with the environment variables
 * AIRLOCK_PROXY_HEADER_MS, AIRLOCK_PROXY_CONNECT_MS, AIRLOCK_PROXY_IDLE_MS
 * (read by proxy_start).
 *
 * Caveats: each plain HTTP request goes upstream on a connection of its
 * own (with "Connection: close"): the client's connection stays alive,
 * the server's does not. Upgrade (WebSocket over plain http://) is
 * refused; https goes through CONNECT and is never looked into. Redirects
 * are relayed, never followed. Names are looked up without the search
 * domains of resolv.conf. The log has whole seconds ("time"); events from
 * proxy_event_take have milliseconds.
 */
#define PROXY_LOG "net.log"        /* in the session's directory */
#define PROXY_HEAD_MAX 16384
#define PROXY_HEAD_LINES 100
#define PROXY_CONNS_MAX 256
#define PROXY_EVENTS_MAX 1000
struct proxy;
enum proxy_kind {
	PROXY_HTTP,
	PROXY_SOCKS5,
};
struct proxy_event {         /* one finished (or refused) connection */
	int64_t start;           /* unix ms */
	int64_t duration_ms;
	char *host;              /* as the client asked, lower-cased, no
	                          * trailing dot, "[V6]"; NULL: unknown */
	uint16_t port;
	int allowed;             /* the allow-list let it through */
	const char *via;         /* "connect", "http", "socks5" */
	char *why;               /* refusal or error, NULL when all went well */
	uint64_t sent, received; /* bytes client->server, server->client */
};
/*
 * Starts the proxy's thread. allow: nallow allow entries (normalised again
 * here; there may be none). log_path: the file each event is appended to
 * as a JSON line (created 0600), or NULL. Returns the proxy, or NULL with
 * *cause (a bad entry, the log file, no thread).
 */
struct proxy *proxy_start(char *const *allow, size_t nallow,
    const char *log_path, char **cause);
/* Hands a listening socket (which the proxy then owns and closes) to the
 * thread; thread-safe. 0, or -1 with *cause when fd is not a listening
 * stream socket (fd is closed all the same). */
int proxy_listen(struct proxy *, int fd, enum proxy_kind, char **cause);
/* Adds an allow entry for the rest of the session; thread-safe. 0, or -1
 * with *cause when the entry is bad. */
int proxy_allow(struct proxy *, const char *entry, char **cause);
/* Readable while events wait. */
int proxy_event_fd(const struct proxy *);
/* 1 and the oldest waiting event in *ev (free it with proxy_event_free),
 * or 0 when none waits; call it until 0. At most PROXY_EVENTS_MAX wait:
 * beyond, the oldest are dropped (the log file has them). Thread-safe. */
int proxy_event_take(struct proxy *, struct proxy_event *);
void proxy_event_free(struct proxy_event *);
/* Closes every connection (logged "proxy stopped") and listening socket,
 * joins the thread and frees the proxy. NULL is fine. */
void proxy_stop(struct proxy *);
/*
 * 1 when an allow entry lets a client reach host:port. host is as a client
 * wrote it: compared without case and without a trailing dot; a name that
 * is an IPv4 number in any form inet_aton(3) takes (127.1, 0x7f.1) and
 * "[V6]" are IP literals, which only an entry naming the same address
 * allows. An entry without a port allows 80 and 443; *.NAME allows every
 * name below NAME, not NAME itself.
 */
int proxy_match(char *const *allow, size_t n, const char *host,
    uint16_t port);
/* The host at s (len bytes) as a client wrote it, checked: a name
 * (letters, digits, '-', '_', dots; labels of 1-63 bytes, 253 in all) or
 * an IPv4 number, lower-cased without a trailing dot, or "[V6]" for an
 * IPv6 literal in brackets. NULL when it is neither. */
char *proxy_host_normalise(const char *s, size_t len);

/* proxy-http.c: HTTP/1.x heads and message lengths for the proxy */
enum proxy_frame_kind {
	PROXY_FRAME_EMPTY,       /* no body */
	PROXY_FRAME_LENGTH,      /* Content-Length */
	PROXY_FRAME_CHUNKED,     /* Transfer-Encoding: chunked */
	PROXY_FRAME_CLOSE,       /* until the sender closes */
};
struct proxy_frame {
	enum proxy_frame_kind kind;
	uint64_t left;           /* bytes left (of the body, or of a chunk) */
	int state;               /* where in the chunked syntax */
	size_t line;             /* bytes of the current chunk line or trailer */
	int done;                /* the message is complete */
};
void proxy_frame_init(struct proxy_frame *, enum proxy_frame_kind,
    uint64_t length);
/* How many of the n bytes at p belong to the message: all of them until it
 * ends, when done is set. -1 when the chunked syntax is wrong (or a chunk
 * line or the trailer is over PROXY_HEAD_MAX). O(1) per chunk of data. */
ssize_t proxy_frame_scan(struct proxy_frame *, const char *p, size_t n);
struct proxy_request {
	int connect;             /* CONNECT: a tunnel to host:port */
	char *host;              /* proxy_host_normalise's */
	uint16_t port;
	int keep_alive;          /* the client may send another request */
	int head_only;           /* HEAD: the response has no body */
	struct proxy_frame body;
	struct buf head;         /* plain HTTP: the head as it goes upstream
	                          * (origin-form, Host from the URI, no
	                          * Proxy-* or hop-by-hop fields,
	                          * "Connection: close") */
};
void proxy_request_init(struct proxy_request *);
void proxy_request_free(struct proxy_request *);
/*
 * Parses the request head at the start of the n bytes at p (empty lines
 * before it are skipped). Returns the bytes it took (>0), 0 when it is not
 * all there yet, or -1 with *status (400, 431, 501 or 505) and *why (one
 * line, no "airlock: ") when it is garbage, longer than PROXY_HEAD_MAX or
 * PROXY_HEAD_LINES lines, or no proxy request (no absolute http:// URI).
 */
int proxy_request_parse(const char *p, size_t n, struct proxy_request *,
    int *status, char **why);
struct proxy_response {
	int status;
	int interim;             /* 1xx: the real response follows */
	int keep_alive;          /* the client connection carries on after */
	struct proxy_frame body;
	struct buf head;         /* as it goes to the client */
};
void proxy_response_init(struct proxy_response *);
void proxy_response_free(struct proxy_response *);
/* Parses a response head (at most max bytes) to a request that wanted
 * keep_alive, head_only for HEAD. Returns its length, 0 when it is not all
 * there yet, or -1 with *why. */
int proxy_response_parse(const char *p, size_t n, size_t max, int head_only,
    int keep_alive, struct proxy_response *, char **why);

/* proxy-log.c: events as JSON lines */
/* The event's line without its newline: {"time", "host", "port",
 * "allowed", "via", "why", "sent", "received", "duration_ms"}. */
void proxy_event_json(struct buf *, const struct proxy_event *);
/* Reads a log file strictly: lines that are not an event's object are
 * skipped and counted. Returns that count (0 or more) and the events in
 * *v (free each with proxy_event_free, then *v), or -1 with *cause when
 * the file cannot be read. */
int proxy_log_read(const char *path, struct proxy_event **v, size_t *n,
    char **cause);

/* plan-cache.c: the cache of the secret walk (see the file's comment) */
struct plan_cache_match {
	char *path;
	int is_dir;
};
struct plan_cache {
	struct plan_cache_match *matches;
	size_t nmatches;
	struct buf dirs;      /* encoded stamps of the directories read */
	size_t ndirs;
	int oldest_ok;        /* no directory changed too recently to trust */
	int truncated;        /* the walk stopped early: never cached */
};
void plan_cache_init(struct plan_cache *);
void plan_cache_free(struct plan_cache *);
void plan_cache_add_dir(struct plan_cache *, const char *path,
    const struct stat *);
void plan_cache_add_match(struct plan_cache *, const char *path, int is_dir);
/* 1 and the matches when file holds a walk for key whose directories are
 * all unchanged; 0 otherwise (missing, stale, corrupt). */
int plan_cache_load(struct plan_cache *, const char *file,
    const unsigned char key[HASH_LEN]);
/* Writes the cache (nothing when it cannot be trusted). 0 or -1. */
int plan_cache_save(const struct plan_cache *, const char *file,
    const unsigned char key[HASH_LEN], char **cause);
/* Only for tests: how old (seconds) a directory must be to be trusted; a
 * negative value trusts every directory. */
void plan_cache_set_settle(int seconds);

/* The mount plan the warden carries out, in order. */
enum plan_kind {
	PLAN_TREE,      /* overlay of the real tree with the scratch */
	PLAN_RO,        /* read-only bind of a host path */
	PLAN_RW,        /* read-write bind of a host path */
	PLAN_TMP,       /* overlay with a throwaway upper ($HOME by default) */
	PLAN_DENY_DIR,  /* empty read-only tmpfs over a directory */
	PLAN_DENY_FILE, /* empty read-only file over a file */
	PLAN_PRIVATE,   /* fresh tmpfs (/tmp) */
};
/*
 * Caveats for the warden: paths are canonical but for their last component;
 * a PLAN_DENY_FILE path may be a symlink (in the tree, or a dangling one):
 * mask the link itself and never follow it. An entry may lie below a deny
 * mask (a rule that uncovers one path, or the tree below a denied dir): its
 * mount point must be made inside the mask.
 */
struct plan_entry {
	enum plan_kind kind;
	char *path;      /* absolute path inside (and outside) the sandbox */
	char *origin;    /* the rule or default that caused it */
};
struct plan {
	struct plan_entry *v;
	size_t n;
	size_t hidden;   /* number of deny masks (the status line's "N hidden") */
	/* For plan_print only: rules that mount nothing (absent path, covered
	 * by a mask, no-op); origin ends in "; why". Never mounted. */
	struct plan_entry *skipped;
	size_t nskipped;
	int truncated;   /* the name pattern walk stopped at its entry limit */
};
/*
 * Builds the plan from the policy for the real tree: resolves patterns by a
 * depth-bounded walk of the tree (skipping .git and node_modules), drops
 * rules for paths that do not exist, always denies store_root, and orders
 * entries so that a path is mounted after its ancestors. 0 or -1.
 */
int policy_plan(const struct policy *, const char *tree, const char *home,
    const char *store_root, struct plan *, char **cause);
void plan_free(struct plan *);
/* Only for tests: the pattern walk's depth and entry limits (0: default,
 * 8 levels and 100000 entries). */
void policy_set_walk_limits(int depth, size_t entries);
/* The plan as airlock policy prints it (also /run/airlock/policy). */
void plan_print(struct buf *out, const struct policy *, const struct plan *);
/* The scrubbed environment for the agent (NULL-terminated, caller frees
 * with env_free). */
char **policy_environ(const struct policy *, char *const *envp);
void env_free(char **);

/* sandbox.c: the host side of the sandbox (checks, namespaces, id maps,
 * the warden's messages); warden*.c build and run the inside. */
#define SANDBOX_AGENT_SOCK "/run/airlock/agent.sock"
/* --net allow: the ports the proxy listens on inside (127.0.0.1, in the
 * sandbox's own network namespace, so any port is free there) */
#define SANDBOX_PROXY_HTTP 0
#define SANDBOX_PROXY_SOCKS5 1
#define SANDBOX_PROXY_HTTP_PORT 3128
#define SANDBOX_PROXY_SOCKS5_PORT 1080
struct rollback_op;
struct sandbox_config {
	const char *tree;        /* real tree (absolute) */
	const char *upper;       /* scratch upper dir */
	const char *work;        /* scratch work dir */
	const char *session_dir; /* for the staging directory */
	const char *cwd;         /* working directory inside (below tree) */
	const struct plan *plan;
	enum net_mode net;
	char *const *net_allow;  /* NET_ALLOW: the allow-list's entries */
	size_t nnet_allow;
	char *const *argv;       /* exact argv for execve */
	char *const *envp;
	const char *policy_text; /* shown at /run/airlock/policy */
	const char *agent_sock;  /* host path of the socket bound at
				    SANDBOX_AGENT_SOCK inside; NULL: none */
	int pty;                 /* 1: the agent's terminal is pty_slave (the
				    TUI's pty), in a session of its own;
				    0: airlock's own stdin/stdout/stderr */
	int pty_slave;
};
struct sandbox {
	pid_t warden;            /* in the host's pid namespace */
	int sock;                /* supervisor end of the socketpair */
	int sfd;                 /* signalfd of the relayed signals, or -1 */
	int unprivileged;        /* built in a user namespace */
	int single_id_map;       /* only the caller's own uid and gid are mapped
				    (no subordinate ids): copying up a file
				    owned by anyone else fails with EOVERFLOW */
	int tty_handed;          /* stdin's terminal was given to the agent */
	int pty;                 /* the agent runs on the TUI's pty */
	int exited;              /* the agent's end arrived while sandbox_apply
				    waited: sandbox_message reports it */
	int exit_status;
	int proxy_fd[2];         /* --net allow: the listening sockets inside
				    (SANDBOX_PROXY_HTTP, _SOCKS5), else -1 */
	struct proxy *proxy;     /* serving them (cmd-run.c), or NULL */
};
/*
 * Checks the kernel can build the sandbox: version >= 5.11, overlayfs,
 * user namespaces (when not root) and the AppArmor restriction. Returns 0 or
 * -1 with *cause naming what is missing and how to fix it.
 */
int sandbox_check(char **cause);
/*
 * sandbox_check with its inputs given (for tests): procdir stands for /proc,
 * moddir for /lib/modules, release for uname's release, euid for geteuid().
 */
int sandbox_check_at(const char *procdir, const char *moddir,
    const char *release, uid_t euid, char **cause);
/*
 * Forks the warden into new namespaces, maps ids, and lets it build the
 * mounts and start the agent. Returns 0 once the agent has been started, or
 * -1 with *cause (the warden's own error when setup failed inside).
 * Call it from the thread that will outlive the session (the warden's
 * PR_SET_PDEATHSIG follows the calling thread) before other threads exist.
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH are blocked from a
 * successful return until sandbox_release, and arrive on sb->sfd, so none is
 * lost; threads created meanwhile inherit the mask.
 */
int sandbox_start(const struct sandbox_config *, struct sandbox *, char **cause);
/*
 * The supervisor's side of the loop, for poll(2) on sb->sock and sb->sfd:
 * sandbox_message handles what the warden sent (a stop of the agent stops
 * airlock too, as sudo does, and resumes it on fg). Returns 1 when the agent
 * has exited (*status: its wait status), 0 to go on, -1 when the warden is
 * gone without a word. Check sb->exited before polling: sandbox_apply may
 * have read the agent's end already.
 */
int sandbox_message(struct sandbox *, int *status);
/* Passes every signal waiting on sb->sfd to the agent. */
void sandbox_relay(struct sandbox *);
/* The next signal waiting on sb->sfd (0: none), for a loop that handles
 * some itself (the TUI resizes on SIGWINCH), and sending one to the agent. */
int sandbox_signal_next(struct sandbox *);
void sandbox_signal_send(struct sandbox *, int sig);
/*
 * Has the warden apply one rollback operation to the merged view (fd: the
 * content of a ROLLBACK_FILE, else -1) and waits for its answer. 0, or -1
 * with *cause (the warden's reason, or that the command has exited).
 */
int sandbox_apply(struct sandbox *, const struct rollback_op *, int fd,
    char **cause);
/*
 * The same in two halves, so that several operations are in flight (the
 * warden applies one while the next is prepared): sandbox_apply_send sends
 * op (first: the first of a run; once an operation failed, the warden skips
 * the next until a first), sandbox_apply_wait waits for the answer to the
 * oldest one sent and not yet answered. 0, or -1 with *cause.
 */
int sandbox_apply_send(struct sandbox *, const struct rollback_op *, int fd,
    int first, char **cause);
int sandbox_apply_wait(struct sandbox *, char **cause);
/*
 * After a failed sandbox_apply: 1 when the agent has exited (its end read
 * now when it was still waiting), once the warden is reaped: the mounts are
 * gone then, and nothing but airlock changes the scratch (sandbox_end still
 * follows); 0 when the agent runs, or the warden went without a word.
 */
int sandbox_ended(struct sandbox *);
/*
 * Ends the sandbox after the agent exited (status: its wait status, -1 when
 * unknown): reaps the warden, closes sb->sock and takes the terminal back.
 * The signals stay blocked (so a Ctrl-C during the exit checkpoint is not
 * fatal) until sandbox_release, which drops the ones that came. Returns
 * status, or -1 with *cause when it was -1.
 */
int sandbox_end(struct sandbox *, int status, char **cause);
void sandbox_release(struct sandbox *);
/* The whole wait for a sandbox without control sockets: the loop over
 * sandbox_message and sandbox_relay, then sandbox_end and sandbox_release. */
int sandbox_wait(struct sandbox *, char **cause);
/* A subordinate id range of /etc/subuid or /etc/subgid. */
struct subid_range {
	unsigned long start;
	unsigned long count;
};
/*
 * Fills ranges (at most max) with the ranges that the subid file text gives
 * the user called name (or numbered id), minus id itself, which is mapped on
 * its own. Bad lines are skipped. Returns the number of ranges.
 */
size_t sandbox_subid_ranges(const char *text, size_t len, const char *name,
    unsigned long id, struct subid_range *ranges, size_t max);

/* warden.c: PID 1 inside the sandbox (runs in the forked child only)
 *
 * The supervisor and the warden talk over a SOCK_SEQPACKET socketpair, one
 * struct warden_msg a packet (text sent only as long as needed), except
 * WARDEN_APPLY, whose header is followed by a rollback_op_encode record.
 */
enum warden_msg_type {
	WARDEN_GO = 1,     /* to the warden: ids mapped; value 1: the agent
			      gets the terminal */
	WARDEN_SIGNAL,     /* to the warden: value: a signal for the agent */
	WARDEN_CONTINUE,   /* to the warden: resume the agent's stopped
			      process group; value 1: give it the terminal */
	WARDEN_STARTED,    /* from the warden: the agent was forked */
	WARDEN_ERROR,      /* from the warden: text: why the setup failed */
	WARDEN_STOPPED,    /* from the warden: value: the agent's stop signal */
	WARDEN_EXITED,     /* from the warden: value: the agent's wait status */
	WARDEN_APPLY,      /* to the warden: one rollback operation; a file's
			      content comes along as a descriptor. Several
			      may be in flight, answered in order; once one
			      failed the next are skipped (answered failed)
			      until one with value WARDEN_APPLY_FIRST */
	WARDEN_APPLIED,    /* from the warden: value 0 done, -1 failed (text:
			      why) */
	WARDEN_LISTEN,     /* from the warden (--net allow), before STARTED:
			      value: SANDBOX_PROXY_HTTP or _SOCKS5; a socket
			      listening on 127.0.0.1 in the sandbox's
			      network comes along as a descriptor */
};
/* WARDEN_APPLY's value: the first operation of a run of them */
#define WARDEN_APPLY_FIRST 1
struct warden_msg {
	int type;
	int value;
	char text[1024];   /* always NUL-terminated once received */
};
NORETURN void warden_main(const struct sandbox_config *, int sock, int unprivileged);
/* Sends one message (text may be NULL). 0, or -1 with errno set. */
int warden_send(int sock, int type, int value, const char *text);
/* Receives one message: 1, 0 when the peer is gone, -1 with errno set
 * (EPROTO for a short packet). */
int warden_recv(int sock, struct warden_msg *);
/* A message with a descriptor (SCM_RIGHTS), and its receiving end: *fd
 * is the descriptor that came along, else -1. As warden_send and
 * warden_recv. */
int warden_send_fd(int sock, int type, int value, int fd);
int warden_recv_fd(int sock, struct warden_msg *, int *fd);
/* Sends a WARDEN_APPLY packet for op, with fd (unless -1) as SCM_RIGHTS;
 * first: the first of a run (WARDEN_APPLY_FIRST). 0, or -1 with errno set
 * (EMSGSIZE: the op does not fit a packet). */
int warden_send_op(int sock, const struct rollback_op *, int fd, int first);
/* close(2) for __attribute__((cleanup)): closes *fd unless it is -1. */
void warden_closep(int *fd);
#define AUTOCLOSE __attribute__((cleanup(warden_closep)))

/* warden-mounts.c: the new root, built from host paths before pivot_root */
/*
 * Builds every mount of the sandbox (a read-only copy of /, then the plan,
 * then /proc, /dev and /run with the policy and agent.sock) and pivots into
 * it. *lower is left an O_PATH fd of the real tree as it lies under the
 * overlay, taken before anything covers it (the warden's way back to the
 * real files for a rollback; never the agent's). 0 or -1 with *cause.
 */
int warden_build(const struct sandbox_config *, int userns, int *lower,
    char **cause);
/*
 * The overlayfs mount options for one layer stack, each path escaped (\ ,
 * and :) for the kernel's option parser; index, redirects and metacopy are
 * off so the upper dir holds only files, whiteouts and opaque markers.
 */
void warden_overlay_options(struct buf *out, const char *lower,
    const char *upper, const char *work, int userxattr);

/* warden-readonly.c: read-only remounts of mount subtrees */
/*
 * Makes the mount fd holds open, and every mount below it, read-only,
 * keeping the flags the kernel locks. root names the new root in messages
 * (paths are shown as the agent will see them). 0 or -1.
 */
int warden_readonly(const char *root, int fd, char **cause);
/*
 * Parses one line of /proc/self/mountinfo in place: the mount id, its
 * parent's id and the mount point (octal escapes decoded). 0 or -1.
 */
int warden_mountinfo_parse(char *line, int *id, int *parent,
    char **mountpoint);

/* warden-agent.c: the agent, between fork and execve */
/* Drops capabilities, sets no_new_privs and the seccomp filter, closes every
 * inherited descriptor, and runs cfg->argv; exits 126 or 127 on failure. */
NORETURN void warden_agent(const struct sandbox_config *, int tty);
/* Closes every descriptor but 0, 1, 2 and keep (-1: none). */
void warden_close_fds(int keep);

/* warden-apply.c: a rollback operation carried out on the merged view */
/*
 * Applies op below root (the merged tree) without ever following a
 * symlink, crossing a mount or leaving root: parents are opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV), files,
 * links, fifos and sockets are made as a temporary and renamed into place,
 * and a directory is only removed when the plan says so. fd holds a
 * ROLLBACK_FILE's content; lower is the real tree for ROLLBACK_LOWER.
 * 0, or -1 with *cause naming the path.
 */
int warden_apply(int root, int lower, const struct rollback_op *, int fd,
    char **cause);

/* changes.c
 *
 * The changes of a session, from its scratch upper dir alone: walks upper,
 * looks up each path in the real tree (never walks the real tree, except the
 * lower side of an opaque directory to list what it deleted).
 */
enum entry_type {
	ENTRY_NONE,
	ENTRY_FILE,
	ENTRY_DIR,
	ENTRY_SYMLINK,
	ENTRY_SPECIAL,  /* fifo, socket or device: never promoted */
};
enum change_kind {
	CHANGE_ADDED,
	CHANGE_MODIFIED,   /* content (and maybe mode) */
	CHANGE_DELETED,
	CHANGE_TYPE,       /* file <-> symlink <-> directory */
	CHANGE_MODE,       /* mode only */
};
struct change {
	char *path;        /* relative to the tree; any bytes but NUL */
	size_t pathlen;
	enum change_kind kind;
	enum entry_type old_type, new_type;
	mode_t old_mode, new_mode;   /* full st_mode; 0 when absent */
	off_t old_size, new_size;
	/*
	 * Where each side's content is, for changes between checkpoints
	 * (turn.c): an entry of a manifest the caller keeps until the changes
	 * are freed. NULL: the real tree for the old side; for the new side
	 * the scratch, or the real tree when new_in_tree is set.
	 */
	const struct mentry *old_entry, *new_entry;
	int new_in_tree;
};
struct changes {
	struct change *v;
	size_t n;
};
/*
 * Lists the changes of upper over tree, sorted by path (bytewise). A
 * directory is listed only when it is added empty, deleted, or its mode or
 * type changed; files below are listed one by one. Returns 0 or -1.
 */
int changes_scan(const char *upper, const char *tree, struct changes *,
    char **cause);
void changes_free(struct changes *);
/* 'A', 'M', 'D', 'T' (mode-only changes print 'M'). */
char change_letter(const struct change *);
/* "added", "modified", "deleted", "type", "mode". */
const char *change_name(const struct change *);
/* 1 when the path is risky to promote (design §5). */
int change_is_risky(const struct change *);

/* diff.c: git's unified format through libgit2 (with hunk.c, the only
 * libgit2 users) */
#ifdef LIBGIT2_VERSION
#include <git2/sys/hashsig.h>
/*
 * libgit2 is not linked (what it links would cost every command its
 * loading): diff_init dlopen()s GIT2_SONAME on first use and fills diff_git
 * with the functions diff.c and hunk.c call, through it, as in
 * diff_git.git_patch_free(patch). Only they include <git2.h>, before this.
 */
struct git_api {
	__typeof__(git_libgit2_init)		*git_libgit2_init;
	__typeof__(git_libgit2_version)		*git_libgit2_version;
	__typeof__(git_error_last)		*git_error_last;
	__typeof__(git_odb_hash)		*git_odb_hash;
	__typeof__(git_oid_nfmt)		*git_oid_nfmt;
	__typeof__(git_oid_equal)		*git_oid_equal;
	__typeof__(git_diff_options_init)	*git_diff_options_init;
	__typeof__(git_patch_from_buffers)	*git_patch_from_buffers;
	__typeof__(git_patch_num_hunks)		*git_patch_num_hunks;
	__typeof__(git_patch_get_hunk)		*git_patch_get_hunk;
	__typeof__(git_patch_get_line_in_hunk)	*git_patch_get_line_in_hunk;
	__typeof__(git_patch_free)		*git_patch_free;
	__typeof__(git_merge_file_input_init)	*git_merge_file_input_init;
	__typeof__(git_merge_file_options_init)	*git_merge_file_options_init;
	__typeof__(git_merge_file)		*git_merge_file;
	__typeof__(git_merge_file_result_free)	*git_merge_file_result_free;
	__typeof__(git_hashsig_create)		*git_hashsig_create;
	__typeof__(git_hashsig_compare)		*git_hashsig_compare;
	__typeof__(git_hashsig_free)		*git_hashsig_free;
};
extern struct git_api diff_git;
#endif
struct diff_side {
	enum entry_type type;
	mode_t mode;
	const char *data;   /* content, or link target; NULL when absent */
	size_t len;
};
struct diff_stat {
	size_t added, deleted;
	int binary;
};
/*
 * Appends the git diff of one path (old -> new) to out: the "diff --git"
 * header with mode lines and index line, then hunks, or "Binary files ...
 * differ". A directory side counts as absent. Fills *stat when not NULL.
 * Returns the number of hunks, or -1 with *cause.
 */
int diff_sides(struct buf *out, const char *path, size_t pathlen,
    const struct diff_side *old, const struct diff_side *new,
    struct diff_stat *stat, char **cause);
/* Reads both sides of a change (from tree, upper, or the store for sides
 * that come from checkpoint entries) and diffs them. st may be NULL when no
 * side comes from an entry. */
int diff_change(struct buf *out, const struct change *, const char *tree,
    const char *upper, struct store *st, struct diff_stat *stat, char **cause);
/* Reads the content of dir/rel without following symlinks anywhere in rel
 * (the link target for a symlink). NULL with *cause on error. */
char *diff_read(const char *dir, const char *rel, enum entry_type,
    size_t *len, char **cause);
/* For hunk.c, so that its hunks are numbered as diff_sides prints them:
 * libgit2 loaded and set up once (0 or -1 with *cause), git's binary test
 * (a NUL in the first 8000 bytes), and the libgit2 patch of old -> new made
 * with diff_sides' options (0, or -1 with *cause; free it with
 * diff_git.git_patch_free). */
struct git_patch;
int diff_init(char **cause);
int diff_is_binary(const char *, size_t);
int diff_patch(struct git_patch **, const char *old, size_t oldlen,
    const char *new, size_t newlen, char **cause);
/* The lines of a patch for a view, one call each, in order: hunk
 * headers, then their lines. */
enum diff_line_kind {
	DIFF_LINE_HUNK,       /* "@@ -1,3 +1,4 @@ context" */
	DIFF_LINE_CONTEXT,
	DIFF_LINE_ADD,
	DIFF_LINE_DEL,
	DIFF_LINE_NOEOL,      /* the line before has no newline */
};
struct diff_line {
	enum diff_line_kind kind;
	const char *text;     /* without its newline */
	size_t len;
	uint32_t old_no, new_no;  /* 0 when the side has none */
	size_t hunk;          /* from 1 */
};
typedef void (*diff_line_fn)(const struct diff_line *, void *arg);
/*
 * Calls fn for each line of the patch of old -> new (either may be NULL:
 * empty) with context lines (0-1000) and, with ignore_ws, whitespace
 * changes ignored (git diff -b). With 3 and 0 it is diff_sides' patch,
 * hunks numbered alike. 0, or -1 with *cause.
 */
int diff_walk(const char *old, size_t oldlen, const char *new, size_t newlen,
    int context, int ignore_ws, diff_line_fn fn, void *arg, char **cause);
/* Similarity signatures of contents (libgit2's, as git's rename detection
 * uses): NULL when libgit2 cannot be loaded or refuses the content. */
struct diff_sig;
struct diff_sig *diff_sig_create(const char *, size_t);
/* 0 (nothing alike) to 100. */
int diff_sig_compare(const struct diff_sig *, const struct diff_sig *);
void diff_sig_free(struct diff_sig *);
/* One side of a change read as diff_change reads it (new_side 0: the old
 * one): a file's content or a link's target. NULL with *cause. */
char *diff_change_side(const struct change *, int new_side, const char *tree,
    const char *upper, struct store *st, size_t *len, char **cause);

/* hunk.c: the hunks of a text change, applying some of them, three-way
 * merges (libgit2, like diff.c)
 *
 * Hunk numbers are 1..n in the order diff_sides prints them for the same
 * two contents, and diff_sides shows each number on its hunk's header line
 * after the second "@@" ("@@ -1,3 +1,4 @@ hunk 1"), which `git apply`
 * ignores.
 */
struct hunk {
	size_t old_start, old_lines;   /* as on the @@ line */
	size_t new_start, new_lines;
	size_t added, deleted;         /* lines */
};
struct hunks {
	struct hunk *v;
	size_t n;
	int binary;                    /* no hunks: a binary change */
};
/* The hunks of old -> new (either may be NULL: empty). 0 or -1. */
int hunks_compute(const char *old, size_t oldlen, const char *new,
    size_t newlen, struct hunks *, char **cause);
void hunks_free(struct hunks *);
/*
 * old with only the hunks of old -> new whose pick[i] is set (i from 0 for
 * hunk 1; npick must equal the number of hunks) applied, into out (reset
 * first). pick all: new; pick none: old. Line endings and a last line
 * without a newline come out as in whichever side each line comes from.
 * -1 with *cause when npick is wrong or the change is binary.
 */
int hunks_apply(const char *old, size_t oldlen, const char *new,
    size_t newlen, const unsigned char *pick, size_t npick, struct buf *out,
    char **cause);
/*
 * hunks_apply where a hunk picked APPROVAL_PICK_LINES takes only some of
 * its lines: lines[k] (nlines: every added and deleted line of the change,
 * in patch order) set takes added line k and drops deleted line k; an
 * unpicked deletion stays, an unpicked addition is left out, context is
 * copied. A line left without its newline by the end of a side gets one
 * when a line follows it. lines may be NULL when no hunk is picked in part.
 */
int hunks_apply_lines(const char *old, size_t oldlen, const char *new,
    size_t newlen, const unsigned char *pick, size_t npick,
    const unsigned char *lines, size_t nlines, struct buf *out, char **cause);
/* A three-way merge of text files (git_merge_file): base, ours (the real
 * tree now) and theirs (the scratch); the labels name the sides in
 * conflict markers. Returns 0 when clean (out holds the merge), 1 when it
 * conflicts (out holds the merge with git's conflict markers), -1 with
 * *cause (binary content: "cannot merge a binary file"). favor: 0 none,
 * 1 ours, 2 theirs (resolve conflicting regions to that side), with
 * MERGE3_DIFF3 or'd in for markers that show the base too (diff3). */
#define MERGE3_DIFF3 0x100
int merge3(const char *base, size_t baselen, const char *ours,
    size_t ourslen, const char *theirs, size_t theirslen, const char *path,
    int favor, struct buf *out, char **cause);

/* turn.c: changes between two states of a session
 *
 * A state is the real tree with a checkpoint's manifest laid over it, or the
 * real tree alone (TURN_REAL). The changes come from the two manifests; the
 * real tree is read only where a manifest replaced or deleted a directory
 * (to list what went) and to compare content that one side takes from it.
 */
#define TURN_REAL CKPT_NONE
struct session;
struct turn {
	struct manifest from, to;   /* empty for TURN_REAL */
	struct changes changes;
};
/* Loads both manifests and computes the changes from checkpoint a to b of
 * the session (a may be TURN_REAL). 0, or -1 with *cause. */
int turn_changes(struct store *, uint32_t owner, uint32_t a, uint32_t b,
    const char *tree, struct turn *, char **cause);
void turn_free(struct turn *);
/* The changes a command shows: the total (real tree to scratch) unless a
 * range was given (--turn N, --from A --to B, --at N). */
struct turn_range {
	int set;
	uint32_t from, to;    /* to: CKPT_NONE until parsed (the newest) */
};
/* Parses a checkpoint number; -1 when arg is not one. */
int turn_parse_number(const char *arg, uint32_t *out);
struct cmd_entry;
/* The --turn N, --from A and --to B options (getopt's c: 't', 'f', 'T')
 * of the commands that show a range, into r: 0, or cmd_usage's status. */
int turn_range_option(struct turn_range *, int c, const char *arg,
    const struct cmd_entry *);
/* After the options: 0, or cmd_usage's status when they do not fit. */
int turn_range_done(const struct turn_range *, const struct cmd_entry *);
struct changeset {
	struct turn turn;
	struct changes scan;
	struct changes *changes;  /* the one in use */
	struct store *store;      /* for sides in checkpoints; NULL: total */
	char *upper;
};
/* Loads the changes of session s for range (unset: the total). 0 or -1. */
int changeset_load(struct changeset *, struct store *, const struct session *,
    const struct turn_range *, char **cause);
void changeset_free(struct changeset *);

/* tree.c: finding the real tree */
/* The git top-level of dir, else dir itself (absolute, no symlinks). */
char *tree_find(const char *dir, char **cause);
/* A path argument (absolute, or relative to the cwd) as a path relative
 * to tree ("" for the tree itself), resolved lexically; NULL with *cause
 * when it lies outside. */
char *tree_relative(const char *tree, const char *arg, char **cause);

/* session.c */
enum session_state {
	SESSION_RUNNING,
	SESSION_EXITED,
	SESSION_CRASHED,
};
struct session {
	uint32_t id;
	char *name;
	char *tree;
	char **argv;          /* NULL-terminated */
	int64_t started;      /* unix seconds */
	int64_t ended;        /* 0 while running */
	enum session_state state;
	int exit_status;      /* the shell's convention: 128+N for signal N */
	enum net_mode net;
	char *dir;            /* store/sessions/<id> */
	int lock_fd;          /* held while this process runs the session */
};
/* Creates and records a new session (state running), makes its scratch. */
int session_create(struct store *, const char *name, const char *tree,
    char *const *argv, enum net_mode, struct session **, char **cause);
/*
 * Finds a session by id or name (NULL: the newest). A session recorded as
 * running whose lock is free is reported as crashed. 0, or -1 with *cause
 * ("no session NAME", "no sessions yet for TREE").
 */
int session_find(struct store *, const char *which, struct session **, char **cause);
/* All sessions, oldest first. */
int session_list(struct store *, struct session ***, size_t *, char **cause);
int session_save(struct store *, struct session *, char **cause);
/* Takes the session's run lock; -1 with *cause when another airlock runs it. */
int session_lock(struct session *, char **cause);
/* Removes the scratch and the record; refuses while the session runs. */
int session_discard(struct store *, struct session *, char **cause);
void session_free(struct session *);
char *session_upper(const struct session *);
char *session_work(const struct session *);
const char *session_state_name(const struct session *);
/* The number of changes in the session's scratch, or -1 when it cannot be
 * read (list and discard show it; the cause does not matter there). */
long session_count_changes(const struct session *);

/* cmd.c: the command table (one entry per cmd-*.c file) */
struct cmd_entry {
	const char *name;
	const char *usage;     /* after "airlock NAME " */
	const char *summary;   /* one line for --help */
	const char *help;      /* the full text of airlock help NAME */
	int (*exec)(int argc, char **argv);  /* argv[0] is the command name */
};
extern const struct cmd_entry *cmd_table[];
const struct cmd_entry *cmd_find(const char *name);
/* Prints "airlock: NAME: MSG" and the usage line, returns EXIT_USAGE. */
int cmd_usage(const struct cmd_entry *, const char *fmt, ...) PRINTFLIKE(2, 3);

/* context.c: what most commands start with */
struct context {
	char *tree;
	char *store_root;
	struct store *store;
};
/* Finds the real tree (dir, or the cwd when NULL) and opens its store.
 * create: make the store when missing. 0, or -1 with the error printed. */
int context_open(struct context *, const char *dir, int create);
/* context_open, then the session named which (NULL: the newest); errors are
 * printed as "airlock: WHAT: ..." and leave the context closed. 0 or -1. */
int context_session(struct context *, const char *dir, const char *which,
    const char *what, struct session **);
void context_close(struct context *);


/* beneath.c: paths below a directory fd that never leave it */
/*
 * Opens path (relative, NUL-terminated, any length) below rootfd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV): no symlink is followed and no mount crossed, the last
 * component included. "" opens rootfd itself. The fd, or -1 with errno
 * (ELOOP: a symlink on the way, EXDEV: a mount, ENOTDIR, ENOENT).
 */
int beneath_open(int rootfd, const char *path, int flags);
/* Opens the directory holding path (O_PATH) the same way; *name points at
 * path's last component. The fd, or -1 with errno. */
int beneath_parent(int rootfd, const char *path, const char **name);

/* session-checkpoint.c: checkpoints of a session's scratch
 *
 * The one place that takes a checkpoint for a session (start, exit, user,
 * agent, rollback): it blocks until the checkpoint is committed. The TUI
 * runs it in a worker thread; it touches nothing but the store.
 */
/*
 * Checkpoints s's scratch (upper, with the real tree as lower) with the
 * reason, label, force and restored_from of opts. Returns 0 with *number
 * the new checkpoint, 1 when nothing changed (*number: the newest), or -1
 * with *cause. *note (when note is not NULL) is set to what could not be
 * recorded fully, or NULL.
 */
int session_checkpoint(struct store *, const struct session *,
    const struct ckpt_options *, uint32_t *number, char **note,
    char **cause);
/* The newest checkpoint of s: 0, 1 when it has none, -1. */
int session_checkpoint_newest(struct store *, const struct session *,
    uint32_t *number, char **cause);
/* The zstd workers a checkpoint may use (0: none). */
int session_checkpoint_threads(void);

/* control.c: the line protocol of ctl.sock and agent.sock (design §2)
 *
 * A client connects, writes one request line and reads one answer line:
 *   checkpoint [LABEL]\n  -> ok N | unchanged N | error WHY
 *   status\n              -> ok N (the newest checkpoint)
 *   rollback N\n          -> ok M (M: the checkpoint that records it);
 *                            ctl.sock only
 *   reject HUNKS PATH\n   -> ok M | unchanged M (M: the checkpoint after
 *                            it); ctl.sock only. HUNKS is "-" (the whole
 *                            path) or hunk numbers "1,3"; PATH is the
 *                            relative path in lowercase hex (any byte but
 *                            NUL), without empty, "." or ".." components
 * agent.sock is written by the agent: requests are bounded (CONTROL_LINE_MAX
 * bytes with the newline), parsed strictly, rate limited, and a client gets
 * CONTROL_TIMEOUT_MS to send its line; at most CONTROL_MAX_CONNS
 * connections per socket are served at once.
 */
#define CONTROL_LINE_MAX 4096
#define CONTROL_LABEL_MAX 256
#define CONTROL_MAX_CONNS 8
#define CONTROL_TIMEOUT_MS 2000
#define CONTROL_BURST 5            /* agent checkpoints at once, then */
#define CONTROL_REFILL_MS 1000     /* one more per this many ms */
#define CONTROL_POLLFDS (2 + 2 * CONTROL_MAX_CONNS)
#define CONTROL_HUNK_MAX 1000000   /* the highest hunk number of a reject */
enum control_verb {
	CONTROL_CHECKPOINT,
	CONTROL_STATUS,
	CONTROL_ROLLBACK,
	CONTROL_REJECT,
};
struct control_request {
	enum control_verb verb;
	char *label;       /* checkpoint: NULL when none */
	uint32_t number;   /* rollback */
	char *path;        /* reject: decoded, NUL-terminated */
	size_t *hunks;     /* reject: hunk numbers; NULL: the whole path */
	size_t nhunks;
};
/*
 * Parses one request line (len bytes, without its newline). from_agent:
 * the line came on agent.sock, where only checkpoint and status exist.
 * On -1 nothing is left to free.
 * 0, or -1 with *cause (the answer's WHY).
 */
int control_parse(const char *line, size_t len, int from_agent,
    struct control_request *, char **cause);
void control_request_free(struct control_request *);
/* 0 when label is one line of UTF-8 text of 1 to CONTROL_LABEL_MAX bytes
 * without control characters, else -1 with *cause. */
int control_label_check(const char *label, size_t len, char **cause);
enum control_status {
	CONTROL_OK,
	CONTROL_UNCHANGED,
	CONTROL_FAILED,
};
struct control_reply {
	enum control_status status;
	uint32_t number;   /* OK and UNCHANGED */
	char *why;         /* FAILED */
};
/* Appends an answer line; why (FAILED) is cut to one line of text. */
void control_answer(struct buf *, enum control_status, uint32_t number,
    const char *why);
/* Parses an answer line (without its newline). 0 or -1 with *cause. */
int control_reply_parse(const char *line, size_t len, struct control_reply *,
    char **cause);
void control_reply_free(struct control_reply *);
/* A token bucket: CONTROL_BURST at once, one more each CONTROL_REFILL_MS. */
struct control_bucket {
	int64_t tokens;    /* in milli-tokens */
	int64_t last_ms;
};
void control_bucket_init(struct control_bucket *, int64_t now_ms);
/* 1 when a request may go ahead now (and takes its token), else 0. */
int control_bucket_take(struct control_bucket *, int64_t now_ms);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t control_now(void);
/*
 * Sends request (one line, newline included) to the socket at path and
 * reads the answer, waiting as long as the server takes. 0 with *reply,
 * 1 when nobody listens there (no socket, or a stale one), -1 with *cause.
 */
int control_call(const char *path, const char *request,
    struct control_reply *, char **cause);
/* control_call on the ctl.sock of session s (in its directory). */
int control_session_call(const struct session *, const char *request,
    struct control_reply *, char **cause);
/* 1 inside a sandbox: SANDBOX_AGENT_SOCK is there and AIRLOCK_SESSION set. */
int control_inside(void);

/* control-server.c: serving ctl.sock and agent.sock from a poll(2) loop */
struct control_server;
struct pollfd;
/* Answers one parsed request into answer (with control_answer). */
typedef void (*control_fn)(const struct control_request *, int from_agent,
    struct buf *answer, void *arg);
/*
 * Listens on ctl_path (full control) and agent_path (the agent's), both
 * 0600 and non-blocking; stale sockets there are replaced. 0 or -1.
 */
int control_server_open(const char *ctl_path, const char *agent_path,
    struct control_server **, char **cause);
/* Removes both sockets and closes every connection. */
void control_server_close(struct control_server *);
/* Fills at most CONTROL_POLLFDS entries; returns how many. */
size_t control_server_pollfds(struct control_server *, struct pollfd *);
/* Milliseconds until the next connection times out, -1 when none. */
int control_server_timeout(const struct control_server *, int64_t now);
/* Serves what poll reported in pfd (as filled by control_server_pollfds):
 * accepts, reads, answers through fn, and drops clients past their time. */
void control_server_dispatch(struct control_server *, const struct pollfd *,
    control_fn fn, void *arg);
/*
 * Called from inside a control_fn (and nowhere else): the answer will come
 * later, through control_server_reply with the ticket returned. The client
 * waits meanwhile (no timeout runs for it; its slot stays taken).
 */
uint64_t control_server_defer(struct control_server *);
/* The deferred answer of ticket; nothing when that client is gone. */
void control_server_reply(struct control_server *, uint64_t ticket,
    enum control_status, uint32_t number, const char *why);

/* rollback.c: the live rollback plan (design §2, §4)
 *
 * The operations that make the merged view (the real tree with one
 * manifest laid over it) equal to the view of another manifest, changing
 * only what differs: a directory that exists in both is never removed and
 * made again (the agent's shell keeps its cwd). Per path p, the view of a
 * manifest m is m's entry for p (a whiteout: absent); else absent when an
 * ancestor in m is a whiteout, an opaque directory or not a directory; else
 * what the real tree has at p (never following a symlink).
 */
enum rollback_kind {
	ROLLBACK_REMOVE,   /* remove p, a whole tree when a directory */
	ROLLBACK_MKDIR,    /* make directory p (absent) with mode */
	ROLLBACK_CHMOD,    /* set p's permission bits to mode */
	ROLLBACK_FILE,     /* p becomes a file: blob hash, mode */
	ROLLBACK_SYMLINK,  /* p becomes a symlink to target */
	ROLLBACK_LOWER,    /* p becomes the real tree's p (a copy; a whole
			      tree for a directory, then absent before) */
	ROLLBACK_SPECIAL,  /* p becomes a fifo or a socket: mode is
			      S_IFIFO or S_IFSOCK | permission bits (never
			      a device) */
};
struct rollback_op {
	enum rollback_kind kind;
	char *path;        /* relative, NUL-terminated */
	uint32_t mode;     /* permission bits (07777); ROLLBACK_SPECIAL: and
			      the file type */
	unsigned char hash[HASH_LEN];
	char *target;      /* ROLLBACK_SYMLINK */
};
struct rollback_plan {
	struct rollback_op *v;
	size_t n;
};
/*
 * The operations that take the view of cur (over the real tree lower) to
 * the view of to, in an order that applies (parents first). Reads lower
 * (to compare contents and list the children that a directory's change
 * of opacity shows or hides). Fifos and sockets of to are made again;
 * devices, and the real tree's specials, are left alone. 0 or -1 with
 * *cause.
 *
 * bases (may be NULL) gives the base of a path (checkpoint_base): a real
 * file still as its base recorded it (inode, size, mtime and ctime) is
 * taken to hold the base's content, and is not read to be compared.
 */
struct rollback_bases {
	/* 0 and *e filled (mentry_free'd by the planner), 1 when none,
	 * -1 with *cause */
	int (*get)(void *arg, const char *path, struct mentry *e,
	    char **cause);
	void *arg;
};
int rollback_plan_make(const struct manifest *cur, const struct manifest *to,
    const char *lower, const struct rollback_bases *bases,
    struct rollback_plan *, char **cause);
void rollback_plan_free(struct rollback_plan *);
/* "remove", "mkdir", "chmod", "file", "symlink", "lower", "special". */
const char *rollback_kind_name(enum rollback_kind);
/* An op as a record (for the warden's socket), and back: the decoder
 * checks every field (a relative path without empty, "." or ".."
 * components; file type bits only on ROLLBACK_SPECIAL, and only those of
 * a fifo or a socket). */
void rollback_op_encode(struct buf *, const struct rollback_op *);
int rollback_op_decode(const void *, size_t, struct rollback_op *,
    char **cause);
void rollback_op_clear(struct rollback_op *);

/* rollback-session.c: rolling a session back to a checkpoint */
#define ROLLBACK_PROMOTE_LOCK "promote.lock"
/*
 * Takes <session dir>/promote.lock without waiting, so that no promotion
 * starts while the merged view changes under it. The fd holding it, or -1
 * with *cause ("a promotion of session N is in progress (or a rollback
 * or reject): VERB once it is done" when one holds it).
 */
int rollback_promote_lock(const struct session *, const char *verb,
    char **cause);
/*
 * Makes s's merged view equal checkpoint to: first checkpoints the current
 * state when it changed (reason "user", label "before rollback to N"), then
 * applies the plan through the warden (sb: the session runs here) or
 * restores the scratch (sb NULL: the caller holds the session's lock), then
 * appends a checkpoint (reason "rollback", restored_from to) and sets
 * *now to its number. When the command exits meanwhile, the rollback waits
 * for the sandbox to go and restores the scratch (the caller, the
 * supervisor, holds the session's lock), and the checkpoint's label says
 * "finished after the command exited". Refuses while <session dir>/promote.lock is locked by
 * a promotion, and holds that lock meanwhile. 0 or -1 with *cause.
 */
int rollback_session(struct store *, const struct session *,
    struct sandbox *sb, uint32_t to, uint32_t *now, char **cause);

/* reject.c: taking a change (or some of its hunks) out of a running
 * session's scratch */
/*
 * Rejects the change at path (relative, NUL-terminated; a path that
 * `airlock status` lists) of s, which runs here in sb: the warden makes the
 * merged view's path the real tree's again (a copy, or nothing where the
 * real tree has none; a directory whose mode alone changed only gets its
 * mode back), or with nhunks > 0 takes only those hunks (numbers from 1,
 * as `airlock diff` prints them) of the path's text change out, keeping
 * the scratch file's mode. Then checkpoints with the reason "reject" and
 * sets *now: 0, 1 when nothing changed (*now: the newest checkpoint), or
 * -1 with *cause ("no change there", a hunk past the last, not a text
 * change, the warden's reason, the command exited meanwhile). Holds
 * promote.lock meanwhile and refuses while a promotion holds it. An ended
 * session is rejected in its scratch by airlock reject itself.
 */
int reject_session(struct store *, const struct session *, struct sandbox *sb,
    const char *path, const size_t *hunks, size_t nhunks, uint32_t *now,
    char **cause);
/* Makes path (relative) of s, running in sb, a regular file with fd's
 * content and mode's permission bits (no setuid or setgid) through the
 * merged view, then checkpoints with the reason "edit" (the review's
 * $EDITOR). Same returns and lock as reject_session. */
int edit_session(struct store *, const struct session *, struct sandbox *sb,
    const char *path, int fd, mode_t mode, uint32_t *now, char **cause);

/* approval.c: approvals per file and hunk (design §5), in the store's
 * "approvals" database, bound to what they were given for
 *
 * A side's fingerprint is the SHA-256 of its type, permission bits and
 * content (a file's SHA-256, a link's target); a whole-file approval holds
 * the new side's, a hunk approval both sides' (hunk numbers depend on
 * both). When the agent changes the path again the approval lapses.
 */
struct approval {
	int whole;                     /* the whole change, else hunks */
	unsigned char new_fp[HASH_LEN];
	unsigned char old_fp[HASH_LEN];
	size_t nhunks;                 /* hunks of the change when given */
	unsigned char *pick;           /* nhunks values: 0, 1 hunk i+1
					  approved, APPROVAL_PICK_LINES some
					  of its lines (lines says which) */
	size_t nlines;                 /* the change's added + deleted
					  lines when a hunk is picked in
					  part, else 0 */
	unsigned char *lines;          /* nlines flags in patch order: line
					  approved (read for hunks picked in
					  part only) */
};
#define APPROVAL_PICK_LINES 2
enum approval_state {
	APPROVAL_NONE,
	APPROVAL_APPROVED,   /* the whole change, or all its hunks */
	APPROVAL_PARTIAL,    /* some hunks */
	APPROVAL_LAPSED,     /* given for content that changed since */
};
/* The fingerprint of one side (type ENTRY_NONE: absent). content is the
 * file's SHA-256 (files) or the link target (symlinks). */
void approval_fingerprint(enum entry_type, mode_t, const void *content,
    size_t len, unsigned char out[HASH_LEN]);
/* 0 and *a filled, 1 when the path has none, -1. */
int approval_get(struct store *, uint32_t owner, const char *path,
    size_t pathlen, struct approval *, char **cause);
int approval_put(struct store *, uint32_t owner, const char *path,
    size_t pathlen, const struct approval *, char **cause);
/* 0 when removed, 1 when there was none, -1. */
int approval_del(struct store *, uint32_t owner, const char *path,
    size_t pathlen, char **cause);
/* The same inside a write transaction the caller holds. */
int approval_del_txn(struct index_txn *, uint32_t owner, const char *path,
    size_t pathlen, char **cause);
/* Removes every approval of owner (a discarded session). */
int approval_forget(struct store *, uint32_t owner, char **cause);
void approval_free(struct approval *);
/* What a stored approval means for sides with these fingerprints (a NULL
 * a: none). *approved is the number of approved hunks (a hunk approved in
 * part is not, and makes the file APPROVAL_PARTIAL). */
enum approval_state approval_state_of(const struct approval *a,
    const unsigned char old_fp[HASH_LEN], const unsigned char new_fp[HASH_LEN],
    size_t nhunks, size_t *approved);
const char *approval_state_name(enum approval_state);
/* Both sides of a change: content in memory (files up to 64 MiB, link
 * targets; NULL otherwise), fingerprints, and the hunks of a text change
 * (text 0: a binary, type or huge change, approved whole only). */
struct change_sides {
	char *old, *new;
	size_t oldlen, newlen;
	unsigned char old_fp[HASH_LEN], new_fp[HASH_LEN];
	int text;
	struct hunks hunks;
	int no_hunks;      /* loaded without them (change_sides_load_text) */
};
int change_sides_load(const struct change *, const char *tree,
    const char *upper, struct store *, struct change_sides *, char **cause);
/* The same without the hunks (a diff less: the review's, when no approval
 * needs them); text then says what a binary test of each side says. */
int change_sides_load_text(const struct change *, const char *tree,
    const char *upper, struct store *, struct change_sides *, char **cause);
void change_sides_free(struct change_sides *);
/* The approval state of a change with those sides, (enum)-1 on error. */
enum approval_state change_approval(struct store *, uint32_t owner,
    const struct change *, const struct change_sides *, size_t *approved,
    char **cause);
/* What still holds of the stored approval of a text change with sides cs,
 * as hunk picks (a->nhunks is cs's): every hunk when it is approved, its
 * picks and lines when in part, none when it has none or it lapsed; a
 * gets cs's fingerprints. 0 or -1 with *cause. */
int approval_picks(struct store *, uint32_t owner, const struct change *,
    const struct change_sides *cs, struct approval *a, char **cause);
/* Approves (on 1) or withdraws (on 0) the lines changes[0..n) (indexes
 * among the added and deleted lines of cs's hunks, in patch order, from
 * 0) of a text change, on top of what holds: the whole change is
 * approved when every line is, the approval removed when none is. 0 or
 * -1 with *cause (not a text change, an index past the last line). */
int approval_set_lines(struct store *, uint32_t owner, const struct change *,
    const struct change_sides *cs, const uint32_t *changes, size_t n, int on,
    char **cause);

/* promote.c: promotion into the real tree (design §5)
 *
 * A promotion is planned whole from the newest checkpoint (taken first),
 * then recorded: the plan in "promotions" (number per session), the real
 * tree's state of every path it changes as pins of the session (content
 * stored as blobs), and an entry in "journal" that stays until the last
 * write is on disk. Contents are staged in a directory at the tree's root,
 * made durable with one syncfs, then renamed into place through directory
 * fds that never follow a symlink (beneath.c).
 */
#define PROMOTE_FAVOR_OURS 1      /* conflicts: keep the real tree's */
#define PROMOTE_FAVOR_THEIRS 2    /* conflicts: take the scratch's */
#define PROMOTE_CONFLICT 3        /* exit status: conflicts, nothing written */
#define PROMOTE_STAGE_PREFIX ".airlock-promote-"
struct promote_options {
	char *const *paths;       /* these paths and what is below them */
	size_t npaths;
	int all;                  /* every change */
	int approved;             /* approved changes and hunks */
	int include_risky;
	int dry_run;
	int skip_conflicts;
	int favor;                /* PROMOTE_FAVOR_* or 0 */
};
/*
 * Promotes the chosen changes of s. Returns 0 (done, or nothing to do),
 * PROMOTE_CONFLICT (conflicts listed in out, nothing written), or -1 with
 * *cause. out receives the report (one line per path, then a summary);
 * *number the promotion's number (0 when nothing was written).
 */
int promote_session(struct store *, const struct session *,
    const struct promote_options *, struct buf *out, uint32_t *number,
    char **cause);
/* Restores the real tree as it was before promotion number (0: the newest
 * not undone yet) of s; refuses (PROMOTE_CONFLICT, paths listed in out)
 * where the real tree changed since, unless force. 0, 3 or -1. */
int unpromote_session(struct store *, const struct session *,
    uint32_t number, int force, struct buf *out, char **cause);
/* Finishes promotions of the store that were interrupted (their journal
 * entry is there and no airlock holds their session's promote.lock);
 * reports what it did in out. 0 or -1. */
int promote_recover(struct store *, struct buf *out, char **cause);
/* Lists the promotions of s into out (promote --list). 0 or -1. */
int promote_list(struct store *, const struct session *, struct buf *out,
    char **cause);
/* The base of a path for three-way merges: what the real tree had when the
 * path first appeared in a checkpoint, or what airlock last promoted
 * there. 0, 1 when none, -1. */
int promote_base(struct store *, uint32_t owner, const char *path,
    size_t pathlen, struct mentry *, char **cause);
/* A conflict resolved by hand: the real tree's path as it is now becomes
 * its base, so that the next promotion writes the scratch's (resolved)
 * content as it is instead of merging again. 0 or -1. */
int promote_rebase(struct store *, const struct session *, const char *path,
    size_t pathlen, char **cause);
/* Whether promoting change ch (of the total: real tree to scratch) would
 * conflict: 0 no (the real tree is as its base, or there is none), 1 the
 * real tree changed but a three-way merge is clean, 2 it conflicts (a
 * merge with conflict markers, or the real tree changed shape or kind).
 * merged (may be NULL) receives the merge of a text file. -1 with *cause. */
int promote_check(struct store *, uint32_t owner, const struct change *ch,
    const char *tree, const char *upper, struct buf *merged, char **cause);

/* review.c: what the review pane shows (design §5, §7), without a screen
 *
 * The changes of a scope (the total, one turn, a range) as files with
 * marks, and the diff of one file as lines, made on demand and never for
 * files nobody looks at: opening 10,000 changed files reads no content
 * but what rename detection needs (added and deleted files of similar
 * size, bounded). Approvals are always of the total change of a path
 * (design §5); in a turn or range scope a file's state is its total's.
 */
#define REVIEW_RISKY 0x01      /* change_is_risky */
#define REVIEW_BINARY 0x02     /* known once its diff or state was made */
#define REVIEW_MODE 0x04       /* permission bits changed */
#define REVIEW_TYPE 0x08       /* file <-> symlink <-> directory */
#define REVIEW_RENAMED 0x10    /* an added path whose content came from
				  the deleted path from (rename detection) */
#define REVIEW_CONFLICT 0x20   /* promoting it conflicts (state known) */
#define REVIEW_MERGES 0x40     /* the real file changed; merges cleanly */
struct review_file {
	const struct change *ch;   /* in the review's changeset */
	const struct change *from; /* REVIEW_RENAMED: the deletion it pairs
				      with (listed on its own too) */
	int similarity;            /* REVIEW_RENAMED: 50-100 */
	unsigned marks;
	/* review_file_state fills these (and BINARY/CONFLICT/MERGES): */
	int state_known;
	enum approval_state approval;
	size_t nhunks, approved;   /* hunks of the total change; approved */
	/* the total's sides its last review_diff showed (line approvals
	 * are refused when they changed since) */
	int seen;
	unsigned char seen_old[HASH_LEN], seen_new[HASH_LEN];
};
struct review {
	struct store *st;
	const struct session *s;
	struct turn_range range;   /* unset: the total */
	struct changeset cs;
	struct review_file *v;     /* one per change, cs order (by path) */
	size_t n;
	size_t added, modified, deleted, risky;
	char *upper;
	/* a turn or range scope: the total's changes, scanned on demand */
	struct changes total;
	int total_loaded;
	/* what rename detection did: files read, pairs compared */
	size_t rename_reads, rename_compared;
	/* the sides review_file_state loaded last, for the review_diff
	 * that usually follows (file sides_file; taken by it) */
	struct change_sides sides;
	size_t sides_file;
	int have_sides;
};
/* Loads the files of range (NULL or unset: the total). 0 or -1. */
int review_load(struct review *, struct store *, const struct session *,
    const struct turn_range *range, char **cause);
void review_free(struct review *);
/* Moves the review src into dst (dst's old one freed; src left empty):
 * a review holds pointers into itself, so it is never copied. */
void review_move(struct review *dst, struct review *src);
/* Fills file i's approval state and conflict marks (reads its content;
 * cached until review_forget). 0 or -1 with *cause. */
int review_file_state(struct review *, size_t i, char **cause);
/* Forgets file i's cached state and diff (after an approval, a reject, a
 * promotion); (size_t)-1: every file's. */
void review_forget(struct review *, size_t i);
/* Only for tests: the most pairs rename detection compares (0: the
 * default, 10000). */
void review_set_rename_limit(size_t pairs);

enum review_line_type {
	REVIEW_LINE_NOTE,     /* "new file mode 100644", "renamed from x (92%)",
				 "binary: 12.0 KiB -> 14.1 KiB", ... */
	REVIEW_LINE_HUNK,     /* "@@ -1,3 +1,4 @@ context" */
	REVIEW_LINE_CONTEXT,
	REVIEW_LINE_ADD,
	REVIEW_LINE_DEL,
	REVIEW_LINE_NOEOL,    /* "\ No newline at end of file" */
};
struct review_span {          /* a changed part of a line (word level) */
	uint32_t start, len;      /* bytes of the line's text */
};
struct review_line {
	enum review_line_type type;
	size_t off, len;          /* its text in diff->text, no newline,
				     no +/-/space prefix */
	uint32_t old_no, new_no;  /* line numbers, 0 when the side has none */
	/*
	 * The hunk of the total change (1..nhunks, as `airlock diff` numbers
	 * them with 3 lines of context) this line belongs to, 0 for none;
	 * for ADD and DEL lines also its index among that change's added and
	 * deleted lines in patch order (what line approvals name), else
	 * REVIEW_NO_LINE. Whatever the view's context and whitespace options,
	 * these always refer to the total change's canonical patch.
	 */
	uint32_t hunk;
	uint32_t change;
	uint32_t span, nspan;     /* its word-level spans in diff->spans */
};
#define REVIEW_NO_LINE UINT32_MAX
struct review_opts {
	int context;              /* lines of context, 0-1000 (default 3) */
	int ignore_ws;            /* ignore whitespace changes */
};
struct review_diff {
	struct buf text;
	struct review_line *v;
	size_t n;
	struct review_span *spans;
	size_t nspans;
	size_t nhunks;            /* the total change's hunks (0: whole only) */
	size_t nchanges;          /* its added + deleted lines */
	int whole_only;           /* binary, type change, huge, a rename:
				     approved whole only */
	int preview;              /* review_diff_preview's: the heads of the
				     sides, nothing maps to the change */
};
/* The diff of file i in the review's scope with opts (NULL: defaults):
 * lines with numbers of both sides and word-level spans on paired
 * deleted/added lines; a binary file described (sizes, a guess of its
 * type), never dumped. 0 or -1 with *cause. */
int review_diff(struct review *, size_t i, const struct review_opts *,
    struct review_diff *, char **cause);
void review_diff_free(struct review_diff *);
/*
 * review_diff in steps, for a diff too big to make while keys wait:
 * review_diff_start reads what the diff needs (on the review's thread);
 * review_make_run makes it and may run on any thread: it reads nothing of
 * the review, only what start copied into the make;
 * review_diff_finish hands it over (0 or -1 with *cause: the make's
 * error) and frees the make, as review_make_free does. In between,
 * review_diff_preview gives a quick diff of the first `lines` lines of
 * each side (at most 256 KiB of each; preview set: no line maps to the
 * change, nothing to approve; cut where the heads' diff could differ from
 * the files'), review_make_size the bytes the diff reads, and
 * review_make_cancel (any thread) makes a run stop at its next step with
 * the error "cancelled".
 */
struct review_make;
int review_diff_start(struct review *, size_t i, const struct review_opts *,
    struct review_make **, char **cause);
size_t review_make_size(const struct review_make *);
int review_diff_preview(struct review *, size_t i, const struct review_make *,
    size_t lines, struct review_diff *, char **cause);
int review_make_run(struct review_make *);
void review_make_cancel(struct review_make *);
int review_diff_finish(struct review_make *, struct review_diff *,
    char **cause);
void review_make_free(struct review_make *);
/*
 * Approves (on 1) or withdraws (on 0) lines of file i's total change:
 * changes[] are REVIEW_LINE change indexes (n of them). A hunk whose
 * changed lines are all approved counts as approved; some of them: the
 * file is partly approved and promotion writes only those lines (an
 * unpicked deletion stays, an unpicked addition is left out).
 * review_approve_file: the whole change (on) or nothing (off).
 * 0 or -1 with *cause (the file changed since its diff was made: "the
 * file changed; look again").
 */
int review_approve_lines(struct review *, size_t i, const uint32_t *changes,
    size_t n, int on, char **cause);
int review_approve_file(struct review *, size_t i, int on, char **cause);
/* A conflicting file's three sides for display: base, the real tree's
 * (ours) and the scratch's (theirs) content, and their merge in diff3
 * style (conflict markers with the base between). 0 (no conflict: merged
 * is the clean merge), 1 (conflict), or -1 with *cause. */
int review_conflict(struct review *, size_t i, struct buf *base,
    struct buf *ours, struct buf *theirs, struct buf *merged, char **cause);

/* tui/loop.c (the terminal UI; declared here for cmd-run.c, which reaches
 * tui/ by this name only): supervises the running sandbox sb on the pty
 * master pty until the agent exits. Its wait status, or -1. */
int tui_run(struct store *, const struct session *, struct sandbox *,
    struct control_server *, int pty, const struct sandbox_config *);

/* supervisor.c: the headless supervisor */
/*
 * Runs the session until the agent exits: one poll(2) loop over the
 * warden's socket, the relayed signals, and ctl.sock and agent.sock, whose
 * requests it serves (checkpoints, status, rollbacks, rejects). Returns the
 * agent's wait status, or -1 when the warden died without one (sandbox_end,
 * which the caller calls next, says how).
 */
int supervisor_run(struct store *, const struct session *, struct sandbox *,
    struct control_server *);

#endif

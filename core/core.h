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
	char *walk_cache;
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
int policy_glob_match(const char *pattern, const char *name);
/* Parses a --net argument ("none", "host", "allow:H[:P],..."). */
int policy_set_net(struct policy *, const char *arg, char **cause);

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
 * waiting); warden.c builds the inside. */
struct sandbox_config {
	const char *tree;        /* real tree (absolute) */
	const char *upper;       /* scratch upper dir */
	const char *work;        /* scratch work dir */
	const char *session_dir; /* for the staging directory */
	const char *cwd;         /* working directory inside (below tree) */
	const struct plan *plan;
	enum net_mode net;
	char *const *argv;       /* exact argv for execve */
	char *const *envp;
	const char *policy_text; /* shown at /run/airlock/policy */
};
struct sandbox {
	pid_t warden;            /* in the host's pid namespace */
	int sock;                /* supervisor end of the socketpair */
	int unprivileged;        /* built in a user namespace */
	int single_id_map;       /* only the caller's own uid and gid are mapped
				    (no subordinate ids): copying up a file
				    owned by anyone else fails with EOVERFLOW */
	int tty_handed;          /* stdin's terminal was given to the agent */
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
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH stay blocked from a
 * successful return until sandbox_wait returns, so none is lost.
 */
int sandbox_start(const struct sandbox_config *, struct sandbox *, char **cause);
/*
 * Waits for the agent to exit, relaying SIGINT, SIGTERM, SIGHUP, SIGQUIT and
 * SIGWINCH sent to airlock. When the agent stops (Ctrl-Z), airlock stops too
 * and resumes it on fg. Takes the terminal back at the end. Returns the
 * agent's wait status, or -1 with *cause when the warden died without
 * reporting one. Reaps the warden and closes sb->sock.
 */
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
 * struct warden_msg a packet (text sent only as long as needed).
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
};
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
/*
 * The overlayfs mount options for one layer stack, each path escaped (\ ,
 * and :) for the kernel's option parser; index, redirects and metacopy are
 * off so the upper dir holds only files, whiteouts and opaque markers.
 */
void warden_overlay_options(struct buf *out, const char *lower,
    const char *upper, const char *work, int userxattr);
/*
 * Parses one line of /proc/self/mountinfo in place: the mount id, its
 * parent's id and the mount point (octal escapes decoded). 0 or -1.
 */
int warden_mountinfo_parse(char *line, int *id, int *parent,
    char **mountpoint);

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

/* diff.c: git's unified format through libgit2 (the only libgit2 user) */
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
/* Reads both sides of a change from tree and upper and diffs them. */
int diff_change(struct buf *out, const struct change *, const char *tree,
    const char *upper, struct diff_stat *stat, char **cause);
/* Reads the content of dir/rel without following symlinks anywhere in rel
 * (the link target for a symlink). NULL with *cause on error. */
char *diff_read(const char *dir, const char *rel, enum entry_type,
    size_t *len, char **cause);

/* tree.c: finding the real tree */
/* The git top-level of dir, else dir itself (absolute, no symlinks). */
char *tree_find(const char *dir, char **cause);

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
void context_close(struct context *);

#endif

/*
 * core/: airlock's commands, sessions, the sandbox and its warden, policy,
 * changes and diffs. Uses snapshot/; knows nothing of ncurses.
 *
 * Conventions are those of snapshot/snapshot.h: fallible functions return -1
 * (or NULL) and set *cause; messages name the path, session or line.
 */
#ifndef AIRLOCK_CORE_H
#define AIRLOCK_CORE_H

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
	char **net_allow;
	size_t nnet_allow;
	char *net_origin;
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
/* Parses a --net argument ("none", "host", "allow:H[:P],..."). */
int policy_set_net(struct policy *, const char *arg, char **cause);

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
struct plan_entry {
	enum plan_kind kind;
	char *path;      /* absolute path inside (and outside) the sandbox */
	char *origin;    /* the rule or default that caused it */
};
struct plan {
	struct plan_entry *v;
	size_t n;
	size_t hidden;   /* number of deny masks (the status line's "N hidden") */
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
/* The plan as airlock policy prints it (also /run/airlock/policy). */
void plan_print(struct buf *out, const struct policy *, const struct plan *);
/* The scrubbed environment for the agent (NULL-terminated, caller frees
 * with env_free). */
char **policy_environ(const struct policy *, char *const *envp);
void env_free(char **);

/* sandbox.c: building the sandbox (host side and warden side) */
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
};
/*
 * Checks the kernel can build the sandbox: version >= 5.11, overlayfs,
 * user namespaces (when not root) and the AppArmor restriction. Returns 0 or
 * -1 with *cause naming what is missing and how to fix it.
 */
int sandbox_check(char **cause);
/*
 * Forks the warden into new namespaces, maps ids, and lets it build the
 * mounts and start the agent. Returns 0 once the agent has been started, or
 * -1 with *cause (the warden's own error when setup failed inside).
 */
int sandbox_start(const struct sandbox_config *, struct sandbox *, char **cause);
/*
 * Waits for the agent to exit, relaying SIGINT, SIGTERM, SIGHUP, SIGQUIT and
 * SIGWINCH sent to airlock. Returns the agent's wait status, or -1 with
 * *cause when the warden died without reporting one.
 */
int sandbox_wait(struct sandbox *, char **cause);

/* warden.c: PID 1 inside the sandbox (runs in the forked child only) */
NORETURN void warden_main(const struct sandbox_config *, int sock, int unprivileged);

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

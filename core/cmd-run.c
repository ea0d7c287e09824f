/*
 * airlock run: supervise a command in the sandbox (headless: the command
 * keeps airlock's terminal). Records the session, builds the policy and the
 * mount plan, takes checkpoint 0, starts the warden, serves ctl.sock and
 * agent.sock until the command exits, and takes the exit checkpoint.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

extern char **environ;

struct run_args {
	const char *dir;
	const char *name;
	const char *net;
	const char *policy;
	const char *resume;
	int headless;
	char **argv;
};

static const struct option run_options[] = {
	{ "headless", no_argument, NULL, 'H' },
	{ "name", required_argument, NULL, 'n' },
	{ "net", required_argument, NULL, 'N' },
	{ "policy", required_argument, NULL, 'p' },
	{ "resume", required_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const struct cmd_entry *
run_entry(void)
{
	return cmd_find("run");
}

/* Parses the options; returns -1 after printing usage (exit 2), 1 after
 * printing help, 0 to run. */
static int
run_parse(int argc, char **argv, struct run_args *a)
{
	static char *shell_argv[2];
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+C:h", run_options, NULL)) != -1) {
		switch (c) {
		case 'C': a->dir = optarg; break;
		case 'H': a->headless = 1; break;
		case 'n': a->name = optarg; break;
		case 'N': a->net = optarg; break;
		case 'p': a->policy = optarg; break;
		case 'r': a->resume = optarg; break;
		case 'h':
			printf("usage: airlock run %s\n\n%s\n", run_entry()->usage,
			    run_entry()->help);
			return 1;
		default:
			cmd_usage(run_entry(), "unknown or incomplete option '%s'",
			    argv[optind - 1]);
			return -1;
		}
	}
	if (a->name != NULL && (a->name[0] == '\0' ||
	    strspn(a->name, "0123456789") == strlen(a->name))) {
		cmd_usage(run_entry(), "--name must be a non-empty name that "
		    "is not a number (numbers are session ids)");
		return -1;
	}
	if (optind == argc) {
		if (optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
			cmd_usage(run_entry(), "empty command after --");
			return -1;
		}
		shell_argv[0] = getenv("SHELL");
		if (shell_argv[0] == NULL || shell_argv[0][0] == '\0')
			shell_argv[0] = "/bin/sh";
		a->argv = shell_argv;
		return 0;
	}
	if (argv[optind][0] == '\0') {
		cmd_usage(run_entry(), "empty command name");
		return -1;
	}
	a->argv = argv + optind;
	return 0;
}

/* The store and the real tree must not contain each other. */
static int
run_check_overlap(const char *tree, const char *root)
{
	if (path_is_under(root, tree)) {
		log_error("run", "the store %s is inside the real tree %s: set "
		    "AIRLOCK_HOME to a directory outside it, or pick another "
		    "tree with -C", root, tree);
		return -1;
	}
	if (path_is_under(tree, root)) {
		log_error("run", "the real tree %s is inside the store %s: run "
		    "airlock from your project, not from its store", tree, root);
		return -1;
	}
	return 0;
}

static char *
run_cwd(const char *tree, const char *dir)
{
	char *cwd = dir != NULL ? realpath(dir, NULL) : getcwd(NULL, 0);

	if (cwd != NULL && path_is_under(cwd, tree))
		return cwd;
	free(cwd);
	return xstrdup(tree);
}

static char **
run_environ(const struct policy *policy, const struct session *s)
{
	char **env = policy_environ(policy, environ);
	size_t n = 0;

	while (env[n] != NULL)
		n++;
	env = xreallocarray(env, n + 2, sizeof *env);
	env[n++] = xasprintf("AIRLOCK_SESSION=%u", s->id);
	env[n] = NULL;
	return env;
}

static int
run_session(struct context *ctx, const struct run_args *a, enum net_mode net,
    struct session **out)
{
	struct session *s;
	char *cause = NULL;
	size_t argc = 0;

	if (a->resume == NULL) {
		if (session_create(ctx->store, a->name, ctx->tree, a->argv, net,
		    &s, &cause) != 0) {
			log_cause("run", cause);
			return -1;
		}
		*out = s;
		return 0;
	}
	if (session_find(ctx->store, a->resume, &s, &cause) != 0) {
		log_cause("run", cause);
		return -1;
	}
	if (session_lock(s, &cause) != 0) {
		log_cause("run", cause);
		session_free(s);
		return -1;
	}
	for (char **arg = s->argv; *arg != NULL; arg++)
		free(*arg);
	free(s->argv);
	while (a->argv[argc] != NULL)
		argc++;
	s->argv = xcalloc(argc + 1, sizeof *s->argv);
	for (size_t i = 0; i < argc; i++)
		s->argv[i] = xstrdup(a->argv[i]);
	if (a->name != NULL) {
		free(s->name);
		s->name = xstrdup(a->name);
	}
	s->state = SESSION_RUNNING;
	s->ended = 0;
	s->exit_status = -1;
	s->net = net;
	if (session_save(ctx->store, s, &cause) != 0) {
		log_cause("run", cause);
		session_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

static int
run_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_ERROR;
}

/*
 * Records how the session ended and returns airlock's exit code. status is
 * the command's wait status, or -1 when the sandbox failed. A new session
 * whose sandbox never started leaves no trace.
 */
static int
run_finish(struct context *ctx, struct session *s, int status, int discard)
{
	char *cause = NULL;
	int code = status < 0 ? EXIT_ERROR : run_exit_code(status);

	if (discard) {
		if (session_discard(ctx->store, s, &cause) != 0)
			log_cause("run", cause);
		return code;
	}
	s->ended = (int64_t)time(NULL);
	s->state = SESSION_EXITED;
	s->exit_status = status < 0 ? -1 : code;
	if (session_save(ctx->store, s, &cause) != 0)
		log_cause("run", cause);
	return code;
}

/*
 * Checkpoint 0 of a new session (its empty scratch, so rollback 0 always
 * exists), or on --resume one of what changed since the last (an airlock
 * that died before its exit checkpoint); reason "exit" once the command
 * exited. Returns -1 after printing the error.
 */
static int
run_checkpoint(struct context *ctx, const struct session *s,
    const char *reason, int force)
{
	struct ckpt_options o;
	char *cause = NULL, *note = NULL;
	uint32_t number;

	memset(&o, 0, sizeof o);
	o.reason = reason;
	o.force = force;
	o.threads = session_checkpoint_threads();
	o.restored_from = CKPT_NONE;
	if (session_checkpoint(ctx->store, s, &o, &number, &note,
	    &cause) < 0) {
		log_cause("checkpoint", cause);
		return -1;
	}
	if (note != NULL)
		log_warn("checkpoint", "checkpoint %u: %s", number, note);
	free(note);
	return 0;
}

/* A new session whose sandbox never started leaves no trace: not even its
 * checkpoint 0. */
static void
run_forget(struct context *ctx, const struct session *s)
{
	char *cause = NULL;

	if (checkpoint_forget(ctx->store, s->id, &cause) != 0)
		log_cause("run", cause);
}

/*
 * The agent's pty for the terminal UI: the outer terminal's settings and
 * its size less the status line. 0 with *master and *slave, or -1.
 */
static int
run_pty(int *master, int *slave, char **cause)
{
	struct termios tio;
	struct winsize ws;
	char *name;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) != 0 || unlockpt(*master) != 0 ||
	    (name = ptsname(*master)) == NULL) {
		*cause = xasprintf("cannot make a pty: %s", strerror(errno));
		if (*master >= 0)
			close(*master);
		return -1;
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		*cause = xasprintf("cannot open %s: %s", name,
		    strerror(errno));
		close(*master);
		return -1;
	}
	if (tcgetattr(STDIN_FILENO, &tio) == 0)
		tcsetattr(*slave, TCSANOW, &tio);
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 1) {
		ws.ws_row--;
		ioctl(*slave, TIOCSWINSZ, &ws);
	}
	return 0;
}

/* Sets NAME=value in the environment built for the agent. */
static char **
run_setenv(char **env, const char *name, const char *value)
{
	size_t n, len = strlen(name);

	for (n = 0; env[n] != NULL; n++) {
		if (strncmp(env[n], name, len) == 0 && env[n][len] == '=') {
			free(env[n]);
			env[n] = xasprintf("%s=%s", name, value);
			return env;
		}
	}
	env = xreallocarray(env, n + 2, sizeof *env);
	env[n] = xasprintf("%s=%s", name, value);
	env[n + 1] = NULL;
	return env;
}

/*
 * --net allow: the way out is the proxy inside (HTTP and SOCKS5 on
 * 127.0.0.1), and ssh's through `airlock connect`. NO_PROXY keeps the
 * sandbox's own loopback direct.
 */
static char **
run_proxy_environ(char **env)
{
	static const char *const http[] = { "http_proxy", "HTTP_PROXY",
	    "https_proxy", "HTTPS_PROXY" };
	char self[4096], *v;
	ssize_t n;
	size_t i;

	v = xasprintf("http://127.0.0.1:%d", SANDBOX_PROXY_HTTP_PORT);
	for (i = 0; i < sizeof http / sizeof http[0]; i++)
		env = run_setenv(env, http[i], v);
	free(v);
	v = xasprintf("socks5h://127.0.0.1:%d", SANDBOX_PROXY_SOCKS5_PORT);
	env = run_setenv(env, "all_proxy", v);
	env = run_setenv(env, "ALL_PROXY", v);
	free(v);
	env = run_setenv(env, "no_proxy", "localhost,127.0.0.1,::1");
	env = run_setenv(env, "NO_PROXY", "localhost,127.0.0.1,::1");
	v = xasprintf("127.0.0.1:%d", SANDBOX_PROXY_HTTP_PORT);
	env = run_setenv(env, "AIRLOCK_PROXY", v);
	free(v);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || memchr(self, '\'', (size_t)n) != NULL)
		memcpy(self, "airlock", n = 7);
	self[n] = '\0';
	v = xasprintf("ssh -o 'ProxyCommand=%s connect %%h %%p'", self);
	env = run_setenv(env, "GIT_SSH_COMMAND", v);
	free(v);
	return env;
}

/* After the terminal UI: what is left to review, and how. */
static void
run_review_hint(const struct session *s)
{
	long changes = session_count_changes(s);

	if (changes <= 0)
		return;
	fprintf(stderr, "airlock: session %u%s%s%s: %ld change%s not promoted "
	    "(kept in its scratch).\nReview them with `airlock status %u` and "
	    "`airlock diff %u`, then `airlock promote --all %u`\n(or `airlock "
	    "discard %u`).\n", s->id, s->name != NULL ? " (" : "",
	    s->name != NULL ? s->name : "", s->name != NULL ? ")" : "",
	    changes, changes == 1 ? "" : "s", s->id, s->id, s->id, s->id);
}

/* The terminal UI runs when airlock has a terminal to draw on. */
static int
run_wants_tui(const struct run_args *a)
{
	const char *term = getenv("TERM");

	return !a->headless && isatty(STDIN_FILENO) &&
	    isatty(STDOUT_FILENO) && term != NULL && *term != '\0' &&
	    strcmp(term, "dumb") != 0;
}

/*
 * --net allow: the proxy serving the sockets the warden listens on inside
 * (sb->proxy_fd), logging to the session's PROXY_LOG. Started once the
 * sandbox runs: its thread inherits the signals the supervisor blocks.
 */
static int
run_proxy(const struct session *s, const struct sandbox_config *cfg,
    struct sandbox *sb)
{
	AUTOFREE char *log = path_join(s->dir, PROXY_LOG);
	char *cause = NULL;
	int i;

	if (sb->proxy_fd[0] < 0 || sb->proxy_fd[1] < 0) {
		log_error("run", "--net allow: the sandbox's proxy sockets did "
		    "not arrive");
		return -1;
	}
	sb->proxy = proxy_start(cfg->net_allow, cfg->nnet_allow, log, &cause);
	if (sb->proxy == NULL) {
		log_cause("run", cause);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if (proxy_listen(sb->proxy, sb->proxy_fd[i], i ==
		    SANDBOX_PROXY_HTTP ? PROXY_HTTP : PROXY_SOCKS5,
		    &cause) != 0) {
			sb->proxy_fd[i] = -1;
			log_cause("run", cause);
			return -1;
		}
		sb->proxy_fd[i] = -1;   /* the proxy's now */
	}
	return 0;
}

/* Serves the session until the command exits; its wait status or -1. */
static int
run_supervise(struct context *ctx, struct session *s,
    struct sandbox_config *cfg, int tui, int *started)
{
	AUTOFREE char *ctl = path_join(s->dir, "ctl.sock");
	AUTOFREE char *agent = path_join(s->dir, "agent.sock");
	struct control_server *server;
	struct sandbox sb;
	char *cause = NULL;
	int status, master = -1, slave = -1;

	if (tui && run_pty(&master, &slave, &cause) != 0) {
		log_cause("run", cause);
		return -1;
	}
	cfg->pty = tui;
	cfg->pty_slave = slave;
	if (control_server_open(ctl, agent, &server, &cause) != 0) {
		log_cause("run", cause);
		if (tui) {
			close(master);
			close(slave);
		}
		return -1;
	}
	cfg->agent_sock = agent;
	if (sandbox_start(cfg, &sb, &cause) != 0) {
		log_cause("run", cause);
		control_server_close(server);
		if (tui) {
			close(master);
			close(slave);
		}
		return -1;
	}
	*started = 1;
	if (cfg->net == NET_ALLOW && run_proxy(s, cfg, &sb) != 0)
		sandbox_signal_send(&sb, SIGKILL);  /* no way out: no agent */
	if (tui) {
		/* the warden and the agent hold it now: the master reads
		 * EIO once they are gone */
		close(slave);
		status = tui_run(ctx->store, s, &sb, server, master, cfg);
		close(master);
	} else
		status = supervisor_run(ctx->store, s, &sb, server);
	control_server_close(server);
	proxy_stop(sb.proxy);
	sb.proxy = NULL;
	if ((status = sandbox_end(&sb, status, &cause)) < 0)
		log_cause("run", cause);
	/* the mounts are gone with the warden: the scratch holds still */
	run_checkpoint(ctx, s, "exit", 0);
	sandbox_release(&sb);
	if (tui)
		run_review_hint(s);
	return status;
}

static int
run_sandbox(struct context *ctx, const struct run_args *a,
    struct policy *policy, struct session *s)
{
	struct sandbox_config cfg = { 0 };
	struct plan plan = { 0 };
	struct buf text = BUF_INIT;
	char *cause = NULL, *upper, *work, *cwd, **env;
	int status = -1, started = 0, tui;

	if (policy_plan(policy, ctx->tree, getenv("HOME"), ctx->store_root,
	    &plan, &cause) != 0) {
		log_cause("run", cause);
		return run_finish(ctx, s, -1, a->resume == NULL);
	}
	if (run_checkpoint(ctx, s, a->resume == NULL ? "start" : "resume",
	    a->resume == NULL) != 0) {
		plan_free(&plan);
		if (a->resume == NULL)
			run_forget(ctx, s);
		return run_finish(ctx, s, -1, a->resume == NULL);
	}
	plan_print(&text, policy, &plan);
	upper = session_upper(s);
	work = session_work(s);
	cwd = run_cwd(ctx->tree, a->dir);
	env = run_environ(policy, s);
	tui = run_wants_tui(a);
	if (policy->net == NET_ALLOW)
		env = run_proxy_environ(env);
	if (tui) {
		/* what libvterm answers to, as neovim's terminal says */
		env = run_setenv(env, "TERM", "xterm-256color");
		env = run_setenv(env, "COLORTERM", "truecolor");
	}
	cfg.tree = ctx->tree;
	cfg.upper = upper;
	cfg.work = work;
	cfg.session_dir = s->dir;
	cfg.cwd = cwd;
	cfg.plan = &plan;
	cfg.net = policy->net;
	cfg.net_allow = policy->net_allow;
	cfg.nnet_allow = policy->nnet_allow;
	cfg.argv = a->argv;
	cfg.envp = env;
	cfg.policy_text = text.data;
	status = run_supervise(ctx, s, &cfg, tui, &started);
	env_free(env);
	free(cwd);
	free(work);
	free(upper);
	buf_free(&text);
	plan_free(&plan);
	if (!started && a->resume == NULL)
		run_forget(ctx, s);
	return run_finish(ctx, s, status, !started && a->resume == NULL);
}

static int
cmd_run_exec(int argc, char **argv)
{
	struct run_args a = { 0 };
	struct context ctx;
	struct policy policy;
	struct session *s = NULL;
	char *cause = NULL;
	int rc;

	rc = run_parse(argc, argv, &a);
	if (rc != 0)
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	if (sandbox_check(&cause) != 0) {
		log_cause("run", cause);
		return EXIT_ERROR;
	}
	if (context_open(&ctx, a.dir, 1) != 0)
		return EXIT_ERROR;
	if (run_check_overlap(ctx.tree, ctx.store_root) != 0) {
		context_close(&ctx);
		return EXIT_ERROR;
	}
	policy_init(&policy);
	if (policy_load(&policy, getenv("HOME"), ctx.tree, a.policy,
	    &cause) != 0 ||
	    (a.net != NULL && policy_set_net(&policy, a.net, &cause) != 0)) {
		log_cause("policy", cause);
		policy_free(&policy);
		context_close(&ctx);
		return EXIT_USAGE;
	}
	policy.walk_cache = path_join(ctx.store->dir, "walk.cache");
	rc = EXIT_ERROR;
	if (run_session(&ctx, &a, policy.net, &s) == 0) {
		rc = run_sandbox(&ctx, &a, &policy, s);
		session_free(s);
	}
	policy_free(&policy);
	context_close(&ctx);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "[-C DIR] [--headless] [--name N] [--net none|host] "
	    "[--policy FILE] [--resume ID] [--] [CMD [ARGS...]]",
	.summary = "run a command (default: $SHELL) in the sandbox",
	.help =
	    "Runs CMD with its exact arguments in a sandbox where the real tree "
	    "(the git\ntop-level of the working directory, or -C DIR) is an "
	    "overlay: every write lands\nin the session's scratch and the real "
	    "tree is never touched. $HOME is behind a\nthrowaway layer, the rest "
	    "of the system is read-only, /tmp is private, and\nsecrets (~/.ssh, "
	    "~/.aws, .env, ...) are hidden. airlock exits with CMD's status.\n\n"
	    "  -C DIR         use DIR (its git top-level) as the real tree\n"
	    "  --headless     no terminal UI: CMD keeps airlock's terminal (also "
	    "when\n                 stdin or stdout is not a terminal)\n"
	    "  --name N       name the session (commands accept the name or the "
	    "id)\n"
	    "  --net MODE     host (default), none (loopback only), or\n"
	    "                 allow:HOST[:PORT],... (only through airlock's proxy;\n"
	    "                 `airlock net` lists the connections)\n"
	    "  --policy FILE  read FILE after ~/.config/airlock/policy\n"
	    "  --resume ID    mount the scratch of session ID again\n\n"
	    "The scratch is checkpointed when the session starts (checkpoint 0; "
	    "on --resume,\nwhat changed since the last one) and when CMD exits. "
	    "Meanwhile `airlock\ncheckpoint` and `airlock rollback` from another "
	    "terminal reach this airlock\nthrough the session's ctl.sock; CMD "
	    "itself can run `airlock checkpoint`,\nwhich asks through "
	    "/run/airlock/agent.sock.\n\n"
	    "In the terminal UI, CMD runs on a terminal of its own shown above "
	    "a status\nline; keys go to CMD except after the prefix C-] (C-] ? "
	    "lists the others;\n`airlock keys` prints them all). A checkpoint "
	    "is also taken when you submit\ninput after CMD was quiet (idle-ms), "
	    "and after it rings the bell.",
	.exec = cmd_run_exec,
};

/*
 * The agent between fork and execve: its own process group, default
 * signals, no inherited descriptor (the warden's lower tree fd least of
 * all), capabilities that could undo the sandbox dropped, no_new_privs, a
 * seccomp filter against terminal injection, then execve of the exact argv
 * with the shell's exit codes.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* Capabilities the agent must not keep when airlock runs as root: each
 * could undo the sandbox or reach past it. */
static const int warden_dropped_caps[] = {
	CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_PTRACE,
	CAP_SYS_BOOT, CAP_SYS_TIME, CAP_MKNOD, CAP_NET_ADMIN,
	CAP_DAC_READ_SEARCH, CAP_SYS_CHROOT, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE,
	CAP_SYSLOG, CAP_BPF, CAP_PERFMON, CAP_LINUX_IMMUTABLE,
	CAP_AUDIT_CONTROL, CAP_SETFCAP, CAP_SYS_TTY_CONFIG,
};

static void
warden_close_range(unsigned int first, unsigned int last)
{
	unsigned int fd, max;

	if (first > last)
		return;
	if (syscall(SYS_close_range, first, last, 0) == 0)
		return;
	max = (unsigned int)sysconf(_SC_OPEN_MAX);
	for (fd = first; fd <= last && fd < max; fd++)
		close((int)fd);
}

/* One the host opened would be a way out of the new root. */
void
warden_close_fds(int keep)
{
	if (keep >= 3) {
		warden_close_range(3, (unsigned int)keep - 1);
		warden_close_range((unsigned int)keep + 1, ~0U);
	} else
		warden_close_range(3, ~0U);
}

static void
warden_signals_default(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int
warden_caps_drop(char **cause)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];
	size_t i, n = sizeof warden_dropped_caps / sizeof *warden_dropped_caps;
	int cap;

	for (i = 0; i < n; i++) {
		/* EINVAL: a capability this kernel does not know */
		if (prctl(PR_CAPBSET_DROP, warden_dropped_caps[i], 0, 0, 0) != 0 &&
		    errno != EINVAL) {
			*cause = xasprintf("drop capability %d: %s",
			    warden_dropped_caps[i], strerror(errno));
			return -1;
		}
	}
	memset(&hdr, 0, sizeof hdr);
	memset(data, 0, sizeof data);
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &hdr, data) != 0) {
		*cause = xasprintf("capget: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		cap = warden_dropped_caps[i];
		data[cap / 32].effective &= ~(1U << (cap % 32));
		data[cap / 32].permitted &= ~(1U << (cap % 32));
		data[cap / 32].inheritable &= ~(1U << (cap % 32));
	}
	if (syscall(SYS_capset, &hdr, data) != 0) {
		*cause = xasprintf("capset: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL) {
		*cause = xasprintf("clear ambient capabilities: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

#if defined(__x86_64__)
#define WARDEN_ARCH AUDIT_ARCH_X86_64
#define WARDEN_X32_IOCTL (0x40000000U | 514U)
#define WARDEN_COMPAT_ARCH AUDIT_ARCH_I386
#define WARDEN_COMPAT_IOCTL 54U
#elif defined(__aarch64__)
#define WARDEN_ARCH AUDIT_ARCH_AARCH64
#define WARDEN_X32_IOCTL __NR_ioctl
#define WARDEN_COMPAT_ARCH AUDIT_ARCH_ARM
#define WARDEN_COMPAT_IOCTL 54U
#elif defined(__i386__)
#define WARDEN_ARCH AUDIT_ARCH_I386
#elif defined(__arm__)
#define WARDEN_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define WARDEN_ARCH AUDIT_ARCH_RISCV64
#endif
#if defined(WARDEN_ARCH) && !defined(WARDEN_COMPAT_ARCH)
#define WARDEN_X32_IOCTL __NR_ioctl
#define WARDEN_COMPAT_ARCH WARDEN_ARCH
#define WARDEN_COMPAT_IOCTL __NR_ioctl
#endif
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WARDEN_ARG1_LOW (offsetof(struct seccomp_data, args[1]) + 4)
#else
#define WARDEN_ARG1_LOW offsetof(struct seccomp_data, args[1])
#endif

/*
 * Refuses the ioctls TIOCSTI and TIOCLINUX: the agent shares airlock's
 * terminal, and TIOCSTI would let it type commands into the user's shell
 * for after airlock exits. The kernel reads only the low 32 bits of the
 * request.
 */
static int
warden_seccomp(char **cause)
{
#ifdef WARDEN_ARCH
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_ARCH, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_X32_IOCTL, 3, 6),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_COMPAT_ARCH, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WARDEN_COMPAT_IOCTL, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, WARDEN_ARG1_LOW),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = {
		.len = sizeof filter / sizeof filter[0],
		.filter = filter,
	};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
		*cause = xasprintf("install the seccomp filter: %s",
		    strerror(errno));
		return -1;
	}
#endif
	return 0;
}

static const char *
warden_env_path(char *const envp[])
{
	for (; envp != NULL && *envp != NULL; envp++) {
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	}
	return "/usr/local/bin:/usr/bin:/bin";
}

/* execve, and for a file without #! the shell, as execvp does. */
static void
warden_execve(const char *file, char *const argv[], char *const envp[])
{
	char **sh_argv;
	size_t n = 0;

	execve(file, argv, envp);
	if (errno != ENOEXEC)
		return;
	while (argv[n] != NULL)
		n++;
	sh_argv = xcalloc(n + 2, sizeof *sh_argv);
	sh_argv[0] = (char *)"sh";
	sh_argv[1] = (char *)file;
	memcpy(sh_argv + 2, argv + 1, n * sizeof *argv);
	execve("/bin/sh", sh_argv, envp);
	free(sh_argv);
	errno = ENOEXEC;
}

static NORETURN void
warden_exec_failed(const char *cmd, int error)
{
	if (error == ENOENT) {
		dprintf(STDERR_FILENO, "airlock: run: %s: not found\n", cmd);
		_exit(127);
	}
	dprintf(STDERR_FILENO, "airlock: run: %s: %s\n", cmd,
	    error == EACCES ? "permission denied" : strerror(error));
	_exit(126);
}

/* Runs argv[0], looked up in envp's PATH when it has no slash, with the
 * shell's exit codes: 127 not found, 126 found but not runnable. */
static NORETURN void
warden_exec(char *const argv[], char *const envp[])
{
	const char *cmd = argv[0], *dir, *end;
	char file[PATH_MAX];
	int error = ENOENT, len;

	if (strchr(cmd, '/') != NULL) {
		warden_execve(cmd, argv, envp);
		warden_exec_failed(cmd, errno);
	}
	for (dir = warden_env_path(envp); *cmd != '\0'; dir = end + 1) {
		end = strchrnul(dir, ':');
		len = snprintf(file, sizeof file, "%.*s/%s",
		    end == dir ? 1 : (int)(end - dir), end == dir ? "." : dir,
		    cmd);
		if (len > 0 && (size_t)len < sizeof file) {
			warden_execve(file, argv, envp);
			if (errno == EACCES)
				error = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR &&
			    errno != ELOOP && errno != ENAMETOOLONG &&
			    errno != ESTALE && errno != ENODEV)
				warden_exec_failed(cmd, errno);
		}
		if (*end == '\0')
			break;
	}
	warden_exec_failed(cmd, error);
}

NORETURN void
warden_agent(const struct sandbox_config *cfg, int tty)
{
	char *cause = NULL;

	/* its own process group, in the foreground when it has the terminal;
	 * on the TUI's pty, a session whose controlling terminal it is */
	if (cfg->pty) {
		if (setsid() < 0 || ioctl(STDIN_FILENO, TIOCSCTTY, 0) != 0) {
			cause = xasprintf("cannot take the pty as the "
			    "controlling terminal: %s", strerror(errno));
			goto fail;
		}
	} else {
		setpgid(0, 0);
		if (tty)
			tcsetpgrp(STDIN_FILENO, getpid());
	}
	warden_signals_default();
	warden_close_fds(-1);
	if (warden_caps_drop(&cause) != 0)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		cause = xasprintf("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		goto fail;
	}
	if (warden_seccomp(&cause) != 0)
		goto fail;
	warden_exec(cfg->argv, cfg->envp);
fail:
	dprintf(STDERR_FILENO, "airlock: run: %s\n", cause);
	_exit(126);
}

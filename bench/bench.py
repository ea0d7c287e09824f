"""airlock benchmarks (see bench/run). Medians of repeated runs, in the same
session, against a baseline measured in the same run."""
import glob
import json
import re
import os
import shutil
import signal
import stat
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.path.abspath(sys.argv[1])
CKPT = os.path.abspath(sys.argv[2])
REPORT = sys.argv[3]
RUNS = int(os.environ.get("BENCH_RUNS", "31"))
BASE = os.environ.get("BENCH_DIR", "/var/tmp")
ALL_SECTIONS = ("status", "checkpoint", "promote", "tui", "review", "net")
SECTIONS = os.environ.get("BENCH_SECTIONS", ",".join(ALL_SECTIONS)).split(",")


def make_tree(root, nfiles):
    """A git-less tree of nfiles small files, 100 per directory."""
    os.makedirs(root)
    for i in range(nfiles):
        d = os.path.join(root, "d%03d" % (i // 1000), "s%02d" % (i // 100 % 10))
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
            f.write("line %d\n" % i)


def timed(argv, cwd, env):
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1000.0


def median_ms(argv, cwd, env):
    timed(argv, cwd, env)  # warm-up
    return statistics.median(timed(argv, cwd, env) for _ in range(RUNS))


def bench_tree(work, name, nfiles, rows):
    tree = os.path.join(work, name)
    home = os.path.join(work, "home-" + name)
    os.makedirs(home)
    make_tree(tree, nfiles)
    env = dict(os.environ, HOME=home,
               AIRLOCK_HOME=os.path.join(work, "store-" + name))
    edit = "for i in 0 1 2 3 4 5 6 7 8 9; do echo changed >> d000/s00/f0000$i.txt; done"
    subprocess.run([BIN, "run", "--headless", "--", "sh", "-c", edit],
                   cwd=tree, env=env, check=True)
    out = subprocess.run([BIN, "status"], cwd=tree, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert len(out.splitlines()) == 10, out
    status = median_ms([BIN, "status"], tree, env)
    # airlock trusts its cache of the secret walk only for directories that
    # have not changed in the last 2 s: a tree built a moment ago is walked
    # at every start. Let it settle, as a real tree is between two runs.
    time.sleep(2.5)
    run_true = median_ms([BIN, "run", "--headless", "--", "true"], tree, env)
    # The first start after the tree changed walks it again.
    walks = []
    for i in range(5):
        os.utime(os.path.join(tree, "d000"))
        with open(os.path.join(tree, "d000", "new%d" % i), "w"):
            pass
        walks.append(timed([BIN, "run", "--headless", "--", "true"], tree, env))
    run_walk = statistics.median(walks)
    bare = median_ms(["true"], tree, env)
    rows.append((name, nfiles, status, run_true, run_walk, bare))



def status_section(work):
    rows = []
    bench_tree(work, "small", 1000, rows)
    bench_tree(work, "large", 100000, rows)
    small, large = rows
    lines = [
        "## Status and start-up (issue: foundation)",
        "",
        "Medians of %d runs. Each tree gets 10 files changed inside airlock, then:" % RUNS,
        "",
        "| tree | files | `airlock status` | `airlock run --headless -- true` | same, first run after the tree changed | `true` alone | run overhead |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, st, rt, rw, bare in rows:
        lines.append("| %s | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms |" % (
            name, n, st, rt, rw, bare, rt - bare))
    lines += [
        "",
        "- `status` on 100k files / on 1k files: **%.2fx** (target: within 1.5x; "
        "status never walks the real tree)." % (large[2] / small[2]),
        "- `run -- true` overhead over `true`: %.1f ms on 1k files, %.1f ms on 100k "
        "files (target: under 50 ms). The first start after the tree changed walks "
        "it for secrets (.env, *.pem, ...): %.1f ms on 100k files (median of 5)."
        % (small[3] - small[5], large[3] - large[5], large[4]),
        "",
    ]
    return lines


# Checkpoints: airlock's checkpoint_take and restore_upper timed in-process
# by bench/ckpt (the supervisor takes checkpoints in its own process),
# against a shadow git repository and tar | zstd -3 of the same tree after
# the same turn, and the floor.

CKPT_RUNS = int(os.environ.get("BENCH_CKPT_RUNS", "5"))
# BENCH_WORKLOADS=W2,W4: only these workloads' offline timings, printed
# (bench/report.md is left alone)
ONLY = [w for w in os.environ.get("BENCH_WORKLOADS", "").split(",") if w]
KERNEL_TARBALL = "/usr/src/linux-source-6.1.tar.xz"
SYNTH_FILES = 100000
VENDOR_FILES = 20000          # the directory W3 removes
NEW_FILES = 20000             # W4: 20k files of 10,000 bytes (200 MB)
NEW_FILE_SIZE = 10000
BIG_SIZE = 500 * 1000 * 1000  # W5
GIT_IDENT = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
             "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def ms_of(argv, cwd=None, env=None, shell=False):
    t = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, shell=shell, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    ms = (time.perf_counter() - t) * 1000.0
    if r.returncode != 0:
        raise RuntimeError("%s (in %s) exited %d:\n%s" % (
            argv, cwd, r.returncode, r.stdout.decode(errors="replace")[-3000:]))
    return ms


def helper(*args):
    out = subprocess.run([CKPT] + [str(a) for a in args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out) if out.startswith("{") else out.strip()


def du(path, skip=()):
    """Apparent bytes and disk bytes of the files below path (but the
    top-level names in skip)."""
    size = disk = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            if root == path and name in skip:
                continue
            st = os.lstat(os.path.join(root, name))
            disk += st.st_blocks * 512
            if not stat.S_ISDIR(st.st_mode):
                size += st.st_size
    return size, disk


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+rwX", path], stderr=subprocess.DEVNULL)
        shutil.rmtree(path, ignore_errors=True)


def fs_note(path, shows):
    """A note on the file system under path when it skews the timings;
    shows: in which timings."""
    st = os.stat(path)
    try:
        dev = os.path.basename(os.path.realpath("/sys/dev/block/%d:%d" % (
            os.major(st.st_dev), os.minor(st.st_dev))))
        with open("/sys/fs/ext4/%s/journal_task" % dev) as f:
            nojournal = f.read().strip() == "<none>"
    except OSError:
        return ""
    if not nojournal:
        return ""
    return (" %s is ext4 without a journal: there, creating files shortly after "
            "many were deleted is slow (ext4 skips inodes freed in the last minute "
            "or more), which shows in %s; the medians keep it." % (path, shows))


def kernel_tree():
    """The kernel's source from Debian's linux-source-6.1, extracted once
    into BENCH_DIR/airlock-bench-cache; (path, description), or /usr/include
    when the package is not installed."""
    if not os.path.exists(KERNEL_TARBALL) or shutil.which("xz") is None:
        return "/usr/include", ("/usr/include (linux-source-6.1 or xz-utils is "
                                "not installed: `apt-get install linux-source-6.1 "
                                "xz-utils` for the kernel's tree)")
    cache = os.path.join(BASE, "airlock-bench-cache")
    tree = os.path.join(cache, "linux-source-6.1")
    st = os.stat(KERNEL_TARBALL)
    stamp = "%d %d\n" % (st.st_size, int(st.st_mtime))
    stamp_file = tree + ".stamp"
    try:
        with open(stamp_file) as f:
            cached = f.read() == stamp
    except OSError:
        cached = False
    if not cached or not os.path.isdir(tree):
        log("extracting %s into %s (once)" % (KERNEL_TARBALL, cache))
        os.makedirs(cache, exist_ok=True)
        rmtree(tree)
        tmp = tempfile.mkdtemp(prefix="extract.", dir=cache)
        subprocess.run("xz -T0 -dc %s | tar -x -C %s" % (KERNEL_TARBALL, tmp),
                       shell=True, check=True)
        # Debian's .gitignore ignores the whole top level (its packaging
        # repository's view): drop that block so git sees upstream's tree.
        gi = os.path.join(tmp, "linux-source-6.1", ".gitignore")
        with open(gi) as f:
            text = f.read()
        cut = text.find("#\n# Debian packaging")
        if cut >= 0:
            with open(gi, "w") as f:
                f.write(text[:cut])
        os.rename(os.path.join(tmp, "linux-source-6.1"), tree)
        rmtree(tmp)
        with open(stamp_file, "w") as f:
            f.write(stamp)
    return tree, "Debian's linux-source-6.1 (%s), extracted" % os.path.basename(
        os.path.realpath(KERNEL_TARBALL))


def count_files(tree):
    n = 0
    for root, dirs, files in os.walk(tree):
        n += len(files)
    return n


def pick_edits(tree, suffix):
    """10 files of the tree with suffix, evenly spread over its sorted list."""
    found = []
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            if name.endswith(suffix) and os.path.isfile(p) and not os.path.islink(p):
                found.append(os.path.relpath(p, tree))
    found.sort()
    return [found[(2 * k + 1) * len(found) // 20] for k in range(10)]


class Shadow:
    """A shadow git repository of a copy of the tree, GIT_DIR outside the
    tree, as Gemini CLI and Cline keep them (loose objects; automatic gc
    off, so that no background repack runs during the timings)."""

    def __init__(self, work, name, lower):
        self.tree = os.path.join(work, "git-%s-tree" % name)
        self.gitdir = os.path.join(work, "git-%s.git" % name)
        home = os.path.join(work, "git-home")
        os.makedirs(home, exist_ok=True)
        self.env = dict(os.environ, GIT_DIR=self.gitdir, GIT_WORK_TREE=self.tree,
                        HOME=home, GIT_CONFIG_NOSYSTEM="1", **GIT_IDENT)
        subprocess.run(["cp", "-a", lower, self.tree], check=True)
        self.git("init", "-q")
        self.git("config", "gc.auto", "0")
        self.commit_ms = ms_of("git add -A && git commit -q -m setup", self.tree,
                               self.env, shell=True)
        self.tracked = len(self.git("ls-files", "-z", out=True).split("\0")) - 1

    def git(self, *args, out=False):
        r = subprocess.run(["git"] + list(args), cwd=self.tree, env=self.env,
                           check=True, capture_output=out, text=out)
        return r.stdout if out else None

    def setup_commit(self):
        ms_of("git add -A && git commit -q -m setup", self.tree, self.env, shell=True)

    def turn(self):
        """Times the checkpoint, tar | zstd -3 of the tree, and the rollback
        of the turn applied to the copy; returns a dict."""
        r = {}
        os.sync()
        # the index is a cache of the work tree, rewritten by every add
        before = du(self.gitdir, skip=("index",))
        r["git_ms"] = ms_of("git add -A && git commit -q -m turn", self.tree,
                            self.env, shell=True)
        after = du(self.gitdir, skip=("index",))
        r["git_bytes"] = after[0] - before[0]
        r["git_disk"] = after[1] - before[1]
        os.sync()
        r["tar_ms"] = ms_of("tar -cf - . | zstd -3 -q -c >/dev/null", self.tree,
                            shell=True)
        os.sync()
        r["reset_ms"] = ms_of(["git", "reset", "-q", "--hard", "HEAD~1"],
                              self.tree, self.env)
        left = self.git("status", "--porcelain", "--untracked-files=all", out=True)
        if left:
            raise RuntimeError("git reset left changes:\n" + left[:2000])
        return r


class Workload:
    def __init__(self, key, title, family, lower, shadow):
        self.key, self.title, self.family = key, title, family
        self.lower, self.shadow = lower, shadow
        self.runs = []      # dicts, one per run
        self.live = []

    # What a turn leaves in the scratch (staged), done to the shadow copy
    # (shadow), and run inside a live session (live, with its stage).
    def stage(self, d, i):
        raise NotImplementedError

    def to_shadow(self, d, i):
        raise NotImplementedError


def marker(i, live=False):
    return ("/* airlock bench: %s turn %d */\n" % ("live" if live else "", i)).encode()


class Edits(Workload):
    def __init__(self, *a, edits):
        super().__init__(*a)
        self.edits = edits
        self.changed = "edits 10 files"

    def stage(self, d, i):
        for p in self.edits:
            os.makedirs(os.path.dirname(os.path.join(d, p)), exist_ok=True)
            with open(os.path.join(self.lower, p), "rb") as f:
                data = f.read()
            with open(os.path.join(d, p), "wb") as f:
                f.write(data + marker(i))
            shutil.copymode(os.path.join(self.lower, p), os.path.join(d, p))

    def to_shadow(self, d, i):
        for p in self.edits:
            with open(os.path.join(d, p), "rb") as f:
                data = f.read()
            with open(os.path.join(self.shadow.tree, p), "wb") as f:
                f.write(data)

    def live_turn(self, i, stage):
        return "; ".join("printf '%%s\\n' '/* airlock bench: live turn %d */' >>'%s'"
                         % (i, p) for p in self.edits)


class RemoveDir(Workload):
    changed = "`rm -rf` of a 20k-file directory"

    def stage(self, d, i):
        os.mknod(os.path.join(d, "vendor"), stat.S_IFCHR, os.makedev(0, 0))

    def to_shadow(self, d, i):
        shutil.rmtree(os.path.join(self.shadow.tree, "vendor"))

    def live_turn(self, i, stage):
        return "rm -rf vendor"


class NewFiles(Workload):
    changed = "creates 20k files (200 MB)"

    def stage(self, d, i):
        helper("gentree", os.path.join(d, "node_modules"), NEW_FILES, 100,
               NEW_FILE_SIZE, NEW_FILE_SIZE, 1000 + i)

    def to_shadow(self, d, i):
        subprocess.run(["cp", "-al", os.path.join(d, "node_modules"),
                        os.path.join(self.shadow.tree, "node_modules")], check=True)

    def live_stage(self, d, i):
        helper("gentree", os.path.join(d, "node_modules"), NEW_FILES, 100,
               NEW_FILE_SIZE, NEW_FILE_SIZE, 2000 + i)

    def live_turn(self, i, stage):
        return "cp -r '%s/node_modules' ." % stage


class Rewrite(Workload):
    changed = "rewrites a 500 MB file"

    def stage(self, d, i):
        os.mkdir(os.path.join(d, "data"))
        helper("gen", os.path.join(d, "data", "big.bin"), BIG_SIZE, 3000 + i)

    def to_shadow(self, d, i):
        p = os.path.join(self.shadow.tree, "data", "big.bin")
        os.unlink(p)
        os.link(os.path.join(d, "data", "big.bin"), p)

    def live_stage(self, d, i):
        helper("gen", os.path.join(d, "big.bin"), BIG_SIZE, 4000 + i)

    def live_turn(self, i, stage):
        return "cp '%s/big.bin' data/big.bin" % stage


def bench_offline(work, w, threads):
    """CKPT_RUNS turns: the floor, airlock in-process, the shadow repo."""
    for i in range(CKPT_RUNS):
        staged = os.path.join(work, "staged")
        rmtree(staged)
        os.mkdir(staged)
        w.stage(staged, i)
        os.sync()
        r = {"floor": helper("floor", staged)}
        variants = [("airlock", threads)]
        if isinstance(w, Rewrite):
            variants.append(("airlock1", 0))
        for key, t in variants:
            store = os.path.join(work, "store-offline")
            upper = os.path.join(work, "upper-offline")
            rmtree(store)
            rmtree(upper)
            r[key] = helper("take", store, upper, staged, w.lower, t)
            if r[key]["left"] != 0:
                raise RuntimeError("%s: the rollback left %d entries" % (w.key, r[key]["left"]))
            rmtree(store)
            rmtree(upper)
        w.to_shadow(staged, i)
        r.update(w.shadow.turn())
        rmtree(staged)
        r["load"] = os.getloadavg()[0]
        w.runs.append(r)
        log("%s run %d: airlock %.1f ms, git %.1f ms, floor %.1f ms" % (
            w.key, i, r["airlock"]["take_ms"], r["git_ms"], r["floor"]["floor_ms"]))


def airlock_json(argv, cwd, env):
    return json.loads(subprocess.run(argv, cwd=cwd, env=env, check=True,
                                     capture_output=True, text=True).stdout)


def bench_live(work, w, base_env):
    """CKPT_RUNS sessions that run the turn and wait; from outside,
    `airlock checkpoint` and `airlock rollback 0` while they run. Each in a
    store of its own: what one stored does not dedupe the next."""
    stage = os.path.join(work, "live-stage")
    for i in range(CKPT_RUNS):
        env = dict(base_env, AIRLOCK_HOME=os.path.join(work, "live-store-%s-%d" % (w.key, i)))
        rmtree(stage)
        os.mkdir(stage)
        if hasattr(w, "live_stage"):
            w.live_stage(stage, i)
        os.sync()
        name = "%s-%d" % (w.key, i)
        out = os.path.join(work, "live.out")
        script = ("t0=$(date +%%s%%N); %s; t1=$(date +%%s%%N); echo \"turn_ns $((t1 - t0))\"; "
                  "go=0; trap 'go=1' WINCH; echo ready; n=0; "
                  "while [ $go = 0 ] && [ $n -lt 3000 ]; do sleep 0.2; n=$((n + 1)); done"
                  % w.live_turn(i, stage))
        with open(out, "w") as f:
            proc = subprocess.Popen([BIN, "run", "--headless", "--name", name, "--",
                                     "sh", "-c", script], cwd=w.lower, env=env,
                                    stdout=f, stderr=subprocess.STDOUT)
        deadline = time.time() + 600
        text = ""
        while "ready" not in text:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("%s: the live session failed:\n%s" % (name, text))
            time.sleep(0.05)
            with open(out) as f:
                text = f.read()
        turn_ms = int(text.split("turn_ns ")[1].split()[0]) / 1e6
        r = {"turn_ms": turn_ms}
        r["ckpt_ms"] = ms_of([BIN, "checkpoint", name], w.lower, env)
        r["rollback_ms"] = ms_of([BIN, "rollback", "0", name], w.lower, env)
        # the rollback's own checkpoint, and a command's overhead: a
        # checkpoint request when nothing changed
        r["rollback_bytes"] = airlock_json([BIN, "log", "--json", name], w.lower,
                                           env)[-1]["bytes"]
        r["idle_ms"] = ms_of([BIN, "checkpoint", name], w.lower, env)
        proc.send_signal(signal.SIGWINCH)
        if proc.wait(timeout=600) != 0:
            raise RuntimeError("%s: the live session exited %d" % (name, proc.returncode))
        if isinstance(w, Edits) and w.key == "W2":
            r.update(ended_commands(w, name, env, i))
        r["load"] = os.getloadavg()[0]
        w.live.append(r)
        log("%s live %d: turn %.1f ms, checkpoint %.1f ms, rollback %.1f ms" % (
            w.key, i, turn_ms, r["ckpt_ms"], r["rollback_ms"]))
        rmtree(env["AIRLOCK_HOME"])
    rmtree(stage)


def ended_commands(w, name, env, i):
    """The whole commands on the ended session: its scratch gets the turn's
    10 edits (as copied up files), then `airlock checkpoint ID` and
    `airlock rollback N ID` back to the checkpoint before."""
    sessions = airlock_json([BIN, "list", "--json"], w.lower, env)
    sid = [s["id"] for s in sessions if s["name"] == name][0]
    # the store of a tree is named after its base name (store_dir_for_tree)
    uppers = glob.glob(os.path.join(env["AIRLOCK_HOME"], os.path.basename(w.lower) + "-*",
                                    "sessions", str(sid), "upper"))
    if len(uppers) != 1:
        raise RuntimeError("%s: cannot find the scratch: %r" % (name, uppers))
    for p in w.edits:
        dst = os.path.join(uppers[0], p)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(os.path.join(w.lower, p), "rb") as f:
            data = f.read()
        if os.path.exists(dst):
            os.unlink(dst)
        with open(dst, "wb") as f:
            f.write(data + marker(100 + i))
    os.sync()
    before = airlock_json([BIN, "log", "--json", name], w.lower, env)[-1]["number"]
    r = {"cmd_ckpt_ms": ms_of([BIN, "checkpoint", name], w.lower, env)}
    after = airlock_json([BIN, "log", "--json", name], w.lower, env)[-1]["number"]
    if after != before + 1:
        raise RuntimeError("%s: no checkpoint of the edited scratch" % name)
    r["cmd_rollback_ms"] = ms_of([BIN, "rollback", str(before), name], w.lower, env)
    return r


def med(values):
    return statistics.median(values)


def fmt_ms(v):
    if v >= 1000:
        return "%.2f s" % (v / 1000)
    if v >= 10:
        return "%.0f ms" % v
    return "%.2f ms" % v


def fmt_bytes(v):
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(v) >= k:
            return "%.1f %s" % (v / k, unit)
    return "%d B" % v


def fmt_x(v):
    return "%.0fx" % v if v >= 100 else "%.1fx" % v


def checkpoint_section(work):
    started = time.time()
    threads = int(helper("threads"))
    kernel, kernel_desc = kernel_tree()
    log("W1 tree: %s" % kernel)
    suffix = ".c" if kernel != "/usr/include" else ".h"
    edits1 = pick_edits(kernel, suffix)
    shadow1 = Shadow(work, "w1", kernel)
    w1 = Edits("W1", "real source tree", "kernel", kernel, shadow1, edits=edits1)

    synth = os.path.join(work, "tree")
    helper("gentree", os.path.join(synth, "src"), SYNTH_FILES - VENDOR_FILES, 100,
           200, 6000, 1)
    helper("gentree", os.path.join(synth, "vendor"), VENDOR_FILES, 100, 200, 6000, 2)
    shadow2 = Shadow(work, "synth", synth)
    edits2 = ["src/d%04d/f%06d.txt" % (n // 100, n) for n in
              (k * (SYNTH_FILES - VENDOR_FILES) // 10 + 123 for k in range(10))]
    w2 = Edits("W2", "100k files", "synthetic", synth, shadow2, edits=edits2)
    w3 = RemoveDir("W3", "100k files", "synthetic", synth, shadow2)
    w4 = NewFiles("W4", "100k files", "synthetic", synth, shadow2)
    w5 = Rewrite("W5", "100k files + one of 500 MB", "synthetic", synth, shadow2)
    tree_info = {
        "W1": (count_files(kernel), du(kernel)[0], shadow1),
        "W2": (count_files(synth), du(synth)[0], shadow2),
    }

    if ONLY:
        return quick_checkpoints([w for w in (w1, w2, w3, w4, w5) if w.key in ONLY],
                                 work, synth, shadow2, threads)
    for w in (w1, w2, w3, w4):
        bench_offline(work, w, threads)
    add_big_file(synth, shadow2)
    tree_info["W5"] = (count_files(synth), du(synth)[0], shadow2)
    bench_offline(work, w5, threads)

    live_env = dict(os.environ, HOME=os.path.join(work, "live-home"))
    os.makedirs(live_env["HOME"])
    for w in (w1, w2, w3, w4, w5):
        bench_live(work, w, live_env)
    # what any command pays before it does anything: exec and the loader
    version = statistics.median(ms_of([BIN, "version"]) for _ in range(15))
    loads = [r["load"] for w in (w1, w2, w3, w4, w5) for r in w.runs + w.live]
    machine = {"version_ms": version, "load_min": min(loads), "load_max": max(loads),
               "seconds": time.time() - started,
               "fs": fs_note(BASE, "the later runs of what recreates many files "
                             "(W3's `git reset`, W4's turn)")}
    return report_checkpoints([w1, w2, w3, w4, w5], kernel_desc, tree_info, threads,
                              machine)


def add_big_file(synth, shadow2):
    """W5's tree has a 500 MB file too, committed in the setup."""
    os.mkdir(os.path.join(synth, "data"))
    helper("gen", os.path.join(synth, "data", "big.bin"), BIG_SIZE, 77)
    os.mkdir(os.path.join(shadow2.tree, "data"))
    shutil.copy2(os.path.join(synth, "data", "big.bin"),
                 os.path.join(shadow2.tree, "data", "big.bin"))
    shadow2.setup_commit()


def quick_checkpoints(ws, work, synth, shadow2, threads):
    """BENCH_WORKLOADS: the offline timings of some workloads only, as
    medians (no report is written)."""
    out = []
    for w in ws:
        if w.key == "W5":
            add_big_file(synth, shadow2)
        bench_offline(work, w, threads)
        keys = ["airlock", "airlock1"] if w.key == "W5" else ["airlock"]
        for k in keys:
            take = med([r[k]["take_ms"] for r in w.runs])
            cpu = med([r[k]["take_cpu_ms"] for r in w.runs])
            floor = med([r["floor"]["floor_ms"] for r in w.runs])
            git = med([r["git_ms"] for r in w.runs])
            out.append("%s %s: %.2f ms (CPU %.2f ms), floor %.2f ms (%.2fx), git %.1f ms "
                       "(%.0fx), bytes %d, store growth %d, git growth %d" % (
                           w.key, k, take, cpu, floor, take / floor, git, git / take,
                           w.runs[0][k]["bytes"], w.runs[0][k]["store_growth"],
                           w.runs[0]["git_bytes"]))
    return out


def report_checkpoints(ws, kernel_desc, tree_info, threads, machine):
    def m(w, f):
        return med([f(r) for r in w.runs])

    def ml(w, f):
        return med([f(r) for r in w.live])

    w1, w2, w3, w4, w5 = ws
    files1, bytes1, sh1 = tree_info["W1"]
    files2, bytes2, sh2 = tree_info["W2"]
    lines = [
        "## Checkpoints (issue: checkpoints)",
        "",
        "Medians of %d runs of each turn, all in this run on this machine (%d cores; "
        "the 1-minute load average ranged from %.2f to %.2f over the runs: other work "
        "on the machine shows as noise, which the CPU-time columns feel less); "
        "%.0f s.%s Trees:" % (CKPT_RUNS, os.cpu_count(), machine["load_min"],
                             machine["load_max"], machine["seconds"], machine["fs"]),
        "",
        "- W1: %s: %d files, %s (the shadow repository tracks %d of them)." % (
            kernel_desc, files1, fmt_bytes(bytes1), sh1.tracked),
        "- W2-W5: a generated tree of %d files, 100 to a directory, 200 B to 6 kB "
        "of text each (%s; zstd -3 compresses this text about 5:1 at some 170 MB/s "
        "on one core here, as it does C source), `vendor/` (%d files) among them; "
        "W5's tree has a 500 MB file of the same kind of text besides." % (
            files2, fmt_bytes(bytes2), VENDOR_FILES),
        "",
        "How each is measured:",
        "",
        "- **airlock**: `checkpoint_take` in-process (bench/ckpt, linked with "
        "libairlock.a: the supervisor takes checkpoints in its own process, with the "
        "store open). The scratch is laid out as the overlay leaves it after the "
        "turn: edited files copied up whole, `rm -rf` of a real directory one "
        "whiteout (char device 0:0), new files in the scratch; checkpoint 0 of the "
        "empty scratch is taken first (not timed). %d zstd workers for files over "
        "8 MiB, as the supervisor gives on this machine (W5 also with none); with "
        "workers allowed, once a checkpoint has compressed 64 small files the rest "
        "are compressed on a second thread (W4). In every variant, SHA-256 of files "
        "of 8 MiB and more, and of bases too big to store, runs on a thread of its "
        "own beside the compression (W5: the CPU-time column counts it). "
        "Includes the bases (the real tree's version of each path the turn touched "
        "first: read and stored, or hashed only past 64 MiB) and the fsyncs of pack "
        "and index. Before, in the same store, an earlier session took a "
        "checkpoint of one small file, rolled it back and took the checkpoint a "
        "rollback appends: the process is as warm as a supervisor after its first "
        "turn (a process's very first checkpoint, of one small file, took %s: "
        "libcrypto's initialisation and first page faults), and the store is one "
        "that has been used, as a project's store (all its sessions share it) is "
        "after its first session." % (threads, fmt_ms(med([r["airlock"]["cold_ms"] for w in ws
                                            for r in w.runs]))),
        "- **shadow git**: `git add -A && git commit -q` with `GIT_DIR` outside the "
        "tree (as Gemini CLI and Cline do), on a copy of the tree with the same turn "
        "applied; the commit of the unchanged tree is setup (not timed). Loose "
        "objects as the tools leave them, automatic gc off (`gc.auto 0`: else a "
        "background repack runs during the timings).",
        "- **tar | zstd -3**: `tar -cf - . | zstd -3 -q -c >/dev/null` of that copy "
        "(zstd's default of one worker).",
        "- **floor**: walking the scratch (a stat of every entry) plus reading and "
        "compressing the changed bytes with libzstd level 3 (size pledged, as "
        "`zstd -3` does) on one core, nothing written, no hashing (bench/ckpt floor).",
        "- **rollback, ended session**: `checkpoint_manifest` of checkpoint 0 plus "
        "`restore_upper` (what `airlock rollback` does to the scratch of a session "
        "that does not run), against `git reset -q --hard HEAD~1` in the shadow repo.",
        "- **running session**: the real binary. A session runs the turn (timed "
        "inside the sandbox with `date +%s%N`: the turn's own file operations "
        "through the overlay; W4 and W5 copy files staged outside the tree), then "
        "waits; from another process `airlock checkpoint ID` (through ctl.sock: the "
        "supervisor checkpoints) and then `airlock rollback 0 ID` are timed, whole "
        "commands (the rollback: its checkpoint of the state before, unchanged "
        "here, the plan, the warden's operations on the merged view, and the "
        "checkpoint of the result).",
        "- **store growth**: airlock's bytes of packs the checkpoint added "
        "(`ckpt.bytes`) and the growth of its store directory (packs and LMDB "
        "index); git's growth of `GIT_DIR` but its `index` file (a cache of the "
        "work tree). Apparent bytes; in brackets, disk blocks as `du` counts them "
        "(a loose object takes at least 4 kB). On the used store above: LMDB "
        "copies the pages a commit changes and reuses those that earlier commits "
        "freed; the very first commits of a new store find none and grow its index "
        "by some 16 kB (W3 on a new store, measured on 2026-11-28: 16.4 kB).",
        "",
        "### Checkpoint of one turn",
        "",
        "| workload | turn | airlock | shadow git | git / airlock | tar \\| zstd -3 | floor (1 core) | airlock / floor | same, CPU time |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(w, key, label, turn):
        a = m(w, lambda r: r[key]["take_ms"])
        ac = m(w, lambda r: r[key]["take_cpu_ms"])
        g = m(w, lambda r: r["git_ms"])
        fl = m(w, lambda r: r["floor"]["floor_ms"])
        flc = m(w, lambda r: r["floor"]["floor_cpu_ms"])
        return "| %s | %s | %s | %s | %s | %s | %s | %.2fx | %.2fx |" % (
            label, turn, fmt_ms(a), fmt_ms(g), fmt_x(g / a),
            fmt_ms(m(w, lambda r: r["tar_ms"])), fmt_ms(fl), a / fl, ac / flc)

    for w in ws:
        lines.append(row(w, "airlock", "%s %s" % (w.key, w.title), w.changed))
        if isinstance(w, Rewrite):
            lines.append(row(w, "airlock1", "%s, no zstd workers" % w.key, "same"))
    lines += [
        "",
        "### Store growth of one turn",
        "",
        "| workload | airlock packs (`ckpt.bytes`) | airlock store | shadow git | airlock store / git | same, disk blocks |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for w in ws:
        ab = m(w, lambda r: r["airlock"]["bytes"])
        ag = m(w, lambda r: r["airlock"]["store_growth"])
        agd = m(w, lambda r: r["airlock"]["store_disk_growth"])
        gb = m(w, lambda r: r["git_bytes"])
        gd = m(w, lambda r: r["git_disk"])
        lines.append("| %s | %s | %s (%s) | %s (%s) | %.2f | %.2f |" % (
            w.key, fmt_bytes(ab), fmt_bytes(ag), fmt_bytes(agd), fmt_bytes(gb),
            fmt_bytes(gd), ag / gb, agd / gd))
    lines += [
        "",
        "### Rollback of one turn",
        "",
        "| workload | airlock, ended session | `git reset --hard HEAD~1` | git / airlock | turn's own file operations (running session) | `airlock rollback 0 ID` (running) | rollback / turn | its checkpoint stored | `airlock checkpoint ID` (running) | same, nothing changed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in ws:
        a = m(w, lambda r: r["airlock"]["rollback_ms"])
        g = m(w, lambda r: r["reset_ms"])
        t = ml(w, lambda r: r["turn_ms"])
        lr = ml(w, lambda r: r["rollback_ms"])
        lines.append("| %s | %s | %s | %s | %s | %s | %.2fx | %s | %s | %s |" % (
            w.key, fmt_ms(a), fmt_ms(g), fmt_x(g / a), fmt_ms(t), fmt_ms(lr), lr / t,
            fmt_bytes(ml(w, lambda r: r["rollback_bytes"])),
            fmt_ms(ml(w, lambda r: r["ckpt_ms"])), fmt_ms(ml(w, lambda r: r["idle_ms"]))))
    lines += [
        "",
        "The running-session columns are whole commands; any command pays some "
        "fixed cost first: `airlock version` takes %s (exec and loading its "
        "libraries), and `airlock checkpoint ID` when nothing changed is in the last "
        "column." % fmt_ms(machine["version_ms"]),
        "",
        "Whole commands, W2 (process start to end): `airlock checkpoint ID` of an "
        "ended session whose scratch holds the turn's 10 edits: %s (checkpoint_take "
        "alone: %s); of a running session (the supervisor checkpoints): %s. "
        "`airlock rollback N ID` of the ended session back over those edits: %s "
        "(`restore_upper` alone: %s)." % (
            fmt_ms(ml(w2, lambda r: r["cmd_ckpt_ms"])),
            fmt_ms(m(w2, lambda r: r["airlock"]["take_ms"])),
            fmt_ms(ml(w2, lambda r: r["ckpt_ms"])),
            fmt_ms(ml(w2, lambda r: r["cmd_rollback_ms"])),
            fmt_ms(m(w2, lambda r: r["airlock"]["rollback_ms"]))),
        "",
        "### Targets",
        "",
    ]
    lines += targets(ws, m, ml)
    lines += ["", "<details><summary>Every run (ms)</summary>", ""]
    for w in ws:
        lines.append("- %s: airlock %s; git %s; floor %s; rollback %s; git reset %s; "
                     "live turn %s; live rollback %s" % (
                         w.key,
                         [round(r["airlock"]["take_ms"], 2) for r in w.runs],
                         [round(r["git_ms"], 1) for r in w.runs],
                         [round(r["floor"]["floor_ms"], 2) for r in w.runs],
                         [round(r["airlock"]["rollback_ms"], 2) for r in w.runs],
                         [round(r["reset_ms"], 1) for r in w.runs],
                         [round(r["turn_ms"], 1) for r in w.live],
                         [round(r["rollback_ms"], 1) for r in w.live]))
        if isinstance(w, Rewrite):
            lines.append("- %s, no zstd workers: airlock %s" % (
                w.key, [round(r["airlock1"]["take_ms"], 1) for r in w.runs]))
    lines += ["", "</details>", ""]
    return lines


def targets(ws, m, ml):
    w1, w2, w3, w4, w5 = ws
    out = []

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    def take(w, key="airlock"):
        return m(w, lambda r: r[key]["take_ms"])

    def cpu(w, key="airlock"):
        return m(w, lambda r: r[key]["take_cpu_ms"])

    def git(w):
        return m(w, lambda r: r["git_ms"])

    def floor(w):
        return m(w, lambda r: r["floor"]["floor_ms"])

    def floor_cpu(w):
        return m(w, lambda r: r["floor"]["floor_cpu_ms"])

    r = git(w1) / take(w1)
    out.append("- W1 checkpoint at least 15x faster than shadow git: %s (%s: %s against %s)."
               % (verdict(r >= 15), fmt_x(r), fmt_ms(take(w1)), fmt_ms(git(w1))))
    for w in (w2, w3):
        r = git(w) / take(w)
        out.append("- %s checkpoint at least 300x faster than shadow git and under 5 ms: "
                   "%s (%s: %s against %s; 300x is %s)." % (
                       w.key, verdict(r >= 300 and take(w) < 5), fmt_x(r),
                       fmt_ms(take(w)), fmt_ms(git(w)), fmt_ms(git(w) / 300)))
    r4, c4 = take(w4) / floor(w4), cpu(w4) / floor_cpu(w4)
    out.append("- W4 within 1.2x of the single-core floor: %s (%.2fx: %s against %s; "
               "CPU time %.2fx; its small files are compressed on a second thread "
               "when zstd workers are allowed, as they are here)."
               % (verdict(r4 <= 1.2), r4, fmt_ms(take(w4)), fmt_ms(floor(w4)), c4))
    r5, c5 = take(w5, "airlock1") / floor(w5), cpu(w5, "airlock1") / floor_cpu(w5)
    out.append("- W5 within 1.2x of the single-core floor (no zstd workers): %s "
               "(%.2fx: %s against %s; CPU time %.2fx)." % (
                   verdict(r5 <= 1.2), r5, fmt_ms(take(w5, "airlock1")),
                   fmt_ms(floor(w5)), c5))
    out.append("- W5 below the single-core floor with multi-threaded compression: %s "
               "(%s against %s)." % (verdict(take(w5) < floor(w5)), fmt_ms(take(w5)),
                                     fmt_ms(floor(w5))))
    parts, ok_size, ok_disk = [], True, True
    for w in ws:
        ag = m(w, lambda r: r["airlock"]["store_growth"])
        agd = m(w, lambda r: r["airlock"]["store_disk_growth"])
        gb = m(w, lambda r: r["git_bytes"])
        gd = m(w, lambda r: r["git_disk"])
        ok_size &= ag <= gb
        ok_disk &= agd <= gd
        parts.append("%s %s against %s%s, disk %s against %s%s" % (
            w.key, fmt_bytes(ag), fmt_bytes(gb), "" if ag <= gb else " (larger)",
            fmt_bytes(agd), fmt_bytes(gd), "" if agd <= gd else " (larger)"))
    out.append("- Store growth no larger than shadow git's: in apparent bytes %s, in disk "
               "blocks %s (%s)." % (verdict(ok_size), verdict(ok_disk), "; ".join(parts)))
    parts, ok_all = [], True
    for w in (w1, w2, w3, w5):
        a = m(w, lambda r: r["airlock"]["rollback_ms"])
        g = m(w, lambda r: r["reset_ms"])
        ok_all &= g / a >= 25
        parts.append("%s %s: %s against %s" % (w.key, fmt_x(g / a), fmt_ms(a), fmt_ms(g)))
    out.append("- Rollback of an ended session at least 25x faster than `git reset --hard`, "
               "W1-W3 and W5: %s (%s)." % (verdict(ok_all), "; ".join(parts)))
    parts, ok_all = [], True
    for w in (w1, w2, w3, w5):
        t = ml(w, lambda r: r["turn_ms"])
        lr = ml(w, lambda r: r["rollback_ms"])
        ok_all &= lr <= t
        parts.append("%s %s against %s" % (w.key, fmt_ms(lr), fmt_ms(t)))
    out.append("- Rollback of a running session no slower than the turn's own file "
               "operations, W1-W3 and W5: %s (%s; W4, not in the target: %s against %s)."
               % (verdict(ok_all), "; ".join(parts),
                  fmt_ms(ml(w4, lambda r: r["rollback_ms"])),
                  fmt_ms(ml(w4, lambda r: r["turn_ms"]))))
    return out


# Promotion: `airlock promote --all` of an ended session, whole command,
# against `cp -a` of the same files (plus `sync -f`: promotion makes its
# writes durable with syncfs) as the floor, in the same run.

PROMOTE_RUNS = int(os.environ.get("BENCH_PROMOTE_RUNS", "5"))
PROMOTE_EDIT_RUNS = 3 * PROMOTE_RUNS   # the 10-file cases are short and noisier


def run_rusage(argv, cwd=None, env=None):
    """Runs argv; (wall ms, CPU ms of the child, its output)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    ms = (time.perf_counter() - t) * 1000.0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError("%s (in %s) exited %d:\n%s" % (argv, cwd, proc.returncode,
                                                          text[-3000:]))
    return ms, (ru.ru_utime + ru.ru_stime) * 1000.0, text


PROMOTE_PHASES = (
    ("start", "start, checkpoint, plan, befores recorded"),
    ("stage", "files staged"),
    ("syncfs1", "staged files made durable"),
    ("rename", "renames into place"),
    ("syncfs2", "directories made durable"),
    ("finish", "journal closed, exit"),
)


def strace_phases(argv, cwd, env, out):
    """Runs argv under strace, tracing only the calls that mark the
    promotion's phases (execve, mkdirat of the staging directory, syncfs,
    fdatasync, fsync, renameat, exit_group; seccomp filters the rest, which
    run at full speed); the milliseconds of each phase of PROMOTE_PHASES,
    or None when the trace does not show them. A large promotion makes its
    staged files and then its directories durable with one syncfs each; a
    small one with an fdatasync of each staged file (before the first
    rename) and an fsync of each directory (after the last)."""
    log_file = out + ".strace"
    subprocess.run(["strace", "-f", "-tt", "-T", "--seccomp-bpf", "-o", log_file,
                    "-e", "trace=execve,mkdirat,syncfs,fdatasync,fsync,renameat,exit_group"]
                   + argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)

    def at(line):
        h, m, s = line.split()[1].split(":")
        return (int(h) * 3600 + int(m) * 60 + float(s)) * 1000.0

    def took(line):
        return float(line.rsplit("<", 1)[1].rstrip(">\n")) * 1000.0

    start = stage = end = None
    calls = []    # (name, start ms, duration ms) after the staging directory
    with open(log_file) as f:
        for line in f:
            call = line.split()[2] if len(line.split()) > 2 else ""
            name = call.split("(", 1)[0]
            if start is None and name == "execve":
                start = at(line)
            elif stage is None and name == "mkdirat" and ".airlock-promote-" in line:
                stage = at(line)
            elif name == "exit_group":
                end = at(line)
            elif stage is not None and name in ("syncfs", "fdatasync", "fsync",
                                                "renameat") and "<" in line:
                calls.append((name, at(line), took(line)))
    os.unlink(log_file)
    if None in (start, stage, end):
        return None
    renames = [i for i, c in enumerate(calls) if c[0] == "renameat"]
    syncs = [c for c in calls if c[0] == "syncfs"]
    if len(syncs) == 2:
        first, second = [syncs[0]], [syncs[1]]
    elif not syncs and renames:
        first = [c for c in calls[:renames[0]] if c[0] == "fdatasync"]
        second = [c for c in calls[renames[-1] + 1:] if c[0] == "fsync"]
    else:
        return None
    if not first or not second:
        return None
    s1, e1 = first[0][1], first[-1][1] + first[-1][2]
    s2, e2 = second[0][1], second[-1][1] + second[-1][2]
    return {"start": stage - start, "stage": s1 - stage, "syncfs1": e1 - s1,
            "rename": s2 - e1, "syncfs2": e2 - s2, "finish": end - e2,
            "all": end - start}


class PromoteCase:
    """One change an ended session promotes: the tree, the turn that makes
    it, the files the floor copies, and the checks of the real tree after
    promote and after unpromote."""

    undo_at_once = True

    def __init__(self, key, title, tree, script, stage, files):
        self.key, self.title, self.tree = key, title, tree
        self.script, self.stage, self.files = script, stage, files
        self.runs = []
        self.traced = None

    def tree_for(self, work, i):
        return self.tree


def promote_session(work, case, tree, i):
    """A fresh store and session that ran the case's turn and ended."""
    home = os.path.join(work, "promote-store-%s-%d" % (case.key, i))
    env = dict(os.environ, HOME=os.path.join(work, "promote-home"), AIRLOCK_HOME=home)
    turn_ms = ms_of([BIN, "run", "--headless", "--", "sh", "-c", case.script], tree, env)
    return env, turn_ms


def promote_floor(work, case, i):
    """cp -a of the case's files from its staging copy into a fresh
    directory on the same file system, then sync -f of it."""
    dest = os.path.join(work, "promote-floor-%s-%d" % (case.key, i))
    os.mkdir(dest)
    os.sync()
    cp_ms = ms_of(["cp", "-a", "--parents"] + case.files + [dest], case.stage)
    sync_ms = ms_of(["sync", "-f", dest])
    return {"cp_ms": cp_ms, "sync_ms": sync_ms, "floor_ms": cp_ms + sync_ms}


def promote_once(work, case, i, traced=False):
    """Promotes the case's change made afresh; unpromotes it at once unless
    the case defers that (then the result holds what unpromote needs)."""
    tree = case.tree_for(work, i)
    env, turn_ms = promote_session(work, case, tree, i)
    r = {"turn_ms": turn_ms}
    os.sync()
    if traced:
        out = os.path.join(work, "promote-trace")
        r["phases"] = strace_phases([BIN, "promote", "--all"], tree, env, out)
    else:
        r["promote_ms"], r["promote_cpu"], text = run_rusage(
            [BIN, "promote", "--all"], tree, env)
        if "promotion 1 of session" not in text:
            raise RuntimeError("%s: unexpected promote output:\n%s" % (case.key, text[-2000:]))
    case.check_promoted(tree)
    if case.undo_at_once:
        promote_undo(case, tree, env, r)
    else:
        r["undo"] = (tree, env)
    return r


def promote_undo(case, tree, env, r):
    os.sync()
    r["unpromote_ms"], r["unpromote_cpu"], _ = run_rusage([BIN, "unpromote"], tree, env)
    case.check_unpromoted(tree)


class NewFilesCase(PromoteCase):
    # ext4 without a journal (see fs_note) makes creating files slow for a
    # while after many were deleted, and by how much varies: each run gets
    # a tree of its own, and the unpromotes (which delete 20k files) come
    # after all the promotions and floors.
    undo_at_once = False

    def tree_for(self, work, i):
        if i == 0:
            return self.tree
        tree = "%s-%d" % (self.tree, i)
        helper("gentree", tree, SYNTH_FILES, 100, 200, 6000, 1)
        return tree

    def check_promoted(self, tree):
        n = count_files(os.path.join(tree, "node_modules"))
        if n != NEW_FILES:
            raise RuntimeError("%s: %d files promoted, not %d" % (self.key, n, NEW_FILES))

    def check_unpromoted(self, tree):
        if os.path.lexists(os.path.join(tree, "node_modules")):
            raise RuntimeError("%s: node_modules left after unpromote" % self.key)


class EditsCase(PromoteCase):
    def __init__(self, *a, original):
        super().__init__(*a)
        self.original = original

    def check(self, tree, want):
        for p in self.files:
            with open(os.path.join(tree, p), "rb") as f:
                if f.read() != want(p):
                    raise RuntimeError("%s: %s is not as expected" % (self.key, p))

    def check_promoted(self, tree):
        self.check(tree, lambda p: self.original[p] + PROMOTE_MARK)

    def check_unpromoted(self, tree):
        self.check(tree, lambda p: self.original[p])


PROMOTE_MARK = b"airlock bench: promoted line\n"


def edits_case(work, key, nfiles, tree=None):
    if tree is None:
        tree = os.path.join(work, "promote-tree-%s" % key)
        helper("gentree", tree, nfiles, 100, 200, 6000, 1)
    files = ["d%04d/f%06d.txt" % (n // 100, n) for n in
             (k * nfiles // 10 + 12 for k in range(10))]
    stage = os.path.join(work, "promote-stage-%s" % key)
    original = {}
    for p in files:
        with open(os.path.join(tree, p), "rb") as f:
            original[p] = f.read()
        os.makedirs(os.path.dirname(os.path.join(stage, p)), exist_ok=True)
        with open(os.path.join(stage, p), "wb") as f:
            f.write(original[p] + PROMOTE_MARK)
        shutil.copystat(os.path.join(tree, p), os.path.join(stage, p))
    script = "; ".join("printf '%s' >>'%s'" % (PROMOTE_MARK.decode().replace("\n", "\\n"), p)
                       for p in files)
    return EditsCase("P2" if nfiles >= 100000 else "P3",
                     "10 edited files, %dk-file tree" % (nfiles // 1000), tree,
                     script, stage, files, original=original)


def bench_promote(work, case, runs):
    for i in range(runs):
        # the floor and the promotion take turns going first
        if i % 2 == 0:
            floor = promote_floor(work, case, i)
            r = promote_once(work, case, i)
        else:
            r = promote_once(work, case, i)
            floor = promote_floor(work, case, i)
        r.update(floor)
        r["load"] = os.getloadavg()[0]
        case.runs.append(r)
        log("%s run %d: promote %.1f ms (CPU %.1f ms), cp -a %.1f ms + sync -f %.1f ms, "
            "load %.2f" % (case.key, i, r["promote_ms"], r["promote_cpu"], r["cp_ms"],
                           r["sync_ms"], r["load"]))
    case.traced = promote_once(work, case, runs, traced=True)
    log("%s traced: %r" % (case.key, case.traced["phases"]))
    for i, r in enumerate(case.runs + [case.traced]):
        if "undo" in r:
            promote_undo(case, *r.pop("undo"), r)
    log("%s unpromote: %s" % (case.key, ", ".join("%.1f ms" % r["unpromote_ms"]
                                                  for r in case.runs)))


class JournaledExt4:
    """A fresh ext4 with a journal on a loop device (direct I/O) over a
    sparse file in dir, mounted at dir/mnt; needs root, losetup and
    mkfs.ext4. mnt is None (and why says why) when it cannot be made."""

    SIZE = "16G"

    def __init__(self, dir):
        self.image = os.path.join(dir, "ext4-journal.img")
        self.mnt, self.loop, self.why = None, None, None
        if os.geteuid() != 0:
            self.why = "needs root"
            return
        for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
            if shutil.which(tool) is None:
                self.why = "needs %s" % tool
                return
        try:
            subprocess.run(["truncate", "-s", self.SIZE, self.image], check=True)
            subprocess.run(["mkfs.ext4", "-q", "-F", self.image], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.loop = subprocess.run(["losetup", "--find", "--show", "--direct-io=on",
                                        self.image], check=True, capture_output=True,
                                       text=True).stdout.strip()
            mnt = os.path.join(dir, "ext4-journal")
            os.mkdir(mnt)
            subprocess.run(["mount", self.loop, mnt], check=True, capture_output=True)
            self.mnt = mnt
        except (subprocess.CalledProcessError, OSError) as e:
            self.why = "cannot make it: %s" % (getattr(e, "stderr", None) or e)
            self.close()

    def close(self):
        if self.mnt is not None:
            subprocess.run(["umount", self.mnt])
            self.mnt = None
        if self.loop:
            subprocess.run(["losetup", "-d", self.loop])
            self.loop = None
        if os.path.exists(self.image):
            os.unlink(self.image)


def new_files_case(work, key, title):
    """P1: a 100k-file tree whose session creates 20k files (200 MB)."""
    big = os.path.join(work, "promote-tree-100k")
    helper("gentree", big, SYNTH_FILES, 100, 200, 6000, 1)
    stage = os.path.join(work, "promote-stage-new")
    helper("gentree", os.path.join(stage, "node_modules"), NEW_FILES, 100,
           NEW_FILE_SIZE, NEW_FILE_SIZE, 1000)
    return NewFilesCase(key, title, big, "cp -r '%s/node_modules' ." % stage, stage,
                        ["node_modules"])


def promote_section(work):
    started = time.time()
    new = new_files_case(work, "P1", "20k new files (200 MB), 100k-file tree")
    small = edits_case(work, "1k", 1000)
    large = edits_case(work, "100k", SYNTH_FILES, tree=new.tree)
    # settle, as a real tree is between two runs (see status_section)
    time.sleep(2.5)
    bench_promote(work, new, PROMOTE_RUNS)
    bench_promote(work, large, PROMOTE_EDIT_RUNS)
    bench_promote(work, small, PROMOTE_EDIT_RUNS)
    # P1 again where ext4 keeps a journal (see fs_note and JournaledExt4)
    fs = JournaledExt4(work)
    newj = None
    try:
        if fs.mnt is not None:
            jwork = os.path.join(fs.mnt, "work")
            os.mkdir(jwork)
            newj = new_files_case(jwork, "P1j", "same, on a fresh ext4 with a journal")
            time.sleep(2.5)
            bench_promote(jwork, newj, PROMOTE_RUNS)
        else:
            log("P1j not measured: a journaled ext4 %s" % fs.why)
    finally:
        fs.close()
    # what any airlock command pays before it does anything (exec, the
    # loader, libcrypto's initialisation), and cp's
    version = med([ms_of([BIN, "version"]) for _ in range(PROMOTE_EDIT_RUNS)])
    cp_version = med([ms_of(["cp", "--version"]) for _ in range(PROMOTE_EDIT_RUNS)])
    cases = [c for c in (new, newj, large, small) if c is not None]
    loads = [r["load"] for c in cases for r in c.runs]
    machine = {"seconds": time.time() - started, "load_min": min(loads),
               "version_ms": version, "cp_version_ms": cp_version,
               "load_max": max(loads), "journal_why": fs.why,
               "fs": fs_note(BASE, "what creates many files while files are being "
                             "deleted on the file system (here: P1's promotion and "
                             "floor, and its turn, at random: other work on this "
                             "machine deletes files in %s all the time; each run of "
                             "P1 gets a tree of its own, and its unpromotes come "
                             "after all its promotions)" % BASE)}
    return report_promote(cases, new, newj, large, small, machine)


def report_promote(cases, new, newj, large, small, machine):
    def verdict(ok):
        return "**met**" if ok else "**not met**"

    def m(c, key):
        return med([r[key] for r in c.runs])

    out = [
        "## Promotion (issue: review and promotion)",
        "",
        "Medians of %d runs of the 20k-file case and %d of each 10-file case, all in this "
        "run on this machine (%d cores; the 1-minute load average ranged from %.2f to %.2f "
        "over the runs); %.0f s.%s" % (
            PROMOTE_RUNS, PROMOTE_EDIT_RUNS, os.cpu_count(), machine["load_min"],
            machine["load_max"], machine["seconds"], machine["fs"]),
        "",
        "How each is measured:",
        "",
        "- **the change**: each run builds it afresh: a new store, and a session "
        "(`airlock run --headless -- sh -c ...`, the real binary) whose turn makes it and "
        "ends. P1: the 100k-file generated tree (100 files to a directory, 200 B to 6 kB "
        "each), the turn copies a staged `node_modules` of %d files of %d bytes (%s) in "
        "%d directories from outside the tree (`cp -r`). P2 and P3: the turn appends a line "
        "to 10 files spread over a generated tree of 100k or 1k files (P2's tree is that "
        "of P1's first run)."
        % (NEW_FILES, NEW_FILE_SIZE, fmt_bytes(NEW_FILES * NEW_FILE_SIZE),
           NEW_FILES // 100 + 1),
        "- **`airlock promote --all`**: the whole command, process start to end, after a "
        "`sync` (the turn's own writes are not flushed by it): its checkpoint of the ended "
        "session (nothing changed), the plan, the befores kept in the store, the files "
        "staged in `.airlock-promote-*` at the tree's root and made durable (one "
        "`syncfs`; for up to 64 paths, each staged file's write-out started as it is "
        "staged, then an `fdatasync` of each), "
        "the renames, then the directories made durable (a second `syncfs`; for up to "
        "64 paths, an `fsync` of each directory touched, once). CPU time is the command's "
        "user + system time. The real tree is "
        "checked after it (every file there with the session's content).",
        "- **`airlock unpromote`**: the whole command, after a `sync`, of that "
        "promotion (P2, P3: right after it; P1: after all the runs' promotions); the "
        "tree is checked to be as before (P1: `node_modules` gone; P2, P3: "
        "the original bytes).",
        "- **floor**: `cp -a` of the same files (P1: the staged `node_modules`; P2, P3: "
        "`cp -a --parents` of the 10 edited files from a staging copy) into a fresh "
        "directory on the same file system, after a `sync`, then `sync -f` of it "
        "(`syncfs` of that file system, as the promotion makes its writes durable). "
        "`cp -a` alone is shown too: promotion with durability against a copy without.",
        ("- **P1j**: P1 again, all of it (trees, stores, staging copy, floor) on a fresh "
         "ext4 with a journal: a sparse file in %s on a loop device with direct I/O, made "
         "and removed by the bench. ext4 without a journal checks, for every inode it "
         "allocates, whether it was freed recently and then skips it; where many were "
         "freed, creating files is several times slower, by an amount that depends on "
         "what else deletes files on the file system: P1j's numbers do not." % BASE
         if newj is not None else
         "- **P1j** (P1 on a fresh ext4 with a journal, on a loop device) was not "
         "measured: it %s." % machine["journal_why"]),
        "- The floor and the promotion take turns going first. Each run of P1 has a "
        "copy of the tree of its own (generated alike), and its unpromotes are timed "
        "after all its promotions: the bench deletes nothing while P1's files are created.",
        "- `syncfs` writes out every dirty page of the file system, other processes' "
        "too: while other work on the machine writes to it, the 20k-file promotion's two "
        "`syncfs` (and its LMDB commits' `fdatasync`) and the floor's one wait for "
        "that, which the CPU-time column does not feel. The 10-file cases' wall times "
        "are mostly such waits and a command's start.",
        "",
        "| case | `airlock promote --all` | its CPU time | `cp -a` + `sync -f` (floor) | "
        "promote / floor | `cp -a` alone | promote / `cp -a` | `airlock unpromote` | "
        "the turn (`airlock run`) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        p, f, cp = m(c, "promote_ms"), m(c, "floor_ms"), m(c, "cp_ms")
        out.append("| %s %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c.key, c.title, fmt_ms(p), fmt_ms(m(c, "promote_cpu")), fmt_ms(f),
            fmt_x(p / f), fmt_ms(cp), fmt_x(p / cp), fmt_ms(m(c, "unpromote_ms")),
            fmt_ms(m(c, "turn_ms"))))
    out += ["", "Any command pays some fixed cost first: `airlock version` takes %s (exec, "
            "loading its libraries), `cp --version` %s (medians of %d)." % (
                fmt_ms(machine["version_ms"]), fmt_ms(machine["cp_version_ms"]),
                PROMOTE_EDIT_RUNS)]
    out += ["", "Where the time goes, from one more run of each case under `strace -f -tt "
            "-T --seccomp-bpf`, tracing only the calls that mark the phases (not in the "
            "medians):", "",
            "| case | %s | in all |" % " | ".join(title for _, title in PROMOTE_PHASES),
            "|---|%s---:|" % ("---:|" * len(PROMOTE_PHASES))]
    for c in cases:
        ph = c.traced["phases"]
        if ph is None:
            out.append("| %s | %s |" % (c.key, " | ".join(["?"] * (len(PROMOTE_PHASES) + 1))))
            continue
        out.append("| %s | %s | %s |" % (c.key, " | ".join(
            fmt_ms(ph[key]) for key, _ in PROMOTE_PHASES), fmt_ms(ph["all"])))
    pn, fn = m(new, "promote_ms"), m(new, "floor_ms")
    pl, ps = m(large, "promote_ms"), m(small, "promote_ms")
    fl, fs = m(large, "floor_ms"), m(small, "floor_ms")
    out += [
        "",
        "### Targets",
        "",
        "- P1, 20k new files (200 MB), within 2x of `cp -a` + `sync -f`: %s (%s: %s "
        "against %s; against `cp -a` alone %s)." % (
            verdict(pn <= 2 * fn), fmt_x(pn / fn), fmt_ms(pn), fmt_ms(fn),
            fmt_x(pn / m(new, "cp_ms"))),
    ]
    if newj is not None:
        pj, fj = m(newj, "promote_ms"), m(newj, "floor_ms")
        out.append("- P1j, the same on a journaled ext4, within 2x of `cp -a` + `sync -f`: "
                   "%s (%s: %s against %s; against `cp -a` alone %s)." % (
                       verdict(pj <= 2 * fj), fmt_x(pj / fj), fmt_ms(pj), fmt_ms(fj),
                       fmt_x(pj / m(newj, "cp_ms"))))
    out += [
        "- P2, 10 edited files in a 100k-file tree, within 2x of the floor: %s (%s: %s "
        "against %s; less each command's fixed cost, `airlock version` and `cp --version`, "
        "%s against %s, %s)." % (
            verdict(pl <= 2 * fl), fmt_x(pl / fl), fmt_ms(pl), fmt_ms(fl),
            fmt_ms(pl - machine["version_ms"]), fmt_ms(fl - machine["cp_version_ms"]),
            fmt_x((pl - machine["version_ms"]) / (fl - machine["cp_version_ms"]))),
        "- P2, 10 edited files in a 100k-file tree, under 50 ms: %s (%s)." % (
            verdict(pl < 50), fmt_ms(pl)),
        "- 10 edited files, independent of the tree size (100k files against 1k): %s "
        "(%s against %s, %.2fx; within 1.5x taken as independent, as for `status`)." % (
            verdict(pl <= 1.5 * ps), fmt_ms(pl), fmt_ms(ps), pl / ps),
        "",
        "<details><summary>Every run (ms)</summary>",
        "",
    ]
    for c in cases:
        def each(key):
            return "[%s]" % ", ".join("%.1f" % r[key] for r in c.runs)
        out.append("- %s: promote %s; CPU %s; unpromote %s; cp -a %s; sync -f %s; "
                   "turn %s; load [%s]" % (
                       c.key, each("promote_ms"), each("promote_cpu"),
                       each("unpromote_ms"), each("cp_ms"), each("sync_ms"),
                       each("turn_ms"), ", ".join("%.2f" % r["load"] for r in c.runs)))
    out += ["", "</details>", ""]
    return out


# The terminal UI: airlock against tmux in the same run. Each side runs in
# a tmux server of its own (no client attached, as the TUI tests do), in a
# pane of TUI_W x TUI_H: airlock's pane runs `airlock run -- CMD`, the
# baseline's runs CMD directly.

TUI_RUNS = int(os.environ.get("BENCH_TUI_RUNS", "3"))   # cat of the file
TUI_KEYS = int(os.environ.get("BENCH_TUI_KEYS", "200"))  # latency samples
TUI_CAT_BYTES = 50 * 1000 * 1000
TUI_SEQ = 20000
TUI_W, TUI_H = 120, 40
TUI_READY = "airlock-bench-ready"
TUI_MARK = "airlock-bench-done"
# ESC sequences in a terminal's output (CSI, OSC, charset and two-byte
# ones), to find a typed character among them
TUI_ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|"
                         rb"[()*+].|[^\[\]()*+])")


class Tmux:
    """A private tmux server."""

    def __init__(self, name, env, history=2000):
        self.sock = "airlock-bench-%d-%s" % (os.getpid(), name)
        self.env = env
        self.run("start-server", ";", "set", "-g", "exit-empty", "off", ";",
                 "set", "-g", "status", "off", ";",
                 "set", "-g", "default-terminal", "tmux-256color", ";",
                 "set", "-g", "history-limit", str(history))

    def run(self, *args):
        r = subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null"] + list(args),
                           env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("tmux %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stdout

    def new(self, name, cwd, argv):
        self.run("new-session", "-d", "-s", name, "-x", str(TUI_W), "-y", str(TUI_H),
                 "-c", cwd, *argv)

    def show(self, name, fmt):
        return self.run("display", "-p", "-t", "=%s:" % name, fmt).strip()

    def wait_for(self, name, text, timeout=120.0, every=0.01):
        """The time text first shows on the screen of session name."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if text in self.run("capture-pane", "-p", "-J", "-t", "=%s:" % name):
                return time.perf_counter()
            time.sleep(every)
        raise RuntimeError("tmux: %r never showed in %s:\n%s" % (
            text, name, self.run("capture-pane", "-p", "-t", "=%s:" % name)))

    def kill(self):
        subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", "kill-server"],
                       env=self.env, capture_output=True)


def proc_cpu(pid):
    """User + system CPU seconds of a process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def wait_gone(pid, timeout=10.0):
    end = time.perf_counter() + timeout
    while time.perf_counter() < end and os.path.exists("/proc/%d" % pid):
        time.sleep(0.02)


def tui_world(work):
    """A tree (a git repository), a store and a HOME for the TUI runs."""
    tree = os.path.join(work, "tui-tree")
    os.makedirs(tree)
    subprocess.run(["git", "init", "-q", tree], check=True)
    with open(os.path.join(tree, "README"), "w") as f:
        f.write("bench\n")
    home = os.path.join(work, "tui-home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, AIRLOCK_HOME=os.path.join(work, "tui-store"),
               LANG="C.UTF-8", TERM="xterm-256color")
    for k in ("TMUX", "TMUX_PANE", "AIRLOCK_KEYS"):
        env.pop(k, None)
    return tree, env


def tui_text_file(path, size):
    """About size bytes (whole lines) of log-like text (ASCII, 40 to 120
    columns); returns the size."""
    words = ("alpha", "beta", "gamma", "delta", "epsilon", "request", "done",
             "checkpoint", "scratch", "overlay", "INFO", "WARN", "0x7f3a", "42")
    lines, n, i = [], 0, 0
    while n < 1 << 20:
        k = 6 + i * 7 % 15
        line = "%08d %s\n" % (i, " ".join(words[(i * 3 + j) % len(words)] for j in range(k)))
        lines.append(line)
        n += len(line)
        i += 1
    block = "".join(lines).encode()
    written = 0
    with open(path, "wb") as f:
        while written + len(block) <= size:
            f.write(block)
            written += len(block)
        rest = block[:size - written]
        rest = rest[:rest.rfind(b"\n") + 1]
        f.write(rest)
        written += len(rest)
    return written


def tui_cat_once(srv, name, tree, prefix, path):
    """Seconds from Enter until the line after `cat path` shows, and the CPU
    seconds of airlock (0 for the baseline) and of the tmux server."""
    script = 'echo %s; read x; cat "$0"; echo %s; exec sleep 3600' % (TUI_READY, TUI_MARK)
    srv.new(name, tree, prefix + ["sh", "-c", script, path])
    srv.wait_for(name, TUI_READY, timeout=30)
    pane = int(srv.show(name, "#{pane_pid}"))
    server = int(srv.show(name, "#{pid}"))
    cpu0 = proc_cpu(pane) if prefix else 0, proc_cpu(server)
    t0 = time.perf_counter()
    srv.run("send-keys", "-t", "=%s:" % name, "Enter")
    t1 = srv.wait_for(name, TUI_MARK, timeout=600)
    cpu1 = proc_cpu(pane) if prefix else 0, proc_cpu(server)
    srv.run("kill-session", "-t", "=" + name)
    wait_gone(pane)
    return t1 - t0, cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]


# TUI_SEQ lines as wide as the pane, a colour change every 10 columns: the
# scrollback's worst case short of a different colour in every cell
TUI_WIDE = ("awk 'BEGIN { for (i = 1; i <= %d; i++) { s = \"\"; "
            "for (j = 0; j < %d; j++) s = s sprintf(\"\\033[3%%dm%%09d \", j %% 8, i); "
            "print s \"\\033[0m\" } }'" % (TUI_SEQ, TUI_W // 10))


def tui_rss(srv, name, tree, prefix, airlock, lines="seq 1 %d" % TUI_SEQ):
    """VmRSS (kB) before and after lines (a command) in the pane, and
    VmHWM: of airlock's supervisor, or of the tmux server for the
    baseline."""
    script = 'echo %s; read x; %s; echo %s; exec sleep 3600' % (
        TUI_READY, lines, TUI_MARK)
    srv.new(name, tree, prefix + ["sh", "-c", script])
    srv.wait_for(name, TUI_READY, timeout=30)
    pid = int(srv.show(name, "#{pane_pid}" if airlock else "#{pid}"))
    time.sleep(0.5)
    before = proc_kb(pid, "VmRSS")
    srv.run("send-keys", "-t", "=%s:" % name, "Enter")
    srv.wait_for(name, TUI_MARK, timeout=120)
    time.sleep(0.5)
    after, peak = proc_kb(pid, "VmRSS"), proc_kb(pid, "VmHWM")
    srv.run("kill-session", "-t", "=" + name)
    if airlock:
        wait_gone(pid)
    return before, after, peak


def tui_latency(argv, cwd, env, keys):
    """Milliseconds from writing one key to a pty running argv until the
    key shows in what it prints, keys times (the median is reported)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", TUI_H, TUI_W, 0, 0))
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)

    def drain(quiet, limit=10.0):
        """Reads until nothing came for quiet seconds."""
        out = b""
        end = time.perf_counter() + limit
        while time.perf_counter() < end:
            r, _, _ = select.select([fd], [], [], quiet)
            if not r:
                break
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
        return out

    times = []
    try:
        drain(0.5, limit=15.0)  # start-up
        for i in range(keys):
            if i and i % 40 == 0:  # a new line now and then; not timed
                os.write(fd, b"\r")
                drain(0.1)
            key = bytes([ord("a") + i % 26])
            got = b""
            t0 = time.perf_counter()
            os.write(fd, key)
            while True:
                r, _, _ = select.select([fd], [], [], 5.0)
                if not r:
                    raise RuntimeError("%s: no echo of %r (got %r)" % (argv[0], key, got))
                got += os.read(fd, 65536)
                if key in TUI_ESCAPES.sub(b"", got):
                    break
            times.append((time.perf_counter() - t0) * 1000.0)
            drain(0.02)
    finally:
        os.write(fd, b"\x04")  # EOF for cat
        try:
            os.close(fd)
        except OSError:
            pass
        end = time.perf_counter() + 10
        while time.perf_counter() < end:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
            time.sleep(0.02)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return times


def tui_section(work):
    started = time.time()
    loads = [os.getloadavg()[0]]
    tree, env = tui_world(work)
    big = os.path.join(work, "tui-50mb.txt")
    size = tui_text_file(big, TUI_CAT_BYTES)
    al_prefix = [BIN, "run", "--"]
    out = {"cat": {"airlock": [], "tmux": []}}

    # (a) cat of 50 MB: airlock in tmux, and tmux alone
    for side in ("airlock", "tmux"):
        srv = Tmux("cat-" + side, env)
        try:
            for i in range(TUI_RUNS):
                log("tui: cat of 50 MB, %s, run %d" % (side, i + 1))
                out["cat"][side].append(tui_cat_once(
                    srv, "c%d" % i, tree, al_prefix if side == "airlock" else [], big))
        finally:
            srv.kill()

    # (b) keypress to screen: a pty of ours running each
    log("tui: latency")
    lat_env = dict(env)
    lat = {
        "airlock": tui_latency(al_prefix + ["cat"], tree, lat_env, TUI_KEYS),
        "tmux": tui_latency(["tmux", "-f", "/dev/null", "-L",
                             "airlock-bench-%d-lat" % os.getpid(), "new-session", "cat"],
                            tree, lat_env, TUI_KEYS),
        "cat": tui_latency(["cat"], tree, lat_env, TUI_KEYS),
    }
    subprocess.run(["tmux", "-L", "airlock-bench-%d-lat" % os.getpid(), "kill-server"],
                   capture_output=True)

    # (c) memory after TUI_SEQ lines (10,000 of them kept as scrollback)
    log("tui: memory")
    rss = {}
    for side in ("airlock", "tmux"):
        srv = Tmux("rss-" + side, env, history=10000)
        try:
            rss[side] = tui_rss(srv, "m", tree, al_prefix if side == "airlock" else [],
                                side == "airlock")
            rss[side + "-wide"] = tui_rss(srv, "w", tree,
                                          al_prefix if side == "airlock" else [],
                                          side == "airlock", TUI_WIDE)
        finally:
            srv.kill()
    loads.append(os.getloadavg()[0])
    return report_tui(out, lat, rss, size, time.time() - started, loads)


def report_tui(out, lat, rss, size, seconds, loads):
    mb = size / 1e6

    def cat(side, k):
        return med([r[k] for r in out["cat"][side]])

    def pct(v, p):
        v = sorted(v)
        return v[min(len(v) - 1, int(len(v) * p))]

    a_s, t_s = cat("airlock", 0), cat("tmux", 0)
    lines = [
        "## Terminal UI (issue: the terminal UI)",
        "",
        "airlock's TUI against tmux, in the same run on this machine (%d cores; "
        "%.0f s; 1-minute load average %.2f at the start, %.2f at the end). Each side runs in a tmux server of its own with no client "
        "attached, in a pane of %dx%d: airlock's pane runs `airlock run -- CMD` "
        "(so its output goes through tmux as well: tmux alone is the baseline), "
        "the other CMD directly." % (os.cpu_count(), seconds, loads[0], loads[1],
                                     TUI_W, TUI_H),
        "",
        "### Output: `cat` of a 50 MB text file",
        "",
        "From Enter (tmux send-keys) until the line printed after `cat` shows on "
        "the screen (capture-pane every 10 ms); medians of %d runs; CPU time of "
        "the processes over the same span." % TUI_RUNS,
        "",
        "| | time | throughput | airlock CPU | tmux server CPU |",
        "|---|---:|---:|---:|---:|",
        "| airlock in tmux | %s | %.0f MB/s | %.2f s | %.2f s |" % (
            fmt_ms(a_s * 1000), mb / a_s, cat("airlock", 1), cat("airlock", 2)),
        "| tmux alone | %s | %.0f MB/s | - | %.2f s |" % (
            fmt_ms(t_s * 1000), mb / t_s, cat("tmux", 2)),
        "",
        "- Throughput of airlock in tmux / tmux alone: **%.2fx** (target: at least "
        "1x: %s)." % (t_s / a_s, "met" if a_s <= t_s else "not met"),
        "",
        "### Keypress to screen",
        "",
        "A pty of the benchmark's own (%dx%d, TERM=xterm-256color) runs the "
        "command; one key is written and timed until it shows in the output "
        "(escape sequences aside), %d keys, a new line every 40 (not timed)." % (
            TUI_W, TUI_H, TUI_KEYS),
        "",
        "| command | median | 90th percentile | max |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (("airlock", "`airlock run -- cat`"),
                       ("tmux", "`tmux -f /dev/null new-session cat`, attached"),
                       ("cat", "`cat` (the kernel's echo: the floor)")):
        v = lat[key]
        lines.append("| %s | %s | %s | %s |" % (label, fmt_ms(med(v)), fmt_ms(pct(v, 0.9)),
                                               fmt_ms(max(v))))
    lines += [
        "",
        "### Memory with 10,000 lines of scrollback",
        "",
        "%d lines in the pane: `seq 1 %d`, then (in a new session of the same "
        "server) %d lines of %d columns with a colour change every 10 columns; "
        "VmRSS before and 0.5 s after, and the peak (VmHWM). airlock keeps "
        "10,000 lines of scrollback (packed, at most 24 MiB); the tmux server's "
        "history-limit is set to 10000 as well. The tmux server's figures "
        "include its earlier session." % (TUI_SEQ, TUI_SEQ, TUI_SEQ, TUI_W),
        "",
        "| process | output | before | after | peak |",
        "|---|---|---:|---:|---:|",
    ]
    for key, label in (("airlock", "airlock (the supervisor: the TUI)"),
                       ("tmux", "tmux server")):
        for kind, what in (("", "`seq`"), ("-wide", "wide colour lines")):
            b, a, p = rss[key + kind]
            lines.append("| %s | %s | %s | %s | %s |" % (
                label, what, fmt_bytes(b * 1024), fmt_bytes(a * 1024), fmt_bytes(p * 1024)))
    worst = max(rss["airlock"][2], rss["airlock-wide"][2]) * 1024
    lines += [
        "",
        "- airlock's resident memory after the scrollback, its peak over both: %s "
        "(target: under 50 MB: %s)." % (fmt_bytes(worst), "met" if worst < 50e6 else "not met"),
        "",
    ]
    return lines


# Review of large changes: `airlock review` on an ended session that changed
# 10,000 files, and on one whose diff is about 10 MB, against `git diff |
# less` of the same change (a copy of the tree with the same edits made in
# place), each in a pane of REVIEW_W x REVIEW_H of a tmux server of its own,
# in turns in the same run.

REVIEW_RUNS = int(os.environ.get("BENCH_REVIEW_RUNS", "5"))
REVIEW_FILES = 10000
REVIEW_BIG_BYTES = 6430 * 1000  # every other line rewritten: a ~10 MB diff
REVIEW_PAGES = 100
REVIEW_W, REVIEW_H = 200, 50
REVIEW_PAUSE_MS = 100           # the yardstick of "without a visible pause"


class ReviewTmux(Tmux):
    """Tmux, in panes of REVIEW_W x REVIEW_H, with waits on what the
    screen shows."""

    def new(self, name, cwd, argv):
        self.run("new-session", "-d", "-s", name, "-x", str(REVIEW_W),
                 "-y", str(REVIEW_H), "-c", cwd, *argv)

    def screen(self, name, attrs=False):
        return self.run("capture-pane", "-p", *(["-e"] if attrs else []),
                        "-t", "=%s:" % name)

    def body(self, name):
        """The screen with its attributes (a cursor row is reverse video)
        but the first and last rows: a header and a prompt whose text may
        change with time."""
        return "\n".join(self.screen(name, True).split("\n")[1:REVIEW_H - 1])

    def until(self, name, test, what, timeout=120.0, every=0.005):
        """The time test(screen) first holds."""
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if test(self.screen(name)):
                return time.perf_counter()
            time.sleep(every)
        raise RuntimeError("tmux: %s never showed in %s:\n%s" % (
            what, name, self.screen(name)))

    def until_body(self, name, want, timeout=120.0, every=0.005):
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if self.body(name) == want:
                return time.perf_counter()
            time.sleep(every)
        raise RuntimeError("tmux: the screen of %s is not the rehearsed one:\n%s\n"
                           "(rehearsed:)\n%s" % (name, self.screen(name), want))

    def settled(self, name, before, timeout=60.0, quiet=0.25):
        """After a key: the body once it differs from before and then stays
        the same for quiet seconds."""
        end = time.perf_counter() + timeout
        body = self.body(name)
        while body == before:
            if time.perf_counter() > end:
                raise RuntimeError("tmux: a key changed nothing in %s:\n%s" % (
                    name, self.screen(name)))
            time.sleep(0.005)
            body = self.body(name)
        still = time.perf_counter()
        while time.perf_counter() - still < quiet:
            time.sleep(0.02)
            now = self.body(name)
            if now != body:
                body, still = now, time.perf_counter()
        return body


class ReviewCase:
    """One change reviewed both ways: the airlock session's tree and its
    copy with the same edits, the keys of each side, and what the first
    screen shows."""

    def __init__(self, key, title, tree, copy, session, opened, air_keys,
                 base_keys, timed):
        self.key, self.title = key, title
        self.tree, self.copy, self.session = tree, copy, session
        self.opened = opened        # the first screen of airlock review
        self.air_keys, self.base_keys = air_keys, base_keys
        self.timed = timed          # {label: (index in air_keys, in base_keys)}
        self.rehearsed = {}
        self.runs = {"airlock": [], "less": []}
        self.facts = {}
        self.whole = None           # airlock's whole diff in place (a big
                                    # one is made on a thread, its first
                                    # lines shown meanwhile): waited for
                                    # before the keys


def review_world(work):
    home = os.path.join(work, "review-home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, AIRLOCK_HOME=os.path.join(work, "review-store"),
               LANG="C.UTF-8", TERM="xterm-256color", GIT_CONFIG_NOSYSTEM="1",
               **GIT_IDENT)
    for k in ("TMUX", "TMUX_PANE", "AIRLOCK_KEYS", "LESS", "PAGER", "GIT_PAGER",
              "GIT_DIR", "GIT_WORK_TREE"):
        env.pop(k, None)
    return env


def review_tree(work, name, env, fill, edit):
    """A git repository filled by fill(tree) and committed; an airlock
    session (named name) that ran the shell command edit in it; a copy of
    the committed tree with edit run in place (the baseline's)."""
    tree = os.path.join(work, "review-" + name)
    fill(tree)
    subprocess.run(["git", "init", "-q", tree], check=True, env=env)
    # no automatic gc going on in the background (10,000 loose objects)
    subprocess.run(["git", "-C", tree, "config", "gc.auto", "0"], check=True, env=env)
    ms_of("git add -A && git commit -q -m setup", tree, env, shell=True)
    copy = tree + "-copy"
    subprocess.run(["cp", "-a", tree, copy], check=True)
    took = ms_of([BIN, "run", "--headless", "--name", name, "--", "sh", "-c", edit],
                 tree, env)
    log("review: %s: the session took %s, the same edits directly %s" % (
        name, fmt_ms(took), fmt_ms(ms_of(["sh", "-c", edit], copy, env))))
    diff = subprocess.run(["git", "diff"], cwd=copy, env=env, check=True,
                          capture_output=True).stdout
    status = subprocess.run([BIN, "status", name], cwd=tree, env=env, check=True,
                            capture_output=True, text=True).stdout
    facts = {"diff_bytes": len(diff), "diff_lines": diff.count(b"\n"),
             "changed": len(status.splitlines()),
             "git_diff_ms": med([ms_of(["git", "diff"], copy, env) for _ in range(3)])}
    return tree, copy, facts


def review_launch(srv, name, cwd, argv):
    """Starts argv in a new session once Enter is pressed; the time Enter
    was sent."""
    srv.new(name, cwd, ["sh", "-c", 'echo %s; read x; exec "$@"' % TUI_READY, "sh"] + argv)
    srv.wait_for(name, TUI_READY, timeout=30)
    t0 = time.perf_counter()
    srv.run("send-keys", "-t", "=%s:" % name, "Enter")
    return t0


def review_once(srv, case, side, i):
    """One run of one side: the time to the first screen (and, for airlock,
    until every file's approval state is known), then each key timed until
    the screen is the one the rehearsal (run 0) saw after it."""
    name = "%s-%s-%d" % (case.key, side, i)
    r = {"load": os.getloadavg()[0]}
    if side == "airlock":
        t0 = review_launch(srv, name, case.tree, [BIN, "review", case.session])
        r["open_ms"] = (srv.until(name, case.opened, "the review") - t0) * 1000
        r["known_ms"] = (srv.until(name, lambda s: "approved..." not in s and
                                   case.opened(s), "every approval state") - t0) * 1000
        if case.whole is not None:
            r["whole_ms"] = (srv.until(name, case.whole, "the whole diff") - t0) * 1000
        keys = case.air_keys
    else:
        t0 = review_launch(srv, name, case.copy, ["sh", "-c", "git diff | less"])
        r["open_ms"] = (srv.until(name, lambda s: "diff --git" in s,
                                  "git diff's first screen") - t0) * 1000
        keys = case.base_keys
    pid = int(srv.show(name, "#{pane_pid}"))
    want = case.rehearsed.get(side)
    bodies, times = [], []
    for k, key in enumerate(keys):
        before = srv.body(name)
        t = time.perf_counter()
        srv.run("send-keys", "-t", "=%s:" % name, key)
        if want is None:
            bodies.append(srv.settled(name, before))
        else:
            times.append((srv.until_body(name, want[k]) - t) * 1000)
    if want is None:
        case.rehearsed[side] = bodies
    r["keys_ms"] = times
    if side == "airlock":
        r["hwm_kb"] = proc_kb(pid, "VmHWM")
    srv.run("send-keys", "-t", "=%s:" % name, "q")
    wait_gone(pid, timeout=2)
    subprocess.run(["tmux", "-L", srv.sock, "-f", "/dev/null", "kill-session",
                    "-t", "=" + name], env=srv.env, capture_output=True)
    wait_gone(pid)
    return r if want is not None else None


def review_bench(srv, case):
    """REVIEW_RUNS runs of each side in turns (which goes first
    alternates), after a rehearsal of each (run 0, not counted)."""
    for i in range(REVIEW_RUNS + 1):
        sides = ("airlock", "less") if i % 2 == 0 else ("less", "airlock")
        for side in sides:
            r = review_once(srv, case, side, i)
            if r is None:
                log("review: %s, %s: rehearsed" % (case.key, side))
                continue
            case.runs[side].append(r)
            log("review: %s, %s, run %d: open %.0f ms, keys median %.1f ms, "
                "max %.1f ms, load %.2f" % (case.key, side, i, r["open_ms"],
                                            med(r["keys_ms"]), max(r["keys_ms"]),
                                            r["load"]))


def review_big_fill(tree):
    os.makedirs(tree)
    tui_text_file(os.path.join(tree, "big.txt"), REVIEW_BIG_BYTES)


def review_section(work):
    started = time.time()
    loads = [os.getloadavg()[0]]
    env = review_world(work)
    pages = ["PageDown"] * REVIEW_PAGES

    log("review: a session that changes %d files" % REVIEW_FILES)
    tree, copy, facts = review_tree(
        work, "files", env, lambda t: make_tree(t, REVIEW_FILES),
        "find d* -name '*.txt' -exec sed -i '$a changed' {} +")
    first = "d000/s00/f00000.txt"
    files = ReviewCase(
        "files", "%d changed files" % REVIEW_FILES, tree, copy, "files",
        lambda s: "%d files" % REVIEW_FILES in s and "M f00000.txt" in s,
        # j j: from the directory rows to the first file
        ["j", "j"] + pages + ["G"], pages + ["G"],
        {"diff": (1, None), "pages": (slice(2, 2 + REVIEW_PAGES), slice(0, REVIEW_PAGES)),
         "end": (-1, -1)})
    files.facts = facts
    files.facts["first"] = first

    log("review: a session whose diff is about 10 MB")
    tree, copy, facts = review_tree(
        work, "big", env, review_big_fill, "sed -i '1~2s/ / edited /' big.txt")
    big = ReviewCase(
        "big", "a 10 MB diff", tree, copy, "big",
        lambda s: "1 file " in s and "+00000000 edited" in s,
        # Enter: the diff takes the keys
        ["Enter"] + pages + ["G"], pages + ["G"],
        {"pages": (slice(1, 1 + REVIEW_PAGES), slice(0, REVIEW_PAGES)),
         "end": (-1, -1)})
    big.facts = facts
    big.whole = lambda s: "big.txt  hunk 1/1" in s
    with open(os.path.join(tree, "big.txt"), "rb") as f:
        text = f.read()
    big.facts["file_bytes"], big.facts["file_lines"] = len(text), text.count(b"\n")

    srv = ReviewTmux("review", env, history=100)
    try:
        for case in (files, big):
            review_bench(srv, case)
    finally:
        srv.kill()
    loads.append(os.getloadavg()[0])
    return report_review(files, big, time.time() - started, loads)


def report_review(files, big, seconds, loads):
    def verdict(ok):
        return "met" if ok else "not met"

    def ratio(v):
        return "%.2fx" % v if v < 0.1 else fmt_x(v)

    def runs(case, side, f):
        return [f(r) for r in case.runs[side]]

    def keys(case, side, what):
        at = case.timed[what][0 if side == "airlock" else 1]
        return [r["keys_ms"][at] for r in case.runs[side]]

    def pages(case, side):
        return keys(case, side, "pages")

    def stat(case, side, f):
        return med(runs(case, side, f))

    def both(case, label, air, base):
        """A row of medians: airlock's, the baseline's (None: none) and the
        ratio."""
        return "| %s | %s | %s | %s |" % (
            label, fmt_ms(air), fmt_ms(base) if base is not None else "-",
            ratio(air / base) if base else "-")

    def case_rows(case, first_diff):
        a, b = "airlock", "less"
        page_med = {s: med([med(p) for p in pages(case, s)]) for s in (a, b)}
        page_max = {s: med([max(p) for p in pages(case, s)]) for s in (a, b)}
        page_top = {s: max(max(p) for p in pages(case, s)) for s in (a, b)}
        end = {s: med(keys(case, s, "end")) for s in (a, b)}
        opened = {s: stat(case, s, lambda r: r["open_ms"]) for s in (a, b)}
        rows = [
            "| | `airlock review` | `git diff \\| less` | airlock / baseline |",
            "|---|---:|---:|---:|",
            both(case, "open: the first screen (%s)" % first_diff[0], opened[a], opened[b]),
        ]
        if first_diff[1]:
            rows.append(both(case, first_diff[1], med(keys(case, a, "diff")), None))
        if case.whole is not None:
            rows.append(both(case, "the whole diff in place of its first lines "
                             "(made on a thread; from the start)",
                             stat(case, a, lambda r: r["whole_ms"]), None))
        rows += [
            both(case, "every file's approval state known (idle-time work; from the "
                 "start)", stat(case, a, lambda r: r["known_ms"]), None),
            both(case, "%d pages down (PageDown): median page" % REVIEW_PAGES,
                 page_med[a], page_med[b]),
            both(case, "... the slowest page (median of the runs' slowest)",
                 page_max[a], page_max[b]),
            both(case, "... the slowest page of all runs", page_top[a], page_top[b]),
            both(case, "then `G`: %s" % first_diff[2], end[a], end[b]),
        ]
        return rows, opened, page_top, end

    mb = big.facts["diff_bytes"] / 1e6
    nf = "{:,}".format(REVIEW_FILES)
    lines = [
        "## Review of large changes (issue: review and promotion)",
        "",
        "`airlock review` against `git diff | less` of the same change, in the "
        "same run on this machine (%d cores; %.0f s; 1-minute load average %.2f "
        "at the start, %.2f at the end)." % (os.cpu_count(), seconds, loads[0], loads[1]),
        "",
        "- Each change is made twice: by `airlock run --headless` in a git "
        "repository (the session `airlock review` opens once it has ended) and, "
        "for the baseline, by the same command run directly in a copy of the "
        "repository, where `git diff` shows it as a working-tree change.",
        "- Both run in panes of %dx%d of one tmux server with no client "
        "attached, `airlock review ID` and `sh -c 'git diff | less'` (no LESS "
        "options; git's default pager would be `less -FRX`); medians of %d runs "
        "of each, taking turns (which goes first alternates), after one run of "
        "each that is not counted (it rehearses the keys: what the screen "
        "settles on after each)." % (REVIEW_W, REVIEW_H, REVIEW_RUNS),
        "- Open: from Enter on a shell's `read` that then execs the command "
        "until the first screen shows (capture-pane polled every 5 ms; one "
        "capture takes a few ms, which every figure here includes).",
        "- Keys: each sent with `tmux send-keys` once the previous one's screen "
        "showed, and timed until the screen (attributes included, the top and "
        "bottom rows aside) is the one the rehearsal saw after that key.",
        "",
        "### %s changed files" % nf,
        "",
        "%s files of one line in 100 directories (`make_tree`, as the status "
        "benchmark's), a line appended to each: `git diff` is %s (%s lines) "
        "and takes %s on its own (median of 3). airlock's list opens on the "
        "first file (`%s`), whose diff is made right after the list is on "
        "screen; `j j` moves two files down (each file's diff is made and "
        "shown); PageDown moves the list's selection a page; `G` goes to the "
        "last file." % (
            nf, fmt_bytes(files.facts["diff_bytes"]),
            "{:,}".format(files.facts["diff_lines"]), fmt_ms(files.facts["git_diff_ms"]),
            files.facts["first"]),
        "",
    ]
    rows, f_open, f_top, f_end = case_rows(
        files, ("airlock: the header `%d files` and the file list; less: `diff "
                "--git`" % REVIEW_FILES,
                "then `j j`: two files down, that file's diff (the second `j`)",
                "the last file's diff / the end of the diff"))
    f_diff = med(keys(files, "airlock", "diff"))
    lines += rows
    lines += [
        "",
        "### A %s diff" % fmt_bytes(big.facts["diff_bytes"]),
        "",
        "One text file of %s (%s lines of 40 to 120 columns, the TUI "
        "benchmark's) with every other line rewritten (`sed -i '1~2s/ / edited "
        "/'`): one hunk; `git diff` is %s (%s lines) and takes %s on its own. "
        "airlock shows the only file's diff at once: the diff of its first "
        "2,000 lines, marked so, while the whole diff is made on a thread (keys "
        "work meanwhile), which then takes its place; the keys are sent once it "
        "has. Enter gives the diff the keys (not timed)." % (
            fmt_bytes(big.facts["file_bytes"]), "{:,}".format(big.facts["file_lines"]),
            fmt_bytes(big.facts["diff_bytes"]), "{:,}".format(big.facts["diff_lines"]),
            fmt_ms(big.facts["git_diff_ms"])),
        "",
    ]
    rows, b_open, b_top, b_end = case_rows(
        big, ("the diff's first lines", None, "the diff's last line"))
    lines += rows
    hwm = {c.key: max(runs(c, "airlock", lambda r: r["hwm_kb"])) * 1024
           for c in (files, big)}
    p = REVIEW_PAUSE_MS
    lines += [
        "",
        "airlock's peak resident memory (VmHWM, the most of its runs): %s on "
        "%s files, %s on the %.0f MB diff." % (fmt_bytes(hwm["files"]), nf,
                                               fmt_bytes(hwm["big"]), mb),
        "",
        "Targets (\"large reviews stay responsive: %s changed files or a 10 MB "
        "diff open and scroll without a visible pause\"; the yardstick here: "
        "under %d ms for the first screen and for each page):" % (nf, p),
        "",
        "- %s files: the list opens in %s (%s), `j j` shows the third file's diff "
        "in %s more (%s); git diff | less: %s." % (
            nf, fmt_ms(f_open["airlock"]), verdict(f_open["airlock"] < p),
            fmt_ms(f_diff), verdict(f_diff < p), fmt_ms(f_open["less"])),
        "- %s files: the slowest page of all runs %s (%s); `G` to the last file "
        "%s (%s)." % (nf, fmt_ms(f_top["airlock"]),
                      verdict(f_top["airlock"] < p), fmt_ms(f_end["airlock"]),
                      verdict(f_end["airlock"] < p)),
        "- %.0f MB diff: opens in %s (%s; git diff | less: %s), the whole diff "
        "in place after %s, made on a thread while the keys work; the slowest page "
        "of all runs %s (%s); `G` to the last line %s (%s; less: %s)." % (
            mb, fmt_ms(b_open["airlock"]), verdict(b_open["airlock"] < p),
            fmt_ms(b_open["less"]), fmt_ms(stat(big, "airlock", lambda r: r["whole_ms"])),
            fmt_ms(b_top["airlock"]),
            verdict(b_top["airlock"] < p), fmt_ms(b_end["airlock"]),
            verdict(b_end["airlock"] < p), fmt_ms(b_end["less"])),
        "",
        "<details><summary>Every run</summary>",
        "",
    ]
    for c in (files, big):
        for side in ("airlock", "less"):
            lines.append("- %s, %s: open %s; pages: median %s; the slowest (page "
                         "number) %s; G %s; load [%s]" % (
                             c.key, side,
                             ", ".join(fmt_ms(r["open_ms"]) for r in c.runs[side]),
                             ", ".join(fmt_ms(med(p)) for p in pages(c, side)),
                             ", ".join("%s (%d)" % (fmt_ms(max(p)), p.index(max(p)) + 1)
                                       for p in pages(c, side)),
                             ", ".join(fmt_ms(v) for v in keys(c, side, "end")),
                             ", ".join("%.2f" % r["load"] for r in c.runs[side])))
    lines += ["", "</details>", ""]
    return lines


# The network proxy of --net allow: a 1 GiB download and 1,000 small
# requests from inside `airlock run --headless --net allow:localhost:PORT`
# through airlock's proxy, against the same transfers made directly on the
# host, in turns in the same run. The server runs outside the sandbox on
# 127.0.0.1; the clients time themselves (curl's own timing, a Python
# loop's), so airlock's start is not counted.

NET_RUNS = int(os.environ.get("BENCH_NET_RUNS", "5"))
NET_BIG = 1 << 30
NET_SMALL = 100
NET_REQUESTS = 1000
NET_RATIO = 0.8          # of direct throughput, at least
NET_ADDED_MS = 1.0       # added per request, under
NET_DOWNLOADS = ("direct", "http", "connect", "socks")
NET_LATENCIES = ("direct", "http", "connect", "socks",
                 "direct+ka", "http+ka", "connect+ka")

# GET /real and /zero: NET_BIG bytes with sendfile(2) from a file in tmpfs
# (random data; a sparse file, i.e. the zero page over and over); anything
# else: NET_SMALL bytes. A thread per connection; keep-alive unless the
# request says close.
NET_SERVER = r'''
import os, socket, sys, threading
portfile, real, zero, small = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
files = {b"/real": real, b"/zero": zero}
body = b"x" * (small - 1) + b"\n"

def handle(c):
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1]
            path = path[path.find(b"/", path.find(b"//") + 2):] if path.startswith(b"http") else path
            close = b"connection: close" in (l.lower() for l in lines[1:])
            if path in files:
                with open(files[path], "rb") as f:
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                              b"Content-Type: application/octet-stream\r\n\r\n" %
                              os.fstat(f.fileno()).st_size)
                    c.sendfile(f)
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: "
                          b"text/plain\r\n%s\r\n" % (len(body), b"Connection: close\r\n"
                                                     if close else b"") + body)
            if close:
                return
    except OSError:
        pass
    finally:
        c.close()

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(1024)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
'''

# python3 CLIENT KINDS PORT N: for each kind (comma-separated) N requests
# of /small, each timed from connect(2) (or from sending the request, for
# KIND+ka: N requests on one connection) until the whole response is
# read; prints {kind: [seconds]} as JSON. Kinds: direct (127.0.0.1:PORT),
# http (GET http://localhost:PORT/small to the proxy on :3128), connect
# (CONNECT localhost:PORT, then GET), socks (SOCKS5 on :1080, the name
# localhost).
NET_CLIENT = r'''
import json, socket, sys, time
kinds, port, n = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
host = "localhost:%d" % port

def conn(p):
    s = socket.create_connection(("127.0.0.1", p))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def head(s, buf, what):
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise RuntimeError("%s: the connection closed in the head: %r" % (what, buf))
        buf += d
    h, rest = buf.split(b"\r\n\r\n", 1)
    if not h.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
        raise RuntimeError("%s: %r" % (what, h))
    return h, rest

def response(s, buf=b""):
    """Reads one response; what came after it."""
    h, rest = head(s, buf, "GET")
    want = None
    for line in h.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            want = int(v)
    if want is None:
        raise RuntimeError("no Content-Length: %r" % h)
    while len(rest) < want:
        d = s.recv(65536)
        if not d:
            raise RuntimeError("a short body")
        rest += d
    return rest[want:]

def get(path, close):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        path, host, "Connection: close\r\n" if close else "")).encode()

def tunnel(s):
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host, host)).encode())
    if head(s, b"", "CONNECT")[1]:
        raise RuntimeError("CONNECT: bytes after the reply")

def socks(s):
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00":
        raise RuntimeError("SOCKS5: the greeting was refused")
    s.sendall(b"\x05\x01\x00\x03\x09localhost" + port.to_bytes(2, "big"))
    r = b""
    while len(r) < 10:
        d = s.recv(10 - len(r))
        if not d:
            raise RuntimeError("SOCKS5: the connection closed")
        r += d
    if r[1] != 0:
        raise RuntimeError("SOCKS5: reply %d" % r[1])

def opened(kind):
    """A connection that takes GET PATH, and PATH."""
    if kind == "direct":
        return conn(port), "/small"
    if kind == "http":
        return conn(3128), "http://%s/small" % host
    s = conn(3128 if kind == "connect" else 1080)
    (tunnel if kind == "connect" else socks)(s)
    return s, "/small"

out = {}
for kind in kinds:
    name, kept = kind.partition("+")[::2]
    times = []
    if kept:
        s, path = opened(name)
        buf = b""
        for i in range(n):
            t = time.perf_counter()
            s.sendall(get(path, False))
            buf = response(s, buf)
            times.append(time.perf_counter() - t)
        s.close()
    else:
        for i in range(n):
            t = time.perf_counter()
            s, path = opened(name)
            s.sendall(get(path, True))
            response(s)
            s.close()
            times.append(time.perf_counter() - t)
    out[kind] = times
print("lat " + json.dumps(out))
'''


def net_world(work):
    """A tree (a git repository) holding the client, a store, a HOME, and
    the two files of NET_BIG bytes (in /dev/shm when there is one)."""
    tree = os.path.join(work, "net-tree")
    os.makedirs(tree)
    subprocess.run(["git", "init", "-q", tree], check=True)
    with open(os.path.join(tree, "netclient.py"), "w") as f:
        f.write(NET_CLIENT)
    home = os.path.join(work, "net-home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, AIRLOCK_HOME=os.path.join(work, "net-store"),
               LANG="C.UTF-8")
    for k in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"):
        env.pop(k, None)
        env.pop(k.upper(), None)
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else work
    real = os.path.join(shm, "airlock-bench-%d-real" % os.getpid())
    zero = os.path.join(shm, "airlock-bench-%d-zero" % os.getpid())
    block = os.urandom(1 << 20)
    with open(real, "wb") as f:
        for _ in range(NET_BIG >> 20):
            f.write(block)
    with open(zero, "wb") as f:
        f.truncate(NET_BIG)
    return tree, env, real, zero


def net_server(work, real, zero):
    """The server's process and port."""
    script = os.path.join(work, "netserver.py")
    with open(script, "w") as f:
        f.write(NET_SERVER)
    portfile = os.path.join(work, "net.port")
    srv = subprocess.Popen([sys.executable, script, portfile, real, zero, str(NET_SMALL)],
                           stdin=subprocess.DEVNULL)
    end = time.perf_counter() + 10
    while not os.path.exists(portfile):
        if time.perf_counter() > end or srv.poll() is not None:
            srv.kill()
            raise RuntimeError("bench: the network benchmark's server did not start")
        time.sleep(0.02)
    with open(portfile) as f:
        return srv, int(f.read())


def net_script(side, port):
    """The shell script of one side's turn: the downloads (each line says
    when it began and ended), then the requests."""
    curl = "t0=$(date +%%s.%%N); curl -s --noproxy %s -o /dev/null -w 'dl %s %s " \
           "%%{speed_download} %%{size_download} %%{http_code}' %s %s/%s; " \
           "echo \" $t0 $(date +%%s.%%N)\""
    lines = []
    for src in ("real", "zero"):
        if side == "direct":
            lines.append(curl % ("'*'", "direct", src, "", "http://127.0.0.1:%d" % port, src))
            continue
        url = "http://localhost:%d" % port
        for route, opt in (("http", "-x http://127.0.0.1:3128"),
                           ("connect", "-p -x http://127.0.0.1:3128"),
                           ("socks", "--socks5-hostname 127.0.0.1:1080")):
            lines.append(curl % ("''", route, src, opt, url, src))
    kinds = [k for k in NET_LATENCIES if (k.split("+")[0] == "direct") == (side == "direct")]
    lines.append("%s netclient.py %s %d %d" % (sys.executable, ",".join(kinds), port,
                                               NET_REQUESTS))
    return "\n".join(lines)


def task_cpu(pid):
    """CPU seconds of all the threads of a process so far (schedstat: ns,
    finer than stat's ticks); None once it is gone."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
    except (FileNotFoundError, ProcessLookupError):
        return None
    return total / 1e9


def cpu_between(samples, t0, t1):
    """CPU seconds spent between the times t0 and t1, from (time, CPU
    seconds) samples, interpolated."""
    def at(t):
        for (ta, ca), (tb, cb) in zip(samples, samples[1:]):
            if ta <= t <= tb:
                return ca + (cb - ca) * (t - ta) / (tb - ta) if tb > ta else ca
        return samples[-1][1] if t > samples[-1][0] else samples[0][1]
    return at(t1) - at(t0)


def net_turn(side, tree, env, port):
    """One side's turn: {"dl": {(route, src): bytes/s}, "cpu": {(route,
    src): CPU seconds of airlock's supervisor (the proxy's process) during
    that download}, "lat": {kind: [seconds]}, "load": ...}."""
    import threading

    script = net_script(side, port)
    argv = ["sh", "-c", script]
    if side == "airlock":
        argv = [BIN, "run", "--headless", "--net", "allow:localhost:%d" % port, "--"] + argv
    r = {"load": os.getloadavg()[0], "dl": {}, "cpu": {}}
    p = subprocess.Popen(argv, cwd=tree, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []

    def sample():
        # every 20 ms: light enough beside a proxy busy on one of 2 cores
        while p.poll() is None:
            c = task_cpu(p.pid)
            if c is not None:
                samples.append((time.time(), c))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    if side == "airlock":
        sampler.start()
    out, err = p.communicate()
    if side == "airlock":
        sampler.join()
    for line in out.splitlines():
        if line.startswith("dl "):
            _, route, src, speed, size, code, t0, t1 = line.split()
            if code != "200" or int(size) != NET_BIG:
                raise RuntimeError("net: %s, %s: HTTP %s, %s bytes\n%s" % (
                    route, src, code, size, err[-3000:]))
            r["dl"][route, src] = float(speed)
            if samples:
                r["cpu"][route, src] = cpu_between(samples, float(t0), float(t1))
        elif line.startswith("lat "):
            r["lat"] = json.loads(line[4:])
    if p.returncode != 0 or "lat" not in r:
        raise RuntimeError("net: %s exited %d:\n%s\n%s" % (
            side, p.returncode, out[-3000:], err[-3000:]))
    return r


def pctl(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]


def net_runs_text(r):
    """One turn in words, for the log and the report's every run."""
    return "%s; %s; load %.2f" % (
        ", ".join("%s %s %.0f MB/s%s" % (
            k[0], k[1], v / 1e6,
            " (airlock %.2f s CPU)" % r["cpu"][k] if k in r["cpu"] else "")
            for k, v in sorted(r["dl"].items())),
        ", ".join("%s %s (p99 %s)" % (k, fmt_ms(med(v) * 1000), fmt_ms(pctl(v, 0.99) * 1000))
                  for k, v in r["lat"].items()),
        r["load"])


def net_section(work):
    started = time.time()
    loads = [os.getloadavg()[0]]
    tree, env, real, zero = net_world(work)
    srv = None
    runs = {"direct": [], "airlock": []}
    try:
        srv, port = net_server(work, real, zero)
        for i in range(NET_RUNS):
            for side in (("direct", "airlock") if i % 2 == 0 else ("airlock", "direct")):
                r = net_turn(side, tree, env, port)
                runs[side].append(r)
                log("net: %s, round %d: %s" % (side, i + 1, net_runs_text(r)))
    finally:
        if srv is not None:
            srv.kill()
            srv.wait()
        for f in (real, zero):
            os.unlink(f)
    loads.append(os.getloadavg()[0])
    return report_net(runs, time.time() - started, loads)


def report_net(runs, seconds, loads):
    def verdict(ok):
        return "met" if ok else "not met"

    def side(route):
        return "direct" if route.split("+")[0] == "direct" else "airlock"

    def speed(route, src):
        return med([r["dl"][route, src] for r in runs[side(route)]]) / 1e6

    def cpu(route, src):
        """airlock's CPU seconds per GiB, and the share of the transfer's
        time it was on a CPU (medians); None without samples."""
        rs = [r for r in runs["airlock"] if (route, src) in r["cpu"]]
        if not rs:
            return None
        gib = NET_BIG / float(1 << 30)
        return (med([r["cpu"][route, src] / gib for r in rs]),
                med([r["cpu"][route, src] * r["dl"][route, src] / NET_BIG for r in rs]))

    def lat(kind, f):
        """The median over the runs of f(the run's request times), in ms."""
        return med([f(r["lat"][kind]) for r in runs[side(kind)]]) * 1000

    routes = {"direct": "direct (`curl http://127.0.0.1:PORT/...` on the host)",
              "http": "plain HTTP proxy (`curl -x http://127.0.0.1:3128`)",
              "connect": "CONNECT (`curl -p -x http://127.0.0.1:3128`)",
              "socks": "SOCKS5 (`curl --socks5-hostname 127.0.0.1:1080`)"}
    kinds = {"direct": "direct (127.0.0.1:PORT)",
             "http": "plain HTTP proxy (`GET http://localhost:PORT/...` to :3128)",
             "connect": "CONNECT (`CONNECT localhost:PORT`, then GET)",
             "socks": "SOCKS5 (:1080, the name localhost)",
             "direct+ka": "kept alive: direct, one connection",
             "http+ka": "kept alive: plain HTTP proxy, one client connection "
                        "(the proxy opens a new one upstream per request)",
             "connect+ka": "kept alive: one CONNECT tunnel"}
    lines = [
        "## Network proxy (issue: network)",
        "",
        "Transfers from inside `airlock run --headless --net allow:localhost:PORT`, "
        "through airlock's proxy (the supervisor's, core/proxy.c), against the "
        "same transfers made directly on the host, in the same run on this "
        "machine (%d cores; %.0f s; 1-minute load average %.2f at the start, "
        "%.2f at the end)." % (os.cpu_count(), seconds, loads[0], loads[1]),
        "",
        "- The server runs on 127.0.0.1 outside the sandbox: Python, a thread "
        "per connection, %s bytes (1 GiB) sent with sendfile(2) from a file in "
        "tmpfs, or %d bytes for a small request." % ("{:,}".format(NET_BIG), NET_SMALL),
        "- %d rounds; in each, the direct side and the airlock side take turns "
        "(which goes first alternates); every figure is a median of the %d "
        "rounds. A side's turn is one shell script: the downloads, then the "
        "small requests; on the airlock side the script is the sandbox's "
        "command, and the clients time themselves, so airlock's start is not "
        "counted." % (NET_RUNS, NET_RUNS),
        "",
        "### 1 GiB download",
        "",
        "`curl -s -o /dev/null -w '%%{speed_download}'` (curl's own timing of "
        "the transfer), of two files of 1 GiB (%.2f GB): random data (distinct "
        "pages, as a real download), and a sparse file (the zero page over and "
        "over: the server costs next to nothing and the direct client copies "
        "from one page that stays in the CPU's cache, the most a proxy that "
        "copies the bytes could be behind). airlock's CPU: the CPU time of all "
        "the threads of airlock's supervisor (the proxy is one of them; "
        "/proc/PID/task/*/schedstat sampled every 20 ms) over the download, "
        "per GiB, and as a share of the transfer's time (100 %%: a CPU busy "
        "with the proxy all along)." % (NET_BIG / 1e9),
        "",
        "| route | random data | / direct | airlock's CPU | sparse file | / direct | airlock's CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def cpu_cell(route, src):
        c = cpu(route, src) if route != "direct" else None
        return "-" if c is None else "%.2f s/GiB (%.0f %%)" % (c[0], 100 * c[1])

    for route in NET_DOWNLOADS:
        real, zero = speed(route, "real"), speed(route, "zero")
        dr, dz = speed("direct", "real"), speed("direct", "zero")
        lines.append("| %s | %.0f MB/s | %s | %s | %.0f MB/s | %s | %s |" % (
            routes[route], real, "-" if route == "direct" else "%.0f %%" % (100 * real / dr),
            cpu_cell(route, "real"),
            zero, "-" if route == "direct" else "%.0f %%" % (100 * zero / dz),
            cpu_cell(route, "zero")))
    busy = [cpu(k, src) for k in NET_DOWNLOADS[1:] for src in ("real", "zero")]
    busy = [c[1] for c in busy if c is not None]
    if busy and min(busy) >= 0.9:
        lines += [
            "",
            "- airlock's supervisor is on a CPU for at least %.0f %% of every "
            "proxied download: the proxy, one thread, is what limits the "
            "throughput." % (100 * min(busy)),
        ]
    lines += [
        "",
        "### %s small requests" % "{:,}".format(NET_REQUESTS),
        "",
        "One Python process sends %s requests in a row for %d bytes each "
        "(the same script on the host and in the sandbox): each on a new "
        "connection (connect(2), the proxy's handshake if any, `GET` with "
        "`Connection: close`, the whole response read, close), as most "
        "agents' tools do, timed from connect(2) until the response is read; "
        "and, kept alive, on one connection, each timed from sending the "
        "request. Per round the median and the 99th percentile of the %s; the "
        "table shows their medians over the rounds, and what the proxy adds to "
        "the direct median." % ("{:,}".format(NET_REQUESTS), NET_SMALL,
                                "{:,}".format(NET_REQUESTS)),
        "",
        "| route | median | 99th percentile | added (median) |",
        "|---|---:|---:|---:|",
    ]
    for kind in NET_LATENCIES:
        base = "direct+ka" if kind.endswith("+ka") else "direct"
        m = lat(kind, med)
        lines.append("| %s | %s | %s | %s |" % (
            kinds[kind], fmt_ms(m), fmt_ms(lat(kind, lambda v: pctl(v, 0.99))),
            "-" if side(kind) == "direct" else fmt_ms(m - lat(base, med))))
    proxied = NET_DOWNLOADS[1:]
    added = {k: lat(k, med) - lat("direct", med) for k in ("http", "connect", "socks")}
    most = max(added, key=added.get)
    lines += [
        "",
        "Targets (\"throughput of a 1 GB download through the proxy and the "
        "latency of 1,000 small requests, against the same transfers without "
        "airlock: at least 80 % of direct throughput and under 1 ms added per "
        "request\"):",
        "",
    ]
    for src, what in (("real", "random data"), ("zero", "sparse file")):
        worst = min(proxied, key=lambda k: speed(k, src))
        d = speed("direct", src)
        lines.append("- 1 GiB, %s: the slowest route (%s) %.0f MB/s, %.0f %% of direct "
                     "%.0f MB/s (%s)." % (what, worst, speed(worst, src),
                                         100 * speed(worst, src) / d, d,
                                         verdict(speed(worst, src) >= NET_RATIO * d)))
    lines += [
        "- A request on a new connection: the most added (%s) %s per request "
        "(%s); plain HTTP %s, CONNECT %s, SOCKS5 %s." % (
            most, fmt_ms(added[most]), verdict(added[most] < NET_ADDED_MS),
            fmt_ms(added["http"]), fmt_ms(added["connect"]), fmt_ms(added["socks"])),
        "",
        "<details><summary>Every run</summary>",
        "",
    ]
    for i in range(NET_RUNS):
        first = "direct" if i % 2 == 0 else "airlock"
        for s in (first, "airlock" if first == "direct" else "direct"):
            lines.append("- round %d, %s: %s" % (i + 1, s, net_runs_text(runs[s][i])))
    lines += ["", "</details>", ""]
    return lines


def split_report(text):
    """The report's header lines and its "## " sections, in order:
    (header, [(title line, lines)])."""
    header, sections = [], []
    for line in text.split("\n"):
        if line.startswith("## "):
            sections.append((line, [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            header.append(line)
    return header, sections


def merge_report(header, made):
    """The existing report with the sections made in this run replaced (or
    added at the end) and the others kept; a line in the header says
    which were regenerated when."""
    try:
        with open(REPORT) as f:
            old_header, old = split_report(f.read())
    except FileNotFoundError:
        return header + [line for s in made for line in s]
    byline = {s[0]: s for s in made}
    merged = [byline.pop(title, lines) for title, lines in old]
    merged += [s for s in made if s[0] in byline]
    note = header[2].replace("Generated by `make bench`", "Regenerated by "
                             "`BENCH_SECTIONS=%s make bench`" % ",".join(SECTIONS))
    note = note.replace(" in all.", ": %s." % ", ".join(s[0][3:] for s in made))
    # an older partial run's line stays while it names a section this
    # run did not regenerate
    titles = {s[0][3:] for s in made}
    kept = [line for line in old_header if not line.startswith("Regenerated by") or
            not set(re.sub(r".* \d+ s: (.*)\.$", r"\1", line).split(", ")) <= titles]
    lines = []
    for line in [line for line in kept if line] + [note]:
        lines += [line, ""]
    for s in merged:
        while s and s[-1] == "":
            s = s[:-1]
        lines += s + [""]
    return lines


def main():
    work = tempfile.mkdtemp(prefix="airlock-bench.", dir=BASE)
    started = time.time()
    sections = []
    try:
        if "status" in SECTIONS:
            sections.append(status_section(work))
        if "checkpoint" in SECTIONS:
            sections.append(checkpoint_section(work))
        if "promote" in SECTIONS:
            sections.append(promote_section(work))
        if "tui" in SECTIONS:
            sections.append(tui_section(work))
        if "review" in SECTIONS:
            sections.append(review_section(work))
        if "net" in SECTIONS:
            sections.append(net_section(work))
    finally:
        rmtree(work)
    lines = [
        "# airlock benchmarks",
        "",
        "Generated by `make bench` on %s; %s; user %s; %.0f s in all." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            os.uname().release, "root" if os.geteuid() == 0 else "unprivileged",
            time.time() - started),
        "",
    ]
    if all(s in SECTIONS for s in ALL_SECTIONS):
        for s in sections:
            lines += s
    else:
        # some sections only: the others stay as the last full run left them
        lines = merge_report(lines, sections)
    if not ONLY:
        with open(REPORT, "w") as f:
            f.write("\n".join(lines))
    print("\n".join(lines))

if __name__ == "__main__":
    main()

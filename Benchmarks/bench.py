#!/usr/bin/env python3
"""intern benchmarks: dispatch overhead and trial shapes vs xargs -P2 (and Optuna), and log ingest (throughput, CPU, ratio, integrity).

    python3 Benchmarks/bench.py --intern .build/release/intern --out .build/bench.json [--quick]

Python 3 standard library only. See Benchmarks/README.md for what each figure means and how the
baselines are run. Exit status: 0 when every check held (all trials completed, every log byte-exact),
1 when any integrity check failed (lost or changed bytes, failed trials, a run that errored),
2 on bad usage. Missing a performance target prints MISS but does not change the exit status.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PYTHON = "/usr/bin/python3"  # the system interpreter, not a pyenv shim on PATH
# `intern grep` over the synthetic campaign: a fixed string found in 500 logs and one in none, and
# regular expressions (matched line by line in linear time) that find the same and nothing.
GREP_PATTERNS = (
    ("grep_500_matches", ["CUDA out of memory"]),
    ("grep_no_match", ["NCCL WARN"]),
    ("grep_regex_500_matches", ["--regex", "CUDA out of [a-z]+"]),
    ("grep_regex_no_match", ["--regex", "NCCL (WARN|ERROR) [0-9]+"]),
)
TARGET_DISPATCH_MS = 3.0  # per trial above xargs
TARGET_INGEST_MBPS = 100.0  # raw MB/s, end to end
TARGET_RATIO = 5.0  # raw / stored
TARGET_SAMPLER_MS = 10.0  # one TPE draw at 10,000 finished trials
TARGET_DIGEST_S = 1.0  # intern digest on 10,000 trials and 1 GB of logs
TARGET_REPORT_S = 10.0  # intern report (HTML) on the same
TARGET_PEAK_MB = 500.0  # peak resident memory of either
TARGET_SHAPE_RATIO = 1.10  # trial shapes: intern's wall (and W2's CPU) at most 1.10x xargs
TARGET_GAP_P50_MS = 1.0  # attempt end -> next attempt started on the same worker, p50
TARGET_GAP_P99_MS = 10.0  # the same, p99
TARGET_PSS_MIB = 30.0  # coordinator + workers, max during W1
TARGET_FIRST_TRIAL_MS = 100.0  # `intern run` start -> the first attempt started
TARGET_RSS_AFTER_BIG_REPORT = 1.10  # the coordinator's RSS after a report at the size limit, x its RSS before

# The job of the big-report measurement: trial 2 writes a marker file, then about 48 MiB of random
# base64 lines (little for zstd to take off) over about 3 s; trial 3 writes a marker and waits 5 s,
# while the bench reads the coordinator's memory; every trial ends with its loss line.
BIG_PY = r'''import base64, os, sys, time

trial = int(sys.argv[1])
if trial in (2, 3):
    open("started-%d" % trial, "w").close()
if trial == 2:
    for _ in range(48):
        for _ in range(1024):
            sys.stdout.write(base64.b64encode(os.urandom(768)).decode() + "\n")
        sys.stdout.flush()
        time.sleep(0.06)
if trial == 3:
    time.sleep(5)
print('{"loss": %d}' % trial)
'''

# The job of the trial-shapes benchmark: LINES JSON metric lines `{"step": i, "loss": x}` on stdout
# with print(), nothing else. Every trial writes the same number of bytes (the loss stays in
# [0, 10), "%.6f" is 8 characters), and the last loss is a function of the trial argument alone,
# so the bench knows what each trial wrote and which value is its last.
SHAPE_PY = r'''import sys

trial, lines = int(sys.argv[1]), int(sys.argv[2])
loss = 2.0 + (trial % 97) / 100.0
for i in range(lines):
    loss *= 0.9995
    print('{"step": %d, "loss": %.6f}' % (i, loss))
'''

# The Optuna baseline, run with the bench's venv interpreter: threads mode (n_jobs=2, the in-memory
# storage, a random sampler over a one-value space as the intern campaign has), each objective
# running the same job with subprocess.run(capture_output=True), writing its stdout and stderr to
# per-trial files as xargs and intern keep them, and returning the last loss it printed.
OPTUNA_PY = r'''import json
import os
import subprocess
import sys
import time

t0 = time.monotonic()
import optuna

python, script, lines, trials, jobs, outdir, unbuffered = sys.argv[1:8]
lines, trials, jobs = int(lines), int(trials), int(jobs)
env = dict(os.environ)
env.pop("PYTHONUNBUFFERED", None)
if unbuffered == "1":
    env["PYTHONUNBUFFERED"] = "1"
optuna.logging.set_verbosity(optuna.logging.WARNING)  # no log line per trial: the cheapest Optuna


def objective(trial):
    trial.suggest_categorical("x", [0])
    k = trial.number
    p = subprocess.run([python, script, str(k), str(lines)], capture_output=True, env=env)
    with open(os.path.join(outdir, "%d.out" % k), "wb") as f:
        f.write(p.stdout)
    with open(os.path.join(outdir, "%d.err" % k), "wb") as f:
        f.write(p.stderr)
    if p.returncode != 0:
        raise RuntimeError("job exited %d" % p.returncode)
    last = p.stdout.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return json.loads(last)["loss"]


study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=1))
t1 = time.monotonic()
study.optimize(objective, n_trials=trials, n_jobs=jobs)
t2 = time.monotonic()
states = [t.state.name for t in study.trials]
print(json.dumps({"import_seconds": t1 - t0, "optimize_seconds": t2 - t1, "trials": len(states),
                  "complete": states.count("COMPLETE"), "best": study.best_value,
                  "optuna": optuna.__version__}))
'''

# The job of the log benchmark: ~2 MB (default) of Hugging Face Trainer-style output on stdout,
# dict lines every step, a tqdm-style "\r" progress update every 5 steps, an eval dict every epoch;
# a few lines on stderr. Deterministic per trial (seeded from the trial number). It uses print()
# and sys.stdout with Python's default buffering: block-buffered, since stdout is a pipe or a file
# and PYTHONUNBUFFERED is removed from the environment by the benchmark.
GEN_PY = r'''import random
import sys


def main():
    trial = int(sys.argv[1])
    target = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    rng = random.Random(1_000_003 * trial + 12345)
    out, err = sys.stdout, sys.stderr
    err.write("[trial %d] Some weights of BertForSequenceClassification were not initialized from the "
              "model checkpoint and are newly initialized: ['classifier.bias', 'classifier.weight']\n" % trial)
    err.write("You should probably TRAIN this model on a down-stream task to be able to use it for "
              "predictions and inference.\n")
    lr0 = rng.choice([1e-5, 2e-5, 3e-5, 5e-5])
    steps_per_epoch = rng.choice([250, 313, 500, 625])
    total = steps_per_epoch * 3
    rate = rng.uniform(8.0, 30.0)
    loss = rng.uniform(0.68, 0.72)
    written = step = 0
    elapsed = 0.0
    open_bar = False

    def clock(t):
        t = int(t)
        return "%02d:%02d" % (t // 60, t % 60)

    while written < target:
        step += 1
        s = step % total or total
        elapsed += 1.0 / (rate * rng.uniform(0.9, 1.1))
        loss = max(0.01, loss * rng.uniform(0.985, 1.012))
        line = "{'loss': %s, 'learning_rate': %r, 'epoch': %s}" % (
            round(loss, 4), lr0 * (total - s) / total, round(step / steps_per_epoch, 2))
        if open_bar:
            line, open_bar = "\n" + line, False
        print(line)
        written += len(line) + 1
        if step % 5 == 0:
            frac = s / total
            filled = int(frac * 10)
            part = " \u258f\u258e\u258d\u258c\u258b\u258a\u2589"[int((frac * 10 - filled) * 8)] if filled < 10 else ""
            bar = ("\u2588" * filled + part).ljust(10)
            it_s = rate * rng.uniform(0.95, 1.05)
            bar_line = "\r%3d%%|%s| %d/%d [%s<%s, %.2fit/s]" % (
                int(frac * 100), bar, s, total, clock(elapsed), clock((total - s) / it_s), it_s)
            out.write(bar_line)
            written += len(bar_line.encode())
            open_bar = True
        if step % steps_per_epoch == 0:
            ev = ("{'eval_loss': %r, 'eval_accuracy': %r, 'eval_runtime': %s, 'eval_samples_per_second': %s, "
                  "'eval_steps_per_second': %s, 'epoch': %s}") % (
                loss * rng.uniform(0.9, 1.2), rng.uniform(0.5, 0.95), round(rng.uniform(5, 20), 4),
                round(rng.uniform(50, 300), 3), round(rng.uniform(5, 40), 3), round(step / steps_per_epoch, 2))
            if open_bar:
                ev, open_bar = "\n" + ev, False
            print(ev)
            written += len(ev) + 1
    if open_bar:
        print()
    err.write("[trial %d] done: %d steps\n" % (trial, step))


main()
'''

TRIVIAL_SPACE = "space:\n  x: {type: choice, values: [0]}\nsampler: {type: random, seed: 1}\n"


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def job_env():
    """The environment for intern (and so for its workers and jobs) and for the baselines."""
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    return env


def run_timed(argv, *, cwd, timeout, stdin_bytes=None, stdout_path=None, stderr_path=None, env=None):
    """Runs argv, returns (rc, wall seconds by time.monotonic). On timeout kills its process group."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                                stdout=out, stderr=err, env=env or job_env(), start_new_session=True)
        try:
            proc.communicate(stdin_bytes, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None, time.monotonic() - t0
        return proc.returncode, time.monotonic() - t0
    finally:
        for f in (out, err):
            if f is not subprocess.DEVNULL:
                f.close()


def tail(path, n=2000):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data[-n:].decode("utf-8", "replace")
    except OSError:
        return ""


def sha256_file(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
    return h.hexdigest(), n


def dir_size(path, suffix=""):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            if name.endswith(suffix):
                total += os.path.getsize(os.path.join(root, name))
    return total


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(sorted_xs, q):
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return sorted_xs[max(0, -(-len(sorted_xs) * q // 100) - 1)] if sorted_xs else None


def distribution(xs):
    """p50, p90, p99 and max of a list of integer milliseconds, and [value, how many] for each value."""
    xs = sorted(xs)
    counts = {}
    for x in xs:
        counts[x] = counts.get(x, 0) + 1
    return {"n": len(xs), "p50": percentile(xs, 50), "p90": percentile(xs, 90), "p99": percentile(xs, 99),
            "max": xs[-1] if xs else None, "counts": sorted(counts.items())}


def shape_last_loss(trial, lines):
    """The last loss SHAPE_PY prints for this trial argument (the same float operations)."""
    loss = 2.0 + (trial % 97) / 100.0
    for _ in range(lines):
        loss *= 0.9995
    return loss


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def sample_tree_pss(pid, samples, done):
    """Every 100 ms until done: the PSS (KiB) of pid and of its direct children that run the same
    executable as pid (`intern run`'s workers; their jobs are the workers' children)."""
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        exe = None
    while not done.is_set():
        pids = [pid]
        try:
            for task in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                    for child in f.read().split():
                        try:
                            if os.readlink("/proc/%s/exe" % child) == exe:
                                pids.append(int(child))
                        except OSError:
                            pass
        except OSError:
            pass
        by_pid = {p: pss_kib(p) for p in pids}
        if by_pid.get(pid) is not None:
            if exe is None:  # read late: the process had not exec'd yet when the thread began
                try:
                    exe = os.readlink("/proc/%d/exe" % pid)
                except OSError:
                    pass
            samples.append((sum(v for v in by_pid.values() if v), {str(p): v for p, v in by_pid.items()}))
        done.wait(0.1)


class Bench:
    def __init__(self, args):
        self.args = args
        self.intern = os.path.abspath(args.intern)
        self.base = tempfile.mkdtemp(prefix="intern-bench-", dir=args.tmp)
        self.problems = []  # integrity problems: make the exit status 1
        self.notes = []  # other observations worth printing

    def problem(self, msg):
        self.problems.append(msg)
        log("PROBLEM: " + msg)

    def write(self, path, text):
        with open(path, "w") as f:
            f.write(text)

    # -- intern -----------------------------------------------------------------------------------

    def run_intern(self, spec, label, i, timeout):
        """One `intern run` with a fresh --root. Returns a dict with wall and --stats contents."""
        root = os.path.join(self.base, "%s-root-%d" % (label, i))
        stats_path = os.path.join(self.base, "%s-stats-%d.json" % (label, i))
        out_path = os.path.join(self.base, "%s-intern-%d.out" % (label, i))
        err_path = os.path.join(self.base, "%s-intern-%d.err" % (label, i))
        rc, wall = run_timed([self.intern, "run", spec, "--workers", str(self.args.workers), "--quiet",
                              "--stats", stats_path, "--root", root],
                             cwd=self.base, timeout=timeout, stdout_path=out_path, stderr_path=err_path)
        result = {"run": i, "rc": rc, "wall_seconds": wall, "root": root}
        if rc is None:
            self.problem("%s run %d: intern run timed out after %.0f s; stderr tail: %s" % (label, i, timeout, tail(err_path)))
        elif rc != 0:
            self.problem("%s run %d: intern run exited %d; stderr tail: %s" % (label, i, rc, tail(err_path)))
        try:
            with open(stats_path) as f:
                result["stats"] = json.load(f)
        except (OSError, ValueError) as e:
            result["stats"] = None
            self.problem("%s run %d: no --stats JSON (%s)" % (label, i, e))
        err_text = tail(err_path, 4000).strip()
        if err_text:
            result["stderr_tail"] = err_text
        return result

    def store_facts(self, root, campaign):
        """What the store says: the campaign's span (created -> finished, ms), metric points, db size."""
        import sqlite3
        directory = os.path.join(root, campaign)
        facts = {"db_bytes": sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory)
                                 if f.startswith("campaign.db"))}
        try:
            con = sqlite3.connect("file:%s?mode=ro" % os.path.join(directory, "campaign.db"), uri=True)
            try:
                created, finished = con.execute("SELECT created_at, finished_at FROM campaign").fetchone()
                facts["campaign_span_seconds"] = (finished - created) / 1000 if finished else None
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "metric_points" in tables:  # one row per point
                    facts["metric_points"] = con.execute("SELECT count(*) FROM metric_points").fetchone()[0]
                elif "metric_batches" in tables:  # packed batches: first_seq..last_seq per row
                    facts["metric_points"] = con.execute(
                        "SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM metric_batches").fetchone()[0]
                    facts["metric_rows"] = con.execute("SELECT count(*) FROM metric_batches").fetchone()[0]
            finally:
                con.close()
        except Exception as e:  # the schema is intern's business; these are extras
            facts["error"] = str(e)
        return facts

    # -- (1) dispatch -----------------------------------------------------------------------------

    def dispatch(self):
        n, runs = self.args.dispatch_trials, self.args.runs
        d = os.path.join(self.base, "dispatch")
        os.makedirs(d)
        spec = os.path.join(d, "campaign.yaml")
        self.write(spec, "name: bench-dispatch\ncommand: [/bin/true]\n" + TRIVIAL_SPACE +
                   "trials: %d\nparallel: %d\n" % (n, self.args.workers))
        seq = "".join("%d\n" % k for k in range(n)).encode()
        p = str(self.args.workers)
        # Baseline A (strict): one fork+exec of /bin/true per trial, xargs' own stdout/stderr (so every
        # job's) redirected to files. No shell; all jobs share the two files.
        direct = ["xargs", "-P" + p, "-n1", "/bin/true"]
        # Baseline B: per-trial output files, which need a redirection, so one /bin/sh (dash) per trial
        # that opens the two files and execs /bin/true: one fork, two execs per trial.
        per_file = ["xargs", "-P" + p, "-I{}", "/bin/sh", "-c", 'exec /bin/true >"$1/$0.out" 2>"$1/$0.err"', "{}"]
        rows = {"intern": [], "xargs_direct": [], "xargs_sh_files": []}
        for i in range(runs):
            rc, wall = run_timed(direct, cwd=d, timeout=600, stdin_bytes=seq,
                                 stdout_path=os.path.join(d, "direct-%d.out" % i),
                                 stderr_path=os.path.join(d, "direct-%d.err" % i))
            if rc != 0:
                self.problem("dispatch xargs direct run %d exited %s" % (i, rc))
            rows["xargs_direct"].append({"run": i, "rc": rc, "wall_seconds": wall})

            files = os.path.join(d, "files-%d" % i)
            os.makedirs(files)
            rc, wall = run_timed(per_file + [files], cwd=d, timeout=600, stdin_bytes=seq)
            made = len(os.listdir(files))
            if rc != 0 or made != 2 * n:
                self.problem("dispatch xargs sh run %d exited %s with %d files" % (i, rc, made))
            rows["xargs_sh_files"].append({"run": i, "rc": rc, "wall_seconds": wall})
            shutil.rmtree(files)

            r = self.run_intern(spec, "dispatch", i, timeout=max(120, n * 0.2))
            st = r.get("stats") or {}
            if st and (st.get("completed") != n or st.get("failed") != 0):
                self.problem("dispatch run %d: completed %s, failed %s of %d" % (i, st.get("completed"), st.get("failed"), n))
            if r["rc"] is not None:
                r["store"] = self.store_facts(r["root"], "bench-dispatch")
            rows["intern"].append(r)
            if not self.args.keep:
                shutil.rmtree(r["root"], ignore_errors=True)
            log("dispatch run %d: xargs direct %.2fs, xargs sh %.2fs, intern %.2fs (stats wall %s, cpu %s)" % (
                i, rows["xargs_direct"][-1]["wall_seconds"], rows["xargs_sh_files"][-1]["wall_seconds"], r["wall_seconds"],
                st.get("wall_seconds"), st.get("coordinator_cpu_seconds")))

        med = {k: median(x["wall_seconds"] for x in v) for k, v in rows.items()}
        lanes = self.args.workers
        m = {
            "trials": n, "lanes": lanes, "runs": runs,
            "median_wall_seconds": med,
            "median_intern_stats_wall_seconds": median((x.get("stats") or {}).get("wall_seconds") for x in rows["intern"]),
            "median_coordinator_cpu_seconds": median((x.get("stats") or {}).get("coordinator_cpu_seconds") for x in rows["intern"]),
            "median_campaign_span_seconds": median((x.get("store") or {}).get("campaign_span_seconds") for x in rows["intern"]),
        }
        if m["median_campaign_span_seconds"]:
            m["campaign_span_ms_per_trial_per_lane"] = m["median_campaign_span_seconds"] * lanes / n * 1000
        for base in ("xargs_direct", "xargs_sh_files"):
            if med["intern"] is not None and med[base] is not None:
                diff = med["intern"] - med[base]
                m["overhead_ms_per_trial_vs_" + base] = diff / n * 1000
                m["overhead_ms_per_trial_per_lane_vs_" + base] = diff * lanes / n * 1000
        if med["intern"]:
            m["intern_trials_per_second"] = n / med["intern"]
            m["intern_ms_per_trial"] = med["intern"] / n * 1000
        if m["median_coordinator_cpu_seconds"] is not None:
            m["coordinator_cpu_ms_per_trial"] = m["median_coordinator_cpu_seconds"] / n * 1000
        return {"spec": open(spec).read(), "baselines": {"xargs_direct": " ".join(direct[:3]) + " /bin/true  (stdin: seq; stdout/stderr > files)",
                                                         "xargs_sh_files": " ".join(per_file[:5]) + " '%s' {} OUTDIR" % per_file[5]},
                "runs": rows, "median": m}

    # -- (2) log volume ---------------------------------------------------------------------------

    def trial_args(self, directory):
        """{trial id: the argument the latest attempt's job got}, read from the store: the trial number
        intern rendered into the command (read from the store's attempts.argv, not assumed)."""
        import re
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(directory, "campaign.db"), uri=True)
        try:
            rows = con.execute("SELECT trial_id, argv FROM attempts ORDER BY trial_id, number").fetchall()
        finally:
            con.close()
        args = {}
        for trial_id, argv in rows:
            argv = json.loads(argv)
            if argv[:2] == ["/bin/sh", "-c"]:
                m = re.search(r"expected/'?(\d+)'?\.out", argv[2])
                args[trial_id] = int(m.group(1)) if m else None
            else:
                args[trial_id] = int(argv[2])
        return args

    def expected_for(self, arg):
        """sha256 and size of gen.py's stdout and stderr for argument arg (from the floor runs, or made now)."""
        if arg not in self.expected:
            self.generate(arg)
        return self.expected[arg]

    def generate(self, arg):
        out, err = (os.path.join(self.data_dir, "%d.%s" % (arg, x)) for x in ("out", "err"))
        rc, _ = run_timed([PYTHON, "gen.py", str(arg), str(self.args.log_bytes)], cwd=self.logs_dir, timeout=120,
                          stdout_path=out, stderr_path=err)
        if rc != 0:
            self.problem("gen.py %d exited %s" % (arg, rc))
        self.expected[arg] = {"stdout": sha256_file(out), "stderr": sha256_file(err)}

    def verify_logs(self, root, campaign, label, i):
        """Compares `intern logs T` (stdout and stderr) for every trial with what its job wrote (sha256)."""
        directory = os.path.join(root, campaign)
        mismatches = []
        t0 = time.monotonic()
        args = self.trial_args(directory)
        if len(args) != self.args.log_trials:
            self.problem("%s run %d: the store has %d trials with attempts, expected %d" % (label, i, len(args), self.args.log_trials))
        if args and sorted(args.values()) != sorted(args):
            note = "%s: {trial} rendered as %s..%s for store trials %s..%s (docs/campaign.md: {trial} is the trial number)" % (
                label, min(args.values()), max(args.values()), min(args), max(args))
            if note not in self.notes:
                self.notes.append(note)
        for t, arg in sorted(args.items()):
            exp = self.expected_for(arg)
            for stream in ("stdout", "stderr"):
                argv = [self.intern, "logs", str(t), "--dir", directory] + (["--stream", "stderr"] if stream == "stderr" else [])
                p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=job_env(), timeout=120)
                got = (hashlib.sha256(p.stdout).hexdigest(), len(p.stdout))
                want = exp[stream]
                if p.returncode != 0 or got[0] != want[0]:
                    mismatches.append({"trial": t, "arg": arg, "stream": stream, "rc": p.returncode, "got_bytes": got[1],
                                       "expected_bytes": want[1], "stderr": p.stderr[-500:].decode("utf-8", "replace")})
        if mismatches:
            lost = sum(max(0, m["expected_bytes"] - m["got_bytes"]) for m in mismatches)
            self.problem("%s run %d: %d of %d logs differ from the job's output (%d bytes short in all); first: %s" % (
                label, i, len(mismatches), 2 * len(args), lost, json.dumps(mismatches[0])))
        raw = sum(self.expected_for(a)["stdout"][1] + self.expected_for(a)["stderr"][1] for a in args.values())
        return {"checked_logs": 2 * len(args), "mismatches": mismatches, "verify_seconds": time.monotonic() - t0,
                "expected_raw_bytes": raw, "trial_args": {str(k): v for k, v in args.items()}}

    def log_volume(self):
        n, runs, size = self.args.log_trials, self.args.runs, self.args.log_bytes
        d = os.path.join(self.base, "logs")
        os.makedirs(d)
        self.write(os.path.join(d, "gen.py"), GEN_PY)
        p = str(self.args.workers)
        seq = "".join("%d\n" % k for k in range(n)).encode()

        # Floor: the same jobs through xargs, each job's stdout/stderr to its own files (one /bin/sh per
        # job for the redirection, which execs the interpreter: negligible next to the job).
        floor_cmd = ["xargs", "-P" + p, "-I{}", "/bin/sh", "-c",
                     'exec %s gen.py "$0" %d >"$1/$0.out" 2>"$1/$0.err"' % (PYTHON, size), "{}"]
        expected = None
        floor_runs = []
        data_dir = os.path.join(d, "expected")
        self.logs_dir, self.data_dir = d, data_dir
        for i in range(runs):
            out = os.path.join(d, "floor-%d" % i)
            os.makedirs(out)
            rc, wall = run_timed(floor_cmd + [out], cwd=d, timeout=900, stdin_bytes=seq)
            hashes = {t: {s: sha256_file(os.path.join(out, "%d.%s" % (t, "out" if s == "stdout" else "err")))
                          for s in ("stdout", "stderr")} for t in range(n)}
            raw = sum(h["stdout"][1] + h["stderr"][1] for h in hashes.values())
            if rc != 0:
                self.problem("log floor run %d: xargs exited %s" % (i, rc))
            if expected is None:
                expected = hashes
                os.rename(out, data_dir)  # kept for the replay campaign
            else:
                if hashes != expected:
                    self.problem("log floor run %d: gen.py output differs from run 0 (not deterministic?)" % i)
                shutil.rmtree(out)
            floor_runs.append({"run": i, "rc": rc, "wall_seconds": wall, "raw_bytes": raw, "raw_MB_per_s": raw / wall / 1e6})
            log("log floor run %d: %.2fs, %.1f MB/s" % (i, wall, raw / wall / 1e6))
        expected_raw = sum(h["stdout"][1] + h["stderr"][1] for h in expected.values())
        self.expected = dict(expected)
        # intern may number trials from 1 (the store's ids) rather than 0: have trial n's bytes ready too,
        # for the replay campaign and the checks.
        self.generate(n)

        # Reference compressibility of one trial's stdout with the zstd CLI, where installed.
        reference = {}
        if shutil.which("zstd"):
            sample = os.path.join(data_dir, "0.out")
            for level in (1, 3, 19):
                z = subprocess.run(["zstd", "-q", "-c", "-%d" % level, sample], stdout=subprocess.PIPE)
                if z.returncode == 0 and z.stdout:
                    reference["zstd_-%d" % level] = os.path.getsize(sample) / len(z.stdout)

        campaigns = {
            # As specified: the interpreter runs in the trial and produces the output as it goes.
            "gen": ("bench-logs", "command: [%s, gen.py, \"{trial}\", \"%d\"]\n" % (PYTHON, size)),
            # Replay: the same bytes (stdout and stderr) written by /bin/cat from gen.py's saved output,
            # so the producer costs almost nothing and the figure is intern's own ingest capacity.
            "replay": ("bench-logs-replay",
                       "shell: \"/bin/cat expected/{trial}.out && exec /bin/cat expected/{trial}.err >&2\"\n"),
        }
        results = {}
        for key, (name, cmd) in campaigns.items():
            if key == "replay" and self.args.no_replay:
                continue
            spec = os.path.join(d, "%s.yaml" % name)
            self.write(spec, "name: %s\n%s" % (name, cmd) + TRIVIAL_SPACE + "trials: %d\nparallel: %d\n" % (n, self.args.workers))
            rows = []
            for i in range(runs if key == "gen" else self.args.replay_runs):
                r = self.run_intern(spec, "logs-" + key, i, timeout=900)
                st = r.get("stats") or {}
                if st:
                    if st.get("completed") != n or st.get("failed") != 0:
                        self.problem("logs-%s run %d: completed %s, failed %s of %d" % (key, i, st.get("completed"), st.get("failed"), n))
                    raw = st.get("log_raw_bytes") or 0
                    stored = st.get("log_stored_bytes") or 0
                    r["raw_MB_per_s"] = raw / r["wall_seconds"] / 1e6
                    if st.get("wall_seconds"):
                        r["raw_MB_per_s_stats_wall"] = raw / st["wall_seconds"] / 1e6
                    if raw:
                        r["coordinator_cpu_s_per_GB"] = st.get("coordinator_cpu_seconds", 0) / (raw / 1e9)
                    if stored:
                        r["ratio"] = raw / stored
                    on_disk = dir_size(os.path.join(r["root"], name, "logs"), ".zst")
                    r["zst_bytes_on_disk"] = on_disk
                    if on_disk != stored:
                        self.notes.append("logs-%s run %d: .zst files on disk hold %d bytes, --stats says %d stored" % (key, i, on_disk, stored))
                if r["rc"] is not None:
                    r["store"] = self.store_facts(r["root"], name)
                    if st.get("log_stored_bytes"):
                        r["ratio_with_db"] = st["log_raw_bytes"] / (st["log_stored_bytes"] + r["store"]["db_bytes"])
                    r["verify"] = v = self.verify_logs(r["root"], name, "logs-" + key, i)
                    if st and st.get("log_raw_bytes") != v["expected_raw_bytes"]:
                        self.problem("logs-%s run %d: --stats log_raw_bytes %s != %d bytes the jobs wrote" % (
                            key, i, st.get("log_raw_bytes"), v["expected_raw_bytes"]))
                rows.append(r)
                if not self.args.keep:
                    shutil.rmtree(r["root"], ignore_errors=True)
                log("logs-%s run %d: %.2fs, %s MB/s, cpu %s s, ratio %s, mismatches %s" % (
                    key, i, r["wall_seconds"], fmt(r.get("raw_MB_per_s")), fmt(st.get("coordinator_cpu_seconds")),
                    fmt(r.get("ratio")), len((r.get("verify") or {}).get("mismatches", [None]))))
            m = {
                "median_wall_seconds": median(x["wall_seconds"] for x in rows),
                "median_raw_MB_per_s": median(x.get("raw_MB_per_s") for x in rows),
                "median_raw_MB_per_s_stats_wall": median(x.get("raw_MB_per_s_stats_wall") for x in rows),
                # Over the campaign's span in the store (registered -> last trial ended): the
                # pipeline's rate without starting and stopping the processes.
                "median_raw_MB_per_s_campaign_span": median(
                    ((x.get("stats") or {}).get("log_raw_bytes") or 0) / x["store"]["campaign_span_seconds"] / 1e6
                    if (x.get("store") or {}).get("campaign_span_seconds") else None for x in rows),
                "median_coordinator_cpu_seconds": median((x.get("stats") or {}).get("coordinator_cpu_seconds") for x in rows),
                "median_coordinator_cpu_s_per_GB": median(x.get("coordinator_cpu_s_per_GB") for x in rows),
                "median_ratio": median(x.get("ratio") for x in rows),
                "median_log_frames": median((x.get("stats") or {}).get("log_frames") for x in rows),
                "median_db_bytes": median((x.get("store") or {}).get("db_bytes") for x in rows),
                "median_metric_points": median((x.get("store") or {}).get("metric_points") for x in rows),
                "median_ratio_with_db": median(x.get("ratio_with_db") for x in rows),
                "logs_checked": sum((x.get("verify") or {}).get("checked_logs", 0) for x in rows),
                "logs_mismatched": sum(len((x.get("verify") or {}).get("mismatches", [])) for x in rows),
            }
            results[key] = {"spec": open(spec).read(), "runs": rows, "median": m}
        if not self.args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        return {
            "trials": n, "bytes_per_trial_target": size, "expected_raw_bytes": expected_raw,
            "interpreter": PYTHON, "interpreter_version": subprocess.run([PYTHON, "--version"], stdout=subprocess.PIPE,
                                                                         stderr=subprocess.STDOUT).stdout.decode().strip(),
            "buffering": "default (block-buffered: stdout is a pipe/file); PYTHONUNBUFFERED removed from the environment",
            "floor_command": " ".join(floor_cmd[:5]) + " '%s' {} OUTDIR" % floor_cmd[5],
            "reference_zstd_ratio_trial0_stdout": reference,
            "floor": {"runs": floor_runs, "median": {"median_wall_seconds": median(x["wall_seconds"] for x in floor_runs),
                                                     "median_raw_MB_per_s": median(x["raw_MB_per_s"] for x in floor_runs)}},
            "intern": results,
        }

    # -- (7) trial shapes -------------------------------------------------------------------------

    def optuna_python(self):
        """The venv interpreter with Optuna (.build/bench-venv by default), made on first use with
        `python3 -m venv` and `pip install optuna`; None (the Optuna rows show n/a) when that fails."""
        venv = os.path.abspath(self.args.optuna_venv)
        python = os.path.join(venv, "bin", "python")
        probe = [python, "-c", "import optuna"]
        if os.access(python, os.X_OK) and subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return python
        log("shapes: making %s with Optuna (python3 -m venv, pip install optuna)" % venv)
        for argv in ([PYTHON, "-m", "venv", venv], [python, "-m", "pip", "install", "-q", "optuna"]):
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                self.notes.append("shapes: no Optuna baseline, `%s` failed: %s" % (" ".join(argv), p.stdout[-300:].decode("utf-8", "replace")))
                return None
        return python

    @staticmethod
    def children_cpu():
        """User + system CPU seconds of every child the bench has waited for: the difference across a
        run is the CPU of that run's whole process tree (each process is reaped by its parent, and a
        reaped child's CPU, its own reaped children's included, is added to the parent's)."""
        u = resource.getrusage(resource.RUSAGE_CHILDREN)
        return u.ru_utime + u.ru_stime

    def timed_tree(self, argv, *, cwd, timeout, env, stdin_bytes=None, stdout_path=None, stderr_path=None, sample_pss=False):
        """Runs argv like run_timed and returns (rc, wall seconds, CPU seconds of its process tree,
        unix ms when it was started, PSS samples). With sample_pss, a thread reads the PSS of the
        process and of its direct children that run the same executable (`intern run`'s coordinator
        and its workers, not their jobs) every 100 ms: a list of (total KiB, {pid: KiB})."""
        out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
        err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
        samples, done = [], threading.Event()
        try:
            cpu0 = self.children_cpu()
            start_ms = time.time() * 1000
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                                    stdout=out, stderr=err, env=env, start_new_session=True)
            sampler = None
            if sample_pss:
                sampler = threading.Thread(target=sample_tree_pss, args=(proc.pid, samples, done), daemon=True)
                sampler.start()
            try:
                proc.communicate(stdin_bytes, timeout=timeout)
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = None
            wall = time.monotonic() - t0
            done.set()
            if sampler:
                sampler.join()
            return rc, wall, self.children_cpu() - cpu0, start_ms, samples
        finally:
            for f in (out, err):
                if f is not subprocess.DEVNULL:
                    f.close()

    def check_files(self, directory, n, stdout_bytes, label):
        """The per-trial files of a baseline: n of each stream, every stdout exactly what the job writes."""
        outs = [e for e in os.scandir(directory) if e.name.endswith(".out")]
        wrong = [e.name for e in outs if e.stat().st_size != stdout_bytes]
        errs = sum(1 for e in os.scandir(directory) if e.name.endswith(".err"))
        if len(outs) != n or errs != n or wrong:
            self.problem("%s: %d stdout and %d stderr files for %d trials, %d stdout files not %d bytes (first: %s)" % (
                label, len(outs), errs, n, len(wrong), stdout_bytes, wrong[:1]))
        return sum(e.stat().st_size for e in outs)

    def shape_store(self, root, campaign, n, lines, stdout_bytes, label):
        """Checks the store of one shapes campaign (every trial completed once, every stdout stored
        whole, every loss point parsed, the last one right) and reads its timings: per worker, the
        gap from an attempt's end to the next attempt's start on that worker (ms, both the worker's
        clock) split at the coordinator's assignment, the first attempt's start, the jobs' CPU."""
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(root, campaign, "campaign.db"), uri=True)
        try:
            attempts = con.execute("SELECT id, trial_id, worker_id, status, argv, assigned_at, started_at, ended_at, "
                                   "coalesce(user_cpu_ms, 0) + coalesce(system_cpu_ms, 0) FROM attempts").fetchall()
            # Stream 1 is stdout, 2 stderr (InternStore's StoredStream); the job writes nothing to stderr.
            stored = dict(con.execute("SELECT attempt_id, sum(raw_length) FROM log_frames WHERE stream = 1 GROUP BY attempt_id").fetchall())
            stderr_bytes = con.execute("SELECT coalesce(sum(raw_length), 0) FROM log_frames WHERE stream = 2").fetchone()[0]
            lost = con.execute("SELECT coalesce(sum(raw_length), 0) FROM log_frames WHERE length = 0 AND raw_length > 0").fetchone()[0]
            series = {a: (c, v, lo) for a, c, v, lo in con.execute(
                "SELECT attempt_id, count, last_value, min_value FROM metric_series WHERE name = 'loss'")}
            points = con.execute("SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM metric_batches").fetchone()[0]
            trials_done = con.execute("SELECT count(*) FROM trials WHERE status = 'completed'").fetchone()[0]
        finally:
            con.close()
        facts = {"attempts": len(attempts), "completed_trials": trials_done, "metric_points": points,
                 "lines_printed": n * lines, "lost_log_bytes": lost, "stderr_bytes": stderr_bytes}
        bad_logs, bad_points = [], []
        for a in attempts:
            arg = int(json.loads(a[4])[2])
            if stored.get(a[0]) != stdout_bytes:
                bad_logs.append((a[1], stored.get(a[0])))
            # Every point up to 1,000 per metric is kept; past that the worker thins a metric printed
            # more often than every 100 ms (docs/campaign.md, Metrics), keeping the last and the best
            # (here the same: the loss only falls) exact. So: all points when there are at most
            # 1,000, else at least 1,000 and at most all, and the last and best values exact.
            count, last, best = series.get(a[0], (0, None, None))
            want = float("%.6f" % shape_last_loss(arg, lines))
            count_ok = count == lines if lines <= 1000 else 1000 <= count <= lines
            if not count_ok or last != want or best != want:
                bad_points.append({"trial": a[1], "points": count, "last": last, "best": best, "expected_last": want})
        loss_points = sum(c for c, _, _ in series.values())
        facts["loss_points"] = loss_points
        if len(attempts) != n or trials_done != n or any(a[3] != "succeeded" for a in attempts):
            self.problem("%s: %d attempts (%d succeeded), %d trials completed, expected %d of each" % (
                label, len(attempts), sum(a[3] == "succeeded" for a in attempts), trials_done, n))
        if bad_logs or lost or stderr_bytes:
            self.problem("%s: %d stdout logs not %d bytes in the store, %d bytes lost, %d bytes of stderr (first: trial %s, %s bytes)" % (
                label, len(bad_logs), stdout_bytes, lost, stderr_bytes, *(bad_logs[0] if bad_logs else (None, None))))
        if bad_points or len(series) != n:
            self.problem("%s: %d attempts with a loss series of %d; %d with too few points or a wrong last or best value "
                         "(%d points stored of %d printed; first: %s)" % (
                             label, len(series), n, len(bad_points), loss_points, n * lines, bad_points[:1]))
        gaps, to_assign, to_start = [], [], []
        by_worker = {}
        for a in attempts:
            if a[6] is not None and a[7] is not None:
                by_worker.setdefault(a[2], []).append(a)
        for rows in by_worker.values():
            rows.sort(key=lambda a: a[6])
            for prev, nxt in zip(rows, rows[1:]):
                gaps.append(nxt[6] - prev[7])
                to_assign.append(nxt[5] - prev[7])
                to_start.append(nxt[6] - nxt[5])
        facts["gap_ms"] = distribution(gaps)
        facts["gap_end_to_assigned_ms"] = distribution(to_assign)
        facts["gap_assigned_to_started_ms"] = distribution(to_start)
        # Assigned before the attempt before it ended: given ahead (`WorkRequest.behind`).
        facts["assigned_ahead_share"] = sum(1 for x in to_assign if x < 0) / len(to_assign) if to_assign else None
        facts["first_started_at"] = min((a[6] for a in attempts if a[6] is not None), default=None)
        facts["jobs_cpu_seconds"] = sum(a[8] for a in attempts) / 1000
        return facts

    SHAPE_TIMEOUT = 1800

    def shape_xargs(self, W, name, i, d, script, optuna):
        """One xargs -P run of a shapes workload, each job's output to its own files (checked)."""
        n, lines = W["trials"], W["lines"]
        files = os.path.join(d, "%s-xargs-%d" % (name, i))
        os.makedirs(files)
        argv = ["xargs", "-P%d" % self.args.workers, "-I{}", "/bin/sh", "-c",
                'exec %s shape.py "$0" %d >"$1/$0.out" 2>"$1/$0.err"' % (PYTHON, lines), "{}", files]
        W["xargs_command"] = " ".join(argv[:5]) + " '%s' {} OUTDIR" % argv[5]
        seq = "".join("%d\n" % k for k in range(n)).encode()
        rc, wall, cpu, _, _ = self.timed_tree(argv, cwd=d, timeout=self.SHAPE_TIMEOUT, env=W["env"], stdin_bytes=seq)
        if rc != 0:
            self.problem("shapes %s xargs run %d exited %s" % (name, i, rc))
        self.check_files(files, n, W["stdout_bytes_per_trial"], "shapes %s xargs run %d" % (name, i))
        shutil.rmtree(files)
        return {"run": i, "rc": rc, "wall_seconds": wall, "cpu_seconds": cpu}

    def shape_intern(self, W, name, i, d, script, optuna):
        """One `intern run` of a shapes workload: wall, tree CPU, the store's checks and timings,
        and for W1 the coordinator's and workers' PSS."""
        n, lines = W["trials"], W["lines"]
        campaign = "bench-shape-%s" % name.lower()
        root = os.path.join(d, "%s-root-%d" % (name, i))
        stats_path = os.path.join(d, "%s-stats-%d.json" % (name, i))
        err_path = os.path.join(d, "%s-intern-%d.err" % (name, i))
        argv = [self.intern, "run", W["spec_path"], "--workers", str(self.args.workers), "--quiet", "--stats", stats_path, "--root", root]
        rc, wall, cpu, start_ms, samples = self.timed_tree(
            argv, cwd=d, timeout=self.SHAPE_TIMEOUT, env=job_env(), sample_pss=(name == "W1"),
            stdout_path=os.path.join(d, "%s-intern-%d.out" % (name, i)), stderr_path=err_path)
        r = {"run": i, "rc": rc, "wall_seconds": wall, "cpu_seconds": cpu}
        if rc != 0:
            self.problem("shapes %s intern run %d exited %s; stderr tail: %s" % (name, i, rc, tail(err_path)))
        try:
            with open(stats_path) as f:
                r["stats"] = json.load(f)
        except (OSError, ValueError):
            r["stats"] = {}
        if rc is not None:
            store = self.shape_store(root, campaign, n, lines, W["stdout_bytes_per_trial"], "shapes %s intern run %d" % (name, i))
            first = store.pop("first_started_at")
            store["first_trial_ms"] = None if first is None else first - start_ms
            r["store"] = store
            r["coordinator_cpu_seconds"] = r["stats"].get("coordinator_cpu_seconds")
            r["jobs_cpu_seconds"] = store["jobs_cpu_seconds"]
        if samples:
            peak = max(samples, key=lambda s: s[0])
            r["pss_samples"] = len(samples)
            r["pss_max_MiB"] = peak[0] / 1024
            r["pss_at_max_KiB_by_pid"] = peak[1]
            r["pss_MiB_every_100ms"] = [round(total / 1024, 1) for total, _ in samples]
        if not self.args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return r

    def shape_optuna(self, W, name, i, d, script, optuna):
        """One Optuna threads-mode run of a shapes workload (the driver in OPTUNA_PY), its per-trial
        files checked; {"run": i} alone when there is no Optuna."""
        o = {"run": i}
        if not optuna:
            return o
        n, lines = W["trials"], W["lines"]
        files = os.path.join(d, "%s-optuna-%d" % (name, i))
        os.makedirs(files)
        out_path = os.path.join(d, "%s-optuna-%d.json" % (name, i))
        argv = [optuna, "optuna_driver.py", PYTHON, script, str(lines), str(n), str(self.args.workers), files,
                "1" if W["unbuffered"] else "0"]
        rc, wall, cpu, _, _ = self.timed_tree(argv, cwd=d, timeout=self.SHAPE_TIMEOUT, env=job_env(), stdout_path=out_path,
                                              stderr_path=out_path + ".err")
        o.update({"rc": rc, "wall_seconds": wall, "cpu_seconds": cpu})
        try:
            with open(out_path) as f:
                o.update(json.load(f))
        except (OSError, ValueError):
            pass
        if rc != 0 or o.get("complete") != n:
            self.problem("shapes %s Optuna run %d exited %s, %s of %d trials complete; %s" % (
                name, i, rc, o.get("complete"), n, tail(out_path + ".err", 500)))
        self.check_files(files, n, W["stdout_bytes_per_trial"], "shapes %s Optuna run %d" % (name, i))
        shutil.rmtree(files)
        return o

    def shapes(self):
        """Trial shapes (issue 16): python3 trials that print JSON metric lines, 2 at a time, through
        xargs -P2 (per-trial files), `intern run --workers 2` and Optuna's threads mode, interleaved
        round by round; wall and whole-tree CPU, and from W1's stores the per-worker gap between
        attempts, the time to the first trial and the coordinator's and workers' PSS."""
        d = os.path.join(self.base, "shapes")
        os.makedirs(d)
        script = os.path.join(d, "shape.py")
        self.write(script, SHAPE_PY)
        self.write(os.path.join(d, "optuna_driver.py"), OPTUNA_PY)
        optuna = self.optuna_python()
        p = self.args.workers
        workloads = [
            ("W1", self.args.shape_w1_trials, 10, False),
            ("W2", self.args.shape_w2_trials, 20000, True),
        ]
        results = {}
        for name, n, lines, unbuffered in workloads:
            probe = subprocess.run([PYTHON, script, "0", str(lines)], stdout=subprocess.PIPE, check=True)
            env = job_env()
            extra = ""
            if unbuffered:
                env["PYTHONUNBUFFERED"] = "1"
                extra = "env: {PYTHONUNBUFFERED: \"1\"}\n"
            campaign = "bench-shape-%s" % name.lower()
            spec = os.path.join(d, "%s.yaml" % campaign)
            self.write(spec, "name: %s\ncommand: [%s, shape.py, \"{trial}\", \"%d\"]\n%s" % (campaign, PYTHON, lines, extra) +
                       TRIVIAL_SPACE + "trials: %d\nparallel: %d\nobjective: {metric: loss, direction: minimize}\n" % (n, p))
            results[name] = {"trials": n, "lines": lines, "unbuffered": unbuffered, "stdout_bytes_per_trial": len(probe.stdout),
                             "output_MB": n * len(probe.stdout) / 1e6, "spec": open(spec).read(), "spec_path": spec, "env": env,
                             "runs": {"xargs": [], "intern": [], "optuna": []}}
        # Interleaved: each round runs W1 through the three runners, then W2, the runners' order
        # rotating from round to round, so drift on the shared machine (and whichever runs first
        # after the other workload) hits every runner alike.
        runners = {"xargs": self.shape_xargs, "intern": self.shape_intern, "optuna": self.shape_optuna}
        order = list(runners)
        for i in range(self.args.shape_runs):
            for name, n, lines, unbuffered in workloads:
                W = results[name]
                for k in range(len(order)):
                    runner = order[(i + k) % len(order)]
                    W["runs"][runner].append(runners[runner](W, name, i, d, script, optuna))
                runs = W["runs"]
                r, o, st = runs["intern"][-1], runs["optuna"][-1], runs["intern"][-1].get("store") or {}
                log("shapes %s run %d: xargs %.2fs cpu %.2fs, intern %.2fs cpu %.2fs (gap p50 %s p99 %s ms, pss %s MiB, first %s ms), optuna %s s cpu %s s" % (
                    name, i, runs["xargs"][-1]["wall_seconds"], runs["xargs"][-1]["cpu_seconds"], r["wall_seconds"], r["cpu_seconds"],
                    fmt((st.get("gap_ms") or {}).get("p50"), "%.0f"), fmt((st.get("gap_ms") or {}).get("p99"), "%.0f"),
                    fmt(r.get("pss_max_MiB"), "%.1f"), fmt(st.get("first_trial_ms"), "%.0f"),
                    fmt(o.get("wall_seconds")), fmt(o.get("cpu_seconds"))))
        for name, W in results.items():
            del W["env"], W["spec_path"]
            med = {}
            for runner, rows in W["runs"].items():
                med[runner] = {"wall_seconds": median(x.get("wall_seconds") for x in rows),
                               "cpu_seconds": median(x.get("cpu_seconds") for x in rows)}
            for runner in ("intern", "optuna"):
                for k in ("wall_seconds", "cpu_seconds"):
                    a, b = med[runner][k], med["xargs"][k]
                    med[runner][k.split("_")[0] + "_vs_xargs"] = a / b if a is not None and b else None
            irows = W["runs"]["intern"]
            med["intern"].update({
                "coordinator_cpu_seconds": median(x.get("coordinator_cpu_seconds") for x in irows),
                "jobs_cpu_seconds": median(x.get("jobs_cpu_seconds") for x in irows),
                "loss_points": median((x.get("store") or {}).get("loss_points") for x in irows),
                "gap_p50_ms": median(((x.get("store") or {}).get("gap_ms") or {}).get("p50") for x in irows),
                "gap_p99_ms": median(((x.get("store") or {}).get("gap_ms") or {}).get("p99") for x in irows),
                "assigned_ahead_share": median(((x.get("store") or {}).get("assigned_ahead_share")) for x in irows),
                "gap_end_to_assigned_p50_ms": median(((x.get("store") or {}).get("gap_end_to_assigned_ms") or {}).get("p50") for x in irows),
                "gap_assigned_to_started_p50_ms": median(((x.get("store") or {}).get("gap_assigned_to_started_ms") or {}).get("p50") for x in irows),
                "first_trial_ms": median((x.get("store") or {}).get("first_trial_ms") for x in irows),
                "pss_max_MiB": median(x.get("pss_max_MiB") for x in irows),
            })
            mb = W["output_MB"]
            if med["intern"]["cpu_seconds"] is not None and med["xargs"]["cpu_seconds"] is not None and mb:
                med["intern"]["extra_cpu_ms_per_MB"] = (med["intern"]["cpu_seconds"] - med["xargs"]["cpu_seconds"]) * 1000 / mb
            W["median"] = med
        return {"interpreter": PYTHON, "runs": self.args.shape_runs, "workers": p, "optuna_python": optuna,
                "job": SHAPE_PY, "workloads": results, "big_report": self.big_report(d)}

    def big_report(self, d):
        """The coordinator's memory after a report at the size limit: `intern run --workers 1` of
        BIG_PY's three trials; while trial 2 prints, the coordinator is stopped (SIGSTOP) for
        2.5 s, so the worker's outbox fills and its next reports go at the limit (3/4 of the 16
        MiB message cap). RSS of the `intern run` process every 50 ms: before (the most during
        trial 1 and until trial 2 starts), the peak, and after (the median from 1 to 4 s into
        trial 3's wait, once every frame was stored). The store must hold all of trial 2's output."""
        import sqlite3
        bd = os.path.join(d, "big-report")
        os.makedirs(bd)
        self.write(os.path.join(bd, "big.py"), BIG_PY)
        spec = os.path.join(bd, "big.yaml")
        self.write(spec, "name: bench-big-report\ncommand: [%s, big.py, \"{trial}\"]\n" % PYTHON + TRIVIAL_SPACE +
                   "trials: 3\nparallel: 1\nobjective: {metric: loss, direction: minimize}\n")
        root = os.path.join(bd, "root")
        proc = subprocess.Popen([self.intern, "run", spec, "--workers", "1", "--quiet", "--root", root], cwd=bd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=job_env())
        samples, t0 = [], time.monotonic()
        marks, stopped = {}, None

        def rss_kib():
            try:
                with open("/proc/%d/status" % proc.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            return int(line.split()[1])
            except OSError:
                return None

        while proc.poll() is None and time.monotonic() - t0 < 120:
            now = time.monotonic() - t0
            for k in (2, 3):
                if k not in marks and os.path.exists(os.path.join(bd, "started-%d" % k)):
                    marks[k] = now
            if 2 in marks and stopped is None and now - marks[2] > 0.5:
                os.kill(proc.pid, signal.SIGSTOP)
                time.sleep(2.5)
                os.kill(proc.pid, signal.SIGCONT)
                stopped = now
            kib = rss_kib()
            if kib is not None:
                samples.append((now, kib))
            time.sleep(0.05)
        _, err = proc.communicate(timeout=60)
        out = {"rc": proc.returncode, "samples": samples, "marks": marks}
        if proc.returncode != 0 or 2 not in marks or 3 not in marks:
            self.problem("big report: intern run exited %s (markers %s): %s" % (proc.returncode, sorted(marks), err[-500:]))
            return out
        before = [k for t, k in samples if t < marks[2]]
        after = [k for t, k in samples if marks[3] + 1 <= t <= marks[3] + 4]
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(root, "bench-big-report", "campaign.db"), uri=True)
        raw = con.execute("select coalesce(sum(raw_length), 0) from log_frames f join attempts a on a.id = f.attempt_id "
                          "where a.trial_id = 2 and f.stream = 1").fetchone()[0]
        # The frames of one report share its receipt time: the largest report's compressed output.
        largest = con.execute("select max(s) from (select sum(length) s from log_frames group by received_at)").fetchone()[0]
        done = con.execute("select count(*) from trials where status = 'completed'").fetchone()[0]
        con.close()
        expected = 48 * 1024 * 1025 + len('{"loss": 2}\n')
        if raw != expected or done != 3:
            self.problem("big report: trial 2's stored stdout is %d bytes, expected %d; %d of 3 trials completed" % (raw, expected, done))
        out.update({"before_MB": max(before) / 1024 if before else None, "peak_MB": max(k for _, k in samples) / 1024,
                    "after_MB": median(after) / 1024 if after else None, "largest_report_MiB": (largest or 0) / 2**20})
        return out

    # -- (4) sampler -------------------------------------------------------------------------------

    def sampler_cost(self):
        """`intern sampler-cost`: the coordinator's logic drawing one trial with the TPE sampler when
        10,000 trials have finished (median of 50 draws; in memory, no IO), and random for contrast."""
        results = {}
        for sampler in ("tpe", "random"):
            runs = []
            for i in range(self.args.runs):
                p = subprocess.run([self.intern, "sampler-cost", "--finished", "10000", "--sampler", sampler],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
                if p.returncode != 0:
                    self.problem("sampler-cost %s exited %d: %s" % (sampler, p.returncode, p.stderr[-500:].decode("utf-8", "replace")))
                    continue
                runs.append(json.loads(p.stdout))
                log("sampler %s run %d: %.3f ms per draw at 10,000 finished trials" % (sampler, i, runs[-1]["median_ms"]))
            results[sampler] = {"runs": runs, "median_ms": median(r["median_ms"] for r in runs)}
        return results

    # -- (6) metric parser ------------------------------------------------------------------------

    def parser_cost(self):
        """`intern parse-cost`: the worker's per-line metric path (LineSplitter, then
        MetricLineParser's allocation-free parse) on the real captures of Tests/EndToEndTests/
        Fixtures/ml-stack (transformers 4 and 5, TRL, accelerate, Lightning, Keras; stdout, stderr
        and merged), ns per line: the fastest of 7 rounds, the median of the runs, pinned to one CPU
        when taskset exists (a microbenchmark on a shared VM). Weighted by line count: over all
        files, over the files that give no points (warnings, tracebacks, tqdm redraws), and, with
        --parse-baseline BINARY (an intern built from an earlier commit, run alternately in the
        same run), over the files that give the same points in both builds."""
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "EndToEndTests", "Fixtures", "ml-stack", "captures")
        files = sorted(os.path.join(root, c, f) for c in os.listdir(root)
                       for f in ("separate.stdout", "separate.stderr", "merged.log") if os.path.getsize(os.path.join(root, c, f)) > 0)
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        binaries = [("intern", self.intern)] + ([("baseline", os.path.abspath(self.args.parse_baseline))] if self.args.parse_baseline else [])
        per_file = {label: {} for label, _ in binaries}
        for i in range(self.args.runs):
            for label, binary in binaries:
                p = subprocess.run(pin + [binary, "parse-cost"] + files + ["--rounds", "7"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
                if p.returncode != 0:
                    self.problem("parse-cost (%s) exited %d: %s" % (label, p.returncode, p.stderr[-500:].decode("utf-8", "replace")))
                    continue
                for f in json.loads(p.stdout):
                    per_file[label].setdefault(f["file"], []).append(f)
        results = {}
        for label, _ in binaries:
            table = {name: {"lines": runs[0]["lines"], "points": runs[0]["points"],
                            "ns_per_line": median(r["min_ns_per_line"] for r in runs)} for name, runs in per_file[label].items()}
            results[label] = {"files": table}

        def weighted(label, names):
            table = results[label]["files"]
            lines = sum(table[n]["lines"] for n in names)
            return {"lines": lines, "points": sum(table[n]["points"] for n in names),
                    "ns_per_line": sum(table[n]["ns_per_line"] * table[n]["lines"] for n in names) / lines if lines else None}

        names = sorted(results["intern"]["files"])
        silent = [n for n in names if results["intern"]["files"][n]["points"] == 0
                  and all(results[l]["files"].get(n, {}).get("points", 0) == 0 for l in results)]
        for label in results:
            results[label]["all"] = weighted(label, names)
            results[label]["no_points"] = weighted(label, silent)
        if "baseline" in results:
            same = [n for n in names if n in results["baseline"]["files"]
                    and results["baseline"]["files"][n]["points"] == results["intern"]["files"][n]["points"] > 0]
            for label in results:
                results[label]["same_points"] = weighted(label, same)
        for label in results:
            log("parser %s: %.1f ns/line over all %d lines (%d points), %.1f ns over the %d lines that give no points"
                % (label, results[label]["all"]["ns_per_line"], results[label]["all"]["lines"], results[label]["all"]["points"],
                   results[label]["no_points"]["ns_per_line"] or 0, results[label]["no_points"]["lines"]))
        return results

    # -- (5) synthesis ----------------------------------------------------------------------------

    def synthesis(self):
        """`intern report` (HTML and Markdown) and `intern digest` on a synthetic campaign of 10,000
        trials with 1 GiB of stored logs (`intern synth-campaign`: trials, metrics, zstd log frames
        written straight into a store), wall time and peak RSS per run (os.wait4); and `intern grep`'s
        throughput over all of its logs (MB of raw log searched per second), a string in 500 of them
        and one in none."""
        d = os.path.join(self.base, "synthesis")
        os.makedirs(d)
        campaign = os.path.join(d, "synth")
        trials, mib = self.args.synth_trials, self.args.synth_log_mib
        t0 = time.monotonic()
        p = subprocess.run([self.intern, "synth-campaign", campaign, "--trials", str(trials), "--failures", "500", "--log-mib", str(mib)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
        if p.returncode != 0:
            self.problem("synth-campaign exited %d: %s" % (p.returncode, p.stderr[-500:].decode("utf-8", "replace")))
            return None
        made = time.monotonic() - t0
        log("synthesis: wrote %d trials, %d MiB of logs in %.1f s (%.0f MB stored)" % (trials, mib, made, dir_size(campaign) / 1e6))

        def measured(argv):
            start = time.monotonic()
            with open(os.path.join(d, "out"), "wb") as out, open(os.path.join(d, "err"), "wb") as err:
                child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=d)
                _, status, usage = os.wait4(child.pid, 0)
            wall = time.monotonic() - start
            code = os.waitstatus_to_exitcode(status)
            return wall, usage.ru_maxrss / 1024.0, code

        results = {"trials": trials, "log_mib": mib, "create_seconds": made, "stored_bytes": dir_size(campaign)}
        commands = {
            "report_html": [self.intern, "report", campaign, "--format", "html", "--output", os.path.join(d, "report.html")],
            "report_md": [self.intern, "report", campaign, "--output", os.path.join(d, "report.md")],
            "digest": [self.intern, "digest", campaign, "--tokens", "2000"],
        }
        for name, argv in commands.items():
            runs = []
            for i in range(self.args.runs):
                wall, peak, code = measured(argv)
                if code != 0:
                    self.problem("%s exited %d: %s" % (name, code, tail(os.path.join(d, "err"))))
                    continue
                runs.append({"wall_seconds": wall, "peak_rss_MB": peak})
                log("synthesis %s run %d: %.3f s, peak %.0f MB" % (name, i, wall, peak))
            results[name] = {"runs": runs, "median_wall_seconds": median(r["wall_seconds"] for r in runs),
                             "median_peak_rss_MB": median(r["peak_rss_MB"] for r in runs)}
        for name, pattern in GREP_PATTERNS:
            runs = []
            for i in range(self.args.runs):
                p = subprocess.run([self.intern, "grep"] + pattern + ["--dir", campaign, "--stats", "--max", "1000"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
                m = re.search(rb"searched (\d+) logs, ([0-9.]+) MB in ([0-9.]+) s: ([0-9.]+) MB/s", p.stderr)
                if p.returncode not in (0, 1) or not m:
                    self.problem("grep %r exited %d: %s" % (pattern, p.returncode, p.stderr[-500:].decode("utf-8", "replace")))
                    continue
                matches = p.stdout.count(b"\n")
                runs.append({"logs": int(m.group(1)), "MB": float(m.group(2)), "seconds": float(m.group(3)), "MB_per_s": float(m.group(4)),
                             "matches": matches})
                log("synthesis %s run %d: %d logs, %.0f MB in %.2f s: %.0f MB/s, %d matches" % (
                    name, i, runs[-1]["logs"], runs[-1]["MB"], runs[-1]["seconds"], runs[-1]["MB_per_s"], matches))
            results[name] = {"runs": runs, "median_MB_per_s": median(r["MB_per_s"] for r in runs),
                             "matches": runs[-1]["matches"] if runs else None}
        return results

    # -- (3) transports ---------------------------------------------------------------------------

    def transports(self):
        """Dispatch and log ingest through `intern coordinator` + `intern worker` processes over ipc://
        (no authentication, as `intern run` uses), authenticated tcp:// (sealed messages) and tls+tcp://
        (mutual TLS plus sealed messages), same campaigns, same run; the ratios say what security costs."""
        runs, workers = self.args.runs, self.args.workers
        n_dispatch, n_logs = self.args.transport_dispatch_trials, self.args.transport_log_trials
        d = os.path.join(self.base, "transports")
        os.makedirs(d)
        auth = os.path.join(d, "auth")
        rc, _ = run_timed([self.intern, "init-auth", auth], cwd=d, timeout=60)
        if rc != 0:
            self.problem("intern init-auth exited %s" % rc)
            return {}
        # The replay campaign's data: gen.py's output for trials 1..n, made once.
        self.logs_dir, self.data_dir = d, os.path.join(d, "expected")
        os.makedirs(self.data_dir)
        self.write(os.path.join(d, "gen.py"), GEN_PY)
        self.expected = {}
        for t in range(1, n_logs + 1):
            self.generate(t)
        specs = {
            "dispatch": ("bench-transport-dispatch", "command: [/bin/true]\n", n_dispatch),
            "logs": ("bench-transport-logs", "shell: \"/bin/cat expected/{trial}.out && exec /bin/cat expected/{trial}.err >&2\"\n", n_logs),
        }
        transports = ["ipc", "tcp+auth", "tls+auth"]
        results = {}
        for key, (name, cmd, n) in specs.items():
            spec = os.path.join(d, "%s.yaml" % name)
            self.write(spec, "name: %s\n%s" % (name, cmd) + TRIVIAL_SPACE + "trials: %d\nparallel: %d\n" % (n, workers))
            per = {t: [] for t in transports}
            for i in range(runs):
                for transport in transports:  # interleaved: drift on the machine hits every transport alike
                    r = self.run_fleet(spec, name, transport, auth, i, n)
                    per[transport].append(r)
                    log("transport %s %s run %d: span %s s, coordinator cpu %s s" % (
                        key, transport, i, fmt(r.get("span_seconds"), "%.3f"), fmt(r.get("coordinator_cpu_seconds"), "%.3f")))
            m = {}
            for transport, rows in per.items():
                span = median(x.get("span_seconds") for x in rows)
                cpu = median(x.get("coordinator_cpu_seconds") for x in rows)
                entry = {"median_span_seconds": span, "median_coordinator_cpu_seconds": cpu,
                         "logs_mismatched": sum(len((x.get("verify") or {}).get("mismatches", [])) for x in rows),
                         "logs_checked": sum((x.get("verify") or {}).get("checked_logs", 0) for x in rows)}
                if key == "dispatch" and span:
                    entry["ms_per_trial"] = span * 1000 / n
                if key == "logs" and span:
                    raw = sum(self.expected[t]["stdout"][1] + self.expected[t]["stderr"][1] for t in range(1, n + 1))
                    entry["raw_MB_per_s"] = raw / span / 1e6
                    entry["raw_bytes"] = raw
                m[transport] = entry
            base = m.get("ipc", {}).get("median_span_seconds")
            for transport in transports:
                span = m[transport].get("median_span_seconds")
                m[transport]["span_ratio_vs_ipc"] = span / base if span and base else None
            results[key] = {"trials": n, "runs": per, "median": m}
        if not self.args.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return results

    def run_fleet(self, spec, name, transport, auth, i, n):
        """One campaign: `intern coordinator` on the transport's URL and --workers `intern worker`s."""
        root = os.path.join(self.base, "transports", "%s-%s-%d" % (name, transport.replace("+", "-"), i))
        if transport == "ipc":
            url, security = "ipc://%s/coordinator.sock" % self.base, []
        else:
            import socket
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            url = "%s://127.0.0.1:%d" % ("tcp" if transport == "tcp+auth" else "tls+tcp", port)
            security = ["--auth", auth]
        logs = os.path.join(self.base, "transports", "%s-%s-%d" % (name, transport.replace("+", "-"), i))
        err = open(logs + ".coordinator.err", "wb")
        t0 = time.monotonic()
        coordinator = subprocess.Popen([self.intern, "coordinator", spec, "--listen", url, "--root", root] + security,
                                       cwd=os.path.dirname(spec), stdout=subprocess.DEVNULL, stderr=err, env=job_env())
        fleet = [subprocess.Popen([self.intern, "worker", "--connect", url, "--id", "w%d" % k, "--drain-grace", "0"] + security,
                                  cwd=os.path.dirname(spec), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=job_env())
                 for k in range(self.args.workers)]
        result = {"run": i, "transport": transport, "url": url}
        try:
            _, status, usage = os.wait4(coordinator.pid, 0)
            coordinator.returncode = os.waitstatus_to_exitcode(status)
            result["wall_seconds"] = time.monotonic() - t0
            result["coordinator_cpu_seconds"] = usage.ru_utime + usage.ru_stime
            result["rc"] = coordinator.returncode
            for w in fleet:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
        finally:
            err.close()
        if result["rc"] != 0:
            self.problem("transport %s run %d (%s): coordinator exited %s; %s" % (name, i, transport, result["rc"], tail(logs + ".coordinator.err")))
        facts = self.store_facts(root, name)
        result["span_seconds"] = facts.get("campaign_span_seconds")
        if "logs" in name:
            saved = self.args.log_trials
            self.args.log_trials = n
            result["verify"] = self.verify_logs(root, name, "transport-" + transport, i)
            self.args.log_trials = saved
        if not self.args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return result


def shape_rows(S):
    """The trial-shapes rows of the table: per workload, xargs, intern and Optuna (wall and CPU
    medians, each with its ratio to xargs) and where intern's CPU goes, then W1's latency,
    first-trial and PSS figures."""
    rows = [("(7) trial shapes: python3 jobs, %d at a time, median of %d rounds" % (S["workers"], S["runs"]),
             "  wall s  x xargs    CPU s  x xargs", None)]
    for name, W in S["workloads"].items():
        m = W["median"]
        rows.append(("  %s: %d trials x %d lines, %s, %.2f MB" % (
            name, W["trials"], W["lines"], "unbuffered" if W["unbuffered"] else "buffered", W["output_MB"]), None, None))
        optuna_wall = m["optuna"]["wall_seconds"]
        for runner, title in (("xargs", "xargs -P%d, per-trial files" % S["workers"]), ("intern", "intern run --workers %d" % S["workers"]),
                              ("optuna", "Optuna n_jobs=%d (threads)" % S["workers"])):
            x = m[runner]
            ratios = runner != "xargs"
            figure = "%8s  %7s  %7s  %7s" % (fmt(x["wall_seconds"]), fmt(x.get("wall_vs_xargs"), "x%.2f") if ratios else "",
                                             fmt(x["cpu_seconds"]), fmt(x.get("cpu_vs_xargs"), "x%.2f") if ratios else "")
            mark = None
            if runner == "intern":
                ratio = x.get("wall_vs_xargs")
                ok = None if ratio is None else ratio <= TARGET_SHAPE_RATIO and (optuna_wall is None or x["wall_seconds"] < optuna_wall)
                mark = "wall " + verdict(ok)
                if W["unbuffered"]:
                    cpu = x.get("cpu_vs_xargs")
                    mark += "  CPU " + verdict(None if cpu is None else cpu <= TARGET_SHAPE_RATIO)
            rows.append(("    " + title, figure, mark))
        i = m["intern"]
        parts = (i.get("cpu_seconds"), i.get("coordinator_cpu_seconds"), i.get("jobs_cpu_seconds"))
        rows.append(("    intern CPU s: coordinator / workers / jobs", "%s / %s / %s" % (
            fmt(parts[1]), fmt(None if None in parts else parts[0] - parts[1] - parts[2]), fmt(parts[2])), None))
        if W["unbuffered"]:
            rows.append(("    intern CPU above xargs per MB of job output", fmt(i.get("extra_cpu_ms_per_MB"), "%.1f ms/MB"), None))
            rows.append(("    loss points stored (first 1,000 per trial kept, then thinned)", "%s of %d" % (
                fmt(i.get("loss_points"), "%d"), W["trials"] * W["lines"]), None))
    if "W1" in S["workloads"]:
        i = S["workloads"]["W1"]["median"]["intern"]
        p50, p99 = i.get("gap_p50_ms"), i.get("gap_p99_ms")
        rows.append(("  W1 attempt end -> next started, same worker: p50", fmt(p50, "%.0f ms"), verdict(None if p50 is None else p50 <= TARGET_GAP_P50_MS)))
        rows.append(("  W1 attempt end -> next started, same worker: p99", fmt(p99, "%.0f ms"), verdict(None if p99 is None else p99 <= TARGET_GAP_P99_MS)))
        rows.append(("    p50 of end -> assigned / assigned -> started (negative: assigned ahead)", "%s / %s" % (
            fmt(i.get("gap_end_to_assigned_p50_ms"), "%.0f ms"), fmt(i.get("gap_assigned_to_started_p50_ms"), "%.0f ms")), None))
        share = i.get("assigned_ahead_share")
        rows.append(("    attempts assigned ahead, while the one before ran", fmt(None if share is None else 100 * share, "%.0f %%"), None))
        first = i.get("first_trial_ms")
        rows.append(("  W1 intern run start -> first attempt started", fmt(first, "%.0f ms"), verdict(None if first is None else first < TARGET_FIRST_TRIAL_MS)))
        pss = i.get("pss_max_MiB")
        rows.append(("  W1 PSS, coordinator + workers, max of 100 ms samples", fmt(pss, "%.1f MiB"), verdict(None if pss is None else pss <= TARGET_PSS_MIB)))
    B = S.get("big_report") or {}
    if B.get("after_MB") is not None:
        ok = B["after_MB"] <= B["before_MB"] * TARGET_RSS_AFTER_BIG_REPORT
        rows.append(("  coordinator RSS before / peak / after a report of %.1f MiB" % B["largest_report_MiB"],
                     "%.0f / %.0f / %.0f MB" % (B["before_MB"], B["peak_MB"], B["after_MB"]), verdict(ok)))
    return rows


def fmt(x, spec="%.2f"):
    return "-" if x is None else spec % x


def verdict(ok):
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--intern", default=".build/release/intern", help="the intern binary (release build)")
    ap.add_argument("--out", default=".build/bench.json", help="JSON with every run and the medians")
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 dispatch trials, 10 log trials, 1 run each (1 round of the trial shapes)")
    ap.add_argument("--runs", type=int, help="runs of each measurement (default 3; --quick 1)")
    ap.add_argument("--workers", type=int, default=2, help="local workers = parallel lanes = xargs -P (default 2)")
    ap.add_argument("--dispatch-trials", type=int, help="default 2000 (--quick 200)")
    ap.add_argument("--log-trials", type=int, help="default 100 (--quick 10)")
    ap.add_argument("--log-bytes", type=int, default=2_000_000, help="stdout bytes per log trial (default 2000000)")
    ap.add_argument("--only", choices=["dispatch", "logs", "transports", "sampler", "synthesis", "parser", "shapes"], help="run one benchmark")
    ap.add_argument("--shape-runs", type=int, help="interleaved rounds of the trial-shapes benchmark (default 5; --quick 1)")
    ap.add_argument("--shape-w1-trials", type=int, default=1000, help="trials of W1, 10 metric lines each (default 1000)")
    ap.add_argument("--shape-w2-trials", type=int, default=200, help="trials of W2, 20,000 unbuffered metric lines each (default 200)")
    ap.add_argument("--optuna-venv", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "bench-venv"),
                    help="virtual environment with Optuna for the shapes baseline, made when missing (default .build/bench-venv)")
    ap.add_argument("--parse-baseline", default=None, help="an intern binary from an earlier commit: the parser benchmark runs it too, for the ratio")
    ap.add_argument("--synth-trials", type=int, help="trials of the synthetic campaign (default 10000; --quick 1000)")
    ap.add_argument("--synth-log-mib", type=int, help="MiB of raw log in it (default 1024; --quick 64)")
    ap.add_argument("--transport-dispatch-trials", type=int, help="trials of the transport dispatch campaign (default 1000; --quick 100)")
    ap.add_argument("--transport-log-trials", type=int, help="trials of the transport log campaign (default 100; --quick 6)")
    ap.add_argument("--no-replay", action="store_true", help="skip the /bin/cat replay campaign")
    ap.add_argument("--replay-runs", type=int, default=1, help="runs of the replay campaign (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (stores, outputs)")
    ap.add_argument("--tmp", default=None, help="where to make the temporary directory")
    args = ap.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.shape_runs = args.shape_runs or (1 if args.quick else 5)
    args.dispatch_trials = args.dispatch_trials or (200 if args.quick else 2000)
    args.log_trials = args.log_trials or (10 if args.quick else 100)
    args.transport_dispatch_trials = args.transport_dispatch_trials or (100 if args.quick else 1000)
    args.transport_log_trials = args.transport_log_trials or (6 if args.quick else 100)
    args.synth_trials = args.synth_trials or (1000 if args.quick else 10000)
    args.synth_log_mib = args.synth_log_mib or (64 if args.quick else 1024)
    if not os.access(args.intern, os.X_OK):
        print("bench: %s is not an executable; build it with `make release`" % args.intern, file=sys.stderr)
        return 2
    if not os.access(PYTHON, os.X_OK):
        print("bench: %s is missing" % PYTHON, file=sys.stderr)
        return 2

    bench = Bench(args)
    t0 = time.monotonic()
    report = {"host": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
              "intern": os.path.abspath(args.intern), "quick": args.quick, "runs": args.runs, "workers": args.workers,
              "targets": {"dispatch_overhead_ms_per_trial": TARGET_DISPATCH_MS, "ingest_raw_MB_per_s": TARGET_INGEST_MBPS,
                          "stored_ratio": TARGET_RATIO, "bytes_lost": 0}}
    try:
        if args.only in (None, "dispatch"):
            report["dispatch"] = bench.dispatch()
        if args.only in (None, "logs"):
            report["logs"] = bench.log_volume()
        if args.only in (None, "transports"):
            report["transports"] = bench.transports()
        if args.only in (None, "sampler"):
            report["sampler"] = bench.sampler_cost()
        if args.only in (None, "synthesis"):
            report["synthesis"] = bench.synthesis()
        if args.only in (None, "parser"):
            report["parser"] = bench.parser_cost()
        if args.only in (None, "shapes"):
            report["shapes"] = bench.shapes()
    finally:
        report["bench_seconds"] = time.monotonic() - t0
        report["problems"] = bench.problems
        report["notes"] = bench.notes
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
        if args.keep:
            log("kept %s" % bench.base)
        else:
            shutil.rmtree(bench.base, ignore_errors=True)

    print_table(report, args)
    return 1 if bench.problems else 0


def print_table(r, args):
    rows = []
    if "dispatch" in r:
        m = r["dispatch"]["median"]
        n, lanes, w = m["trials"], m["lanes"], m["median_wall_seconds"]
        rows.append(("(1) dispatch: %d x /bin/true, %d workers, median of %d" % (n, args.workers, m["runs"]), None, None))
        rows.append(("  intern run wall (end to end)", fmt(w["intern"], "%.3f s"), None))
        rows.append(("  campaign span in the store (created->finished)", fmt(m.get("median_campaign_span_seconds"), "%.3f s"), None))
        rows.append(("  intern --stats wall / coordinator CPU", "%s / %s" % (fmt(m["median_intern_stats_wall_seconds"], "%.3f s"),
                                                                         fmt(m["median_coordinator_cpu_seconds"], "%.3f s")), None))
        rows.append(("  xargs -P%d -n1 /bin/true (A, no shell)" % lanes, fmt(w["xargs_direct"], "%.3f s"), None))
        rows.append(("  xargs -P%d sh -c 'exec true >f 2>g' (B)" % lanes, fmt(w["xargs_sh_files"], "%.3f s"), None))
        a = m.get("overhead_ms_per_trial_vs_xargs_direct")
        rows.append(("  overhead/trial vs A = (intern-A)/N", fmt(a, "%.3f ms"), verdict(None if a is None else a <= TARGET_DISPATCH_MS)))
        b = m.get("overhead_ms_per_trial_vs_xargs_sh_files")
        rows.append(("  overhead/trial vs B = (intern-B)/N", fmt(b, "%.3f ms"), verdict(None if b is None else b <= TARGET_DISPATCH_MS)))
        rows.append(("  per lane vs A = (intern-A)*%d/N" % lanes, fmt(m.get("overhead_ms_per_trial_per_lane_vs_xargs_direct"), "%.3f ms"), None))
        rows.append(("  per lane vs B = (intern-B)*%d/N" % lanes, fmt(m.get("overhead_ms_per_trial_per_lane_vs_xargs_sh_files"), "%.3f ms"), None))
        rows.append(("  store span per trial per lane = span*%d/N" % lanes, fmt(m.get("campaign_span_ms_per_trial_per_lane"), "%.3f ms"), None))
    if "logs" in r:
        L = r["logs"]
        rows.append(("(2) logs: %d trials x %.1f MB, %s gen.py, block-buffered" % (L["trials"], L["bytes_per_trial_target"] / 1e6, L["interpreter"]), None, None))
        rows.append(("  raw bytes per run (stdout+stderr)", "%d" % L["expected_raw_bytes"], None))
        rows.append(("  floor: xargs -P%d, output to files" % args.workers,
                     "%s s, %s MB/s" % (fmt(L["floor"]["median"]["median_wall_seconds"]), fmt(L["floor"]["median"]["median_raw_MB_per_s"], "%.1f")), None))
        for key, title in (("gen", "intern, gen.py in the trial"), ("replay", "intern, /bin/cat replay of the same bytes")):
            if key not in L["intern"]:
                continue
            m = L["intern"][key]["median"]
            rows.append(("  %s (%d run%s)" % (title, len(L["intern"][key]["runs"]), "" if len(L["intern"][key]["runs"]) == 1 else "s"), None, None))
            mbps = m["median_raw_MB_per_s"]
            rows.append(("    wall / raw MB/s (end to end)", "%s s / %s MB/s" % (fmt(m["median_wall_seconds"]), fmt(mbps, "%.1f")),
                         verdict(None if mbps is None else mbps >= TARGET_INGEST_MBPS)))
            rows.append(("    raw MB/s over the campaign span (no process start/stop)",
                         "%s MB/s" % fmt(m.get("median_raw_MB_per_s_campaign_span"), "%.1f"), None))
            rows.append(("    coordinator CPU s / CPU s per GB raw", "%s / %s" % (fmt(m["median_coordinator_cpu_seconds"]),
                                                                               fmt(m["median_coordinator_cpu_s_per_GB"])), None))
            ratio = m["median_ratio"]
            rows.append(("    stored ratio raw/stored", fmt(ratio, "%.2fx"), verdict(None if ratio is None else ratio >= TARGET_RATIO)))
            rows.append(("    campaign.db bytes / metric points", "%s / %s" % (fmt(m["median_db_bytes"], "%d"), fmt(m["median_metric_points"], "%d")), None))
            rows.append(("    ratio raw/(stored logs + campaign.db)", fmt(m["median_ratio_with_db"], "%.2fx"), None))
            bad = m["logs_mismatched"]
            rows.append(("    logs byte-exact (sha256, all runs)", "%d/%d" % (m["logs_checked"] - bad, m["logs_checked"]),
                         verdict(bad == 0 and m["logs_checked"] > 0)))
        ref = L.get("reference_zstd_ratio_trial0_stdout")
        if ref:
            rows.append(("  reference: zstd CLI on trial 0 stdout", " ".join("%s %.2fx" % (k[5:], v) for k, v in sorted(ref.items())), None))
    if r.get("transports"):
        T = r["transports"]
        rows.append(("(3) transports: intern coordinator + %d intern workers, median of %d" % (args.workers, args.runs), None, None))
        for key, title in (("dispatch", "dispatch, %d x /bin/true: span/trial, vs ipc"), ("logs", "logs, %d trials /bin/cat replay: MB/s, span vs ipc")):
            if key not in T:
                continue
            rows.append(("  " + title % T[key]["trials"], None, None))
            for transport, m in T[key]["median"].items():
                figure = fmt(m.get("ms_per_trial"), "%.3f ms") if key == "dispatch" else fmt(m.get("raw_MB_per_s"), "%.1f MB/s")
                checked = "" if key == "dispatch" else "  logs exact %d/%d" % (m["logs_checked"] - m["logs_mismatched"], m["logs_checked"])
                rows.append(("    %-9s coordinator CPU %s" % (transport, fmt(m.get("median_coordinator_cpu_seconds"), "%.2f s")),
                             "%s  x%s" % (figure, fmt(m.get("span_ratio_vs_ipc"), "%.2f")), checked or None))
    if r.get("sampler"):
        S = r["sampler"]
        rows.append(("(4) sampler: one draw at 10,000 finished trials (coordinator logic, median)", None, None))
        for name in ("tpe", "random"):
            if name in S:
                ms = S[name]["median_ms"]
                rows.append(("  %s" % name, fmt(ms, "%.3f ms"), verdict(None if ms is None or name != "tpe" else ms < TARGET_SAMPLER_MS)))
    if r.get("synthesis"):
        S = r["synthesis"]
        rows.append(("(5) synthesis: %d trials, %d MiB of logs (%.0f MB stored), median" % (S["trials"], S["log_mib"], S["stored_bytes"] / 1e6), None, None))
        for name, target in (("report_html", TARGET_REPORT_S), ("report_md", TARGET_REPORT_S), ("digest", TARGET_DIGEST_S)):
            m = S.get(name) or {}
            wall, peak = m.get("median_wall_seconds"), m.get("median_peak_rss_MB")
            rows.append(("  %s: wall / peak RSS" % name.replace("_", " "), "%s / %s" % (fmt(wall, "%.3f s"), fmt(peak, "%.0f MB")),
                         verdict(None if wall is None else wall < target and peak < TARGET_PEAK_MB)))
        for name, _ in GREP_PATTERNS:
            m = S.get(name) or {}
            rows.append(("  %s: raw MB/s searched" % name.replace("_", " "), "%s  (%s matches)" % (fmt(m.get("median_MB_per_s"), "%.0f MB/s"), m.get("matches")), None))
    if r.get("parser"):
        P = r["parser"]
        rows.append(("(6) metric parser on the real captures, ns/line (fastest round, median of runs)", None, None))
        for key, title in (("all", "all lines"), ("no_points", "lines that give no points"), ("same_points", "files that give the same points in both")):
            if key not in P["intern"]:
                continue
            m = P["intern"][key]
            base = P.get("baseline", {}).get(key)
            figure = fmt(m["ns_per_line"], "%.1f ns")
            if base and base["ns_per_line"]:
                figure += "  (baseline %s, x%.2f)" % (fmt(base["ns_per_line"], "%.1f"), m["ns_per_line"] / base["ns_per_line"])
            rows.append(("  %s: %d lines, %d points%s" % (title, m["lines"], m["points"], "" if not base else " (baseline %d)" % base["points"]), figure, None))
    if r.get("shapes"):
        rows.extend(shape_rows(r["shapes"]))
    width = max(len(a) for a, _, _ in rows) + 2
    figure_width = max([22] + [len(b) + 2 for _, b, _ in rows if b])
    print()
    for a, b, c in rows:
        print(a.ljust(width) + (b or "").ljust(figure_width) + (c or ""))
    print("targets: dispatch <= %.0f ms/trial above xargs (A: strict, no shell); ingest >= %.0f MB/s raw; ratio >= %.0fx; 0 bytes lost"
          % (TARGET_DISPATCH_MS, TARGET_INGEST_MBPS, TARGET_RATIO))
    if r.get("shapes"):
        print("targets (shapes): wall <= %.2fx xargs and below Optuna; W2 CPU <= %.2fx xargs; gap p50 <= %.0f ms, p99 <= %.0f ms; "
              "PSS <= %.0f MiB; first trial < %.0f ms; RSS after a big report <= %.2fx before" % (
                  TARGET_SHAPE_RATIO, TARGET_SHAPE_RATIO, TARGET_GAP_P50_MS, TARGET_GAP_P99_MS, TARGET_PSS_MIB, TARGET_FIRST_TRIAL_MS,
                  TARGET_RSS_AFTER_BIG_REPORT))
    print("bench took %.0f s; JSON: %s" % (r["bench_seconds"], args.out))
    for n in r["notes"]:
        print("note: " + n)
    for p in r["problems"]:
        print("PROBLEM: " + p)


if __name__ == "__main__":
    sys.exit(main())

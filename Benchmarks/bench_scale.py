#!/usr/bin/env python3
"""The coordinator alone at scale (`make bench-scale`; Benchmarks/README.md, "Scale").

`intern-load` runs N simulated workers that speak the real protocol (sealed over tcp://, a
socket and a session each) against one real `intern coordinator`; their jobs are simulated
(Trainer-shaped zstd log frames, metric samples, failures, churn). Three scenarios:

  dispatch  1,000 workers x 4 slots, 100,000 trials of 1-60 s (time-scaled): trials/s, dispatch
            and report-commit latency, coordinator RSS every 10,000 trials, CPU per trial.
  ingest    1,000 workers logging at once: raw MB/s per coordinator CPU-second, stored ratio.
  soak      72 simulated hours (6,000 tasks, 2 % worker churn per hour, coordinator kill -9 and
            restarts) replayed in minutes: RSS, store size and query times, start vs end.

Every scenario then checks the campaign's SQLite store: every trial completed exactly once,
with exactly one succeeded attempt. Prints one table with PASS/MISS against the goals; exit
status 1 on an integrity failure (a trial lost or doubled, a run that errored or timed out).
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

TARGET_RSS_MB = 100.0  # coordinator RSS, max over the run
TARGET_RSS_GROWTH = 1.25  # flat: the last sample at most this times the first sample past 10 %
TARGET_DISPATCH_P99_MS = 10.0
TARGET_INGEST_MBPS_PER_CORE = 300.0
TARGET_RATIO = 8.0

SPEC = """name: {name}
command: [/bin/true]
space:
  x: {{type: choice, values: [0]}}
sampler: {{type: random, seed: 1}}
trials: {trials}
parallel: {parallel}
objective: {{metric: eval_loss, direction: minimize}}
retry: {{infra: 5, lost: 20, per_trial: 40, backoff: 0}}
failures: {{circuit_breaker: 0, quarantine_after: 0}}
"""


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dir_bytes(path):
    """Apparent bytes (sum of sizes) and allocated bytes (du) of every file under path."""
    apparent = allocated = 0
    for root, _, files in os.walk(path):
        for f in files:
            st = os.stat(os.path.join(root, f))
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


class Coordinator:
    """One campaign's coordinator, restartable on the same store (kill -9, then start again);
    its pid goes to a file the load generator reads at every sample; its CPU time (all
    incarnations) comes from wait4."""

    def __init__(self, intern, d, spec, port, auth, extra=()):
        self.intern, self.d, self.spec, self.port, self.auth = intern, d, spec, port, auth
        self.extra = list(extra)
        self.pid_file = os.path.join(d, "coordinator.pid")
        self.cpu = 0.0
        self.max_rss_kib = 0
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        out = open(os.path.join(self.d, "coordinator-%d.out" % self.starts), "wb")
        err = open(os.path.join(self.d, "coordinator-%d.err" % self.starts), "wb")
        argv = [self.intern, "coordinator", self.spec, "--listen", "tcp://127.0.0.1:%d" % self.port, "--auth", self.auth,
                "--root", os.path.join(self.d, ".intern"),
                # 1,000 workers dial from one address at once (a real fleet comes from many).
                "--max-unauthenticated-per-address", "4096", "--max-unauthenticated", "8192"] + self.extra
        self.proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=self.d)
        with open(self.pid_file + ".tmp", "w") as f:
            f.write(str(self.proc.pid))
        os.replace(self.pid_file + ".tmp", self.pid_file)

    def reap(self, kill=False):
        if kill:
            os.kill(self.proc.pid, signal.SIGKILL)  # not Popen.send_signal: it may reap (and lose the rusage)
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.cpu += usage.ru_utime + usage.ru_stime
        self.max_rss_kib = max(self.max_rss_kib, usage.ru_maxrss)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.proc.returncode

    def wait(self, timeout):
        """Waits for the coordinator to exit (killing it after `timeout`); never through
        Popen.poll(), which would reap it and lose its rusage."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.cpu += usage.ru_utime + usage.ru_stime
                self.max_rss_kib = max(self.max_rss_kib, usage.ru_maxrss)
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                return self.proc.returncode
            time.sleep(0.2)
        return self.reap(kill=True)


def check_store(db, trials):
    """Every trial completed exactly once: one succeeded attempt per trial, none lost or doubled."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    q = lambda sql: con.execute(sql).fetchall()
    by_status = dict(q("select status, count(*) from trials group by status"))
    attempts = dict(q("select status, count(*) from attempts group by status"))
    doubled = q("select count(*) from (select trial_id from attempts where status = 'succeeded' group by trial_id having count(*) > 1)")[0][0]
    with_success = q("select count(distinct trial_id) from attempts where status = 'succeeded'")[0][0]
    raw, stored = q("select coalesce(sum(raw_length), 0), coalesce(sum(length), 0) from log_frames")[0]
    # Metric points: in batches (each a run of seqs), summarised per metric in metric_series.
    in_batches = q("select coalesce(sum(last_seq - first_seq + 1), 0) from metric_batches")[0][0]
    in_series = q("select coalesce(sum(count), 0) from metric_series")[0][0]
    metric_points = in_batches if in_batches == in_series else None
    con.close()
    ok = by_status.get("completed", 0) == trials and sum(by_status.values()) == trials and doubled == 0 and with_success == trials
    return {"ok": ok, "trials": by_status, "attempts": attempts, "doubled": doubled, "trials_with_a_success": with_success,
            "log_raw_bytes": raw, "log_frame_bytes": stored, "metric_points": metric_points}


def coordinator_quantiles(d, pattern):
    """A p50 / p99 pair (bucket bounds: at most) that `intern coordinator` prints as it ends,
    found with `pattern` (two groups) in its output."""
    found = None
    for path in sorted(glob.glob(os.path.join(d, "coordinator-*.out"))):
        with open(path, errors="replace") as f:
            for line in f:
                m = re.search(pattern, line)
                if m:
                    found = (float(m.group(1)), float(m.group(2)))
    return found


def request_wait(d):
    """How long requests waited between NNG handing them over and the coordinator's thread taking
    them up."""
    return coordinator_quantiles(d, r"requests waited for the coordinator's thread: p50 <= ([0-9.e+-]+|inf) ms, p99 <= ([0-9.e+-]+|inf) ms")


def served_dispatch(d):
    """Work requests answered at once: from NNG handing each over to its assignment committed,
    on the coordinator's side (none of the load generator's own queueing is in it)."""
    return coordinator_quantiles(d, r"work requests answered at once, arrival to assignment: p50 <= ([0-9.e+-]+|inf) ms, p99 <= ([0-9.e+-]+|inf) ms")


class Bench:
    def __init__(self, args):
        self.args = args
        self.intern = os.path.abspath(args.intern)
        self.load = os.path.abspath(args.load)
        self.tmp = tempfile.mkdtemp(prefix="intern-scale-", dir=args.tmp)
        self.problems = []
        self.auth = os.path.join(self.tmp, "auth")
        subprocess.run([self.intern, "init-auth", self.auth], check=True, stdout=subprocess.DEVNULL)

    def campaign(self, name, trials, parallel, extra=()):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        spec = os.path.join(d, "campaign.yaml")
        with open(spec, "w") as f:
            f.write(SPEC.format(name=name, trials=trials, parallel=parallel))
        return d, Coordinator(self.intern, d, spec, free_port(), self.auth, extra)

    def run_load(self, d, coord, load_args, timeout, during=None):
        """Runs intern-load against the coordinator until the campaign is over; `during(proc)`
        runs meanwhile (restarts, queries). Returns intern-load's JSON figures."""
        out_json = os.path.join(d, "load.json")
        argv = [self.load, "--connect", "tcp://127.0.0.1:%d" % coord.port, "--auth", self.auth,
                "--coordinator-pid-file", coord.pid_file, "--json", out_json, "--time-limit", str(int(timeout))] + load_args
        log("  " + " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv)))
        with open(os.path.join(d, "load.out"), "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, cwd=d, text=True)
            if during:
                during(proc)
            for line in proc.stderr:
                if line.startswith("intern-load:"):
                    log("  " + line.rstrip())
            rc = proc.wait()
        if rc != 0:
            self.problems.append("%s: intern-load exited %d (%s)" % (os.path.basename(d), rc, open(os.path.join(d, "load.out")).read()[-800:]))
        crc = coord.wait(60)
        if crc != 0:
            self.problems.append("%s: the coordinator exited %d" % (os.path.basename(d), crc))
        with open(os.path.join(d, "load.out")) as f:
            log("\n".join("  | " + l for l in f.read().rstrip().splitlines()))
        return json.load(open(out_json)) if os.path.exists(out_json) else {}

    def verify(self, d, name, trials):
        db = os.path.join(d, ".intern", name, "campaign.db")
        check = check_store(db, trials)
        if not check["ok"]:
            self.problems.append("%s: the store does not hold every trial completed once: %s" % (name, check))
        log("  store: %s" % {k: v for k, v in check.items() if k in ("ok", "trials", "attempts", "doubled")})
        return check

    # -- (1) dispatch at scale ---------------------------------------------------------------------
    def dispatch(self):
        a = self.args
        log("(1) dispatch: %d workers x %d slots, %d trials of 1-60 s at time scale %g" % (a.workers, a.slots, a.trials, a.time_scale))
        d, coord = self.campaign("dispatch", a.trials, a.workers * a.slots * 2)
        coord.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        perf = self.start_perf(coord, d) if a.perf else None  # after --perf-delay s, for --perf s
        figures = self.run_load(d, coord, [
            "--workers", str(a.workers), "--slots", str(a.slots), "--min-seconds", "1", "--max-seconds", "60",
            "--time-scale", str(a.time_scale), "--log-rate", str(a.dispatch_log_rate), "--failure-rate", "0.02",
            "--sample-every", str(max(1, a.trials // 10))], timeout=a.timeout)
        wall = time.monotonic() - t0
        if perf:
            self.finish_perf(perf, d)
        check = self.verify(d, "dispatch", a.trials)
        samples = figures.get("coordinator", [])
        rss = [s["reading"]["rssKiB"] / 1024 for s in samples]
        past_start = [s["reading"]["rssKiB"] / 1024 for s in samples if s["completed"] >= a.trials // 10] or rss
        return {"figures": figures, "store": check, "wall_s": wall, "coordinator_cpu_s": coord.cpu,
                "request_wait_ms": request_wait(d), "served_dispatch_ms": served_dispatch(d),
                "coordinator_max_rss_mb": coord.max_rss_kib / 1024, "rss_mb": rss,
                "rss_flat": bool(past_start) and past_start[-1] <= TARGET_RSS_GROWTH * past_start[0],
                "rss_peak_mb": max(rss + [coord.max_rss_kib / 1024]) if rss else coord.max_rss_kib / 1024}

    def start_perf(self, coord, d):
        out = os.path.join(self.args.out_dir, "bench-scale-perf.data")
        # Past the start (1,000 workers joining at once), in the steady state.
        script = "sleep %d; exec perf record -g -o %s -p %d -- sleep %d" % (self.args.perf_delay, out, coord.proc.pid, self.args.perf)
        return subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out

    def finish_perf(self, perf, d):
        proc, out = perf
        proc.wait()
        path = os.path.join(self.args.out_dir, "bench-scale-perf.txt")
        with open(path, "w") as f:
            # Flat, by shared object, then the call graphs of the top symbols.
            for extra in (["-g", "none", "--percent-limit", "0.7"], ["-g", "none", "--sort", "dso"], ["--percent-limit", "3"]):
                report = subprocess.run(["perf", "report", "-i", out, "--no-children", "--stdio"] + extra, capture_output=True, text=True)
                f.write("\n".join(l for l in report.stdout.splitlines() if l.strip() and not l.startswith("#")) + "\n\n")
        log("  perf report -> %s" % path)

    # -- (2) log ingest ----------------------------------------------------------------------------
    def ingest(self):
        a = self.args
        log("(2) ingest: %d workers x 1 slot logging at once, %d trials of ~%d KB" % (a.ingest_workers, a.ingest_trials, a.ingest_kb))
        d, coord = self.campaign("ingest", a.ingest_trials, a.ingest_workers * 2)
        coord.start()
        time.sleep(0.5)
        seconds = 30.0
        figures = self.run_load(d, coord, [
            "--workers", str(a.ingest_workers), "--slots", "1", "--min-seconds", "20", "--max-seconds", "40",
            "--time-scale", "0.1", "--log-rate", str(a.ingest_kb * 1000 / seconds), "--failure-rate", "0",
            "--sample-every", str(max(1, a.ingest_trials // 4))], timeout=a.timeout)
        check = self.verify(d, "ingest", a.ingest_trials)
        # No failures, kills or cuts here: when every attempt succeeded (none lost to a saturated
        # coordinator and run again), every sample a simulated job printed is stored, once.
        sent = figures.get("counts", {}).get("metricSamplesSent")
        if sent is not None and check["attempts"] == {"succeeded": a.ingest_trials} and check["metric_points"] != sent:
            self.problems.append("ingest: %s metric points stored (batches and series agreeing), %d sent" % (check["metric_points"], sent))
        apparent, allocated = dir_bytes(os.path.join(d, ".intern", "ingest", "logs"))
        raw = check["log_raw_bytes"]
        return {"figures": figures, "store": check, "coordinator_cpu_s": coord.cpu,
                "raw_mb": raw / 1e6, "logs_file_mb": apparent / 1e6, "logs_disk_mb": allocated / 1e6,
                "ratio_files": raw / max(1, apparent), "ratio_disk": raw / max(1, allocated),
                "mb_per_cpu_s": raw / 1e6 / max(1e-9, coord.cpu),
                "db_mb": os.path.getsize(os.path.join(d, ".intern", "ingest", "campaign.db")) / 1e6}

    # -- (3) soak ----------------------------------------------------------------------------------
    def queries(self, d, name):
        """Times the inspect commands on the store, as a person would run them."""
        cdir = os.path.join(d, ".intern", name)
        times = {}
        for label, argv in (("status", ["status"]), ("trials --json", ["trials", "--json"]), ("best", ["best"]),
                            ("failures", ["failures"]), ("digest", ["digest"]), ("logs 1", ["logs", "1"])):
            t = time.monotonic()
            p = subprocess.run([self.intern] + argv + ["--dir", cdir], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
            times[label] = {"s": time.monotonic() - t, "rc": p.returncode}
        db = os.path.join(cdir, "campaign.db")
        logs_apparent, _ = dir_bytes(os.path.join(cdir, "logs")) if os.path.isdir(os.path.join(cdir, "logs")) else (0, 0)
        return {"queries": times, "db_mb": os.path.getsize(db) / 1e6 if os.path.exists(db) else 0, "logs_mb": logs_apparent / 1e6}

    def soak(self):
        a = self.args
        hours, tasks, workers = 72.0, a.soak_tasks, a.soak_workers
        # Tasks of 0.5-2 h on `workers` slots fill about 72 h; the scale makes them last `soak_seconds` in all.
        scale = a.soak_seconds / (hours * 3600)
        log("(3) soak: %d tasks, %d workers, 72 h in ~%d s (scale %.2g), 2 %% churn per hour, %d coordinator restarts"
            % (tasks, workers, a.soak_seconds, scale, a.soak_restarts))
        d, coord = self.campaign("soak", tasks, workers * 2)
        coord.start()
        time.sleep(0.5)
        state = {}

        def during(proc):
            start = time.monotonic()
            marks = [a.soak_seconds * (i + 1) / (a.soak_restarts + 1) for i in range(a.soak_restarts)]
            early = a.soak_seconds * 0.15
            while proc.poll() is None and (marks or "start" not in state):
                now = time.monotonic() - start
                if "start" not in state and now >= early:
                    state["start"] = self.queries(d, "soak")
                    state["start"]["rss_mb"] = self.rss_mb(coord)
                    state["start"]["at_s"] = now
                if marks and now >= marks[0]:
                    marks.pop(0)
                    log("  kill -9 the coordinator at %.0f s, restart" % now)
                    coord.reap(kill=True)
                    time.sleep(1)
                    coord.start()
                time.sleep(0.2)

        figures = self.run_load(d, coord, [
            "--workers", str(workers), "--slots", "1", "--min-seconds", "1800", "--max-seconds", "7200",
            "--time-scale", "%.9f" % scale, "--log-rate", "10", "--failure-rate", "0.02",
            "--churn-per-hour", "0.02", "--churn-hours", "72", "--cut-share", "0.5", "--max-cut-seconds", "15",
            "--sample-every", str(max(1, tasks // 6))], timeout=a.timeout, during=during)
        check = self.verify(d, "soak", tasks)
        end = self.queries(d, "soak")
        samples = figures.get("coordinator", [])
        end["rss_mb"] = samples[-1]["reading"]["rssKiB"] / 1024 if samples else None
        return {"figures": figures, "store": check, "start": state.get("start"), "end": end, "restarts": coord.starts - 1,
                "coordinator_cpu_s": coord.cpu, "coordinator_max_rss_mb": coord.max_rss_kib / 1024,
                "rss_mb": [s["reading"]["rssKiB"] / 1024 for s in samples]}

    @staticmethod
    def rss_mb(coord):
        try:
            with open("/proc/%d/status" % coord.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None


def verdict(ok):
    return "PASS" if ok else "MISS"


def fmt(x, spec="%.2f"):
    return "-" if x is None else spec % x


def print_table(r):
    rows = []
    D = r.get("dispatch")
    if D:
        f = D["figures"]
        dp, rp, ds = f.get("dispatch", {}), f.get("reportCommit", {}), f.get("dispatchAfterStart", {})
        rows += [
            ("(1) dispatch: %d workers x %d slots, %d trials" % (f.get("workers", 0), f.get("slots", 0), sum(D["store"]["trials"].values())), "", ""),
            ("  trials completed, each once (store)", "%d / %d" % (D["store"]["trials"].get("completed", 0), sum(D["store"]["trials"].values())), verdict(D["store"]["ok"])),
            ("  trials/s (wall %.0f s)" % D["wall_s"], fmt(f.get("trialsPerSecond"), "%.0f"), ""),
            ("  dispatch p50 / p99 (WorkRequest -> Assignment)", "%s / %s ms" % (fmt(dp.get("p50Ms")), fmt(dp.get("p99Ms"))),
             verdict(dp.get("p99Ms", 1e9) <= TARGET_DISPATCH_P99_MS) + " (p99 <= %g ms)" % TARGET_DISPATCH_P99_MS),
            ("    after the start (every slot had an assignment)", "%s / %s ms" % (fmt(ds.get("p50Ms")), fmt(ds.get("p99Ms"))),
             verdict(ds.get("p99Ms", 1e9) <= TARGET_DISPATCH_P99_MS) + " (p99 <= %g ms)" % TARGET_DISPATCH_P99_MS),
            ("  report commit p50 / p99 (Report -> ReportAck)", "%s / %s ms" % (fmt(rp.get("p50Ms")), fmt(rp.get("p99Ms"))), ""),
            ("  requests' wait for the coordinator's thread p50 / p99 (at most; its log)", "%s / %s ms" % tuple(
                fmt(x) for x in (D.get("request_wait_ms") or (None, None))), ""),
            ("  dispatch as the coordinator serves it p50 / p99 (arrival -> assignment; its log)", "%s / %s ms" % tuple(
                fmt(x) for x in (D.get("served_dispatch_ms") or (None, None))), ""),
            ("  coordinator RSS every 10 % of trials (MB)", " ".join("%.0f" % x for x in D["rss_mb"]), ""),
            ("  coordinator RSS peak, flat", "%.1f MB, %s" % (D["rss_peak_mb"], "flat" if D["rss_flat"] else "GROWS"),
             verdict(D["rss_peak_mb"] <= TARGET_RSS_MB and D["rss_flat"]) + " (<= %g MB, flat)" % TARGET_RSS_MB),
            ("  coordinator CPU per trial", "%.3f ms (%.1f s in all)" % (D["coordinator_cpu_s"] * 1000 / max(1, sum(D["store"]["trials"].values())), D["coordinator_cpu_s"]), ""),
        ]
    I = r.get("ingest")
    if I:
        rows += [
            ("(2) ingest: %d workers logging at once" % I["figures"].get("workers", 0), "", ""),
            ("  raw log stored", "%.0f MB in %d trials" % (I["raw_mb"], sum(I["store"]["trials"].values())), verdict(I["store"]["ok"])),
            ("  raw MB per coordinator CPU-second", "%.0f MB/s (CPU %.1f s)" % (I["mb_per_cpu_s"], I["coordinator_cpu_s"]),
             verdict(I["mb_per_cpu_s"] >= TARGET_INGEST_MBPS_PER_CORE) + " (>= %g)" % TARGET_INGEST_MBPS_PER_CORE),
            ("  stored: raw / log files (/ on disk)", "%.1fx (%.1fx; db %.0f MB)" % (I["ratio_files"], I["ratio_disk"], I["db_mb"]),
             verdict(I["ratio_files"] >= TARGET_RATIO) + " (>= %gx)" % TARGET_RATIO),
            ("  report commit p50 / p99", "%s / %s ms" % (fmt(I["figures"].get("reportCommit", {}).get("p50Ms")), fmt(I["figures"].get("reportCommit", {}).get("p99Ms"))), ""),
        ]
    S = r.get("soak")
    if S:
        f = S["figures"]
        c = f.get("counts", {})
        rows += [
            ("(3) soak: 72 h, %d tasks, %d kills, %d cuts, %d coordinator restarts" % (sum(S["store"]["trials"].values()), c.get("kills", 0), c.get("cuts", 0), S["restarts"]), "", ""),
            ("  trials completed, each once (store)", "%d / %d" % (S["store"]["trials"].get("completed", 0), sum(S["store"]["trials"].values())), verdict(S["store"]["ok"])),
            ("  attempts by status", " ".join("%s %d" % kv for kv in sorted(S["store"]["attempts"].items())), ""),
        ]
        st, en = S.get("start") or {}, S.get("end") or {}
        rows.append(("  coordinator RSS start -> end (MB)", "%s -> %s (peak %.0f)" % (fmt(st.get("rss_mb"), "%.0f"), fmt(en.get("rss_mb"), "%.0f"), S["coordinator_max_rss_mb"]),
                     verdict((en.get("rss_mb") or 0) <= TARGET_RSS_MB)))
        rows.append(("  store: db / logs (MB) start -> end", "%s / %s -> %s / %s" % (fmt(st.get("db_mb"), "%.1f"), fmt(st.get("logs_mb"), "%.1f"), fmt(en.get("db_mb"), "%.1f"), fmt(en.get("logs_mb"), "%.1f")), ""))
        for q in (en.get("queries") or {}):
            rows.append(("  intern %s (s) start -> end" % q, "%s -> %.3f" % (fmt((st.get("queries") or {}).get(q, {}).get("s"), "%.3f"), en["queries"][q]["s"]), ""))
    width = max(len(r[0]) for r in rows) + 2
    vwidth = max(len(r[1]) for r in rows) + 2
    print()
    print("intern bench-scale (coordinator alone, simulated workers over sealed tcp://)")
    for label, value, ok in rows:
        print(label.ljust(width) + value.ljust(vwidth) + ok)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--intern", default=".build/release/intern")
    ap.add_argument("--load", default=".build/release/intern-load")
    ap.add_argument("--out", default=".build/bench-scale.json")
    ap.add_argument("--quick", action="store_true", help="a 2-minute version: 200 workers, 5,000 trials; 300 ingest trials; a 40 s soak")
    ap.add_argument("--only", choices=["dispatch", "ingest", "soak"])
    ap.add_argument("--workers", type=int, help="dispatch: workers (default 1000; --quick 200)")
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--trials", type=int, help="dispatch: trials (default 100000; --quick 10000)")
    ap.add_argument("--time-scale", type=float, help="dispatch: real seconds per simulated second (default 0.5, --quick 0.1: "
                    "about 260 trials/s offered, twice what 4,000 slots of 1-60 s trials ask in real time)")
    ap.add_argument("--dispatch-log-rate", type=float, default=100, help="dispatch: raw log bytes per simulated second per attempt")
    ap.add_argument("--ingest-workers", type=int, help="default 1000 (--quick 200)")
    ap.add_argument("--ingest-trials", type=int, help="default 2000 (--quick 300)")
    ap.add_argument("--ingest-kb", type=int, default=1000, help="raw log per ingest trial, KB")
    ap.add_argument("--soak-tasks", type=int, help="default 6000 (--quick 1000)")
    ap.add_argument("--soak-workers", type=int, help="default 100 (--quick 20)")
    ap.add_argument("--soak-seconds", type=int, help="real seconds the 72 h are replayed in (default 240; --quick 40)")
    ap.add_argument("--soak-restarts", type=int, default=3)
    ap.add_argument("--perf", type=int, default=0, help="perf record -g the dispatch coordinator for this many seconds")
    ap.add_argument("--perf-delay", type=int, default=60, help="seconds into the dispatch run when perf starts (default 60)")
    ap.add_argument("--timeout", type=int, default=1200, help="per scenario, seconds")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()
    q = args.quick
    args.workers = args.workers or (200 if q else 1000)
    args.trials = args.trials or (5_000 if q else 100_000)
    args.time_scale = args.time_scale or (0.1 if q else 0.5)
    args.ingest_workers = args.ingest_workers or (200 if q else 1000)
    args.ingest_trials = args.ingest_trials or (300 if q else 2000)
    args.soak_tasks = args.soak_tasks or (1000 if q else 6000)
    args.soak_workers = args.soak_workers or (20 if q else 100)
    args.soak_seconds = args.soak_seconds or (40 if q else 240)
    args.out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(args.out_dir, exist_ok=True)
    for binary in (args.intern, args.load):
        if not os.access(binary, os.X_OK):
            sys.exit("%s is missing: build it (make bench-scale builds both)" % binary)

    bench = Bench(args)
    report = {"args": vars(args)}
    try:
        for name in ("dispatch", "ingest", "soak"):
            if args.only in (None, name):
                report[name] = getattr(bench, name)()
    finally:
        if args.keep:
            log("kept %s" % bench.tmp)
        else:
            shutil.rmtree(bench.tmp, ignore_errors=True)
    report["problems"] = bench.problems
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2, default=str)
    print_table(report)
    for p in bench.problems:
        print("PROBLEM: " + p)
    print("\nfigures: %s" % args.out)
    sys.exit(1 if bench.problems else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A map campaign of many small shards against xargs -P running the same filter.

    python3 Benchmarks/bench_map.py --intern .build/release/intern --shards 1000 --runs 3

The corpus is examples/data-filter's generator (--shards shards of --rows rows); the job is its
filter.py, one process per shard. intern: `intern run` of a spec with `map: {over: ...}` and
`totals:`, --workers N local workers (parallel N); xargs: `xargs -P N -I{} python3 filter.py {} --out
DIR` fed the same file list, its output to one file. Runs interleave (intern, xargs, intern, ...);
wall time is time.monotonic() around each whole process. Prints the medians and the ratio, and
checks that intern's totals (read back with `intern report --format json`) equal the planted counts.
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "data-filter")


def timed(argv, cwd, stdout=subprocess.DEVNULL):
    start = time.monotonic()
    subprocess.run(argv, cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--intern", default=os.path.join(ROOT, ".build", "release", "intern"))
    ap.add_argument("--shards", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=80, help="rows per shard (at least 48: the planted rows)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    intern = os.path.abspath(args.intern)
    work = tempfile.mkdtemp(prefix="bench-map-")
    try:
        for name in ["filter.py", "toxic_words.txt", "generate.py"]:
            shutil.copy(os.path.join(EXAMPLE, name), work)
        subprocess.run([sys.executable, "generate.py", "--out", "data", "--shards", str(args.shards), "--rows", str(args.rows)],
                       cwd=work, check=True, stdout=subprocess.DEVNULL)
        planted = json.load(open(os.path.join(work, "data", "planted.json")))
        with open(os.path.join(work, "map.yaml"), "w") as f:
            f.write("name: bench-map\nparallel: %d\ntotals: [rows_in, rows_kept, \"dropped/*\"]\n"
                    "map: {over: \"data/shards/*.jsonl\"}\ncommand: [python3, filter.py, \"{item}\", --out, runs/intern]\n" % args.workers)
        shards = sorted(glob.glob(os.path.join(work, "data", "shards", "*.jsonl")))
        listing = "\n".join(shards) + "\n"
        results = {"intern": [], "xargs": []}
        for run in range(args.runs):
            root = os.path.join(work, "root-%d" % run)
            results["intern"].append(timed([intern, "run", "map.yaml", "--workers", str(args.workers), "--root", root, "--quiet"], work))
            out = os.path.join(work, "xargs-%d" % run)
            start = time.monotonic()
            with open(out + ".log", "w") as log:
                subprocess.run(["xargs", "-P", str(args.workers), "-I{}", "python3", "filter.py", "{}", "--out", out],
                               cwd=work, input=listing.encode(), stdout=log, stderr=subprocess.STDOUT, check=True)
            results["xargs"].append(time.monotonic() - start)
            print("run %d: intern %.2f s, xargs -P%d %.2f s" % (run + 1, results["intern"][-1], args.workers, results["xargs"][-1]), flush=True)
        report = json.loads(subprocess.run([intern, "report", "--format", "json", "--dir", os.path.join(work, "root-0", "bench-map")],
                                           cwd=work, check=True, capture_output=True).stdout)
        totals = report["totals"]["values"]
        ok = all(totals.get(name) == planted[name] for name in ["rows_in", "rows_kept", "dropped/duplicate", "dropped/near_duplicate", "dropped/toxicity"])
        m_intern, m_xargs = statistics.median(results["intern"]), statistics.median(results["xargs"])
        print("%d shards of %d rows, %d workers, %d runs" % (args.shards, args.rows, args.workers, args.runs))
        print("median wall: intern %.2f s (%.0f shards/s), xargs -P%d %.2f s (%.0f shards/s); intern / xargs = %.3f"
              % (m_intern, args.shards / m_intern, args.workers, m_xargs, args.shards / m_xargs, m_intern / m_xargs))
        print("totals equal the planted counts: %s" % ("yes" if ok else "NO: %s vs %s" % (totals, planted)))
        return 0 if ok else 1
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

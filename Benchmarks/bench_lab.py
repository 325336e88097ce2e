#!/usr/bin/env python3
"""How fast the lab answers `recall` and rebuilds itself (issue 20's target: recall p50 < 50 ms on
100 campaigns / 1,000,000 stored failure excerpts; the rebuild time reported).

Writes --campaigns synthetic finished campaigns under a fresh root (`intern synth-lab`, hidden):
each with --failures failed attempts, each attempt with its own excerpt (its numbers differ) over
--signatures failure signatures drawn from one pool of --pool shared by all campaigns (so errors
recur across campaigns, as real ones do), plus 20 completed trials. Then `intern lab-bench`
(hidden) times, in one process: the rebuild (every store read, every document indexed: a lab that
was lost), a refresh with nothing changed (what every lab command pays first), and each query
--runs times through `recall` and the answer cut to 800 tokens (the ranked FTS5 query, the notes
attached, the folding of one signature's campaigns). Last, whole `intern recall` commands are timed
from here (process start and the refresh included), as a person or an agent's tool call sees them.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_P50_MS = 50.0
QUERIES = [
    "ModuleNotFoundError tokenizer",  # a common error type and a common word
    "CUDA out of memory allocate",  # many documents match every word
    "NCCL unhandled socket error rank",
    "worker_4711",  # one rare word (a tag of one pool signature: in a few campaigns)
    "gradient overflow fp16 scaler",
]


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intern", default=".build/release/intern")
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--failures", type=int, default=10_000)
    parser.add_argument("--signatures", type=int, default=1_000)
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--commands", type=int, default=10, help="whole `intern recall` commands timed per query")
    parser.add_argument("--tmp", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="intern-bench-lab-", dir=args.tmp)
    try:
        started = time.monotonic()
        subprocess.run([args.intern, "synth-lab", root, "--campaigns", str(args.campaigns), "--failures", str(args.failures),
                        "--signatures", str(args.signatures), "--pool", str(args.pool)], check=True, stdout=subprocess.DEVNULL)
        synth_seconds = time.monotonic() - started
        command = [args.intern, "lab-bench", "--root", root, "--runs", str(args.runs)]
        for query in QUERIES:
            command += ["--query", query]
        inner = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        whole = []
        for query in QUERIES:
            for _ in range(args.commands):
                started = time.monotonic()
                subprocess.run([args.intern, "recall", "--root", root, "--", query], check=True, stdout=subprocess.DEVNULL)
                whole.append((time.monotonic() - started) * 1000)
        stores = sum(os.path.getsize(os.path.join(root, name, "campaign.db")) for name in os.listdir(root)
                     if os.path.exists(os.path.join(root, name, "campaign.db")))
        result = {
            "campaigns": args.campaigns, "failure_excerpts": args.campaigns * args.failures, "signatures_per_campaign": args.signatures,
            "pool": args.pool, "synth_seconds": round(synth_seconds, 1), "store_bytes": stores, **inner,
            "recall_command_p50_ms": round(quantile(whole, 0.5), 1), "recall_command_p99_ms": round(quantile(whole, 0.99), 1),
        }
        verdict = "PASS" if inner["recall_p50_ms"] < TARGET_P50_MS else "MISS"
        print(f"{args.campaigns} campaigns, {args.campaigns * args.failures:,} failure excerpts ({stores / 2**20:.0f} MiB of stores), "
              f"lab {inner['lab_bytes'] / 2**20:.0f} MiB")
        print(f"rebuild                   {inner['rebuild_seconds']:.1f} s")
        print(f"refresh, nothing changed  {inner['refresh_unchanged_seconds'] * 1000:.0f} ms")
        print(f"recall in process         p50 {inner['recall_p50_ms']:.1f} ms  p99 {inner['recall_p99_ms']:.1f} ms  "
              f"({inner['recall_queries']} queries)  target p50 < {TARGET_P50_MS:.0f} ms: {verdict}")
        print(f"intern recall (command)   p50 {result['recall_command_p50_ms']:.1f} ms  p99 {result['recall_command_p99_ms']:.1f} ms")
        if args.out:
            with open(args.out, "w") as out:
                json.dump(result, out, indent=2, sort_keys=True)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

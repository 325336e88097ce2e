#!/usr/bin/env python3
"""How fast `intern mcp` answers an agent on a large campaign (issue 18's target: status and
digest p50 < 50 ms on 10,000 trials).

Makes a synthetic 10,000-trial campaign (`intern synth-campaign`: trials, metrics, 500 failures,
zstd logs), starts `intern mcp --dir` under the official MCP Python SDK (the venv `make test`
makes, .build/mcp-venv; this script re-runs itself there), and times each tool call from the
client's side: the request, intern running the command on the store, the answer cut to the budget.
Each tool is called --calls times; the first call is timed apart (cold page cache).
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PYTHON = os.path.join(HERE, "..", ".build", "mcp-venv", "bin", "python")
TARGET_P50_MS = 50.0

CALLS = [
    ("status", {}),
    ("digest", {"tokens": 800}),
    ("trials", {}),
    ("best", {}),
    ("failures", {}),
    ("logs", {"trial": 1}),
    ("metrics", {"trial": 1}),
]


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def measure(intern, campaign, calls, tokens):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    server = StdioServerParameters(command=intern, args=["mcp", "--dir", campaign, "--tokens", str(tokens)])
    results = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for name, arguments in CALLS:
                times = []
                errors = 0
                for i in range(calls + 1):
                    started = time.perf_counter()
                    answer = await session.call_tool(name, arguments)
                    elapsed = (time.perf_counter() - started) * 1000
                    errors += 1 if answer.is_error else 0
                    times.append(elapsed)
                results[name] = {"first_ms": times[0], "p50_ms": statistics.median(times[1:]),
                                 "p99_ms": quantile(times[1:], 0.99), "errors": errors}
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intern", default=os.path.join(HERE, "..", ".build", "release", "intern"))
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--log-mib", type=int, default=64)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(HERE, "..", ".build", "bench-mcp.json"))
    args = ap.parse_args()
    try:
        import mcp  # noqa: F401
    except ImportError:
        # Compared by prefix, not by the interpreter's real path: a venv's python is a link to
        # the very interpreter that runs this script without the venv.
        venv = os.path.realpath(os.path.join(os.path.dirname(VENV_PYTHON), ".."))
        if os.path.realpath(sys.prefix) != venv and os.path.exists(VENV_PYTHON):
            os.execv(VENV_PYTHON, [VENV_PYTHON] + sys.argv)
        sys.exit("bench-mcp: the MCP Python SDK is missing: `make mcp-client` makes .build/mcp-venv")
    intern = os.path.abspath(args.intern)
    tmp = tempfile.mkdtemp(prefix="intern-bench-mcp-")
    try:
        campaign = os.path.join(tmp, "synth")
        started = time.time()
        subprocess.run([intern, "synth-campaign", campaign, "--trials", str(args.trials), "--failures", "500",
                        "--log-mib", str(args.log_mib)], check=True, stdout=subprocess.DEVNULL)
        print("synthetic campaign: %d trials, %d MiB of logs (%.1f s)" % (args.trials, args.log_mib, time.time() - started), file=sys.stderr)
        results = asyncio.run(measure(intern, campaign, args.calls, args.tokens))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("intern mcp on %d trials: tool answer latency, from the client (%d calls each after a first)" % (args.trials, args.calls))
    print("  %-10s %9s %9s %9s %7s  %s" % ("tool", "first ms", "p50 ms", "p99 ms", "errors", "target"))
    for name, r in results.items():
        verdict = ""
        if name in ("status", "digest"):
            verdict = "p50 < %d ms: %s" % (TARGET_P50_MS, "PASS" if r["p50_ms"] < TARGET_P50_MS else "MISS")
        print("  %-10s %9.1f %9.1f %9.1f %7d  %s" % (name, r["first_ms"], r["p50_ms"], r["p99_ms"], r["errors"], verdict))
    with open(args.out, "w") as f:
        json.dump({"trials": args.trials, "log_mib": args.log_mib, "calls": args.calls, "tools": results}, f, indent=1)
    if any(r["errors"] for r in results.values()):
        sys.exit("bench-mcp: some calls answered with a tool error")


if __name__ == "__main__":
    main()

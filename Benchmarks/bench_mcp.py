#!/usr/bin/env python3
"""How fast `intern mcp` answers an agent on a large campaign (issue 18's target: status and
digest p50 < 50 ms on 10,000 trials).

Makes a synthetic 10,000-trial campaign (`intern synth-campaign`: trials, metrics, 500 failures,
zstd logs), starts `intern mcp --dir` under the official MCP Python SDK (the venv `make test`
makes, .build/mcp-venv; this script re-runs itself there), and times each tool call from the
client's side: the request, intern running the command on the store, the answer cut to the budget.
Each tool is called --calls times; the first call is timed apart (cold page cache). Then `status`
and `digest` again on a campaign that changes before every call, as a running one does: a completed
trial (a copy of one, with a new id, so that the digest's counts, best, parameter importance and
cursor all move) and an event are written to the store with sqlite3 (not timed).

Each row also gives the server's CPU per call: the user and system time of the server's processes
(`intern mcp` and `intern-mcp`, from /proc) across each call, averaged. `--tools status,digest` times
only those tools.

`--server-intern PATH` makes the server run that intern for the commands (`intern mcp --intern`);
with INTERN_MCP_IN_PROCESS=0 in the environment every tool runs as that command, which is how
the figures before intern-mcp answered `status` and `digest` itself are measured (docs/agents.md).
"""
import argparse
import asyncio
import json
import os
import shutil
import sqlite3
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
CHANGING = [("status", {}), ("digest", {"tokens": 800})]


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def change(campaign, serial):
    """What a running campaign's coordinator writes between two reads: a trial ends (a copy of a
    completed, feasible one, with a new id) and an event."""
    database = sqlite3.connect(os.path.join(campaign, "campaign.db"))
    columns = [row[1] for row in database.execute("PRAGMA table_info(trials)") if row[1] != "id"]
    source = database.execute("SELECT id FROM trials WHERE status = 'completed' AND objective IS NOT NULL"
                              " AND (feasible IS NULL OR feasible != 0) ORDER BY id LIMIT 1 OFFSET ?", (serial,)).fetchone()[0]
    database.execute("INSERT INTO trials (id, %s) SELECT (SELECT MAX(id) + 1 FROM trials), %s FROM trials WHERE id = ?"
                     % (", ".join(columns), ", ".join(columns)), (source,))
    database.execute("INSERT INTO events (at, kind, message) VALUES (?, 'bench.change', ?)",
                     (int(time.time() * 1000), "change %d" % serial))
    database.commit()
    database.close()


def server_processes(campaign):
    """The server's processes (`intern mcp` and the `intern-mcp` it runs): those whose command
    line names the campaign directory after `mcp`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(a == b"mcp" or a.endswith(b"intern-mcp") for a in argv) and campaign.encode() in argv:
            pids.append(int(entry))
    return pids


def cpu_ms(pids):
    """User + system CPU of these processes so far, in ms (their threads included; 0 for one gone)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total * 1000.0 / os.sysconf("SC_CLK_TCK")


async def measure(intern, campaign, calls, tokens, server_intern):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    args = ["mcp", "--dir", campaign, "--tokens", str(tokens)] + (["--intern", server_intern] if server_intern else [])
    server = StdioServerParameters(command=intern, args=args, env=dict(os.environ))
    results = {}
    changing = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            server_pids = server_processes(campaign)

            async def timed(name, arguments, between=None):
                times = []
                cpu = []
                errors = 0
                for i in range(calls + 1):
                    if between:
                        between()
                    cpu_before = cpu_ms(server_pids)
                    started = time.perf_counter()
                    answer = await session.call_tool(name, arguments)
                    elapsed = (time.perf_counter() - started) * 1000
                    cpu.append(cpu_ms(server_pids) - cpu_before)
                    errors += 1 if answer.is_error else 0
                    times.append(elapsed)
                return {"first_ms": times[0], "p50_ms": statistics.median(times[1:]),
                        "p99_ms": quantile(times[1:], 0.99), "server_cpu_ms": sum(cpu[1:]) / len(cpu[1:]), "errors": errors}

            for name, arguments in CALLS:
                results[name] = await timed(name, arguments)
            serial = iter(range(1_000_000))
            for name, arguments in CHANGING:
                changing[name] = await timed(name, arguments, between=lambda: change(campaign, next(serial)))
    return results, changing


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intern", default=os.path.join(HERE, "..", ".build", "release", "intern"))
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--log-mib", type=int, default=64)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--server-intern", help="the intern the server runs its commands with (intern mcp --intern)")
    ap.add_argument("--tools", help="only these tools, comma-separated (e.g. status,digest)")
    ap.add_argument("--out", default=os.path.join(HERE, "..", ".build", "bench-mcp.json"))
    args = ap.parse_args()
    if args.tools:
        wanted = set(args.tools.split(","))
        CALLS[:] = [call for call in CALLS if call[0] in wanted]
        CHANGING[:] = [call for call in CHANGING if call[0] in wanted]
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
        results, changing = asyncio.run(measure(intern, campaign, args.calls, args.tokens, args.server_intern))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mode = "in-process status and digest" if os.environ.get("INTERN_MCP_IN_PROCESS") != "0" else "every tool as a command (INTERN_MCP_IN_PROCESS=0)"
    print("intern mcp on %d trials, %s: tool answer latency, from the client (%d calls each after a first)" % (args.trials, mode, args.calls))
    for title, table in (("the campaign as it is", results), ("the campaign changing before each call (a trial ends, an event)", changing)):
        print("  " + title)
        print("  %-10s %9s %9s %9s %10s %7s  %s" % ("tool", "first ms", "p50 ms", "p99 ms", "server CPU", "errors", "target"))
        for name, r in table.items():
            verdict = ""
            if name in ("status", "digest"):
                verdict = "p50 < %d ms: %s" % (TARGET_P50_MS, "PASS" if r["p50_ms"] < TARGET_P50_MS else "MISS")
            print("  %-10s %9.1f %9.1f %9.1f %10.0f %7d  %s" % (name, r["first_ms"], r["p50_ms"], r["p99_ms"], r["server_cpu_ms"], r["errors"], verdict))
    with open(args.out, "w") as f:
        json.dump({"trials": args.trials, "log_mib": args.log_mib, "calls": args.calls, "mode": mode, "tools": results,
                   "changing": changing}, f, indent=1)
    if any(r["errors"] for r in list(results.values()) + list(changing.values())):
        sys.exit("bench-mcp: some calls answered with a tool error")


if __name__ == "__main__":
    main()

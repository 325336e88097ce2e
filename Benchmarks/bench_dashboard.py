#!/usr/bin/env python3
"""What the dashboard costs (issue 19's targets: 50 live clients on a running campaign cost the
coordinator < 5% of a core; a 10,000-trial campaign's page: first byte < 200 ms, < 1 MB).

Live clients. `intern run --http` runs a campaign of --trials python3 trials (each about 0.5 s,
printing its loss at 5 steps) on 2 workers, three ways, interleaved run by run (--runs each):
  none   no client: the baseline;
  feed   --clients Server-Sent Events clients on the campaign's feed (`/c/NAME/events`), reading
         every event;
  page   --clients clients doing what the campaign page's script does: the feed, the trials
         table and the workers (`/c/NAME/trials`, `/c/NAME/workers`) when their version moved (at
         each progress event after the first, for an intern whose feed has no such version), and
         the analysis (`/c/NAME/analysis`) when its version moved.
The coordinator's CPU is `intern run --stats`'s (the process: coordinator, dashboard, its threads;
not the workers). A mode's overhead is its CPU over the baseline's median, as a share of one core
over the run's wall time. The clients are asyncio sockets in this process.

Large campaign. `intern synth-campaign` writes 10,000 trials (500 failures, 20 MiB of logs);
`intern serve` serves it. Timed over a plain socket, --repeats times each, with an event and a
completed trial written into the store (sqlite3, not timed) before each request, as a running
campaign changes: the campaign page's first byte, its end and its size; the analysis and the trials
table alone.

A missed target prints MISS and leaves the exit status alone; a run that fails exits 1.
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_OVERHEAD_PERCENT = 5.0
TARGET_FIRST_BYTE_MS = 200.0
TARGET_PAGE_BYTES = 1_000_000

SPEC = """name: dash
command: [python3, -c, "import sys, time\\nx = float(sys.argv[1])\\nfor s in range(1, 6):\\n    time.sleep(0.1)\\n    print('METRIC step=%d loss=%.4f' % (s, (x - 0.3) ** 2 + 0.4 / s), flush=True)", "{x}"]
space: {x: {type: uniform, low: 0.0, high: 1.0}}
sampler: {type: random, seed: 5}
trials: TRIALS
metrics: {prefix: METRIC}
objective: {metric: loss, direction: minimize}
"""


async def http_get(port, path, connection=None):
    """The response to GET `path`: status, the time to its first body byte and to its end
    (seconds), and the body (chunked transfer decoded). On `connection` (a reader and a writer:
    kept open for the next request, as a browser keeps its connections), else on a fresh one."""
    started = time.perf_counter()
    reader, writer = connection or await asyncio.open_connection("127.0.0.1", port)
    writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, "" if connection else "Connection: close\r\n")).encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    body, first = b"", None
    if length:
        body = await reader.readexactly(int(length.group(1)))
        first = time.perf_counter() - started
    elif b"transfer-encoding: chunked" in head.lower():
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            if first is None:
                first = time.perf_counter() - started
            body += await reader.readexactly(size)
            await reader.readline()
    else:
        body = await reader.read()
        first = time.perf_counter() - started
    if connection is None:
        writer.close()
    return status, first, time.perf_counter() - started, body


async def printed_port(process, name):
    """The port of the dashboard `process` printed once it listened (`dashboard: http://127.0.0.1:PORT/`)."""
    while True:
        line = await process.stdout.readline()
        if not line:
            raise SystemExit("%s ended before printing its dashboard's address" % name)
        found = re.search(rb"dashboard: http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return int(found.group(1))


class Client:
    """One reader of the campaign's feed; `page`: fetches what the page's script fetches."""

    def __init__(self, port, campaign, page):
        self.port, self.campaign, self.page = port, campaign, page
        self.events = self.fetches = self.failed = 0
        self.analysis = self.table = None
        self.connections, self.locks = {}, {}

    async def fetch(self, part):
        try:
            # A connection per part, kept (a browser keeps a few per server; the feed holds one).
            async with self.locks.setdefault(part, asyncio.Lock()):
                if part not in self.connections:
                    self.connections[part] = await asyncio.open_connection("127.0.0.1", self.port)
                status, _, _, _ = await http_get(self.port, "/c/%s/%s" % (self.campaign, part), self.connections[part])
        except (ConnectionError, asyncio.IncompleteReadError):
            self.connections.pop(part, None)
            return  # the campaign ended and its server with it, as the fetch began
        self.fetches += 1
        if status != 200:
            self.failed += 1

    async def run(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(("GET /c/%s/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n" % self.campaign).encode())
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        buffer, pending = b"", []
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    break
                buffer += await reader.readexactly(size)
                await reader.readline()
                while b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    name = re.search(rb"^event: (.*)$", event, re.M)
                    data = b"\n".join(m.group(1) for m in re.finditer(rb"^data: (.*)$", event, re.M))
                    if name is None:
                        continue
                    if name.group(1) == b"end":
                        writer.close()
                        await asyncio.gather(*pending)
                        self.close()
                        return
                    if name.group(1) != b"progress":
                        continue
                    self.events += 1
                    if not self.page:
                        continue
                    # As the page's script does: a part with a version when its version moved,
                    # the tables at every event after the first where the feed gives them none
                    # (an intern from before their pacing).
                    progress = json.loads(data)
                    parts = []
                    if "table" in progress:
                        if self.table is not None and progress["table"] != self.table:
                            parts += ["trials", "workers"]
                        self.table = progress["table"]
                    elif self.events > 1:
                        parts += ["trials", "workers"]
                    if self.analysis is not None and progress.get("analysis") != self.analysis:
                        parts.append("analysis")
                    self.analysis = progress.get("analysis")
                    pending += [asyncio.ensure_future(self.fetch(part)) for part in parts]
        finally:
            writer.close()
        await asyncio.gather(*pending)
        self.close()

    def close(self):
        for _, connection in self.connections.values():
            connection.close()
        self.connections = {}


async def watch(intern, directory, mode, clients):
    """One `intern run --http` with `clients` clients in `mode`: its --stats and the clients."""
    stats = os.path.join(directory, "stats.json")
    process = await asyncio.create_subprocess_exec(
        intern, "run", os.path.join(directory, "dash.yaml"), "--workers", "2", "--quiet", "--http", "127.0.0.1:0",
        "--root", os.path.join(directory, "root"), "--stats", stats, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    port = await printed_port(process, "intern run")
    readers = [Client(port, "dash", mode == "page") for _ in range(clients if mode != "none" else 0)]
    tasks = [asyncio.ensure_future(reader.run()) for reader in readers]
    await process.stdout.read()
    code = await process.wait()
    await asyncio.gather(*tasks)
    if code != 0:
        raise SystemExit("intern run exited %d" % code)
    with open(stats) as f:
        result = json.load(f)
    result["events"] = sum(r.events for r in readers)
    result["fetches"] = sum(r.fetches for r in readers)
    result["failed_fetches"] = sum(r.failed for r in readers)
    return result


def live_clients(intern, trials, clients, runs):
    modes = ["none", "feed", "page"]
    results = {mode: [] for mode in modes}
    for run in range(runs):
        for mode in modes:
            directory = tempfile.mkdtemp(prefix="intern-bench-dash-")
            try:
                with open(os.path.join(directory, "dash.yaml"), "w") as f:
                    f.write(SPEC.replace("TRIALS", str(trials)))
                result = asyncio.run(watch(intern, directory, mode, clients))
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            results[mode].append(result)
            print("  run %d %-4s wall %.2f s, coordinator CPU %.3f s, %d events, %d fetches"
                  % (run + 1, mode, result["wall_seconds"], result["coordinator_cpu_seconds"], result["events"], result["fetches"]), flush=True)
            if result["failed_fetches"]:
                raise SystemExit("%d fetches failed" % result["failed_fetches"])
    base = statistics.median(r["coordinator_cpu_seconds"] for r in results["none"])
    rows = {}
    for mode in modes:
        cpu = statistics.median(r["coordinator_cpu_seconds"] for r in results[mode])
        wall = statistics.median(r["wall_seconds"] for r in results[mode])
        overhead = [100 * (r["coordinator_cpu_seconds"] - base) / r["wall_seconds"] for r in results[mode]]
        rows[mode] = {"cpu_seconds": cpu, "wall_seconds": wall, "overhead_percent": statistics.median(overhead),
                      "overhead_percent_runs": overhead, "events": statistics.median(r["events"] for r in results[mode]),
                      "fetches": statistics.median(r["fetches"] for r in results[mode])}
    return rows


def change(campaign, serial):
    """What a running campaign's coordinator writes: a trial ends (a copy of a completed one, with
    a new id) and an event."""
    database = sqlite3.connect(os.path.join(campaign, "campaign.db"))
    columns = [row[1] for row in database.execute("PRAGMA table_info(trials)") if row[1] != "id"]
    source = database.execute("SELECT id FROM trials WHERE status = 'completed' ORDER BY id LIMIT 1 OFFSET ?", (serial,)).fetchone()[0]
    database.execute("INSERT INTO trials (id, %s) SELECT (SELECT MAX(id) + 1 FROM trials), %s FROM trials WHERE id = ?"
                     % (", ".join(columns), ", ".join(columns)), (source,))
    database.execute("INSERT INTO events (at, kind, message) VALUES (?, 'bench.change', ?)", (int(time.time() * 1000), "change %d" % serial))
    database.commit()
    database.close()


async def large_campaign(intern, repeats):
    directory = tempfile.mkdtemp(prefix="intern-bench-dash-")
    server = None
    try:
        campaign = os.path.join(directory, "big")
        subprocess.run([intern, "synth-campaign", campaign, "--trials", "10000", "--log-mib", "20"], check=True, stdout=subprocess.DEVNULL)
        server = await asyncio.create_subprocess_exec(
            intern, "serve", "--root", directory, "--listen", "127.0.0.1:0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        port = await printed_port(server, "intern serve")
        await http_get(port, "/c/big")  # warm: the store opened, the page cache filled
        timings = {"page_first_byte": [], "page": [], "analysis": [], "trials": []}
        size = 0
        for serial in range(repeats):
            for part in ["", "/analysis", "/trials"]:
                change(campaign, serial * 3 + len(part))
                await asyncio.sleep(0.05)
                status, first, whole, body = await http_get(port, "/c/big" + part)
                if status != 200:
                    raise SystemExit("GET /c/big%s: %d" % (part, status))
                if part == "":
                    timings["page_first_byte"].append(first * 1000)
                    timings["page"].append(whole * 1000)
                    size = len(body)
                else:
                    timings[part[1:]].append(whole * 1000)
        return {name: statistics.median(values) for name, values in timings.items()} | {"page_bytes": size}
    finally:
        if server is not None:
            server.terminate()
            await server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intern", default=".build/release/intern")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["live", "large"])
    parser.add_argument("--out")
    args = parser.parse_args()
    intern = os.path.abspath(args.intern)
    out = {}
    if args.only != "large":
        print("live clients: %d trials on 2 workers, %d clients, %d runs of each mode" % (args.trials, args.clients, args.runs), flush=True)
        rows = live_clients(intern, args.trials, args.clients, args.runs)
        out["live"] = rows
        print("| mode | coordinator CPU | wall | events | fetches | overhead (share of a core) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for mode, row in rows.items():
            verdict = "" if mode == "none" else (" PASS" if row["overhead_percent"] < TARGET_OVERHEAD_PERCENT else " MISS")
            print("| %s | %.3f s | %.2f s | %d | %d | %.1f%%%s |" % (mode, row["cpu_seconds"], row["wall_seconds"], row["events"], row["fetches"],
                                                                    row["overhead_percent"], verdict))
    if args.only != "live":
        print("large campaign: 10,000 trials, %d requests of each, after a change each" % args.repeats, flush=True)
        large = asyncio.run(large_campaign(intern, args.repeats))
        out["large"] = large
        print("page first byte %.0f ms%s, page %.0f ms, %d bytes%s; analysis %.0f ms; trials table %.0f ms" % (
            large["page_first_byte"], " PASS" if large["page_first_byte"] < TARGET_FIRST_BYTE_MS else " MISS", large["page"],
            large["page_bytes"], " PASS" if large["page_bytes"] < TARGET_PAGE_BYTES else " MISS", large["analysis"], large["trials"]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tokens per step of `intern agent` over a long run (issue 18: flat, not growing).

Runs a live campaign (1,000 short trials on one local worker, so every step sees new results),
a scripted OpenAI-compatible server (Tests/EndToEndTests/Fixtures/chat_server.py, script
`steady`: each step reads `status` once and ends the step) and `intern agent --max-steps N
--wait 0`. Every request the server received is recorded; a request's size is counted as intern
counts tokens (ceil(UTF-8 bytes / 4) + 1 per line, over every message and the tool schemas). The
table compares the first and last ten steps: a planner whose context grows with the campaign
shows it there.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHAT = os.path.join(HERE, "..", "Tests", "EndToEndTests", "Fixtures", "chat_server.py")


def tokens(text):
    return sum(math.ceil(len(line.encode()) / 4) + 1 for line in text.split("\n"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--intern", required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out")
    args = parser.parse_args()
    intern = os.path.abspath(args.intern)
    with tempfile.TemporaryDirectory(prefix="bench-agent") as work:
        spec = os.path.join(work, "c.yaml")
        with open(spec, "w") as out:
            out.write("name: steady\n"
                      "shell: \"sleep 0.05; printf '{{\\\"loss\\\": %s}}\\\\n' {x}\"\n"
                      "space:\n  x: {type: uniform, low: 0, high: 1}\n"
                      "trials: 1000\nparallel: 1\nobjective: {metric: loss, direction: minimize}\n")
        run = subprocess.Popen([intern, "run", spec, "--workers", "1", "--quiet", "--root", os.path.join(work, ".intern")], cwd=work)
        port_file, requests = os.path.join(work, "port"), os.path.join(work, "requests.jsonl")
        chat = subprocess.Popen([sys.executable, CHAT, "steady", port_file, requests], cwd=work)
        while not os.path.exists(port_file):
            time.sleep(0.05)
        while not os.path.exists(os.path.join(work, ".intern", "steady", "campaign.db")):
            time.sleep(0.05)
        time.sleep(1)
        port = open(port_file).read().strip()
        started = time.time()
        agent = subprocess.run(
            [intern, "agent", "steady", "--root", os.path.join(work, ".intern"), "--endpoint", f"http://127.0.0.1:{port}/v1",
             "--model", "scripted", "--max-steps", str(args.steps), "--wait", "0", "--poll", "0.1", "--max-tokens", "100000000"],
            cwd=work, capture_output=True, text=True)
        elapsed = time.time() - started
        run.terminate()
        chat.terminate()
        run.wait()
        chat.wait()
        by_step = {}
        schemas = 0
        for line in open(requests):
            request = json.loads(line)
            messages = request["messages"]
            step = int(messages[1]["content"].split(".")[0].split()[1])
            size = sum(tokens(m.get("content") or "") + tokens(json.dumps(m.get("tool_calls") or "")) for m in messages)
            schemas = tokens(json.dumps(request["tools"]))
            size += schemas
            by_step[step] = max(by_step.get(step, 0), size)
        steps = [by_step[k] for k in sorted(by_step)]
        first, last = steps[:10], steps[-10:]
        result = {
            "steps": len(steps), "seconds": round(elapsed, 1), "exit": agent.returncode,
            "first10_median": statistics.median(first), "last10_median": statistics.median(last),
            "max": max(steps), "min": min(steps), "schema_tokens": schemas, "growth": round(statistics.median(last) / statistics.median(first), 3),
            "stopped": agent.stdout.strip().splitlines()[-2] if agent.stdout.strip() else agent.stderr[-500:],
        }
        print(f"intern agent, {result['steps']} steps in {result['seconds']} s against a scripted server on a live campaign")
        print("| steps | prompt tokens per step (largest request of the step), median |")
        print("| --- | --- |")
        print(f"| 1-10 | {result['first10_median']} |")
        print(f"| {max(1, len(steps) - 9)}-{len(steps)} | {result['last10_median']} |")
        print(f"min {result['min']}, max {result['max']}; last/first {result['growth']}x; the tool schemas {schemas} of each; {result['stopped']}")
        if args.out:
            with open(args.out, "w") as out:
                json.dump(result, out, indent=2)


if __name__ == "__main__":
    main()

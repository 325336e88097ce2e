"""Checks that `intern mcp` answers `status` and `digest` in-process with the commands' own bytes,
and follows a store that changes between calls.

Usage: mcp_same_client.py INTERN DIR OTHER. The server runs on campaign directory DIR with
`--intern /bin/false`, so that only an answer made in-process can succeed. Each step calls the
tools, then runs the same command with INTERN on DIR; between steps the store changes (an event
and a running trial written with sqlite3), then DIR is replaced by the campaign in OTHER. Prints
one JSON object: per step, each call's answer (`mcp`, `error`) and the command's output (`command`).
"""
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text(result):
    return "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")


async def main(intern, directory, other):
    server = StdioServerParameters(command=intern, args=["mcp", "--dir", directory, "--tokens", "20000", "--intern", "/bin/false"])
    out = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            async def step(name, since=None):
                calls = [
                    ("status", {}, ["status"]),
                    ("status", {"events": 3}, ["status", "--events", "3"]),
                    ("digest", {}, ["digest", "--json"]),
                    ("digest", {"tokens": 300}, ["digest", "--json", "--tokens", "300"]),
                ]
                if since:
                    calls.append(("digest", {"since": since}, ["digest", "--json", "--since", since]))
                answers = []
                for tool, arguments, command in calls:
                    result = await session.call_tool(tool, arguments)
                    done = subprocess.run([intern] + command + ["--dir", directory], capture_output=True, text=True)
                    answers.append({"call": " ".join(command), "error": bool(result.is_error), "mcp": text(result), "command": done.stdout})
                out[name] = answers

            await step("first")
            # Not answered in-process: `intern` is /bin/false, so this one fails.
            best = await session.call_tool("best", {})
            out["best_error"] = bool(best.is_error)
            cursor = json.loads(out["first"][2]["mcp"])["cursor"]

            # The coordinator would write this: a trial starts running again, an event.
            database = sqlite3.connect(os.path.join(directory, "campaign.db"))
            database.execute("UPDATE trials SET status = 'running', ended_at = NULL WHERE id = 3")
            database.execute("INSERT INTO events (at, kind, message) VALUES (1780000999000, 'note', 'written between two calls')")
            database.commit()
            database.close()
            await step("changed", since=cursor)

            # The campaign directory replaced by another campaign's.
            shutil.rmtree(directory)
            os.rename(other, directory)
            await step("replaced")
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))

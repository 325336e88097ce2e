"""Starts a campaign through `intern mcp --allow-start` with the official MCP Python SDK.

Usage: mcp_start_client.py INTERN ROOT SPECS. Starts one.yaml, waits for it to finish (status),
starts it again (refused: it exists). Prints one JSON object.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def answer(result):
    return {"error": bool(result.is_error), "text": "\n".join(p.text for p in result.content if getattr(p, "type", "") == "text")}


async def main(intern, root, specs):
    server = StdioServerParameters(command=intern, args=["mcp", "--root", root, "--specs", specs, "--allow-start"])
    out = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            out["start"] = answer(await session.call_tool("start_campaign", {"spec": "one.yaml", "workers": 1}))
            for _ in range(300):
                status = answer(await session.call_tool("status", {"campaign": "one"}))
                if "finished" in status["text"]:
                    break
                await asyncio.sleep(0.1)
            out["status"] = status
            out["again"] = answer(await session.call_tool("start_campaign", {"spec": "one.yaml"}))
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))

"""Drives `intern mcp --coordinator URL --auth DIR` with the official MCP Python SDK: three tool
calls at once (each its own authenticated request to the coordinator) and the digest resource.

Usage: mcp_remote_client.py INTERN URL AUTH. Prints one JSON object.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text(result):
    return "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")


async def main(intern, url, auth):
    server = StdioServerParameters(command=intern, args=["mcp", "--coordinator", url, "--auth", auth])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            status, logs, metrics = await asyncio.gather(
                session.call_tool("status", {}), session.call_tool("logs", {"trial": 1, "raw": True}),
                session.call_tool("metrics", {"trial": 1}))
            digest = await session.read_resource("intern://coordinator/digest")
            # Steering through the coordinator: a proposal outside the space is refused there.
            propose = await session.call_tool("propose", {"configurations": [{"nope": 1}]})
            print(json.dumps({
                "propose": {"error": bool(propose.is_error), "text": text(propose)},
                "errors": [bool(r.is_error) for r in (status, logs, metrics)],
                "status": text(status), "logs": text(logs), "metrics": text(metrics),
                "digest": digest.contents[0].text,
            }))


asyncio.run(main(*sys.argv[1:4]))

"""The lab's tools through `intern mcp --root` with the official MCP Python SDK.

Usage: mcp_lab_client.py INTERN ROOT SIGNATURE. Recalls what earlier campaigns learned, notes the
signature, proposes to campaign `new` the configuration that failed in campaign `old`, asks `new`
to validate its results. Prints one JSON object.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def answer(result):
    return {"error": bool(result.is_error), "text": "\n".join(p.text for p in result.content if getattr(p, "type", "") == "text")}


async def main(intern, root, signature):
    server = StdioServerParameters(command=intern, args=["mcp", "--root", root])
    out = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            out["recall_read_only"] = bool(tools["recall"].annotations.read_only_hint)
            out["note_read_only"] = bool(tools["note"].annotations.read_only_hint)
            out["recall"] = answer(await session.call_tool("recall", {"text": "transfomers pinning"}))
            out["note"] = answer(await session.call_tool("note", {"subject": signature, "text": "also seen with tokenizers 0.22"}))
            out["propose"] = answer(await session.call_tool("propose", {"campaign": "new", "configurations": [{"lr": 0.05}, {"lr": 0.02}]}))
            out["validate"] = answer(await session.call_tool("validate_results", {"campaign": "new", "top": 2, "repeats": 2}))
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))

"""Steers a running campaign through `intern mcp` with the official MCP Python SDK (PyPI `mcp`).

Usage: mcp_steer_client.py INTERN ROOT SPECS. Prints one JSON object: what each call answered.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import Implementation


def answer(result):
    text = "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")
    return {"error": bool(result.is_error), "text": text}


async def main(intern, root, specs):
    server = StdioServerParameters(command=intern, args=["mcp", "--root", root, "--specs", specs])
    out = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, client_info=Implementation(name="steer-test", version="1")) as session:
            await session.initialize()
            tools = await session.list_tools()
            out["tools"] = sorted(tool.name for tool in tools.tools)
            propose = next(tool for tool in tools.tools if tool.name == "propose")
            out["propose_schema"] = propose.input_schema
            out["propose_read_only"] = propose.annotations.read_only_hint
            call = session.call_tool
            out["fresh"] = answer(await call("propose", {"configurations": [{"layers": 4, "lr": 0.02}]}))
            out["failed"] = answer(await call("propose", {"configurations": [{"layers": 3, "lr": 0.05}]}))
            out["again"] = answer(await call("propose", {"configurations": [{"layers": 4, "lr": 0.02}]}))
            out["outside"] = answer(await call("propose", {"configurations": [{"layers": 9, "lr": 0.05}]}))
            out["cancel"] = answer(await call("cancel", {"trial": 1}))
            out["too_many"] = answer(await call("add_trials", {"trials": 100}))
            out["pause"] = answer(await call("pause", {}))
            out["status"] = answer(await call("status", {"events": 12}))
            out["escape"] = answer(await call("validate_spec", {"spec": "../../etc/passwd"}))
            out["broken"] = answer(await call("validate_spec", {"spec": "broken.yaml"}))
            out["start"] = answer(await call("start_campaign", {"spec": "broken.yaml"}))
            out["resume"] = answer(await call("resume", {}))
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))

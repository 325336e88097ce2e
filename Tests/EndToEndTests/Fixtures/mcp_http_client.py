"""Drives `intern mcp --http` over the Streamable HTTP transport with the official MCP Python SDK.

Usage: mcp_http_client.py URL TOKEN. Two sessions at once (each names itself), a tool call in
each, then a request without the token and one with a wrong token. Prints one JSON object.
"""
import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import Implementation


def text(result):
    return "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")


async def session(url, token, name):
    client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with client, streamable_http_client(url, http_client=client) as (read, write, *_):
        async with ClientSession(read, write, client_info=Implementation(name=name, version="1")) as s:
            init = await s.initialize()
            tools = await s.list_tools()
            status = await s.call_tool("status", {})
            paused = await s.call_tool("pause", {})
            return {"server": init.server_info.name, "tools": len(tools.tools), "status": text(status),
                    "pause": {"error": bool(paused.is_error), "text": text(paused)}}


async def main(url, token):
    out = {}
    out["a"], out["b"] = await asyncio.gather(session(url, token, "client-a"), session(url, token, "client-b"))
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient() as raw:
        out["no_token"] = (await raw.post(url, json=body, headers=headers)).status_code
        out["wrong_token"] = (await raw.post(url, json=body, headers={**headers, "Authorization": "Bearer " + "x" * len(token)})).status_code
        authorized = {**headers, "Authorization": f"Bearer {token}"}
        out["no_session"] = (await raw.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                                            headers=authorized)).status_code
        out["too_large"] = (await raw.post(url, content=b"{" + b" " * (5 << 20) + b"}", headers=authorized)).status_code
        # Sessions are bounded: the 65th open one is refused until one ends.
        opened = [(await raw.post(url, json=body, headers=authorized)) for _ in range(65)]
        out["sessions"] = [response.status_code for response in opened]
        first = opened[0].headers.get("mcp-session-id")
        out["ended"] = (await raw.delete(url, headers={**authorized, "MCP-Session-Id": first, "MCP-Protocol-Version": "2025-06-18"})).status_code
        out["after_end"] = (await raw.post(url, json=body, headers=authorized)).status_code
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2]))

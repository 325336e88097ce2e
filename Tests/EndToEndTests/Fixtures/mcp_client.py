"""Drives `intern mcp` with the official MCP Python SDK (PyPI `mcp`), as an agent's client would.

Usage: mcp_client.py INTERN ROOT. Prints one JSON object: what each call answered.
"""
import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def text(result):
    return "\n".join(part.text for part in result.content if getattr(part, "type", "") == "text")


async def main(intern, root):
    server = StdioServerParameters(command=intern, args=["mcp", "--root", root, "--tokens", "300"])
    out = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = init.server_info.name
            tools = await session.list_tools()
            out["tools"] = sorted(tool.name for tool in tools.tools)
            out["logs_schema"] = next(tool.input_schema for tool in tools.tools if tool.name == "logs")
            out["campaigns"] = text(await session.call_tool("list_campaigns", {}))
            status = await session.call_tool("status", {"campaign": "mcp"})
            out["status"] = {"error": bool(status.is_error), "text": text(status)}
            # A read whose answer holds still while trial 1 waits (status says "alive N s ago").
            out["metrics"] = text(await session.call_tool("metrics", {"campaign": "mcp", "trial": 1}))
            out["metrics_again"] = text(await session.call_tool("metrics", {"campaign": "mcp", "trial": 1}))
            digest = await session.call_tool("digest", {"campaign": "mcp", "tokens": 200})
            out["digest"] = {"error": bool(digest.is_error), "structured": digest.structured_content, "text": text(digest)}
            logs = await session.call_tool("logs", {"campaign": "mcp", "trial": 1, "raw": True})
            out["logs"] = {"error": bool(logs.is_error), "text": text(logs)}
            page2 = await session.call_tool("logs", {"campaign": "mcp", "trial": 1, "raw": True, "page": 2})
            out["logs_page2"] = text(page2)
            bad = await session.call_tool("logs", {"campaign": "mcp", "trial": "1; rm -rf /"})
            out["bad"] = {"error": bool(bad.is_error), "text": text(bad)}
            resources = await session.list_resources()
            out["resources"] = sorted(str(resource.uri) for resource in resources.resources)
            read = await session.read_resource("intern://mcp/digest")
            out["digest_resource"] = read.contents[0].text
            prompts = await session.list_prompts()
            out["prompts"] = sorted(prompt.name for prompt in prompts.prompts)
            review = await session.get_prompt("review_campaign", {"campaign": "mcp"})
            out["review"] = review.messages[0].content.text
            missing = await session.call_tool("status", {"campaign": "nope"})
            out["missing"] = {"error": bool(missing.is_error), "text": text(missing)}
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2]))

"""An independent MCP client (the Python `mcp` SDK) driving `talaria mcp serve` on stdio.
Usage: python_client.py MODE TALARIA TALARIA_HOME FILE. Prints one JSON object: the
tool names and the result of read_file(FILE)."""

import asyncio
import json
import sys

from mcp import Client, StdioServerParameters


async def main():
    mode, talaria, home, path = sys.argv[1:5]
    # Like Codex, the client passes TALARIA_HOME explicitly: MCP clients give servers
    # only a few variables of their own environment.
    server = StdioServerParameters(command=talaria, args=["mcp", "serve"], env={"TALARIA_HOME": home})
    async with Client(server, mode=mode) as client:
        tools = await client.list_tools()
        result = await client.call_tool("read_file", {"path": path})
        text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
        print(json.dumps({"tools": [t.name for t in tools.tools], "text": text, "is_error": bool(result.is_error)}))


asyncio.run(main())

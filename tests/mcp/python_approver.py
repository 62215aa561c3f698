"""An MCP client (the Python `mcp` SDK) that answers `talaria mcp serve`'s approval
forms. Usage: python_approver.py ANSWER TALARIA TALARIA_HOME, where ANSWER is `allow`,
`deny` (the form is declined) or `none` (the client does not offer elicitation).
Calls run_command and prints one JSON object: the forms asked, the result's text and
whether it is an error."""

import asyncio
import json
import sys

from mcp import Client, StdioServerParameters
from mcp import types


async def main():
    answer, talaria, home = sys.argv[1:4]
    server = StdioServerParameters(command=talaria, args=["mcp", "serve"], env={"TALARIA_HOME": home})
    asked = []

    async def elicit(context, params):
        asked.append({"message": params.message, "schema": params.requested_schema})
        if answer == "allow":
            return types.ElicitResult(action="accept", content={"decision": "allow"})
        return types.ElicitResult(action="decline")

    callback = None if answer == "none" else elicit
    async with Client(server, mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool("run_command", {"command": "echo ran-$((6*7))"})
        text = "".join(c.text for c in result.content if getattr(c, "type", "") == "text")
        print(json.dumps({"asked": asked, "text": text, "is_error": bool(result.is_error)}))


asyncio.run(main())

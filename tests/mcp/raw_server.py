"""A deliberately awkward MCP server on stdio, written against the wire format alone
(no SDK), for the bridge's failure and quirk tests. The mode is argv[1]:

- quirky: sends notifications/tools/list_changed before the initialize result and
  answers the first tools/call only after the next one (replies out of order); its one
  tool `add` sums a and b.
- garbage: writes a line that is not JSON before anything else, then behaves.
- oversized: answers initialize with a single line of 17 MiB.
- crash: exits with status 3 right after the initialize result.
- hang: reads and never answers.
"""

import json
import sys

mode = sys.argv[1]
TOOLS = [{"name": "add", "description": "a+b", "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def init_result(request_id):
    return {"jsonrpc": "2.0", "id": request_id, "result": {
        "protocolVersion": "2025-11-25", "capabilities": {"tools": {"listChanged": True}},
        "serverInfo": {"name": "raw-" + mode, "version": "1"}}}


if mode == "garbage":
    sys.stdout.write("this is not JSON-RPC\n")
    sys.stdout.flush()

held = []
for line in sys.stdin:
    if mode == "hang":
        continue
    message = json.loads(line)
    method = message.get("method")
    request_id = message.get("id")
    if method == "initialize":
        if mode == "oversized":
            result = init_result(request_id)
            result["result"]["instructions"] = "x" * (17 * 1024 * 1024)
            send(result)
            continue
        if mode == "quirky":
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        send(init_result(request_id))
        if mode == "crash":
            sys.exit(3)
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": TOOLS}})
    elif method == "tools/call":
        args = message["params"].get("arguments") or {}
        total = args.get("a", 0) + args.get("b", 0)
        reply = {"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": str(total)}]}}
        if mode == "quirky" and not held and args.get("hold"):
            # Hold this answer back until the next call has been answered.
            held.append(reply)
            continue
        send(reply)
        while held:
            send(held.pop())
    elif request_id is not None:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": method}})

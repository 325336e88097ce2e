"""A scripted OpenAI-compatible chat-completions server, for testing `intern agent`.

Speaks the real wire format (POST /v1/chat/completions: messages and tools in, a choice with an
assistant message and its tool calls out, usage counted) and answers by a script, so a test knows
what the "model" does. Usage: chat_server.py SCRIPT PORT_FILE REQUESTS_FILE
  improve   reads `best`, proposes {"x": 7}, ends the step; next step finishes
  failing   proposes {"x": 20} again and again (the guardrails refuse it)
  policy    asks for 100 more trials (beyond the policy), then finishes
  malformed calls `propose` with arguments that are not JSON, again and again
  garbage   answers with a body that is not chat-completions JSON
  steady    each step reads `status` once, then ends the step (a long run's token use)
Each request body is appended to REQUESTS_FILE as one JSON line.
"""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPT, PORT_FILE, REQUESTS = sys.argv[1], sys.argv[2], sys.argv[3]
calls = [0]


def call(name, arguments, raw=None):
    calls[0] += 1
    return {"role": "assistant", "content": None, "tool_calls": [{
        "id": f"call_{calls[0]}", "type": "function",
        "function": {"name": name, "arguments": raw if raw is not None else json.dumps(arguments)}}]}


def say(text):
    return {"role": "assistant", "content": text}


def answer(messages):
    step = int(re.search(r"Step (\d+)\.", messages[1]["content"]).group(1))
    tools_run = [m for m in messages if m["role"] == "tool"]
    if SCRIPT == "improve":
        if step == 1:
            if not tools_run:
                return call("best", {})
            if len(tools_run) == 1:
                return call("propose", {"configurations": [{"x": 7}]})
            return say("Proposed x=7, the centre of the best region; waiting for its result.")
        return call("finish", {"reason": "x=7 reached loss 0, the optimum"})
    if SCRIPT == "failing":
        return call("propose", {"configurations": [{"x": 20}]})
    if SCRIPT == "policy":
        if not tools_run:
            return call("add_trials", {"trials": 100})
        return call("finish", {"reason": "the policy allows no more"})
    if SCRIPT == "malformed":
        return call("propose", None, raw="{configurations: [x=7")
    if SCRIPT == "steady":
        if not tools_run:
            return call("status", {"events": 4})
        return say("Nothing to change; waiting.")
    raise ValueError(SCRIPT)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = json.loads(body)
        with open(REQUESTS, "a") as out:
            out.write(json.dumps(request) + "\n")
        if self.path != "/v1/chat/completions" or not request.get("tools"):
            self.send_response(404)
            self.end_headers()
            return
        if SCRIPT == "garbage":
            data = b"<html>503 upstream busy</html>"
        else:
            message = answer(request["messages"])
            prompt = sum(len(m.get("content") or "") for m in request["messages"]) // 4
            data = json.dumps({
                "id": "chatcmpl-test", "object": "chat.completion", "model": request["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 20, "total_tokens": prompt + 20},
            }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()

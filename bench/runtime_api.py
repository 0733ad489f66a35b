#!/usr/bin/env python3
"""A minimal local Lambda Runtime API to time the `bootstrap` binary: starts it, serves one
event on its first `GET /2018-06-01/runtime/invocation/next`, takes the response, and prints
JSON with start→ready (process start to that first GET: the cold-start init), the invocation
duration (event served → response received), the peak RSS of the process (VmHWM) and the
response. The process is stopped when it asks for the next event.

Usage: runtime_api.py --bootstrap PATH --event FILE [--env K=V ...]
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"gets": 0, "ready": None, "served": None, "responded": None, "response": None,
         "error": None, "done": threading.Event()}


def handler_for(event_bytes):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                self.send_error(404)
                return
            STATE["gets"] += 1
            if STATE["gets"] > 1:  # the next-event poll after our one event: finished
                STATE["done"].set()
                time.sleep(30)  # hold it; the process is stopped meanwhile
                return
            STATE["ready"] = time.perf_counter()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                             "arn:aws:lambda:eu-west-1:111122223333:function:cmkguard")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Length", str(len(event_bytes)))
            self.end_headers()
            self.wfile.write(event_bytes)
            STATE["served"] = time.perf_counter()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.perf_counter()
            if "/response" in self.path:
                STATE["responded"], STATE["response"] = now, body.decode(errors="replace")
            else:
                STATE["responded"], STATE["error"] = now, body.decode(errors="replace")
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if STATE["error"] is not None and "/init/error" in self.path:
                STATE["done"].set()

    return H


def vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--event", required=True)
    ap.add_argument("--env", action="append", default=[])
    a = ap.parse_args()
    with open(a.event, "rb") as f:
        event_bytes = f.read()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(event_bytes))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "cmkguard", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/cmkguard",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "_HANDLER": "bootstrap",
    })
    env.update(dict(kv.split("=", 1) for kv in a.env))
    start = time.perf_counter()
    proc = subprocess.Popen([a.bootstrap], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    finished = STATE["done"].wait(60)
    hwm = vm_hwm_kb(proc.pid)
    proc.kill()
    proc.wait()
    server.shutdown()
    out = {
        "finished": finished,
        "init_ms": round((STATE["ready"] - start) * 1e3, 1) if STATE["ready"] else None,
        "invocation_ms": round((STATE["responded"] - STATE["served"]) * 1e3, 1)
        if STATE["responded"] and STATE["served"] else None,
        "peak_rss_mb": round(hwm / 1024, 1) if hwm else None,
        "error": STATE["error"],
        "response_bytes": len(STATE["response"] or ""),
    }
    try:
        resp = json.loads(STATE["response"] or "null")
        out["findings"] = sum(len(r.get("findings", [])) for r in (resp or {}).get("results", []))
    except ValueError:
        pass
    print(json.dumps(out))
    return 0 if finished and STATE["responded"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A Docker Engine API on a Unix socket that answers what the agent asks of an engine
(agent/container/container.c): GET /_ping, and GET /containers/json with the containers listed
in a JSON file (re-read at each request): [{"Id": 64 hex, "Names": ["/name"], "Labels": {...}}].

For tests and benchmarks that need many containers without a runtime: the agent finds a
container's processes by their cgroup (a directory named libpod-ID.scope that the caller
creates and moves a process of its own into, in a network namespace of its own), and only
names and compose labels from the engine. Anything else answers 404.

    engine_stub.py SOCKET CONTAINERS_JSON
"""
import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Api-Version", "1.41")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.endswith("/_ping"):
            self.answer(200, "OK", "text/plain")
        elif path.endswith("/containers/json"):
            with open(sys.argv[2]) as f:
                self.answer(200, json.dumps(json.load(f)))
        else:
            self.answer(404, json.dumps({"message": "not served here"}))


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: engine_stub.py SOCKET CONTAINERS_JSON")
    if os.path.exists(sys.argv[1]):
        os.unlink(sys.argv[1])
    with Server(sys.argv[1], Handler) as srv:
        srv.serve_forever()


if __name__ == "__main__":
    main()

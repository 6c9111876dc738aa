#!/usr/bin/env python3
"""Connection scenarios against the agent's API socket, for test_api_connections.sh. Prints
one JSON object with what it observed; the shell test asserts on it. Every wait is bounded.

  conn_burst.py limit SOCKET N
      open N connections and send nothing; report which of them were answered at once
      (status per connection, in connect order), then ask for /v1/info on a new connection
      while all N are held, close them, and ask again.
  conn_burst.py timeout SOCKET TIMEOUT_MS
      send half a request head and time how long until the agent answers and closes; keep
      an idle connection (no byte sent) open for twice the timeout and check it is served.
  conn_burst.py burst SOCKET PID N TIMEOUT_MS
      N connections each send half a request head (a realistic 300 bytes of headers); RSS of
      PID is sampled before, once every head is read, and after the agent closed them all on
      the request timeout; a new client is served during the burst."""
import json
import os
import select
import socket
import sys
import time

HALF_HEAD = (b"POST /v1/leases HTTP/1.1\r\nHost: agent\r\nUser-Agent: conn_burst\r\n"
             b"Content-Type: application/json\r\nAccept: */*\r\n"
             + b"".join(b"X-Padding-%d: %s\r\n" % (i, b"p" * 24) for i in range(6)))


def connect(path):
    """A connected socket. A Unix socket with a timeout fails connect() at once with EAGAIN
    while the listen backlog is full: retry until the agent accepted enough (bounded)."""
    deadline = time.monotonic() + 20
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def request(path, target="/v1/info", budget=20.0):
    """One GET on a new connection: (status or None, seconds taken)."""
    t0 = time.monotonic()
    try:
        s = connect(path)
        s.settimeout(budget)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n"
                  % target.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError:
        return None, time.monotonic() - t0
    return status_of(data), time.monotonic() - t0


def status_of(data):
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data[9:12])


def read_until_eof(s, deadline):
    """Everything s receives until the peer closes or the deadline: (data, eof seen)."""
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        p = select.poll()  # select() cannot take fds above 1023
        p.register(s, select.POLLIN)
        if not p.poll(left * 1000):
            return data, False
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def scenario_limit(path, n):
    conns = [connect(path) for _ in range(n)]
    # Those over the limit are answered at accept; give the agent time to accept them all.
    statuses = [None] * n
    pending = set(range(n))
    # The first max_conns never answer, so this always waits the whole time: long enough for
    # a loaded machine to accept and answer the others.
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        p = select.poll()
        by_fd = {}
        for i in pending:
            p.register(conns[i], select.POLLIN)
            by_fd[conns[i].fileno()] = i
        for fd, _ in p.poll(500):
            i = by_fd[fd]
            # The answer comes in one write; the agent closes only when we do (or later).
            try:
                data = conns[i].recv(65536)
            except OSError:
                data = b""
            statuses[i] = status_of(data)
            pending.discard(i)
    during, during_s = request(path)
    for s in conns:
        s.close()
    # The agent notices the closes on its next loop turns: retry (bounded) until served.
    after, after_s = None, 0.0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after, after_s = request(path)
        if after == 200:
            break
        time.sleep(0.1)
    return {"statuses": statuses, "new_client_during": during, "new_client_after": after,
            "new_client_after_s": round(after_s, 3)}


def scenario_timeout(path, timeout_ms):
    idle = connect(path)
    half = connect(path)
    t0 = time.monotonic()
    half.sendall(HALF_HEAD)
    data, eof = read_until_eof(half, t0 + timeout_ms / 1000.0 + 30)
    closed_after = time.monotonic() - t0
    # The idle connection outlived twice the timeout and still answers.
    time.sleep(max(0.0, t0 + 2 * timeout_ms / 1000.0 - time.monotonic()))
    idle.sendall(b"GET /v1/info HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
    idata, ieof = read_until_eof(idle, time.monotonic() + 20)
    return {"half_status": status_of(data), "half_eof": eof,
            "half_closed_after_s": round(closed_after, 3), "idle_status": status_of(idata)}


def scenario_burst(path, pid, n, timeout_ms):
    # Warm up: the allocator's idle level includes what serving requests takes.
    for _ in range(20):
        request(path)
    time.sleep(0.5)
    idle = rss_kib(pid)
    t0 = time.monotonic()
    conns = []
    for _ in range(n):
        s = connect(path)
        s.sendall(HALF_HEAD)
        conns.append(s)
    sent_s = time.monotonic() - t0
    # Every head was written; the agent reads them as it goes. Sample RSS at its height:
    # the largest of a few samples while the connections are all open.
    during, during_s = request(path)
    peak = 0
    for _ in range(5):
        time.sleep(0.1)
        peak = max(peak, rss_kib(pid))
    # Wait (bounded) for the agent to close every connection on its request timeout.
    deadline = t0 + timeout_ms / 1000.0 + 60
    closed = 0
    answered_408 = 0
    for s in conns:
        data, eof = read_until_eof(s, deadline)
        closed += eof
        answered_408 += status_of(data) == 408
        s.close()
    closed_s = time.monotonic() - t0
    # The agent gives freed memory back as the last connections close: one second later.
    time.sleep(1)
    after = rss_kib(pid)
    served_after, _ = request(path)
    return {"rss_idle_kib": idle, "rss_during_kib": peak, "rss_after_kib": after,
            "sent_s": round(sent_s, 3), "closed": closed, "answered_408": answered_408,
            "all_closed_after_s": round(closed_s, 3), "new_client_during": during,
            "new_client_during_s": round(during_s, 3), "new_client_after": served_after}


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    what, path = argv[1], argv[2]
    if what == "limit":
        out = scenario_limit(path, int(argv[3]))
    elif what == "timeout":
        out = scenario_timeout(path, int(argv[3]))
    elif what == "burst":
        out = scenario_burst(path, int(argv[3]), int(argv[4]), int(argv[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

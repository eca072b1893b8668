"""The Python RPyC peer of the benchmark suite (bench/suite.ts spawns it).

  python3 py_peer.py server    an rpyc ThreadedServer of BenchService on 127.0.0.1 (port 0)
  python3 py_peer.py client    a client driven by the suite

Both read JSON commands on stdin and answer on stdout with lines prefixed "@@ " (the same commands
as bench/peers/harness.ts). The end of stdin exits the process. Every loop is bounded by time and
by count.
"""
import gc
import json
import os
import sys
import threading
import time

import rpyc
from rpyc.utils.server import ThreadedServer

HOST = "127.0.0.1"
PAGE = os.sysconf("SC_PAGE_SIZE")
# 10,000 threads (the scaling curve's top) must fit: the stack size is address space, not RSS
threading.stack_size(512 * 1024)


class BenchService(rpyc.Service):
    def exposed_add(self, a, b):
        return a + b

    def exposed_callMe(self, fn, x):
        return fn(x)

    def exposed_upload(self, data):
        return len(data)

    def exposed_list(self, n):
        return tuple((i, i + 1, "ab") for i in range(n))


_out_lock = threading.Lock()


def send(message):
    with _out_lock:
        sys.stdout.write("@@ " + json.dumps(message) + "\n")
        sys.stdout.flush()


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def stats(do_gc=False):
    if do_gc:
        gc.collect()
    return {"cpu": time.process_time() * 1000, "rss": rss()}


def serve_control(handlers):
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd["cmd"] == "exit":
            send({"id": cmd["id"], "ok": True, "result": None})
            break
        try:
            if cmd["cmd"] == "stats":
                result = stats(cmd.get("gc", False))
            else:
                result = handlers[cmd["cmd"]](cmd)
            send({"id": cmd["id"], "ok": True, "result": result})
        except Exception as e:  # reported to the suite, which marks the measurement failed
            send({"id": cmd["id"], "ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    sys.stdout.flush()
    os._exit(0)


# -------------------------------------------------------------------------------------------------
# server


def server():
    srv = ThreadedServer(BenchService, hostname=HOST, port=0)
    threading.Thread(target=srv.start, daemon=True).start()
    deadline = time.time() + 10
    while not srv.active and time.time() < deadline:
        time.sleep(0.01)
    send({"ready": True, "port": srv.port})
    serve_control({"connections": lambda c: len(srv.clients)})


# -------------------------------------------------------------------------------------------------
# client


def check(what, got, expected):
    if got != expected:
        raise RuntimeError("%s: unexpected result %r" % (what, str(got)[:80]))


def cb(x):
    return x + 1


class Session:
    def __init__(self, port):
        self.conn = rpyc.connect(HOST, port)
        root = self.conn.root
        self.add = root.add
        self.callMe = root.callMe
        self.upload_ = root.upload
        self.list_ = root.list
        self.aadd = rpyc.async_(self.add)
        self.i = 0

    def seq(self, n):
        add = self.add
        i = self.i
        for k in range(n):
            check("add", add(i + k, 1), i + k + 1)
        self.i += n

    def pipelined(self, n):
        aadd = self.aadd
        results = [aadd(k, 1) for k in range(n)]
        for r in results:
            r.wait()
        check("add", results[-1].value, n)

    def callback(self, n):
        callMe = self.callMe
        i = self.i
        for k in range(n):
            check("callMe", callMe(cb, i + k), i + k + 1)
        self.i += n

    def upload(self, data):
        check("upload", self.upload_(data), len(data))

    def list(self, size):
        check("list", len(self.list_(size)), size)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass


def once(port):
    c = rpyc.connect(HOST, port)
    check("add", c.root.add(1, 1), 2)
    c.close()


def client():
    sessions = {}
    buffers = {}
    state = {"idle": [], "scale": None}

    def session(port):
        if port not in sessions:
            sessions[port] = Session(port)
        return sessions[port]

    def data(size):
        if size not in buffers:
            buffers[size] = os.urandom(size)
        return buffers[size]

    def work(c):
        path, port = c["path"], c["port"]
        if path == "seq":
            s = session(port)
            return 100, lambda: s.seq(100)
        if path == "pipe":
            s = session(port)
            n = c["inFlight"]
            return n, lambda: s.pipelined(n)
        if path == "callback":
            s = session(port)
            return 20, lambda: s.callback(20)
        if path == "upload":
            s = session(port)
            b = data(c["size"])
            return 1, lambda: s.upload(b)
        if path == "list":
            s = session(port)
            size = c["size"]
            return 1, lambda: s.list(size)
        if path == "connect":
            return 1, lambda: once(port)
        raise ValueError("unknown path " + path)

    def warm(c):
        per, step = work(c)
        start = time.perf_counter()
        ops = 0
        while True:
            step()
            ops += per
            if time.perf_counter() - start >= c["seconds"] or ops >= c["maxOps"]:
                break
        return {"ops": ops}

    def run(c):
        per, step = work(c)
        cpu0 = time.process_time()
        start = time.perf_counter()
        deadline = start + c["seconds"]
        ops = 0
        while True:
            step()
            ops += per
            if time.perf_counter() >= deadline or ops >= c["maxOps"]:
                break
        elapsed = time.perf_counter() - start
        return {"ops": ops, "elapsed": elapsed, "cpu": (time.process_time() - cpu0) * 1000, "rss": rss()}

    def open_many(port, n):
        out = []
        try:
            for _ in range(n):
                out.append(Session(port))
        except Exception:
            for s in out:
                s.close()
            raise
        return out

    def idle_open(c):
        rss0 = stats(True)["rss"]
        state["idle"] = open_many(c["port"], c["n"])
        for s in state["idle"]:
            s.seq(1)
        return {"rss0": rss0, "rss1": stats(True)["rss"], "n": len(state["idle"])}

    def idle_close(c):
        for s in state["idle"]:
            s.close()
        state["idle"] = []
        return None

    def scale_open(c):
        rss0 = stats(True)["rss"]
        state["scale"] = {"sessions": open_many(c["port"], c["n"]), "rss0": rss0}
        return {"n": len(state["scale"]["sessions"])}

    def scale_run(c):
        sc = state["scale"]
        sessions = sc["sessions"]
        per_conn_max = -(-c["maxOps"] // len(sessions))
        go = threading.Event()
        lock = threading.Lock()
        lat = []
        firsts = []
        counts = []
        errors = []
        box = {}

        def worker(s):
            local = []
            calls = 0
            first = None
            try:
                add = s.add
                go.wait()
                start = box["start"]
                deadline = box["deadline"]
                while calls < per_conn_max:
                    t0 = time.perf_counter()
                    r = add(calls, 1)
                    t1 = time.perf_counter()
                    if r != calls + 1:
                        raise RuntimeError("add: unexpected result %r" % (r,))
                    calls += 1
                    local.append(t1 - t0)
                    if first is None:
                        first = t1 - start
                    if t1 >= deadline:
                        break
            except Exception as e:
                errors.append(e)
            with lock:
                lat.extend(local)
                counts.append(calls)
                if first is not None:
                    firsts.append(first)

        threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in sessions]
        for t in threads:
            t.start()
        cpu0 = time.process_time()
        box["start"] = time.perf_counter()
        box["deadline"] = box["start"] + c["seconds"]
        go.set()
        for t in threads:
            t.join(c["seconds"] + 60)
        elapsed = time.perf_counter() - box["start"]
        cpu = (time.process_time() - cpu0) * 1000
        if errors:
            raise errors[0]
        lat.sort()

        def pct(p):
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else None

        return {"ops": sum(counts), "elapsed": elapsed, "cpu": cpu, "p50": pct(0.5), "p99": pct(0.99),
                "first": max(firsts) * 1000 if firsts else None, "rss0": sc["rss0"], "rss1": stats(True)["rss"]}

    def scale_close(c):
        if state["scale"] is not None:
            for s in state["scale"]["sessions"]:
                s.close()
        state["scale"] = None
        return None

    send({"ready": True})
    serve_control({"warm": warm, "run": run, "idleOpen": idle_open, "idleClose": idle_close,
                   "scaleOpen": scale_open, "scaleRun": scale_run, "scaleClose": scale_close})


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"]:
        server()
    else:
        client()

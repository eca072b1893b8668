"""Sequential RPyC calls/s measured by a Python client.

  python3 bench/python_calls.py                # Python client -> Python ThreadedServer (in this process)
  python3 bench/python_calls.py PORT           # Python client -> an existing server on 127.0.0.1:PORT
Prints one JSON line: {"calls": N, "seconds": S, "rate": N/S}.
"""
import json
import sys
import threading
import time

import rpyc
from rpyc.utils.server import ThreadedServer


class BenchService(rpyc.Service):
    def exposed_echo(self, x):
        return x


def measure(port, seconds):
    conn = rpyc.connect("127.0.0.1", port)
    echo = conn.root.echo
    for i in range(500):  # warm-up
        echo(i)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            echo(n)
            n += 1
    elapsed = time.perf_counter() - start
    conn.close()
    return n, elapsed


def main():
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    if len(sys.argv) > 1 and sys.argv[1] != "self":
        port = int(sys.argv[1])
    else:
        server = ThreadedServer(BenchService, hostname="127.0.0.1", port=0,
                                protocol_config={"allow_public_attrs": False})
        threading.Thread(target=server.start, daemon=True).start()
        while not server.active:
            time.sleep(0.01)
        port = server.port
    n, elapsed = measure(port, seconds)
    print(json.dumps({"calls": n, "seconds": elapsed, "rate": n / elapsed}), flush=True)


if __name__ == "__main__":
    main()

"""The Python client of RPyC's events tutorial, unchanged in spirit, against the TS server:

    /usr/bin/python3 examples/events/client.py [file]   # PORT (default 18871), INTERVAL (default 1 s)

Run it with a Python that can `import rpyc` (on Debian: the system Python with python3-rpyc).

Python needs a BgServingThread: its main thread only reads the connection while it waits for a
reply of its own, so without one the server's callbacks would wait until the next request.
"""
import os
import sys
import tempfile
import threading

import rpyc

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.mkdtemp(prefix="floop-"), "floop.bloop")
f = open(path, "w")
conn = rpyc.connect("localhost", int(os.environ.get("PORT", "18871")))
bgsrv = rpyc.BgServingThread(conn)  # creates a bg thread to process incoming events

changed = threading.Semaphore(0)


def on_file_changed(oldstat, newstat):
    print("file changed")
    print("    old stat: %s" % (oldstat,))
    print("    new stat: %s" % (newstat,))
    sys.stdout.flush()
    changed.release()


mon = conn.root.FileMonitor(path, on_file_changed, float(os.environ.get("INTERVAL", "1")))  # create a filemon

f.write("shmoop")  # change size
f.flush()
assert changed.acquire(timeout=10), "no callback"

f.write("groop")  # change size again
f.flush()
assert changed.acquire(timeout=10), "no callback"

mon.stop()
bgsrv.stop()
conn.close()
print("done")

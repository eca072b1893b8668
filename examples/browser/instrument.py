"""A simulated lab instrument as a Python RPyC service: a heater whose temperature drifts toward its
set point, with noise. The browser dashboard (examples/browser) drives it through rpyc-gateway.

Usage: python3 -u instrument.py [port]     (default 18871; 0: any free port)

Prints "PORT <n>" once listening.
"""
import random
import sys
import threading
import time

import rpyc
from rpyc.utils.server import ThreadedServer

PERIOD = 0.5  # seconds between readings


class Instrument:
    """The one instrument all connections share."""

    def __init__(self):
        self.lock = threading.Lock()
        self.set_point = 40.0
        self.temperature = 21.0
        self.history = []
        self.subscribers = []

    def step(self):
        with self.lock:
            self.temperature += (self.set_point - self.temperature) * 0.15 + random.gauss(0, 0.15)
            # a tuple travels by value (a dict would be a reference to Python's dict)
            reading = (round(time.time(), 3), round(self.temperature, 2), self.set_point)
            self.history = (self.history + [reading])[-120:]
            subscribers = list(self.subscribers)
        for callback in subscribers:
            try:
                callback(reading)
            except Exception:
                # the page went away: forget it
                with self.lock:
                    if callback in self.subscribers:
                        self.subscribers.remove(callback)

    def run(self):
        while True:
            time.sleep(PERIOD)
            self.step()


INSTRUMENT = Instrument()


class InstrumentService(rpyc.Service):
    """What the dashboard may do: read, change the set point, subscribe to new readings."""

    ALIASES = ["INSTRUMENT"]

    def on_connect(self, conn):
        self._callbacks = []

    def on_disconnect(self, conn):
        with INSTRUMENT.lock:
            for callback in self._callbacks:
                if callback in INSTRUMENT.subscribers:
                    INSTRUMENT.subscribers.remove(callback)

    def exposed_name(self):
        return "Heater H-1 (simulated)"

    def exposed_reading(self):
        """The latest reading: (time, temperature, set point)."""
        with INSTRUMENT.lock:
            return INSTRUMENT.history[-1] if INSTRUMENT.history else None

    def exposed_history(self, n=60):
        with INSTRUMENT.lock:
            return tuple(INSTRUMENT.history[-n:])

    def exposed_get_set_point(self):
        return INSTRUMENT.set_point

    def exposed_set_set_point(self, value):
        value = float(value)
        if not 0 <= value <= 100:
            raise ValueError("set point must be between 0 and 100 °C, got %g" % value)
        with INSTRUMENT.lock:
            INSTRUMENT.set_point = value
        return value

    def exposed_subscribe(self, callback):
        """Calls `callback(reading)` on every new reading, until the connection closes."""
        callback = rpyc.async_(callback)
        with INSTRUMENT.lock:
            INSTRUMENT.subscribers.append(callback)
        self._callbacks.append(callback)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18871
    threading.Thread(target=INSTRUMENT.run, daemon=True).start()
    server = ThreadedServer(InstrumentService, hostname="127.0.0.1", port=port, auto_register=False,
                            protocol_config={"allow_public_attrs": False})
    server._listen()
    print("PORT %d" % server.port, flush=True)
    server.start()

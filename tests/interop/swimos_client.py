"""Drives a warp node's link hub with the SwimOS Python client (PyPI `swimos`).

Usage: python swimos_client.py PORT. Prints what it checked and exits 0, or prints
`FAILED: ...` and exits 1 at the first difference from what a SwimOS server does.

Each downlink gets a client of its own: swimos 1.6.0a0 marks the second downlink on a
shared connection closed on the client side (its message loop returns at once when one
already runs), whatever the server.
"""

import sys
import threading
import time

from swimos import SwimClient

PORT = sys.argv[1]
HOST = f"ws://127.0.0.1:{PORT}"
NODE = "/unit/python"
failures = []


def wait(cond, what, limit=10.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    failures.append(what)
    return False


def value_lane():
    seen = []
    synced = threading.Event()
    with SwimClient(terminate_on_exception=False) as client:
        value = client.downlink_value()
        value.set_host_uri(HOST).set_node_uri(NODE).set_lane_uri("info")
        value.did_set(lambda new, old: seen.append(new))
        value.did_sync(synced.set)
        value.open()
        if not wait(synced.is_set, "the value downlink synced"):
            return
        # A command from the client comes back as an event.
        client.command(HOST, NODE, "info", "Hello from Python!")
        wait(lambda: "Hello from Python!" in seen, "the value lane's event for a command")
        value.set("set through the downlink")
        wait(lambda: value.get() == "set through the downlink", "the downlink's own set")
        value.close()


def map_lane():
    updates = {}
    removed = []
    synced = threading.Event()
    with SwimClient(terminate_on_exception=False) as client:
        m = client.downlink_map()
        m.set_host_uri(HOST).set_node_uri(NODE).set_lane_uri("map")
        m.did_update(lambda key, new, old: updates.__setitem__(key, new))
        m.did_remove(lambda key, old: removed.append(key))
        m.did_sync(synced.set)
        m.open()
        if not wait(synced.is_set, "the map downlink synced"):
            return
        m.put("alpha", 1)
        m.put("beta", "two")
        wait(lambda: updates.get("alpha") == 1 and updates.get("beta") == "two", "map updates")
        m.remove("alpha")
        wait(lambda: "alpha" in removed, "a map remove")
        wait(lambda: m.get("beta") == "two", "the map downlink's state")
        m.close()


def main():
    value_lane()
    map_lane()
    if failures:
        for f in failures:
            print(f"FAILED: {f}", flush=True)
        sys.exit(1)
    print("swimos python client: value and map downlinks OK", flush=True)


if __name__ == "__main__":
    main()

"""Runs the DMTF's Redfish-Mockup-Server (server/, unchanged) with two additions for the tests.

1. The server answers every action with 204 and changes nothing. A BMC does change things, so
   ComputerSystem.Reset sets the System's PowerState, and VirtualMedia.InsertMedia/EjectMedia
   set the slot's Image, Inserted and ConnectedVia (through the server's own store of PATCHed
   resources, as a PATCH would).
2. Every request is appended to the file named by MOCKUP_REQUEST_LOG as one JSON line
   {"method", "path", "status"}, so that a test can tell what a command changed.

Arguments are the server's own (python3 state.py -S -D <mockup> -p <port>).
"""

import io
import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "server"))
import redfishMockupServer as server  # noqa: E402

LOG = os.environ.get("MOCKUP_REQUEST_LOG")
LOCK = threading.Lock()

POWER_AFTER = {
    "On": "On",
    "ForceOn": "On",
    "ForceOff": "Off",
    "GracefulShutdown": "Off",
    "ForceRestart": "On",
    "GracefulRestart": "On",
    "PowerCycle": "On",
    "Nmi": None,
    "Pause": "Paused",
    "Suspend": "Paused",
    "Resume": "On",
}


class Stateful(server.RfMockupServer):
    def send_response(self, code, message=None):
        # Logged before the answer leaves (the headers are buffered until end_headers), so the
        # line is there when the client has its answer.
        self.status = code
        if LOG:
            with LOCK, open(LOG, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "status": code}) + "\n")
        super().send_response(code, message)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.rfile = io.BytesIO(raw)
        super().do_POST()
        if getattr(self, "status", 0) != 204 or "/Actions/" not in self.path:
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return
        resource = self.path.split("/Actions/", 1)[0]
        fpath = self.construct_path(resource, "index.json")
        found, payload = self.get_cached_link(fpath)
        if not found:
            return
        # The action's name is the key whose target is this path (targets need not end with it).
        actions = payload.get("Actions") or {}
        action = next((k for k, v in actions.items() if isinstance(v, dict) and v.get("target") == self.path), "")
        if action == "#ComputerSystem.Reset":
            kind = body.get("ResetType")
            if kind == "PushPowerButton":
                after = "Off" if payload.get("PowerState") == "On" else "On"
            else:
                after = POWER_AFTER.get(kind)
            if after and "PowerState" in payload:
                payload["PowerState"] = after
        elif action == "#VirtualMedia.InsertMedia":
            payload.update(Image=body.get("Image"), Inserted=True, ConnectedVia="URI")
        elif action == "#VirtualMedia.EjectMedia":
            payload.update(Image=None, Inserted=False, ConnectedVia="NotConnected")
        else:
            return
        self.patchedLinks[fpath] = payload


if __name__ == "__main__":
    server.RfMockupServer = Stateful
    server.main()

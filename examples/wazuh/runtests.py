#!/usr/bin/env python3
"""runtests.py - check the installed mimecast-forwarder decoders and rules on a
running Wazuh 4.x manager, through its logtest socket (what wazuh-logtest uses).

It runs the ruleset tests in tests/*.ini (wazuh/wazuh ruleset/testing format)
with the semantics of Wazuh's runtests.py and `wazuh-logtest -U rule:alert:decoder`:

  [section name]
  log 1 pass = <line>      the last event of "log 1" must end at rule/alert/decoder
  log 1 pass = <line>      a key repeated in a section is a sequence of events sent
                           in ONE logtest session (correlation rules), the last
                           one is checked
  log 2 fail = <line>      must NOT end at rule/alert/decoder (any of the three differs)
  rule = 106001
  alert = 3                the rule's level
  decoder = mimecast       decoder.name of the answer

Lines are what remoted hands to analysisd: the forwarder's message without <PRI>.

Usage (as root, or a member of group wazuh, on the manager):
  python3 runtests.py                        every tests/*.ini beside this script
  python3 runtests.py tests/mimecast_av.ini  some files
  options: --socket PATH (default /var/ossec/queue/sockets/logtest)
           --location NAME (default stdin, like wazuh-logtest)  -v (print every answer)
Exit status: 0 when every case holds, 1 when one fails, 2 on a usage or socket error.
The last line reads "N passed, N failed".
Standard library only: runs with any Python 3.6+, including Wazuh's own
(/var/ossec/framework/python/bin/python3).
"""
import argparse
import glob
import json
import os
import socket
import struct
import sys

DEFAULT_SOCKET = "/var/ossec/queue/sockets/logtest"
ORIGIN = {"name": "mimecast-forwarder-runtests", "module": "runtests"}


class LogtestError(Exception):
    pass


def call(sock_path, payload):
    """One request/answer on the logtest socket: 4-byte little-endian length + JSON."""
    data = json.dumps(payload).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(60)
            s.connect(sock_path)
            s.sendall(struct.pack("<I", len(data)) + data)
            (size,) = struct.unpack("<I", recv_exact(s, 4))
            return json.loads(recv_exact(s, size).decode("utf-8", "replace"))
    except (OSError, ValueError) as e:
        raise LogtestError("logtest socket %s: %s" % (sock_path, e))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise LogtestError("the logtest socket closed the connection")
        buf += chunk
    return buf


def parse_ini(path):
    """Sections of a runtests .ini file: [(name, {"rule","alert","decoder"}, [(key, [lines])])]."""
    sections, cur = [], None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            stripped = line.strip()
            if not stripped or stripped[0] in ";#":
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                cur = (stripped[1:-1], {}, [])
                sections.append(cur)
                continue
            if cur is None or "=" not in line:
                raise ValueError("%s:%d: not a section, a comment or key = value" % (path, n))
            key, value = line.split("=", 1)
            key, value = " ".join(key.lower().split()), value.strip()
            if key.startswith("log "):
                for k, values in cur[2]:
                    if k == key:
                        values.append(value)
                        break
                else:
                    cur[2].append((key, [value]))
            elif key in ("rule", "alert", "decoder"):
                cur[1][key] = value
            else:
                raise ValueError("%s:%d: unknown key %r" % (path, n, key))
    for name, expect, logs in sections:
        missing = [k for k in ("rule", "alert", "decoder") if k not in expect]
        if missing:
            raise ValueError("%s [%s]: missing %s" % (path, name, ", ".join(missing)))
        if not logs:
            raise ValueError("%s [%s]: no log lines" % (path, name))
    return sections


def run_session(sock_path, lines, location):
    """Sends lines in one logtest session; returns the output of the last one."""
    token, out = None, None
    try:
        for line in lines:
            params = {"event": line, "log_format": "syslog", "location": location}
            if token:
                params["token"] = token
            ans = call(sock_path, {"version": 1, "origin": ORIGIN, "command": "log_processing",
                                   "parameters": params})
            if ans.get("error", 1) != 0:
                raise LogtestError("logtest error %s: %s" % (ans.get("error"), ans.get("message")))
            data = ans.get("data") or {}
            token = data.get("token", token)
            out = data.get("output") or {}
    finally:
        if token:
            call(sock_path, {"version": 1, "origin": ORIGIN, "command": "remove_session",
                             "parameters": {"token": token}})
    return out


def outcome(out):
    rule = out.get("rule") or {}
    dec = out.get("decoder") or {}
    return str(rule.get("id", "")), str(rule.get("level", "")), str(dec.get("name", ""))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="ini files (default: tests/*.ini beside this script)")
    ap.add_argument("--socket", default=DEFAULT_SOCKET)
    ap.add_argument("--location", default="stdin")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    files = a.files or sorted(glob.glob(os.path.join(here, "tests", "*.ini")))
    if not files:
        print("runtests.py: no .ini files", file=sys.stderr)
        return 2
    passed = failed = 0
    try:
        for path in files:
            print("- [ File = %s ] ---------" % path)
            for name, expect, logs in parse_ini(path):
                want = (expect["rule"], expect["alert"], expect["decoder"])
                for key, lines in logs:
                    negate = key.endswith(" fail")
                    got = outcome(run_session(a.socket, lines, a.location))
                    ok = (got == want) != negate
                    if ok:
                        passed += 1
                    else:
                        failed += 1
                    if not ok or a.verbose:
                        print("%s: [%s] %s (%d event%s): expected %srule=%s alert=%s decoder=%s, got rule=%s alert=%s decoder=%s"
                              % ("ok" if ok else "FAILED", name, key, len(lines), "" if len(lines) == 1 else "s",
                                 "not " if negate else "", want[0], want[1], want[2], got[0] or "-",
                                 got[1] or "-", got[2] or "-"))
    except (LogtestError, ValueError, OSError) as e:
        print("runtests.py: %s" % e, file=sys.stderr)
        print("%d passed, %d failed" % (passed, failed + 1))
        return 2
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

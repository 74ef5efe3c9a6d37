#!/usr/bin/python3
"""tests/cli/natsraw.py: a NATS client in NATS's own text protocol over a
socket (no client library), for the edge tests to read what the primary
published into JetStream and to publish hostile messages beside it; and
the feed's message format (feed/msg.h) to decode and forge them.

    natsraw.py PORT subjects STREAM            every subject STREAM holds, one a line
    natsraw.py PORT get STREAM SUBJECT OUT     the last message of SUBJECT: payload to OUT
    natsraw.py PORT pub SUBJECT FILE           publishes FILE's bytes into JetStream
                                               (no headers, so no Nats-Msg-Id: never
                                               de-duplicated); prints the stream's ack
    natsraw.py PORT find-ocsp SERIALHEX OUT    the OCSP message of a serial: payload
                                               to OUT, its subject to OUT.subject
    natsraw.py PORT find-crl PATH OUT          the CRL message of an HTTP path
                                               ("/crl/sub/0.crl"): payload to OUT,
                                               subject to OUT.subject
    natsraw.py PORT meta-ca OUT                every CA message: "caid subject name" a line

The protocol: the server greets with INFO; the client sends CONNECT (with
headers on), SUB to an inbox, PUB with that inbox as reply subject (a
JetStream API request, or a publish whose ack comes back there), and reads
MSG / HMSG frames; PING is answered with PONG.
"""
import base64
import json
import os
import socket
import struct
import sys
import time


class Nats:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.sid = 0
        line = self._line()
        if not line.startswith(b"INFO "):
            raise RuntimeError("no INFO from the server: %r" % line[:80])
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                       b'"no_responders":true,"lang":"python-raw","version":"0"}\r\nPING\r\n')
        while True:
            line = self._line()
            if line == b"PONG":
                break
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())

    def _fill(self):
        b = self.s.recv(1 << 20)
        if not b:
            raise RuntimeError("the server closed the connection")
        self.buf += b

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _take(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _next_msg(self, deadline):
        """the next MSG/HMSG frame as (sid, subject, headers bytes, payload)"""
        while True:
            self.s.settimeout(max(0.1, deadline - time.time()))
            line = self._line()
            if line == b"PING":
                self.s.sendall(b"PONG\r\n")
                continue
            if line in (b"PONG", b"+OK") or line.startswith(b"INFO "):
                continue
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())
            parts = line.split()
            if parts[0] == b"MSG":
                # MSG subject sid [reply] size
                n = int(parts[-1])
                return int(parts[2]), parts[1].decode(), b"", self._take(n)
            if parts[0] == b"HMSG":
                # HMSG subject sid [reply] hdr_size total_size
                hn, tn = int(parts[-2]), int(parts[-1])
                body = self._take(tn)
                return int(parts[2]), parts[1].decode(), body[:hn], body[hn:]
            raise RuntimeError("unexpected frame %r" % line[:80])

    def request(self, subject, payload, timeout=10):
        """publishes payload to subject with a fresh inbox as reply; the first answer"""
        self.sid += 1
        inbox = "_INBOX.revdtest.%d.%d" % (os.getpid(), self.sid)
        self.s.sendall(b"SUB %s %d\r\n" % (inbox.encode(), self.sid))
        self.s.sendall(b"PUB %s %s %d\r\n" % (subject.encode(), inbox.encode(), len(payload)) + payload + b"\r\n")
        deadline = time.time() + timeout
        while True:
            sid, _subj, hdrs, body = self._next_msg(deadline)
            if sid != self.sid:
                continue
            self.s.sendall(b"UNSUB %d\r\n" % self.sid)
            if hdrs.startswith(b"NATS/1.0 503"):
                raise RuntimeError("no responders on %s (no stream holds it?)" % subject)
            return body

    def api(self, subject, obj):
        r = json.loads(self.request(subject, json.dumps(obj).encode()))
        if "error" in r:
            raise RuntimeError("%s: %s" % (subject, r["error"]))
        return r

    def subjects(self, stream):
        r = self.api("$JS.API.STREAM.INFO." + stream, {"subjects_filter": ">"})
        return sorted((r.get("state", {}).get("subjects") or {}).keys())

    def get_last(self, stream, subject):
        r = self.api("$JS.API.STREAM.MSG.GET." + stream, {"last_by_subj": subject})
        return base64.b64decode(r["message"].get("data", ""))

    def publish(self, subject, payload):
        """a JetStream publish: the stream's ack (JSON) or an error"""
        r = json.loads(self.request(subject, payload))
        if "error" in r:
            raise RuntimeError("publish on %s: %s" % (subject, r["error"]))
        return r


# ---------------------------------------------------------------- feed/msg.h
OCSP_STREAMS = ["REVD_OCSP_%d" % i for i in range(4)]


def _fnv(h, b):
    for x in b:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


_FNV0 = 0xCBF29CE484222325


def subject(m):
    """m's subject, as feed_msg_subject (feed/msg.c) writes it"""
    if m["magic"] == b"RVO1":
        k = _fnv(_FNV0, m["serial"]) % len(OCSP_STREAMS)
        return "revd.ocsp.%d.%d.%s" % (k, m["caid"], m["serial"].hex().upper())
    if m["magic"] == b"RVC1":
        return "revd.crl.%d.%016x" % (m["caid"], _fnv(_FNV0, m["path"].encode()))
    if m["magic"] == b"RVA1":
        return "revd.meta.ca.%d" % m["caid"]
    raise ValueError("no subject for %r" % m["magic"])


def decode(p):
    """a payload as a dict (feed/msg.h); raises on a malformed one"""
    magic = p[:4]
    version, caid = struct.unpack(">QI", p[4:16])
    m = {"magic": magic, "version": version, "caid": caid}
    i = 16
    if magic == b"RVO1":
        n = p[i]; i += 1
        m["serial"] = p[i:i + n]; i += n
        ders = []
        for _ in range(2):
            (ln,) = struct.unpack(">I", p[i:i + 4]); i += 4
            ders.append(p[i:i + ln]); i += ln
        m["der"] = ders
    elif magic == b"RVC1":
        (n,) = struct.unpack(">H", p[i:i + 2]); i += 2
        m["path"] = p[i:i + n].decode(); i += n
        (m["refresh_at"],) = struct.unpack(">q", p[i:i + 8]); i += 8
        (ln,) = struct.unpack(">I", p[i:i + 4]); i += 4
        m["der"] = [p[i:i + ln]]; i += ln
    elif magic == b"RVA1":
        (n,) = struct.unpack(">H", p[i:i + 2]); i += 2
        m["name"] = p[i:i + n].decode(); i += n
        (ln,) = struct.unpack(">I", p[i:i + 4]); i += 4
        m["der"] = [p[i:i + ln]]; i += ln
    else:
        raise ValueError("unknown magic %r" % magic)
    if i != len(p):
        raise ValueError("%d bytes after the message" % (len(p) - i))
    return m


def encode(m):
    out = m["magic"] + struct.pack(">QI", m["version"], m["caid"])
    if m["magic"] == b"RVO1":
        out += bytes([len(m["serial"])]) + m["serial"]
        for d in m["der"]:
            out += struct.pack(">I", len(d)) + d
    elif m["magic"] == b"RVC1":
        path = m["path"].encode()
        out += struct.pack(">H", len(path)) + path + struct.pack(">q", m["refresh_at"])
        out += struct.pack(">I", len(m["der"][0])) + m["der"][0]
    elif m["magic"] == b"RVA1":
        name = m["name"].encode()
        out += struct.pack(">H", len(name)) + name + struct.pack(">I", len(m["der"][0])) + m["der"][0]
    return out


def main():
    port, cmd, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    n = Nats(port)
    if cmd == "subjects":
        print("\n".join(n.subjects(args[0])))
    elif cmd == "get":
        open(args[2], "wb").write(n.get_last(args[0], args[1]))
    elif cmd == "pub":
        print(json.dumps(n.publish(args[0], open(args[1], "rb").read())))
    elif cmd == "find-ocsp":
        want = int(args[0], 16)
        for st in OCSP_STREAMS:
            for subj in n.subjects(st):
                if int(subj.rsplit(".", 1)[1], 16) == want:
                    open(args[1], "wb").write(n.get_last(st, subj))
                    open(args[1] + ".subject", "w").write(subj)
                    return 0
        print("no OCSP message for serial %s in %s" % (args[0], OCSP_STREAMS), file=sys.stderr)
        return 1
    elif cmd == "find-crl":
        for subj in n.subjects("REVD_CRL"):
            p = n.get_last("REVD_CRL", subj)
            if decode(p)["path"] == args[0]:
                open(args[1], "wb").write(p)
                open(args[1] + ".subject", "w").write(subj)
                return 0
        print("no CRL message for %s" % args[0], file=sys.stderr)
        return 1
    elif cmd == "meta-ca":
        lines = []
        for subj in n.subjects("REVD_META"):
            if subj.startswith("revd.meta.ca."):
                m = decode(n.get_last("REVD_META", subj))
                lines.append("%d %s %s" % (m["caid"], subj, m["name"]))
        open(args[0], "w").write("\n".join(lines) + "\n")
    else:
        print("unknown command %s" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A small HTTP/2-only TLS server (python3-h2) standing in for an API behind
credential injection: /echo answers the request's fields as JSON (the
secrets replaced by markers the caller gives), /v1/stream sends server-sent
events one at a time, a POST's body is echoed. Every request's fields are
kept in `seen`."""
import hashlib
import json
import socket
import ssl
import threading
import time

import h2.config
import h2.connection
import h2.events


class H2Server:
    def __init__(self, cert, key, markers=()):
        self.markers = markers  # (secret, marker): never handed back as is
        self.seen = []  # (path, [[name, value]...], body)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["h2"])
        self.ctx = ctx
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.alpn = []  # what each connection negotiated
        self.acked = threading.Event()  # /v1/ack was asked
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _mask(self, text):
        for secret, marker in self.markers:
            text = text.replace(secret, marker)
        return text

    def _serve(self, raw):
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        self.alpn.append(s.selected_alpn_protocol())
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        s.sendall(conn.data_to_send())
        requests = {}
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        requests[ev.stream_id] = [dict(ev.headers), list(ev.headers), b""]
                    elif isinstance(ev, h2.events.DataReceived):
                        requests[ev.stream_id][2] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        self._answer(s, conn, ev.stream_id, *requests.pop(ev.stream_id))
                s.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            return
        finally:
            s.close()

    def _answer(self, s, conn, sid, fields, headers, body):
        path = fields[":path"]
        self.seen.append((path, [list(h) for h in headers], body))
        if path.startswith("/v1/ack"):
            self.acked.set()
        if path.startswith("/v1/paced"):
            # the second event only once the client has acted on the first
            # (asked /v1/ack on another connection): a relay that held the
            # stream's DATA until its end would leave this waiting
            self.acked.clear()
            conn.send_headers(sid, [(":status", "200"), ("content-type", "text/event-stream")])
            s.sendall(conn.data_to_send())
            for event in (b"first", b"second"):
                conn.send_data(sid, b"data: %s\n\n" % event)
                s.sendall(conn.data_to_send())
                ok = self.acked.wait(15)
                self.acked.clear()
                if not ok:
                    break
            conn.send_data(sid, b"data: %s\n\n" % (b"after-acks" if ok else b"no-ack"),
                           end_stream=True)
            s.sendall(conn.data_to_send())
            return
        if path.startswith("/v1/trailers"):  # a response with trailers (as gRPC sends)
            conn.send_headers(sid, [(":status", "200"), ("content-type", "text/plain")])
            conn.send_data(sid, b"body\n")
            conn.send_headers(sid, [("x-checksum", "trailer-value")], end_stream=True)
            s.sendall(conn.data_to_send())
            return
        if path.startswith("/v1/stream"):
            conn.send_headers(sid, [(":status", "200"), ("content-type", "text/event-stream")])
            s.sendall(conn.data_to_send())
            for i in range(3):
                conn.send_data(sid, f"data: event {i}\n\n".encode())
                s.sendall(conn.data_to_send())
                time.sleep(0.1)
            conn.end_stream(sid)
            s.sendall(conn.data_to_send())
            return
        out = self._mask(json.dumps({"path": path, "headers": [list(h) for h in headers],
                                     "body": body.decode("latin-1") if len(body) < 4096 else "",
                                     "body_sha256": hashlib.sha256(body).hexdigest()})).encode()
        # one DATA frame (the answers are small): within the default frame size and window
        assert len(out) < 16384, len(out)
        conn.send_headers(sid, [(":status", "200"), ("content-type", "application/json"),
                                ("content-length", str(len(out)))])
        conn.send_data(sid, out, end_stream=True)

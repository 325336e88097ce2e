"""A TCP proxy that attacks the messages a worker sends: forwards LISTEN_PORT to TARGET_PORT on
127.0.0.1 and, in the direction client -> server, understands NNG's SP-over-TCP framing (an
8-byte handshake, then messages as an 8-byte big-endian length and the body). MODE is
"tamper:N" (flip one bit near the end of every N-th message: the tag or the last payload
bytes) or "replay:N" (send every N-th message twice). Prints "ready" once listening; prints
"attacked K" to stderr on SIGTERM."""
import selectors
import signal
import socket
import sys

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
mode, every = sys.argv[3].split(":")
every = int(every)
sel = selectors.DefaultSelector()
peers = {}
state = {"messages": 0, "attacked": 0}


class Upstream:
    """Client -> server bytes, re-framed so whole messages can be altered."""

    def __init__(self):
        self.buffer = b""
        self.handshake_left = 8

    def feed(self, data):
        self.buffer += data
        out = b""
        if self.handshake_left:
            take = self.buffer[: self.handshake_left]
            out += take
            self.buffer = self.buffer[len(take):]
            self.handshake_left -= len(take)
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[:8], "big")
            if len(self.buffer) < 8 + length:
                break
            frame = self.buffer[: 8 + length]
            self.buffer = self.buffer[8 + length:]
            state["messages"] += 1
            if state["messages"] % every == 0 and length > 40:
                state["attacked"] += 1
                if mode == "tamper":
                    body = bytearray(frame)
                    body[-5] ^= 0x01
                    frame = bytes(body)
                elif mode == "replay":
                    frame = frame + frame
            out += frame
        return out


def close(sock):
    other = peers.pop(sock, (None, None))[0]
    for s in (sock, other):
        if s is None:
            continue
        peers.pop(s, None)
        try:
            sel.unregister(s)
        except Exception:
            pass
        s.close()


def stop(*_):
    print("attacked %d of %d" % (state["attacked"], state["messages"]), file=sys.stderr, flush=True)
    sys.exit(0)


signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
signal.signal(signal.SIGTERM, stop)
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(16)
server.setblocking(False)
sel.register(server, selectors.EVENT_READ, None)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        sock = key.fileobj
        if sock is server:
            client, _ = server.accept()
            try:
                upstream = socket.create_connection(("127.0.0.1", target_port))
            except OSError:
                client.close()
                continue
            peers[client] = (upstream, Upstream())
            peers[upstream] = (client, None)
            for s in (client, upstream):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, None)
            continue
        try:
            data = sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            close(sock)
            continue
        other, framer = peers.get(sock, (None, None))
        if other is None:
            continue
        if framer is not None:
            data = framer.feed(data)
        try:
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            close(sock)

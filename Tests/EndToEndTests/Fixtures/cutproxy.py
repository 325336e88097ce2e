"""A TCP proxy whose link can be cut: forwards LISTEN_PORT to TARGET_PORT on 127.0.0.1.
SIGUSR1 cuts the link (closes every connection and refuses new ones); SIGUSR2 restores it.
Prints "ready" once listening.

With a third argument "drop-finished:MS" it also cuts the link by itself, once, for MS
milliseconds, just as the coordinator says the campaign is finished: the first unsealed
`NoWork 2 finished` reply (NNG's SP-over-TCP framing: an 8-byte handshake, then messages as an
8-byte big-endian length and the body; a reply's body starts with the 4-byte request id, then
intern's 4-byte header, kind 6, then the request id and the reason as varints) never reaches
the worker. Prints "dropped finished" when it does."""
import selectors
import signal
import socket
import sys
import time

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
drop_finished_ms = int(sys.argv[3].split(":")[1]) if len(sys.argv) > 3 else None
sel = selectors.DefaultSelector()
pairs = {}
downstream = {}  # upstream socket -> (handshake bytes still to skip, bytes not yet framed)
upstreams = set()
state = {"cut": False, "server": None, "dropped": False, "restore_at": None}


def varint(data, at):
    value, shift = 0, 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7
    return None, at


def is_finished(body):
    """Whether an NNG reply body is intern's NoWork with reason 2 (finished)."""
    message = body[4:]
    if len(message) < 6 or message[3] != 6:
        return False
    _, at = varint(message, 4)
    reason, _ = varint(message, at)
    return reason == 2


def watch_replies(sock, data):
    """Frames the coordinator's bytes; True when they carry a finished reply."""
    handshake_left, buffer = downstream.get(sock, (8, b""))
    buffer += data
    skipped = min(handshake_left, len(buffer))
    buffer, handshake_left = buffer[skipped:], handshake_left - skipped
    found = False
    while len(buffer) >= 8:
        length = int.from_bytes(buffer[:8], "big")
        if len(buffer) < 8 + length:
            break
        found = found or is_finished(buffer[8:8 + length])
        buffer = buffer[8 + length:]
    downstream[sock] = (handshake_left, buffer)
    return found


def open_server():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(16)
    server.setblocking(False)
    sel.register(server, selectors.EVENT_READ, "accept")
    state["server"] = server


def close(sock):
    other = pairs.pop(sock, None)
    for s in (sock, other):
        if s is None:
            continue
        pairs.pop(s, None)
        downstream.pop(s, None)
        upstreams.discard(s)
        try:
            sel.unregister(s)
        except Exception:
            pass
        s.close()


def cut(*_):
    state["cut"] = True
    for s in list(pairs):
        close(s)
    if state["server"] is not None:
        sel.unregister(state["server"])
        state["server"].close()
        state["server"] = None


def restore(*_):
    state["cut"] = False
    if state["server"] is None:
        open_server()


# A parent may have spawned this with signals blocked: take them back.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM])
signal.signal(signal.SIGUSR1, cut)
signal.signal(signal.SIGUSR2, restore)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
open_server()
print("ready", flush=True)
while True:
    try:
        events = sel.select(timeout=0.05)
    except InterruptedError:
        continue
    if state["restore_at"] is not None and time.monotonic() >= state["restore_at"]:
        state["restore_at"] = None
        restore()
    for key, _ in events:
        if key.data == "accept":
            if state["server"] is None:
                continue
            try:
                client, _ = key.fileobj.accept()
            except OSError:
                continue
            upstream = socket.socket()
            try:
                upstream.connect(("127.0.0.1", target_port))
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, "data")
            pairs[client], pairs[upstream] = upstream, client
            upstreams.add(upstream)
        else:
            sock = key.fileobj
            if sock not in pairs:
                continue
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                close(sock)
                continue
            if drop_finished_ms is not None and not state["dropped"] and sock in upstreams and watch_replies(sock, data):
                # The finished reply (and whatever came with it) is lost with the link.
                state["dropped"] = True
                print("dropped finished", flush=True)
                cut()
                state["restore_at"] = time.monotonic() + drop_finished_ms / 1000
                continue
            try:
                pairs[sock].setblocking(True)
                pairs[sock].sendall(data)
                pairs[sock].setblocking(False)
            except (OSError, KeyError):
                close(sock)

"""A TCP proxy whose link can be cut: forwards LISTEN_PORT to TARGET_PORT on 127.0.0.1.
SIGUSR1 cuts the link (closes every connection and refuses new ones); SIGUSR2 restores it.
Prints "ready" once listening."""
import selectors
import signal
import socket
import sys

listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
pairs = {}
state = {"cut": False, "server": None}


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
        events = sel.select(timeout=0.1)
    except InterruptedError:
        continue
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
            try:
                pairs[sock].setblocking(True)
                pairs[sock].sendall(data)
                pairs[sock].setblocking(False)
            except (OSError, KeyError):
                close(sock)

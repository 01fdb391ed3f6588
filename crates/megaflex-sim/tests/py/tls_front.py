"""A test-only TLS front for the simulator's ServiceNow emulator.

pysnc refuses http:// instance URLs, and the simulator speaks plain HTTP, so
this terminates TLS on 127.0.0.1 with a certificate the test made and
forwards the bytes to the simulator unchanged. When `megaflex sim --tls`
exists the tests can point pysnc at it directly and drop this file.

    python3 tls_front.py CERT KEY TARGET_HOST:TARGET_PORT

prints `listening PORT` once ready and forwards until killed. It can also
be imported: `start(cert, key, host, port)` returns the port and serves from
daemon threads.
"""

import socket
import ssl
import sys
import threading


def _pump(src, dst):
    # Either side ending ends the pair: HTTP needs nothing more.
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass


def _handle(ctx, conn, target):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()
        return
    try:
        upstream = socket.create_connection(target)
    except OSError:
        tls.close()
        return
    threading.Thread(target=_pump, args=(upstream, tls), daemon=True).start()
    _pump(tls, upstream)


def start(cert, key, host, port):
    """Listens on 127.0.0.1 (a free port) and returns the port."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)

    def accept_loop():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_handle, args=(ctx, conn, (host, port)), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return listener.getsockname()[1]


if __name__ == "__main__":
    cert, key, target = sys.argv[1:4]
    host, _, port = target.rpartition(":")
    print("listening", start(cert, key, host, int(port)), flush=True)
    threading.Event().wait()

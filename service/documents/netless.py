"""Run unoserver (and so LibreOffice) without a network: started by `unshare --net` in a
network namespace of its own, where only loopback is up, and reached from the service
through a unix socket (a path in the file system, which namespaces do not separate).

A document that links an image or object to an address makes LibreOffice fetch it; in
here there is nothing to reach. Run as a script: netless.py SOCKET UNOSERVER-ARGS...
"""

import os
import socket
import subprocess
import sys
import threading


def _pump(source, target):
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        source.close()
        target.close()


def _listen(path: str) -> socket.socket:
    """The unix socket the service connects to; an error here ends the process, so the service
    sees at once that LibreOffice did not start."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    server.bind(path)
    os.chmod(path, 0o600)
    server.listen(16)
    return server


def _relay(server: socket.socket, port: int) -> None:
    """Each connection to the unix socket goes on to unoserver's port on this loopback."""
    while True:
        client, _ = server.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", port))
        except OSError:
            client.close()
            continue
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()


def main() -> int:
    path, args = sys.argv[1], sys.argv[2:]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)  # LibreOffice and unoserver talk over it
    server = _listen(path)
    threading.Thread(target=_relay, args=(server, int(args[args.index("--port") + 1])), daemon=True).start()
    sys.argv = ["unoserver", *args]
    from unoserver.server import main as serve

    return serve() or 0


if __name__ == "__main__":
    sys.exit(main())

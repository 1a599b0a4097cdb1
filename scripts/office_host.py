"""A LibreOffice host for other machines: one unoserver on --bind:--port, restarted
whenever it exits. unoserver ends a conversion that runs past --conversion-timeout
(killing LibreOffice) and exits after --stop-after conversions, which bounds
LibreOffice's leaks; either way this loop starts a fresh one.

unoserver's XML-RPC has no authentication: it binds to 127.0.0.1 unless told
otherwise, and must only ever be bound to a private interface.
"""

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.documents.convert import ConversionError, OfficeProcess  # noqa: E402

log = logging.getLogger("office-host")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="127.0.0.1", help="a private interface only (default 127.0.0.1)")
    parser.add_argument("--dir", type=Path, help="profile folder (default instance/office-host-PORT)")
    parser.add_argument("--conversion-timeout", type=int, default=60)
    parser.add_argument("--stop-after", type=int, default=200)
    parser.add_argument("--memory-mb", type=int, default=2048, help="address space LibreOffice may use")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    process = OfficeProcess(
        args.dir or ROOT / "instance" / f"office-host-{args.port}",
        interface=args.bind,
        port=args.port,
        extra_args=["--conversion-timeout", str(args.conversion_timeout), "--stop-after", str(args.stop_after)],
        memory_bytes=args.memory_mb * 1024 * 1024,
    )

    def stop(_signum, _frame):
        # Only unwind here: stopping LibreOffice inside the handler would wait on the process
        # that the interrupted `wait()` below is already waiting on, and Popen's waitpid lock
        # is not reentrant (the host hung until its supervisor's timeout killed it).
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while True:
            serve_until_exit(process, args)
            process.stop()
            time.sleep(0.5)
    finally:
        process.stop()


def serve_until_exit(process, args):
    """Start unoserver and wait for it to exit, also when LibreOffice dies while it starts."""
    try:
        process.start()
    except ConversionError as error:
        log.warning("%s; restarting", error.message)
        return
    log.info("LibreOffice host ready on %s:%d", args.bind, args.port)
    process.process.wait()
    log.warning("unoserver exited (%s); restarting", process.process.returncode)


if __name__ == "__main__":
    main()

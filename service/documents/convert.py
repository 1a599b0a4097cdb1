"""DOCX to PDF through warm LibreOffice processes (unoserver).

Embedded default (`OfficePool`): processes supervised here. One LibreOffice converts
one document at a time, so the pool keeps one process per slot, each with its own
ports and profile. A conversion that times out or hits a dead process restarts that
process and is retried once.

On many machines (`OfficeHosts`, AVTAL_OFFICE_HOSTS): unoserver instances on hosts of
their own (scripts/office-host), reached over XML-RPC with the document's bytes in the
request, so no disk is shared. A host that fails or times out is passed over for a
while and the conversion goes to the next.
"""

import ctypes
import fcntl
import functools
import http.client
import itertools
import logging
import os
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from pathlib import Path

from ..errors import Unavailable

log = logging.getLogger(__name__)

PDF_FILTER = "writer_pdf_Export"
PDFA_OPTIONS = ["SelectPdfVersion=2", "UseTaggedPDF=true"]
UNREADABLE = "Dokumentet kunde inte läsas. Kontrollera att det är ett giltigt Word-dokument."


class ConversionError(Unavailable):
    """Conversion failed even after a restart."""

    message = "Dokumentet kunde inte omvandlas till PDF. Försök igen om en stund."


def _free_port(other_than=None) -> int:
    """A port free now; never `other_than`, since unoserver refuses the same port twice."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != other_than:
            return port


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: how the service reaches a LibreOffice without network."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout, socket_path=None):
        super().__init__()
        self.timeout = timeout
        self.socket_path = socket_path

    def make_connection(self, host):
        if self.socket_path:
            return _UnixConnection(self.socket_path, self.timeout)
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


def _prepare_child(memory_bytes=None):
    """In the unoserver child: stop it if the service dies (Linux), run LibreOffice at a
    lower priority, so that long conversions never starve quick requests of CPU, and
    within a memory limit (address space), so a huge document fails alone instead of
    pushing the machine into swap."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.nice(10)


def _proxy(host, port, timeout):
    """unoserver at host:port, or through the unix socket `host` names as "unix:PATH"."""
    if host.startswith("unix:"):
        transport = _TimeoutTransport(timeout, socket_path=host.removeprefix("unix:"))
        return xmlrpc.client.ServerProxy("http://localhost/", allow_none=True, transport=transport)
    return xmlrpc.client.ServerProxy(f"http://{host}:{port}", allow_none=True, transport=_TimeoutTransport(timeout))


def can_isolate_network() -> bool:
    """Whether LibreOffice can be started in a network namespace of its own: this needs
    root (CAP_SYS_ADMIN), util-linux's unshare and iproute2's ip."""
    return os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("ip"))


def _convert(host, port, data: bytes, filter_options, timeout) -> bytes:
    """One conversion by the unoserver at host:port; the bytes travel both ways."""
    result = _proxy(host, port, timeout).convert(
        None, xmlrpc.client.Binary(data), None, "pdf", PDF_FILTER, filter_options, True, None, None
    )
    return result.data


def _is_unreadable(fault: xmlrpc.client.Fault) -> bool:
    """Whether LibreOffice refused the input itself (no point in trying elsewhere)."""
    return "Could not load document" in fault.faultString


class OfficeProcess:
    """One unoserver with its own LibreOffice, ports and profile directory.

    Within the service it listens on loopback on free ports, and where the platform
    allows (can_isolate_network) runs in a network namespace of its own, reached through
    a unix socket, so that no document can make it fetch from the network; scripts/office-host
    starts one on a given interface and port, where unoserver itself stops a conversion that
    runs longer than `conversion_timeout` and exits after `stop_after` conversions."""

    def __init__(
        self, workdir: Path, startup_timeout=90, interface="127.0.0.1", port=None, extra_args=(), memory_bytes=None
    ):
        self.workdir = workdir
        self.memory_bytes = memory_bytes
        self.startup_timeout = startup_timeout
        self.interface = interface
        self.fixed_port = port
        self.extra_args = list(extra_args)
        self.process = None
        self.port = None
        self.conversions = 0
        self.isolated = interface == "127.0.0.1" and port is None and can_isolate_network()
        self.address = interface  # "unix:PATH" once started isolated
        self.socket_dir: Path | None = None

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._kill_leftover()
        self.port = self.fixed_port or _free_port()
        uno_port = _free_port(other_than=self.port)
        log_file = open(self.workdir / "unoserver.log", "ab")  # noqa: SIM115 (owned by the child)
        server = [sys.executable, "-m", "unoserver.server"]
        if self.isolated:
            # A private folder with a short path: a unix socket's path may be at most 107 bytes,
            # which an instance folder deep in a file system can pass.
            self.socket_dir = Path(tempfile.mkdtemp(prefix="avtal-uno-"))
            socket_path = self.socket_dir / "s"
            server = [
                "unshare",
                "--net",
                "--",
                sys.executable,
                str(Path(__file__).with_name("netless.py")),
                str(socket_path),
            ]
            self.address = f"unix:{socket_path}"
        self.process = subprocess.Popen(
            [
                *server,
                "--interface",
                self.interface,
                "--uno-interface",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--uno-port",
                str(uno_port),
                "--user-installation",
                str(self.workdir / "profile"),
                *self.extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            preexec_fn=functools.partial(_prepare_child, self.memory_bytes),
        )
        log_file.close()
        self.conversions = 0
        self._wait_until_ready()

    def _wait_until_ready(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConversionError("LibreOffice kunde inte startas.")
            try:
                _proxy(self.address, self.port, 5).info()
                return
            except (OSError, http.client.HTTPException, xmlrpc.client.Error):
                time.sleep(0.25)
        self.stop()
        raise ConversionError("LibreOffice startade inte i tid.")

    def convert(self, data: bytes, filter_options, timeout) -> bytes:
        pdf = _convert(self.address, self.port, data, filter_options, timeout)
        self.conversions += 1
        return pdf

    def healthy(self, max_conversions) -> bool:
        """Running, and not yet due for the restart that bounds LibreOffice's leaks."""
        return self.process is not None and self.process.poll() is None and self.conversions < max_conversions

    def own_processes(self) -> dict[int, str]:
        """pid -> name of every process started for this slot, found by the profile path
        in its command line, so that leftovers of an earlier, killed service are found too."""
        marker = str(self.workdir / "profile").encode()
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmdline = f.read()
                with open(f"/proc/{entry.name}/comm") as f:
                    name = f.read().strip()
            except OSError:
                continue
            if marker in cmdline:
                found[int(entry.name)] = name
        return found

    def soffice_pid(self):
        """The pid of soffice.bin, the process that does the work (and may hang)."""
        for pid, name in self.own_processes().items():
            if name == "soffice.bin":
                return pid
        return None

    def _kill_leftover(self, seconds=5.0):
        """Kill whatever still runs on this slot's profile, and wait until it is gone: a
        LibreOffice started on the same profile meanwhile would find it locked."""
        deadline = time.monotonic() + seconds
        while (left := self.own_processes()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def stop(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        self.process.wait()
        self._kill_leftover()  # anything that left the process group
        self.process = None
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None


class OfficePool:
    """A fixed number of warm LibreOffice processes, handed out one conversion at a time."""

    def __init__(self, workdir, size=1, timeout=60, max_conversions=200, on_conversion=None, memory_mb=2048):
        self.workdir = Path(workdir)
        self.on_conversion = on_conversion  # (host, seconds, ok) for the metrics
        self.size = size
        self.timeout = timeout
        self.memory_bytes = memory_mb * 1024 * 1024 if memory_mb else None
        self.max_conversions = max_conversions
        self._idle = queue.Queue()
        self._processes = []
        self._slot_locks = []
        self._started = False
        self._lock = threading.Lock()

    def start(self):
        """Start every process (each takes a few seconds); idempotent."""
        with self._lock:
            if self._started:
                return
            for _ in range(self.size):
                proc = OfficeProcess(self._claim_slot(), memory_bytes=self.memory_bytes)
                proc.start()
                self._processes.append(proc)
                self._idle.put(proc)
            self._started = True

    def start_in_background(self):
        """Warm up while the service starts taking requests; a conversion waits for it."""
        threading.Thread(target=self.start, name="office-warmup", daemon=True).start()

    def _claim_slot(self) -> Path:
        """A slot directory no live process holds. Several server workers share `workdir`;
        the lock is the kernel's, so a crashed worker's slot is free again at once."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for i in itertools.count():
            fd = os.open(self.workdir / f"office-{i}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._slot_locks.append(fd)
            return self.workdir / f"office-{i}"
        raise AssertionError("unreachable: itertools.count() never ends")

    def stop(self):
        with self._lock:
            for proc in self._processes:
                proc.stop()
            for fd in self._slot_locks:
                os.close(fd)
            self._slot_locks.clear()
            self._processes.clear()
            self._idle = queue.Queue()
            self._started = False

    def processes(self):
        return list(self._processes)

    def convert(self, docx: bytes, pdfa=False) -> bytes:
        """DOCX bytes to PDF bytes (PDF/A-2b when pdfa is set)."""
        self.start()
        options = PDFA_OPTIONS if pdfa else []
        try:
            proc = self._idle.get(timeout=self.timeout * 2)
        except queue.Empty:
            raise ConversionError("Tjänsten är hårt belastad just nu. Försök igen om en stund.") from None
        started = time.monotonic()
        try:
            for attempt in (1, 2):
                try:
                    if not proc.healthy(self.max_conversions):
                        self._restart(proc)
                    pdf = proc.convert(docx, options, self.timeout)
                    self._report(started, True)
                    return pdf
                except xmlrpc.client.Fault as fault:
                    if _is_unreadable(fault):
                        raise ConversionError(UNREADABLE) from None
                    log.warning("conversion failed (attempt %d): %r; restarting LibreOffice", attempt, fault)
                    self._restart(proc)
                except (OSError, http.client.HTTPException, xmlrpc.client.Error) as exc:
                    log.warning("conversion failed (attempt %d): %r; restarting LibreOffice", attempt, exc)
                    self._restart(proc)
            self._report(started, False)
            raise ConversionError()
        finally:
            self._idle.put(proc)

    def _report(self, started, ok):
        if self.on_conversion is not None:
            self.on_conversion("local", time.monotonic() - started, ok)

    def _restart(self, proc):
        proc.stop()
        proc.start()


class OfficeHost:
    """A LibreOffice host elsewhere, known by address; passed over until `down_until`
    after a failure."""

    def __init__(self, address: str):
        host, _, port = address.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(address)
        self.address = address.strip()
        self.host, self.port = host, int(port)
        self.busy = False  # one conversion at a time per host from this process
        self.down_until = 0.0

    def reachable(self, timeout=2) -> bool:
        """Accepting connections (a TCP connect: the host answers nothing else while it converts)."""
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return True
        except OSError:
            return False

    def convert(self, data: bytes, filter_options, timeout) -> bytes:
        return _convert(self.host, self.port, data, filter_options, timeout)


class OfficeHosts:
    """Conversions spread over LibreOffice hosts elsewhere (AVTAL_OFFICE_HOSTS=host:port,...).

    Each conversion goes to an idle host, taking them in turn; a host that fails or
    times out is passed over for `retry_after` seconds and the same document goes to
    the next host, so a host dying mid-conversion costs one retry, not an error."""

    def __init__(self, addresses, timeout=60, retry_after=10, on_conversion=None):
        self.hosts = [OfficeHost(a) for a in addresses]
        self.timeout = timeout
        self.retry_after = retry_after
        self.on_conversion = on_conversion  # (address, seconds, ok) for the metrics
        self._turn = itertools.count()
        self._changed = threading.Condition()

    def start(self):
        pass  # the hosts run on their own

    def start_in_background(self):
        pass

    def stop(self):
        pass

    def unreachable(self) -> list[str]:
        return [h.address for h in self.hosts if not h.reachable()]

    def _take(self, tried) -> OfficeHost | None:
        """An idle host not yet tried for this document, healthy ones first; waits while
        all are busy. None when every host has been tried."""
        deadline = time.monotonic() + self.timeout * 2
        with self._changed:
            while True:
                left = [h for h in self.hosts if h not in tried]
                if not left:
                    return None
                start = next(self._turn) % len(self.hosts)
                turn = self.hosts[start:] + self.hosts[:start]
                now = time.monotonic()
                idle = sorted((h for h in turn if h in left and not h.busy), key=lambda h: h.down_until > now)
                if idle:
                    idle[0].busy = True
                    return idle[0]
                if not self._changed.wait(deadline - time.monotonic()):
                    raise ConversionError("Tjänsten är hårt belastad just nu. Försök igen om en stund.")

    def _release(self, host):
        with self._changed:
            host.busy = False
            self._changed.notify()

    def convert(self, docx: bytes, pdfa=False) -> bytes:
        """DOCX bytes to PDF bytes (PDF/A-2b when pdfa is set), on the first host that manages."""
        options = PDFA_OPTIONS if pdfa else []
        tried: list[OfficeHost] = []
        while (host := self._take(tried)) is not None:
            tried.append(host)
            started = time.monotonic()
            try:
                pdf = host.convert(docx, options, self.timeout)
            except xmlrpc.client.Fault as fault:
                if _is_unreadable(fault):
                    self._report(host, started, True)
                    raise ConversionError(UNREADABLE) from None
                self._failed(host, started, fault)
            except (OSError, http.client.HTTPException, xmlrpc.client.Error) as exc:
                self._failed(host, started, exc)
            else:
                host.down_until = 0.0
                self._report(host, started, True)
                return pdf
            finally:
                self._release(host)
        raise ConversionError()

    def _failed(self, host, started, exc):
        log.warning("conversion on LibreOffice host %s failed: %r; trying the next host", host.address, exc)
        host.down_until = time.monotonic() + self.retry_after
        self._report(host, started, False)

    def _report(self, host, started, ok):
        if self.on_conversion is not None:
            self.on_conversion(host.address, time.monotonic() - started, ok)

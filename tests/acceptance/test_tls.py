"""Listening beyond loopback: only when asked for, and then only over TLS with an explicit list
of allowed hosts.

- `serve --listen` on a non-loopback address without TLS is refused with a clear error, and so
  is `--allowed-host` without TLS; loopback stays the default.
- With a certificate and key, an MCP client on the machine's own non-loopback address reaches
  the gateway over https, verifying the certificate, and calls a tool.
- Plain http to the TLS port gets no HTTP answer; a Host header that is not an allowed host is
  refused (403), over TLS too, and so is an http:// Origin of the allowed host.
- The machine's CLI goes on using the gateway through its plain loopback port.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import subprocess
from pathlib import Path

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import EV_STDIO, add_everything_stdio
from helpers.gateway import Gateway
from helpers.procs import Proc

PROTOCOL = "2025-11-25"


def outward_address() -> str:
    """This machine's address on its default route (no packet is sent), else an address on a
    veth pair made for the test (as root)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
            address = probe.getsockname()[0]
            if not ipaddress.ip_address(address).is_loopback:
                return address
        except OSError:
            pass
    address = "198.51.100.7"
    subprocess.run(["ip", "link", "add", "sbtls0", "type", "veth", "peer", "name", "sbtls1"], check=False)
    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "sbtls0"], check=False)
    for link in ("sbtls0", "sbtls1"):
        subprocess.run(["ip", "link", "set", link, "up"], check=True)
    return address


def certificate(directory: Path, address: str) -> tuple[Path, Path]:
    """A self-signed certificate for `address` and the name switchboard.test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "switchboard.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("switchboard.test"), x509.IPAddress(ipaddress.ip_address(address))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "gateway.crt", directory / "gateway.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def start_tls(gateway: Gateway, name: str, address: str, cert: Path, key: Path) -> str:
    """Starts `serve` over TLS on `address`; returns the https MCP URL it printed."""
    gateway.proc = Proc(
        name,
        gateway.argv(
            "serve", "--listen", f"{address}:0", "--tls-cert", cert, "--tls-key", key,
            "--allowed-host", address,
        ),
        env=gateway.env,
        log_dir=gateway.log_dir,
    )
    gateway.proc.wait_for(r"Switchboard is ready", 30, stream="out")
    public = gateway.proc.wait_for(r"Over TLS:\s+(https://\S+)", 5, stream="out").group(1)
    mcp = gateway.proc.wait_for(r"MCP endpoint:\s+(http://\S+)", 5, stream="out").group(1)
    info = gateway.info()
    gateway.mcp_url = mcp.rstrip("/")
    gateway.control_url = info["control_url"]
    gateway.control_token = info["control_token"]
    return public


def mcp_post(client: httpx2.Client, url: str, token: str, body: dict, session: str | None = None, **headers: str):
    sent = {
        "authorization": f"Bearer {token}",
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": PROTOCOL,
        **headers,
    }
    if session:
        sent["mcp-session-id"] = session
    return client.post(url, headers=sent, json=body, timeout=30)


def result_of(response: httpx2.Response) -> dict:
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        import json

        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return response.json()


def test_beyond_loopback_only_with_tls_and_allowed_hosts(
    session_dir: Path, sandbox_env: dict[str, str], log_dir: Path, tmp_path: Path
) -> None:
    address = outward_address()
    gateway = Gateway(session_dir / "gateway-tls", sandbox_env, log_dir)
    add_everything_stdio(gateway)
    token = gateway.add_client("remote")

    plain = gateway.cli("serve", "--listen", f"{address}:0", check=False, timeout=30)
    assert plain.returncode != 0 and "TLS" in plain.stderr, plain.describe()
    hosts = gateway.cli("serve", "--allowed-host", address, check=False, timeout=30)
    assert hosts.returncode != 0 and "needs TLS" in hosts.stderr, hosts.describe()
    print(f"without TLS: {plain.stderr.strip()} | {hosts.stderr.strip()}")

    cert, key = certificate(tmp_path, address)
    public = start_tls(gateway, "gateway-tls", address, cert, key)
    try:
        assert public.startswith(f"https://{address}:"), public
        gateway.wait_all([EV_STDIO])
        with httpx2.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
            init = mcp_post(client, public, token, {
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": PROTOCOL, "capabilities": {},
                           "clientInfo": {"name": "tls-test", "version": "1"}},
            })
            assert init.status_code == 200, init.text
            session = init.headers.get("mcp-session-id")
            assert result_of(init)["result"]["serverInfo"], init.text
            mcp_post(client, public, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
            call = mcp_post(client, public, token, {
                "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": f"{EV_STDIO}__echo", "arguments": {"message": "over tls"}},
            }, session)
            assert call.status_code == 200, call.text
            assert result_of(call)["result"]["content"][0]["text"] == "Echo: over tls", call.text
            print(f"https {public}: initialize and tools/call answered, certificate verified")

            foreign = mcp_post(client, public, token, {"jsonrpc": "2.0", "id": 3, "method": "ping"},
                               session, host="evil.example")
            assert foreign.status_code == 403, foreign.text
            http_origin = mcp_post(client, public, token, {"jsonrpc": "2.0", "id": 4, "method": "ping"},
                                   session, origin=f"http://{address}")
            assert http_origin.status_code == 403, http_origin.text
            print(f"foreign Host: {foreign.status_code}; http:// Origin of the allowed host: {http_origin.status_code}")

        # Unverified, the certificate is refused by the client: nothing is sent.
        with pytest.raises(httpx2.ConnectError):
            httpx2.get(public, timeout=10)
        # Plain http to the TLS port: the handshake never happens, no HTTP answer comes.
        with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.ConnectError)):
            httpx2.post(public.replace("https://", "http://"), json={}, timeout=10)
        print("plain http to the TLS port: no HTTP answer")

        # The machine's own CLI reaches the gateway on its loopback port.
        listed = gateway.cli("servers", "list", "--json").json()
        assert any(s["name"] == EV_STDIO for s in listed), listed
        assert gateway.mcp_url.startswith("http://127.0.0.1:"), gateway.mcp_url
    finally:
        gateway.stop()

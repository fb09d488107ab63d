# -*- coding: utf-8 -*-
# Copyright: (c) 2026, polardb.polarsearch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real loopback servers for the connection tests: TLS with a private CA, plain HTTP, raw TCP and a proxy.

The answers copy what PolarSearch (OpenSearch with the security plugin) was seen to send: a wrong
password gets 401 with the body ``Unauthorized`` and ``WWW-Authenticate: Basic realm="OpenSearch
Security"``; a plain ``http://`` request to the HTTPS port is closed without an answer; a missing
permission gets 403 ``security_exception`` "no permissions for [...] and User [...]".
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import select
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = "127.0.0.1"


class CertificateAuthority:
    """A private CA that signs certificates for 127.0.0.1 and localhost."""

    def __init__(self, name):
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        public = self.key.public_key()
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA256()))

    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path):
        path.write_bytes(self.pem())
        return str(path)

    def issue(self, directory, names=(LOOPBACK, "localhost")):
        """Write a server certificate and key for ``names``; return (cert_path, key_path)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        alt = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(self.key, hashes.SHA256()))
        cert_path = directory / ("server-%s.pem" % names[0])
        key_path = directory / ("server-%s.key" % names[0])
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return str(cert_path), str(key_path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server.seen.append((self.command, self.path, self.headers.get("Authorization"), body))
        route = server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = (200, {"Content-Type": "application/json; charset=UTF-8"}, {"path": self.path, "ok": True})
        status, headers, answer = route
        if server.users and not self._authorized():
            # what the security plugin answers to a wrong password or to no credentials
            status, headers, answer = 401, {"WWW-Authenticate": 'Basic realm="OpenSearch Security"',
                                            "Content-Type": "text/plain; charset=UTF-8"}, "Unauthorized"
        data = answer if isinstance(answer, bytes) else (
            answer.encode("utf-8") if isinstance(answer, str) else json.dumps(answer).encode("utf-8"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _authorized(self):
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        user, password = (base64.b64decode(header[6:]).decode("utf-8").split(":", 1) + [""])[:2]
        return self.server.users.get(user) == password

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer


class WebServer(ThreadingHTTPServer):
    """An HTTP or HTTPS server on 127.0.0.1 with fixed answers per path."""

    daemon_threads = True

    def __init__(self, tls=None):
        super().__init__((LOOPBACK, 0), _Handler)
        self.routes = {}
        self.users = {}
        self.seen = []
        self.tls = tls
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def handle_error(self, request, client_address):  # a client that gives up is not a test failure
        pass

    @property
    def port(self):
        return self.server_address[1]

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", LOOPBACK, self.port)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class RawServer(socketserver.ThreadingTCPServer):
    """A TCP server on 127.0.0.1 that reads a request and then acts badly.

    ``mode`` is ``"close"`` (close without an answer, what a TLS port does to plain HTTP),
    ``"reset"`` (RST after reading) or ``"hold"`` (answer nothing until the client gives up).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode):
        self.mode = mode
        self.connections = 0
        self.release = threading.Event()
        super().__init__((LOOPBACK, 0), _RawHandler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def port(self):
        return self.server_address[1]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.shutdown()
        self.server_close()


class _RawHandler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        server.connections += 1
        self.request.settimeout(5)
        try:
            self.request.recv(65536)
        except OSError:
            return
        if server.mode == "reset":
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        elif server.mode == "hold":
            server.release.wait(10)


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy for ``CONNECT host:port`` tunnels; records the targets it was asked for."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.targets = []
        super().__init__((LOOPBACK, 0), _ProxyHandler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.server_address[1])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _ProxyHandler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode("latin-1")
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        method, target = line.split()[:2]
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        self.server.targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=5)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        sockets = [self.request, upstream]
        try:
            while True:
                readable = select.select(sockets, [], [], 5)[0]
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.request else self.request).sendall(data)
        finally:
            upstream.close()

"""An SMTP server on loopback (aiosmtpd) that keeps what it receives, parsed by Python's
own `email` package, so that tests read our messages the way a mail client would.

    smtp_sink.py DIR [--tls starttls|implicit] [--auth USER:PASSWORD] [--discard] [--workers N]

Prints "PORT <n>" once listening. For each message, DIR/<n>.eml holds the raw message
and DIR/<n>.json what the parser makes of it: envelope, decoded headers and the parts
(content type and decoded text). --discard keeps nothing (for the benchmark); --workers N
serves the one port from N processes (one Python process is one core: for benchmarks).
With --tls, DIR/ca.pem is the CA that signed the server's certificate for localhost and
127.0.0.1; starttls requires STARTTLS before MAIL, implicit speaks TLS from the start.
Recipients starting with "reject" get 550, with "later" 451.
"""

import argparse
import asyncio
import datetime
import email
import email.policy
import itertools
import json
import os
import logging
import socket
import ssl

from aiosmtpd.smtp import SMTP, AuthResult

parser = argparse.ArgumentParser()
parser.add_argument("dir")
parser.add_argument("--tls", choices=["starttls", "implicit"])
parser.add_argument("--auth")
parser.add_argument("--discard", action="store_true")
parser.add_argument("--workers", type=int, default=1)
args = parser.parse_args()
COUNTER = itertools.count(1)
# aiosmtpd 1.4 logs a warning about its own use of a deprecated attribute on every AUTH.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 No such user here"
        if address.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if args.discard:
            return "250 Message accepted"
        n = next(COUNTER)
        raw = envelope.original_content or envelope.content
        with open(os.path.join(args.dir, f"{n}.eml"), "wb") as f:
            f.write(raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append(
                {
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "content": part.get_content(),
                }
            )
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": session.authenticated,
            "content_type": msg.get_content_type(),
            "headers": {k.lower(): str(v) for k, v in msg.items()},
            "to_addresses": [
                {"name": a.display_name, "address": a.addr_spec} for a in msg["to"].addresses
            ],
            "parts": parts,
        }
        tmp = os.path.join(args.dir, f"{n}.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(tmp, os.path.join(args.dir, f"{n}.json"))
        return "250 Message accepted"


def certificates():
    """A CA and a certificate it signs for localhost, made fresh for this run."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "guanxi test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    with open(os.path.join(args.dir, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    cert_path = os.path.join(args.dir, "server.pem")
    key_path = os.path.join(args.dir, "server.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok)


async def main(context):
    options = {"hostname": "sink.localhost"}
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if args.auth:
        options.update(
            authenticator=authenticator, auth_required=True, auth_require_tls=bool(args.tls)
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), **options),
        sock=LISTENER,
        ssl=context if args.tls == "implicit" else None,
    )
    await server.serve_forever()


# The CA is written before the port is told (tests read it once they know the port), and
# the socket bound before the workers are forked, so that they all accept on it.
CONTEXT = certificates() if args.tls else None
LISTENER = socket.create_server(("127.0.0.1", 0), backlog=512)
print(f"PORT {LISTENER.getsockname()[1]}", flush=True)
for _ in range(args.workers - 1):
    if os.fork() == 0:
        # A worker ends with the process the test started (and kills when done).
        import ctypes, signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        break
asyncio.run(main(CONTEXT))

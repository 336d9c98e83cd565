"""A server whose certificate is not trusted here (a TLS-inspecting proxy's, a private CA's), and the variables that
say which CAs to trust (`SSL_CERT_FILE`, `SSL_CERT_DIR`, read by httpx).

An untrusted certificate failed each call as a passing connection error ("[SSL: CERTIFICATE_VERIFY_FAILED] …"),
retried with backoff on every model, then every other model the same way. It is now not retried and says what to
set; with `SSL_CERT_FILE` naming the CA, the same server answers. A `SSL_CERT_FILE` that is missing or holds no
certificate failed the provider's construction with a raw `FileNotFoundError` or `ssl.SSLError` (a traceback from
`orchestratex run`): it is now a `ConfigurationError` naming the variable.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import orchestratex.providers
from orchestratex import ModelCatalog
from orchestratex.exceptions import ConfigurationError, ProviderConnectionError
from orchestratex.providers import GenerationRequest, Message, Provider

pytest.importorskip("orchestratex_openai")
pytest.importorskip("orchestratex_anthropic")
pytest.importorskip("orchestratex_gemini")
pytest.importorskip("cryptography")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestratex_anthropic import AnthropicProvider
from orchestratex_gemini import GeminiProvider
from orchestratex_openai import OpenAIProvider

MODELS = {"openai": "openai:gpt-4.1", "anthropic": "anthropic:claude-haiku-5-5", "gemini": "gemini:gemini-4-hydrogen"}
ANSWERS = {
    "openai": {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    },
    "anthropic": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-5-5",
        "content": [{"type": "text", "text": "Hi!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 3},
    },
    "gemini": {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi!"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12},
    },
}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (as a private CA's or a TLS-inspecting proxy's is, to this
    machine), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orchestratex test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "ca.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path, list[str]]]:
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate: its URL, its certificate, and the paths of the
    requests that reached it."""
    monkeypatch.setattr(orchestratex.providers, "ALLOW_MODEL_REQUESTS", True)  # (a local server, not a provider)
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    cert, key = self_signed(tmp_path)
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            paths.append(self.path)
            vendor = "anthropic" if "/messages" in self.path else "gemini" if ":generate" in self.path else "openai"
            body = json.dumps(ANSWERS[vendor]).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}", cert, paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MAKERS: dict[str, Callable[[str], Provider]] = {
    "openai": lambda url: OpenAIProvider(api_key="sk-test", base_url=f"{url}/v1"),
    "anthropic": lambda url: AnthropicProvider(api_key="sk-ant-test", base_url=url),
    "gemini": lambda url: GeminiProvider(api_key="AIza-test", base_url=f"{url}/"),
}


async def ask(provider: Provider, name: str) -> str:
    request = GenerationRequest(
        model=ModelCatalog.default().get(MODELS[name]), messages=[Message(role="user", content="Hello")]
    )
    try:
        return (await provider.generate(request)).text
    finally:
        await provider.aclose()


@pytest.mark.parametrize("name", list(MAKERS))
async def test_an_untrusted_certificate_is_not_retried_and_says_what_to_set(
    name: str, https: tuple[str, Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert, paths = https
    with pytest.raises(ProviderConnectionError) as caught:
        await ask(MAKERS[name](url), name)
    assert caught.value.retryable is False
    assert "certificate is not trusted here" in caught.value.message, caught.value.message
    assert "set SSL_CERT_FILE to a CA bundle (PEM) holding that CA" in caught.value.message
    assert paths == []
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # (as the message says)
    assert await ask(MAKERS[name](url), name) == "Hi!"
    assert len(paths) == 1


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_ca_variable_that_cannot_be_loaded_is_refused_naming_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(var, raising=False)
    not_pem = tmp_path / "bundle.pem"
    not_pem.write_text("not a certificate\n", encoding="utf-8")
    for var, path, why in [
        ("SSL_CERT_FILE", tmp_path / "missing.pem", "No such file or directory"),
        ("SSL_CERT_FILE", not_pem, "NO_CERTIFICATE_OR_CRL_FOUND"),
        ("SSL_CERT_DIR", tmp_path / "missing", "not a directory"),
    ]:
        monkeypatch.setenv(var, str(path))
        with pytest.raises(ConfigurationError) as caught:
            MAKERS[name]("https://api.example.test")
        said = str(caught.value)
        assert said.startswith(f"{name}: {var}={str(path)!r}, the CA certificates trusted for HTTPS, cannot be loaded")
        assert why in said, said
        monkeypatch.delenv(var)

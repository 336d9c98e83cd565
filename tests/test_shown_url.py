"""One redaction of URLs for every message and log line: stores', providers' and the MongoDB adapter's."""

from __future__ import annotations

import pytest

from orchestratex._shown import shown_url
from orchestratex.providers._support import shown_url as providers_shown_url
from orchestratex.stores._url import redacted_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mongodb://app:hunter2@db.example/ox", "mongodb://app:***@db.example/ox"),
        ("mongodb://app:p@ss@db.example/ox", "mongodb://app:***@db.example/ox"),  # (an unescaped `@`)
        ("mongodb://u:p%40ss@h1:1,h2:2/db?authSource=admin", "mongodb://u:***@h1:1,h2:2/db?authSource=admin"),
        ("https://bob:s3cr3t@proxy.example/v1", "https://bob:***@proxy.example/v1"),
        ("ada:s3cr3t@proxy.example/v1", "ada:***@proxy.example/v1"),  # (no scheme)
        ("https://gw.example/v1?api-key=abc&x=1", "https://gw.example/v1?api-key=***&x=1"),
        ("https://gw.example/v1?auth=abc", "https://gw.example/v1?auth=***"),
        ("store URL 'mongodb://a:b@h/x' is refused", "store URL 'mongodb://a:***@h/x' is refused"),  # (in a text)
        ("sqlite:///runs.db", "sqlite:///runs.db"),
        ("mongodb://onlyuser@h/db", "mongodb://onlyuser@h/db"),
    ],
)
def test_a_url_is_shown_with_its_secrets_hidden(url: str, shown: str) -> None:
    assert shown_url(url) == redacted_url(url) == providers_shown_url(url) == shown

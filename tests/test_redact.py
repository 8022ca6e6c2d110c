"""Redaction: registered secrets and X-Api-Key values never reach a real log handler."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identifai_mcp.redact import (
    REDACTED,
    RedactingFilter,
    install_log_redaction,
    redact,
    redact_mapping,
    register_secret,
)


def new_key() -> str:
    """A fresh key per test: the registry is process-wide, so tests never share or forget one."""
    key = f"idf_{secrets.token_urlsafe(24)}/+="
    register_secret(key)
    return key


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger with a real StreamHandler, redaction installed on it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger(f"identifai-test-{secrets.token_hex(4)}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    install_log_redaction(log)
    yield log, stream
    log.removeHandler(handler)


@pytest.fixture
def root_handler() -> Iterator[io.StringIO]:
    """A real handler on the root logger; every handler's filters are put back afterwards, pytest's included."""
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    before = {h: list(h.filters) for h in [*root.handlers, logging.lastResort] if h is not None}
    yield stream
    root.removeHandler(handler)
    for h, filters in before.items():
        h.filters[:] = filters


def test_key_in_percent_args_is_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger
    key = new_key()
    log.info("sending with key %s", key)
    log.debug("headers: %r", {"X-Api-Key": key, "Accept": "application/json"})
    log.warning("%(key)s in a mapping", {"key": key})
    output = stream.getvalue()
    assert key not in output
    assert output.count(REDACTED) == 3


def test_key_in_an_exception_traceback_is_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger
    key = new_key()
    try:
        try:
            raise ValueError(f"inner failure with {key}")
        except ValueError as inner:
            raise RuntimeError(f"identifAI rejected {quote(key, safe='')}") from inner
    except RuntimeError:
        log.exception("request failed for %s", key)
    output = stream.getvalue()
    assert key not in output and quote(key, safe="") not in output
    assert f"ValueError: inner failure with {REDACTED}" in output
    assert f"RuntimeError: identifAI rejected {REDACTED}" in output


def test_records_propagated_from_child_loggers_are_redacted_at_the_root_handler(root_handler: io.StringIO) -> None:
    key = new_key()
    install_log_redaction()
    logging.getLogger("httpx").warning("HTTP Request with X-Api-Key: %s", key)
    logging.getLogger("identifai_mcp.client").error("key was %s", key)
    output = root_handler.getvalue()
    assert key not in output
    assert f"X-Api-Key: {REDACTED}" in output and f"key was {REDACTED}" in output


def test_install_is_idempotent(root_handler: io.StringIO) -> None:
    install_log_redaction()
    install_log_redaction()
    for handler in logging.getLogger().handlers:
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    key = new_key()
    logging.getLogger("identifai_mcp").warning("key=%s", key)
    assert root_handler.getvalue() == f"key={REDACTED}\n"


def test_install_covers_logging_s_last_resort_handler(root_handler: io.StringIO) -> None:
    install_log_redaction()
    assert logging.lastResort is not None
    assert any(isinstance(f, RedactingFilter) for f in logging.lastResort.filters)


def test_install_on_a_named_logger_leaves_the_root_alone(logger: tuple[logging.Logger, io.StringIO]) -> None:
    assert all(not isinstance(f, RedactingFilter) for h in logging.getLogger().handlers for f in h.filters)


def test_url_encoded_key_is_redacted(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = logger
    key = new_key()
    forms = [quote(key, safe=""), quote(key), quote_plus(key), quote(key, safe="").replace("%2F", "%2f")]
    for form in forms:
        log.info("GET https://backend.identifai.net/api?key=%s&x=1", form)
    output = stream.getvalue()
    assert all(form not in output for form in forms)
    assert output.count(f"key={REDACTED}&x=1") == len(forms)


def test_unformattable_record_does_not_leak_its_args(
    logger: tuple[logging.Logger, io.StringIO], capsys: pytest.CaptureFixture[str]
) -> None:
    log, stream = logger
    key = new_key()
    log.warning("%d credits left", key)  # a format error: logging would print the raw args to stderr
    assert key not in stream.getvalue() and REDACTED in stream.getvalue()
    assert key not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-Api-Key: abc123unregistered", f"X-Api-Key: {REDACTED}"),
        ("x-api-key:abc123unregistered\nAccept: */*", f"x-api-key:{REDACTED}\nAccept: */*"),
        ("{'X-Api-Key': 'abc123unregistered'}", f"{{'X-Api-Key': '{REDACTED}'}}"),
        ('{"x-api-key": "abc123unregistered"}', f'{{"x-api-key": "{REDACTED}"}}'),
        ("[(b'X-Api-Key', b'abc123unregistered')]", f"[(b'X-Api-Key', b'{REDACTED}')]"),
        ("IDENTIFAI_API_KEY=abc123unregistered HOME=/root", f"IDENTIFAI_API_KEY={REDACTED} HOME=/root"),
        (f"X-Api-Key: {REDACTED}", f"X-Api-Key: {REDACTED}"),
        ("no key here", "no key here"),
    ],
)
def test_x_api_key_values_are_scrubbed_even_when_never_registered(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(redact(text)) == expected


@pytest.mark.parametrize("value", [None, "", "short", "1234567"])
def test_empty_and_short_values_are_not_registered(value: str | None) -> None:
    register_secret(value)
    assert redact("a short 1234567 value") == "a short 1234567 value"


def test_secret_that_contains_another_is_hidden_whole() -> None:
    inner = secrets.token_hex(6)
    outer = inner + secrets.token_hex(6)
    register_secret(inner)
    register_secret(outer)
    assert redact(f"<{outer}> <{inner}>") == f"<{REDACTED}> <{REDACTED}>"


def test_redact_mapping_hides_credential_headers_and_secrets_in_the_rest() -> None:
    key = new_key()
    headers = {
        "x-api-key": key,
        "Authorization": "Bearer t0ken",
        "Accept": "application/json",
        "X-Debug": f"echo {key}",
    }
    assert redact_mapping(headers) == {
        "x-api-key": REDACTED,
        "Authorization": REDACTED,
        "Accept": "application/json",
        "X-Debug": f"echo {REDACTED}",
    }


_KEY = new_key()


@given(st.text(alphabet=st.sampled_from(sorted(set(_KEY + "%2F[] \n"))), max_size=40), st.text(max_size=40))
def test_a_registered_key_never_survives_redaction(prefix: str, suffix: str) -> None:
    assert _KEY not in redact(prefix + _KEY + suffix)

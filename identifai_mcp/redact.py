"""Redaction in one place: the API key never reaches a log line, a traceback or debug output.

Secrets are registered once (the key, when settings are read) and then hidden wherever text
leaves the process through `redact`, the logging filter or `redact_mapping`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"
# Shorter values would also hide ordinary words and numbers; no real key is that short.
MIN_SECRET_CHARS = 8

# X-Api-Key as a header line, a dict or JSON entry, a header tuple, or IDENTIFAI_API_KEY=... in an
# environment dump. The value stops at whitespace, quotes and separators. Possessive quantifiers:
# giving back an opening b' would let a second pass redact "b" in front of "[REDACTED]".
_KEY_FIELD = re.compile(
    r"(?i)((?:x|identifai)[-_]api[-_]key['\"]?+[ \t]*+[:=,][ \t]*+(?:b?['\"])?+)(?!\[REDACTED\])[^\s'\",;&)\]}]+"
)
_SENSITIVE_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"})

# Keys that arrive with requests (shared HTTP mode) are kept for the most recent this many; the
# configured key is kept for good. Anyone can send a new key with every request, so registering one
# must cost the same however many came before.
MAX_TRANSIENT_SECRETS = 1024

_lock = threading.Lock()
_pinned: dict[str, re.Pattern[str]] = {}
_transient: OrderedDict[str, re.Pattern[str]] = OrderedDict()
# Longest first, so that a secret containing another is hidden whole; rebuilt on every change.
_ordered: tuple[tuple[str, re.Pattern[str]], ...] = ()


def register_secret(value: str | None, *, transient: bool = False) -> None:
    """Hide `value`, and its URL-encoded forms, from everything `redact` sees from now on.

    A `transient` secret (a key that came with one request) is forgotten once
    MAX_TRANSIENT_SECRETS more recently registered ones have arrived; registering it again makes it
    recent. Empty values and values under MIN_SECRET_CHARS characters are ignored.
    """
    global _ordered
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value in _pinned:
            return
        if transient and value in _transient:
            _transient.move_to_end(value)
            return
        pattern = _transient.pop(value, None) or re.compile(_secret_pattern(value))
        if transient:
            _transient[value] = pattern
            while len(_transient) > MAX_TRANSIENT_SECRETS:
                _transient.popitem(last=False)
        else:
            _pinned[value] = pattern
        _ordered = tuple(sorted({**_transient, **_pinned}.items(), key=lambda item: len(item[0]), reverse=True))


def _secret_pattern(secret: str) -> str:
    """`secret` with each character as itself or percent-encoded (either case of hex), a space also as '+'."""
    chars = []
    for char in secret:
        encoded = "".join(
            "%" + "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{byte:02X}") for byte in char.encode()
        )
        options = [re.escape(char), encoded] + ([r"\+"] if char == " " else [])
        chars.append("(?:" + "|".join(options) + ")")
    return "".join(chars)


def redact(text: str) -> str:
    """`text` with every registered secret, and any X-Api-Key value, replaced by [REDACTED]."""
    # Without '%' or '+' only the literal form can be there: a substring test is enough.
    encoded = "%" in text or "+" in text
    for secret, pattern in _ordered:
        if encoded:
            text = pattern.sub(REDACTED, text)
        elif secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_FIELD.sub(lambda match: match.group(1) + REDACTED, text)


def redact_mapping(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` safe to print: credential headers hidden whole, secrets hidden in the rest."""
    return {
        name: REDACTED if name.lower() in _SENSITIVE_HEADERS else redact(str(value)) for name, value in headers.items()
    }


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments, traceback and stack before any handler formats it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - any formatting error: TypeError, ValueError, KeyError...
            # A broken format string: logging's own error report would print the raw arguments.
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), ()
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            # Formatters print exc_text when it is set; dropping exc_info also stops formatters that
            # render the exception themselves (with local variables, say) from showing the key.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to every handler of `logger` (the root logger by default).

    Calling it again adds no second filter; call it again after adding handlers.
    """
    # On handlers, not on the logger: a logger's filters see only records logged on that logger
    # itself, while a handler's filters see every record it emits, including records propagated
    # from child loggers such as "httpx" or "mcp".
    logger = logger or logging.getLogger()
    handlers = list(logger.handlers)
    if logger is logging.getLogger():
        if logging.lastResort is not None:
            handlers.append(logging.lastResort)  # what logging writes to when no handler is configured
        _install_record_factory()
    for handler in handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(_FILTER)


def _install_record_factory() -> None:
    """Scrub every record as it is made, for handlers set up later (uvicorn configures its own)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _scrub(record)
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _scrub(record: logging.LogRecord) -> None:
    """Hide secrets in a new record; one that holds none is left exactly as it was.

    Formatters such as uvicorn's access log read `args` themselves, so they are kept unless a
    secret is in the message.
    """
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is the handlers' filter's to report
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None:
        text = RedactingFilter._formatter.formatException(record.exc_info)
        clean = redact(text)
        if clean != text:
            record.exc_text, record.exc_info = clean, None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)

"""Redaction in one place: the API key never reaches a log line, a traceback or debug output.

Secrets are registered once (the key, when settings are read) and then hidden wherever text
leaves the process through `redact`, the logging filter or `redact_mapping`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping

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

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Hide `value`, and its URL-encoded forms, from everything `redact` sees from now on.

    Empty values and values under MIN_SECRET_CHARS characters are ignored.
    """
    global _secrets, _pattern
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets = _secrets | {value}
        # Longest first, so that a secret containing another is hidden whole.
        _pattern = re.compile("|".join(_secret_pattern(s) for s in sorted(_secrets, key=len, reverse=True)))


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
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
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
    if logger is logging.getLogger() and logging.lastResort is not None:
        handlers.append(logging.lastResort)  # what logging writes to when no handler is configured
    for handler in handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(_FILTER)

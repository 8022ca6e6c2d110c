"""One error hierarchy for everything the product fails at on purpose.

    IdentifaiError
    ├── ConfigError
    │   └── MissingApiKey
    ├── InputError                 bad argument, path or URL; nothing was sent
    │   ├── FileRefused            not a regular file, outside the allowed folders, hidden, ...
    │   ├── NotAVideo              content sniffing found no video container
    │   └── UrlRefused
    ├── FeatureUnavailable         an optional native library is missing
    ├── ApiUnreachable             no usable response: DNS, connect, reset, timeout
    │   └── UploadInterrupted      the upload may or may not have reached identifAI
    ├── ApiError                   identifAI answered with an error status (.status)
    │   ├── BadRequest (400)       .field_errors holds {"field": ["msg"]}
    │   │   └── NoCredits
    │   ├── Unauthorized (401)
    │   ├── Forbidden (403)
    │   ├── NotFound (404)
    │   ├── RateLimited (429)      .retry_after in seconds, when known
    │   └── ServerError (5xx)
    └── MalformedResponse          HTML, truncated JSON, wrong types

str(error) says what went wrong; `hint` says what to do next. Neither ever holds the API key.
"""

from __future__ import annotations


class IdentifaiError(Exception):
    """Base for every failure raised on purpose."""

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def describe(self) -> str:
        """The message and the hint, as one line for a person or an agent."""
        text = self.message.rstrip()
        if self.hint:
            sep = " " if text.endswith((".", "!", "?", ":")) else ". "
            text = f"{text}{sep}{self.hint}"
        return text


class ConfigError(IdentifaiError):
    """The product is configured wrongly."""


class MissingApiKey(ConfigError):
    hint = (
        "Set IDENTIFAI_API_KEY in this server's environment (for example in the MCP client's config), "
        "then restart it. Get a key in the identifAI dashboard under your name > 'API Key'."
    )

    def __init__(self, message: str = "No identifAI API key is configured.", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]


class InputError(IdentifaiError):
    """An argument, path or URL was refused before anything was sent."""


class FileRefused(InputError):
    pass


class NotAVideo(InputError):
    hint = "Only video files can be submitted (MP4, MOV, MKV, WebM, AVI, MPEG-TS, FLV, WMV, Ogg)."


class UrlRefused(InputError):
    pass


class FeatureUnavailable(IdentifaiError):
    """An optional native library is missing or failed to load."""


class ApiUnreachable(IdentifaiError):
    hint = "Check the network connection and IDENTIFAI_BASE_URL, then try again."


class UploadInterrupted(ApiUnreachable):
    hint = (
        "The upload was not retried automatically because identifAI may have received it and "
        "would charge again. Check get_credits or the dashboard, then submit again if needed."
    )


class ApiError(IdentifaiError):
    """identifAI answered with an error status."""

    status: int = 0

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        hint: str | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, status=status, hint=hint)
        self.field_errors = field_errors or {}


class NoCredits(BadRequest):
    hint = "The identifAI account has no credits left: top it up, or use fewer frames."


class Unauthorized(ApiError):
    status = 401
    hint = "identifAI rejected the API key: check IDENTIFAI_API_KEY (copy it again from the dashboard)."


class Forbidden(ApiError):
    status = 403
    hint = (
        "The key is not allowed to use this API, or the account has not accepted the terms of service: "
        "log in to the identifAI dashboard to check."
    )


class NotFound(ApiError):
    status = 404
    hint = "Check the identifier: it is the value returned when the video was submitted."


class RateLimited(ApiError):
    status = 429
    hint = "identifAI's rate limit was reached: wait a few seconds and try again."

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    status = 500
    hint = "identifAI had an internal problem; try again in a minute."


class MalformedResponse(IdentifaiError):
    hint = "identifAI sent a response this version cannot read; try again, and report it if it persists."

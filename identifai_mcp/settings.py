"""Settings: the only place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_BASE_URL = "https://backend.identifai.net"
DEFAULT_WAIT_SECONDS = 40.0

# env var -> Settings field. Only these are read; everything else comes from flags.
_ENV: dict[str, str] = {
    "IDENTIFAI_API_KEY": "api_key",
    "IDENTIFAI_BASE_URL": "base_url",
    "IDENTIFAI_MCP_HOME": "home",
    "IDENTIFAI_ALLOWED_DIRS": "allowed_dirs",
    "IDENTIFAI_C2PA_TRUST_ANCHORS": "c2pa_trust_anchors",
    "IDENTIFAI_WAIT_SECONDS": "wait_seconds",
    "IDENTIFAI_MCP_ALLOWED_HOSTS": "allowed_hosts",
    "IDENTIFAI_MCP_ALLOW_LOCAL_FILES": "allow_local_files",
}


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("identifai-mcp", appauthor=False))


class RateLimits(BaseModel):
    """Requests allowed per key; the documented defaults (R-RATE)."""

    model_config = ConfigDict(frozen=True)

    get_per_second: float = Field(default=2, gt=0)
    get_per_minute: float = Field(default=60, gt=0)
    post_per_second: float = Field(default=1, gt=0)
    post_per_minute: float = Field(default=30, gt=0)


class Settings(BaseModel):
    """Everything the product can be configured with, read once."""

    model_config = ConfigDict(frozen=True)

    # SecretStr keeps the key out of every repr, log line and validation error.
    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    home: Path = Field(default_factory=_default_home)
    allowed_dirs: tuple[Path, ...] = ()
    c2pa_trust_anchors: Path | None = None
    wait_seconds: float = Field(default=DEFAULT_WAIT_SECONDS, ge=0, le=3600)
    # Seconds between polls of one pending job; tests set it near zero.
    poll_interval: float = Field(default=3.0, ge=0)
    poll_interval_max: float = Field(default=10.0, ge=0)
    # How far past its wait budget a tool call may run while identifAI is slow to answer at all.
    fetch_grace: float = Field(default=15.0, ge=0)
    rate_limits: RateLimits = RateLimits()
    # Per-attempt network timeouts; uploads get no read deadline while sending.
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    # Retries of idempotent requests (GETs) before giving up.
    max_retries: int = Field(default=4, ge=0, le=20)
    # HTTP transport: hosts accepted in the Host header besides loopback.
    allowed_hosts: tuple[str, ...] = ()
    # None: on for stdio and loopback HTTP, off when HTTP is exposed beyond loopback.
    allow_local_files: bool | None = None

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str):
            return value.strip()
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("IDENTIFAI_BASE_URL must start with http:// or https://")
        return value

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [p for p in value.split(os.pathsep) if p.strip()]
        if isinstance(value, (list, tuple)):
            return tuple(Path(os.path.expanduser(str(p).strip())) for p in value)
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value

    @field_validator("home", "c2pa_trust_anchors", mode="before")
    @classmethod
    def _expand_user(cls, value: Any) -> Any:
        if isinstance(value, str):
            return Path(os.path.expanduser(value))
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Settings from environment variables, then `overrides` (CLI flags) on top."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {field: environ[var] for var, field in _ENV.items() if environ.get(var, "").strip()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def key(self) -> str | None:
        """The raw API key, for the one place that sends it."""
        return self.api_key.get_secret_value() if self.api_key else None

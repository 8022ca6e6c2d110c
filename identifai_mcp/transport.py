"""Running the server: stdio for local clients, Streamable HTTP for shared deployments."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any, Literal

from identifai_mcp.settings import Settings

logger = logging.getLogger(__name__)

# Host headers carry a port except on the scheme's default port, so each name comes with and without one.
LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
LOOPBACK_ORIGINS = [
    "http://127.0.0.1", "http://127.0.0.1:*", "http://localhost", "http://localhost:*", "http://[::1]", "http://[::1]:*",
]


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def transport_security(settings: Settings) -> Any:
    """DNS-rebinding protection: loopback names plus the operator's allowed hosts, nothing else."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = list(LOOPBACK_HOSTS)
    origins = list(LOOPBACK_ORIGINS)
    for host in settings.allowed_hosts:
        hosts += [host] if ":" in host else [host, f"{host}:*"]
        name = host.split(":")[0] if not host.startswith("[") else host
        origins += [f"https://{name}", f"https://{name}:*", f"http://{name}", f"http://{name}:*"]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def http_app(settings: Settings, *, host: str = "127.0.0.1", **server_kw: Any) -> Any:
    """The Starlette app for Streamable HTTP at /mcp, with /health. Stateless, so replicas can share a load balancer."""
    from identifai_mcp.server import build_server

    shared = not is_loopback(host)
    mcp = build_server(settings, shared=shared, **server_kw)
    return mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=False,
        transport_security=transport_security(settings),
        host=host,
    )


def serve(settings: Settings, *, transport: Literal["stdio", "http"] = "stdio", host: str = "127.0.0.1",
          port: int = 8000) -> None:
    from identifai_mcp.server import build_server

    if transport == "stdio":
        build_server(settings).run()
        return
    import uvicorn

    if not is_loopback(host):
        logger.warning(
            "Serving on %s, beyond loopback: each request must bring its key in the X-Identifai-Api-Key "
            "header (or the operator's IDENTIFAI_API_KEY is used), history is kept per key, and local "
            "files are off unless IDENTIFAI_MCP_ALLOW_LOCAL_FILES=true.", host,
        )
    app = http_app(settings, host=host)
    logger.info("identifai-mcp serving Streamable HTTP on http://%s:%d/mcp", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")

"""python -m identifai_mcp.fake: serve the fake identifAI by hand (logs on stderr)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from identifai_mcp.fake.server import FakeIdentifai


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m identifai_mcp.fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--forbidden-key", default="forbidden-key")
    parser.add_argument("--credits", type=float, default=1000)
    parser.add_argument("--polls-until-done", type=int, default=1)
    parser.add_argument("--seconds-until-done", type=float, default=None)
    parser.add_argument("--hidden-polls", type=int, default=0)
    parser.add_argument("--unknown", choices=["404", "pending"], default="404")
    parser.add_argument("--shape", choices=["current", "middle", "old"], default="current")
    parser.add_argument("--no-rate-limits", action="store_true", help="never answer 429")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)

    import uvicorn

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    options = {
        "api_key": args.api_key,
        "forbidden_key": args.forbidden_key or None,
        "credits": args.credits,
        "polls_until_done": args.polls_until_done,
        "seconds_until_done": args.seconds_until_done,
        "hidden_polls": args.hidden_polls,
        "unknown": args.unknown,
        "shape": args.shape,
    }
    if args.no_rate_limits:
        options["rate_limits"] = None
    fake = FakeIdentifai(**options)
    print(f"fake identifAI on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(
        fake,
        host=args.host,
        port=args.port,
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        log_level="warning" if args.quiet else "info",
        timeout_graceful_shutdown=1,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

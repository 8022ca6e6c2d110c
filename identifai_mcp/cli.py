"""The command line: the same use cases as the MCP tools, for people and scripts."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from identifai_mcp import __version__
from identifai_mcp.errors import IdentifaiError, InputError
from identifai_mcp.settings import Settings

logger = logging.getLogger("identifai_mcp")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
REF_ID_MAX = 255  # identifAI's own limit, as in ClassifyOptions

DESCRIPTION = """\
Ask identifAI whether a video is real or AI-generated.
With no command, serves the Model Context Protocol over stdio (what MCP clients launch).
Configuration comes from IDENTIFAI_* environment variables; flags override them."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `identifai-mcp` and `python -m identifai_mcp`."""
    parser = _parser()
    args = parser.parse_args(argv)
    _setup_logging(args)
    if getattr(args, "handler", None) is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "serve"])
    try:
        settings = Settings.from_env(**_overrides(args))
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        print(f"identifai-mcp: invalid configuration: {_first_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args, settings)
    except IdentifaiError as exc:
        from identifai_mcp.redact import redact

        print(f"identifai-mcp: {redact(exc.describe())}", file=sys.stderr)
        if args.debug:
            logger.exception("details")
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("identifai-mcp: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"identifai-mcp: internal error ({type(exc).__name__}); run again with --debug for details.",
            file=sys.stderr,
        )
        return EXIT_ERROR


# -- parser ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="identifai-mcp", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"identifai-mcp {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="log debug details and show tracebacks")
    common.add_argument("--base-url", default=argparse.SUPPRESS, help="identifAI API base URL (IDENTIFAI_BASE_URL)")
    common.add_argument("--home", default=argparse.SUPPRESS, help="where the history lives (IDENTIFAI_MCP_HOME)")
    common.add_argument("--allowed-dir", action="append", default=argparse.SUPPRESS, dest="allowed_dirs",
                        metavar="DIR", help="only read local files below DIR; repeatable (IDENTIFAI_ALLOWED_DIRS)")
    parser.add_argument("--debug", action="store_true", default=False, help="log debug details and show tracebacks")
    parser.set_defaults(handler=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("classify", _cmd_classify, "Classify a local video file or an http(s) URL.")
    p.add_argument("source", metavar="SOURCE", help="a local video path or an http(s) URL")
    p.add_argument("--frames", type=int, choices=(5, 10, 30), help="frames to analyse (more cost more credits)")
    p.add_argument("--key-frames", action="store_true", default=None, help="analyse key frames instead of equally spaced ones")
    p.add_argument("--key-frames-method", choices=("iframes", "color", "flow"), help="how key frames are chosen")
    for flag, text in (
        ("--with-morphing", "run the face-morphing model (only for videos with faces)"),
        ("--with-tampering", "look for non-AI manipulation"),
        ("--with-audio", "analyse the speech in the audio track (beta)"),
        ("--with-nsfw", "detect NSFW content"),
        ("--ensure-face-per-frame", "only use frames with a face"),
        ("--prevent-c2pa-forces", "do not let a C2PA signature force the verdict to artificial"),
        ("--no-cache", "re-analyse even if analysed before (costs credits again)"),
    ):
        p.add_argument(flag, action="store_true", default=None, help=text)
    p.add_argument("--ref-id", type=_ref_id, help="your own reference for this classification (at most 255 characters)")
    _wait_flag(p, "seconds to wait for the verdict before printing 'pending' (default IDENTIFAI_WAIT_SECONDS, 40)")
    _json_flag(p)

    p = command("result", _cmd_result, "Show the current result of one classification.")
    p.add_argument("identifier", metavar="IDENTIFIER")
    _wait_flag(p, "seconds to wait while it is pending (default 0)")
    p.add_argument("--frames-table", action="store_true", help="add a per-frame table")
    _json_flag(p)

    p = command("results", _cmd_results, "Show the results of many classifications.")
    p.add_argument("identifiers", metavar="IDENTIFIER", nargs="+")
    _json_flag(p)

    p = command("override", _cmd_override, "Record a correction of a verdict.")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--identifier", help="the classification's identifier")
    who.add_argument("--hash", help="the video's SHA-256")
    p.add_argument("classification", choices=("human", "artificial"))
    _json_flag(p)

    p = command("credits", _cmd_credits, "Show available and spent identifAI credits.")
    _json_flag(p)

    p = command("history", _cmd_history, "List past submissions, newest first.")
    p.add_argument("--limit", type=_positive_int, default=20, help="how many (default 20)")
    p.add_argument("--status", choices=("submitting", "pending", "done", "errored", "failed"))
    p.add_argument("--classification", choices=("human", "artificial"))
    p.add_argument("--ref-id")
    _json_flag(p)

    p = command("inspect", _cmd_inspect, "Read a local video's C2PA credentials and metadata (free, offline).")
    p.add_argument("source", metavar="SOURCE", help="a local video path")
    p.add_argument("--trust-anchors", default=argparse.SUPPRESS, dest="c2pa_trust_anchors",
                   help="PEM file of trusted C2PA roots (IDENTIFAI_C2PA_TRUST_ANCHORS)")
    _json_flag(p)

    p = command("frames", _cmd_frames, "Extract evidence frames as JPEG thumbnails (free, offline).")
    p.add_argument("source", metavar="SOURCE", help="a local video path")
    p.add_argument("--frames", type=_positive_int, default=10, help="how many frames at most (default 10)")
    p.add_argument("--method", choices=("time", "iframes", "color", "flow"), default="time")
    p.add_argument("--out", type=Path, help="folder for the JPEGs (default: the frames cache)")
    _json_flag(p)

    p = command("serve", _cmd_serve, "Serve MCP over stdio (default) or Streamable HTTP.")
    p.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--allowed-host", action="append", dest="allowed_hosts", default=argparse.SUPPRESS,
                   metavar="HOST", help="Host header value accepted besides loopback (IDENTIFAI_MCP_ALLOWED_HOSTS)")
    return parser


def _wait_flag(p: argparse.ArgumentParser, text: str) -> None:
    p.add_argument("--wait", type=_seconds, metavar="SECONDS", help=text)


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the tool's structured result as JSON")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def _ref_id(text: str) -> str:
    if len(text) > REF_ID_MAX:
        raise argparse.ArgumentTypeError(f"at most {REF_ID_MAX} characters, not {len(text)}")
    return text


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("base_url", "home", "allowed_dirs", "c2pa_trust_anchors", "allowed_hosts")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def _setup_logging(args: argparse.Namespace) -> None:
    from identifai_mcp.redact import install_log_redaction

    debug = getattr(args, "debug", False)
    serving = getattr(args, "handler", None) in (None, _cmd_serve)
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else (logging.INFO if serving else logging.WARNING))
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
    install_log_redaction(root)


# -- commands -------------------------------------------------------------------------------


def _run(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from identifai_mcp.service import Service

    async def go() -> Any:
        async with Service.open(settings) as service:
            return await work(service)

    return anyio.run(go)


def _emit(args: argparse.Namespace, model: Any, text: str) -> int:
    if args.json:
        print(json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print(text)
    return EXIT_OK


def _cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from identifai_mcp.models import ClassifyOptions

    options = ClassifyOptions(
        frames=args.frames, key_frames=args.key_frames, key_frames_method=args.key_frames_method,
        with_morphing=args.with_morphing, with_tampering=args.with_tampering, with_audio=args.with_audio,
        with_nsfw=args.with_nsfw, ensure_face_per_frame=args.ensure_face_per_frame,
        prevent_c2pa_forces=args.prevent_c2pa_forces, no_cache=args.no_cache, ref_id=args.ref_id,
    )
    wait = settings.wait_seconds if args.wait is None else args.wait
    progress = _TerminalProgress()
    # Any scheme goes the URL way, so ftp:// or file:// get the URL policy's reason, not "No such file".
    is_url = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", args.source) is not None

    async def work(service: Any) -> Any:
        if is_url:
            return await service.classify_url(args.source, options, wait=wait, progress=progress)
        return await service.classify_file(args.source, options, wait=wait, progress=progress)

    try:
        report = _run(settings, work)
    finally:
        progress.close()
    return _emit(args, report, report.summary)


def _cmd_result(args: argparse.Namespace, settings: Settings) -> int:
    progress = _TerminalProgress()
    detail = "frames" if args.frames_table else "summary"
    try:
        report = _run(settings, lambda s: s.get_report(args.identifier, wait=args.wait or 0, detail=detail,
                                                       progress=progress))
    finally:
        progress.close()
    text = report.summary
    if report.frame_table:
        text += "\n\n" + _frame_table_text(report.frame_table)
    return _emit(args, report, text)


def _cmd_results(args: argparse.Namespace, settings: Settings) -> int:
    batch = _run(settings, lambda s: s.get_batch(args.identifiers))
    return _emit(args, batch, f"{batch.table}\n\n{batch.summary}")


def _cmd_override(args: argparse.Namespace, settings: Settings) -> int:
    result = _run(settings, lambda s: s.override(args.classification, identifier=args.identifier, hash=args.hash))
    return _emit(args, result, f"Override recorded: video {result.hash} is now {result.classification}.")


def _cmd_credits(args: argparse.Namespace, settings: Settings) -> int:
    from identifai_mcp.report.text import number

    credits = _run(settings, lambda s: s.credits())
    return _emit(args, credits, f"available: {number(credits.available_credits)}\nspent: {number(credits.total_spent)}")


def _cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from identifai_mcp.history import HistoryStore
    from identifai_mcp.service import key_scope

    with HistoryStore.open(settings.home) as store:
        entries, _ = store.scoped(key_scope(settings.key())).list(
            limit=args.limit, status=args.status, classification=args.classification, ref_id=args.ref_id
        )
        rows = [e.as_listing() for e in entries]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("No submissions yet.")
        return EXIT_OK
    for row in rows:
        verdict = row.get("classification") or "-"
        confidence = row.get("confidence")
        conf = f"{confidence:.0%}" if isinstance(confidence, (int, float)) else "-"
        print(f"{row.get('submitted_at') or '-':20.20}  {row.get('status') or '-':10}  {verdict:10}  {conf:>4}  "
              f"{(row.get('identifier') or '-')[:16]:16}  {row.get('name') or row.get('source') or '-'}")
    return EXIT_OK


def _cmd_inspect(args: argparse.Namespace, settings: Settings) -> int:
    if args.source.lower().startswith(("http://", "https://")):
        raise InputError("inspect works on local files only.", hint="Download the video first, or classify the URL.")
    report = _run(settings, lambda s: s.inspect(args.source))
    return _emit(args, report, report.summary)


def _cmd_frames(args: argparse.Namespace, settings: Settings) -> int:
    if args.source.lower().startswith(("http://", "https://")):
        raise InputError("frames works on local files only.", hint="Download the video first.")
    report = _run(settings, lambda s: s.extract_frames(args.source, count=args.frames, method=args.method,
                                                        out_dir=args.out))
    lines = [report.summary] + [f"{f.index:3}  {f.timestamp_seconds:8.2f} s  {f.path}" for f in report.frames]
    return _emit(args, report, "\n".join(lines))


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from identifai_mcp.transport import serve

    serve(settings, transport=getattr(args, "transport", "stdio"), host=getattr(args, "host", "127.0.0.1"),
          port=getattr(args, "port", 8000))
    return EXIT_OK


def _frame_table_text(rows: list[Any]) -> str:
    lines = []
    for row in rows:
        data = row if isinstance(row, dict) else row.model_dump()
        scores = ", ".join(f"{k} {v:.2f}" for k, v in (data.get("scores") or {}).items() if v is not None)
        conf = data.get("confidence")
        lines.append(f"frame {data.get('index')}: {data.get('classification') or '-'}"
                     f"{f' ({conf:.0%})' if isinstance(conf, (int, float)) else ''}  {scores}")
    return "\n".join(lines)


class _TerminalProgress:
    """Progress on stderr, only when it is a terminal: scripts and pipes get clean output."""

    def __init__(self) -> None:
        self._enabled = sys.stderr.isatty()
        self._shown = False

    async def __call__(self, value: float, total: float | None, message: str) -> None:
        if not self._enabled:
            return
        share = f"{value / total:4.0%} " if total else ""
        sys.stderr.write(f"\r\x1b[2K{share}{message}"[:200])
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()

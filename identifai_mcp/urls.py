"""Video URLs: what may be handed to identifAI's `video_fromurl`, and what deserves a warning.

identifAI downloads the URL from its own servers; this process never fetches it. A URL that points
at loopback or a private network is therefore no server-side request forgery risk for us, only a
link identifAI cannot reach, so it gets a warning rather than a refusal (unlike Resemble, whose
server fetches the URL itself). What is refused is what cannot work or must not leave this
machine: other schemes, embedded credentials, malformed hosts and invisible characters.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import SplitResult, parse_qs, quote, urlsplit, urlunsplit

from .errors import UrlRefused

MAX_URL_CHARS = 2048

_CHECK_HINT = "Check the link and try again."
_LOCAL_FILE_HINT = "Use classify_video_file (or the CLI with a path) for a video on this computer."
_SCHEME_REASONS = {
    "file": ("a file: URL names a file on this computer, which identifAI's servers cannot read", _LOCAL_FILE_HINT),
    "data": (
        "a data: URL carries the content itself instead of a link to it",
        "Save the video to a file and use classify_video_file.",
    ),
    "blob": (
        "a blob: URL exists only inside one browser tab",
        "Download the video and use classify_video_file, or find its public link.",
    ),
    "javascript": ("a javascript: URL is script code, not a link", "Give a public http(s) link to the video file."),
    "vbscript": ("a vbscript: URL is script code, not a link", "Give a public http(s) link to the video file."),
}
_DEFAULT_SCHEME_REASON = (
    "identifAI downloads videos over http and https only",
    "Give a public http(s) link to the video file, or download it and use classify_video_file.",
)
# Platforms that re-encode what users upload; identifAI advises against their links.
_SOCIAL_DOMAINS = (
    "youtube.com", "youtu.be", "youtube-nocookie.com", "googlevideo.com", "tiktok.com", "tiktokcdn.com",
    "instagram.com", "cdninstagram.com", "facebook.com", "fb.watch", "fb.com", "fbcdn.net", "x.com",
    "twitter.com", "twimg.com", "t.co", "vimeo.com", "vimeocdn.com", "reddit.com", "redd.it", "twitch.tv",
    "dailymotion.com", "dai.ly", "snapchat.com", "linkedin.com", "threads.net", "threads.com", "bsky.app",
    "rumble.com", "bilibili.com", "b23.tv", "kick.com", "streamable.com", "vk.com", "ok.ru", "weibo.com",
    "douyin.com", "kuaishou.com", "pinterest.com", "pin.it", "t.me", "9gag.com", "imgur.com",
)  # fmt: skip
# File-sharing sites whose links usually open a web page rather than the file itself.
_SHARE_DOMAINS = (
    "drive.google.com", "docs.google.com", "dropbox.com", "onedrive.live.com", "1drv.ms", "sharepoint.com",
    "icloud.com", "box.com", "wetransfer.com", "we.tl", "mega.nz", "mediafire.com",
)  # fmt: skip
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp", ".localdomain")
_VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".m2ts", ".mts", ".mpg", ".mpeg", ".flv", ".wmv", ".asf",
    ".ogv", ".3gp", ".3g2",
)  # fmt: skip
# /x, ~/x, ./x, \\server\x and C:\x (which parses with scheme "c"), but not //host/x (a URL without its scheme)
_LOCAL_PATH = re.compile(r"(?!//[^/])[/~.\\]|[A-Za-z]:[\\/]")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
# RFC 3986 characters that may stay as they are; everything else is percent-encoded (IRI to URI).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


@dataclass(frozen=True)
class CheckedUrl:
    """A URL identifAI may be asked to download, normalised, with what the user should know about it."""

    url: str
    warnings: list[str] = field(default_factory=list)


def check_video_url(url: str) -> CheckedUrl:
    """Check and normalise a video URL for identifAI to download.

    Error messages never repeat the URL: it may hold credentials or a signed token.

    Raises:
        UrlRefused: the URL is empty, too long, malformed, not http(s), has credentials or a bad host.
    """
    text = url.strip()
    if not text:
        raise UrlRefused("Refused: no URL was given.", hint="Give a public http(s) link to the video file.")
    if len(text) > MAX_URL_CHARS:
        raise UrlRefused(
            f"Refused: the URL is {len(text)} characters long; the limit is {MAX_URL_CHARS}.",
            hint="Use a shorter, direct link to the video file (without tracking parameters).",
        )
    if _LOCAL_PATH.match(text):
        raise UrlRefused("Refused: this looks like a local file path, not a URL.", hint=_LOCAL_FILE_HINT)
    for position, char in enumerate(text, start=1):
        # Cs: a lone surrogate, which a command line can carry (undecodable bytes) but no URL can.
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            raise UrlRefused(
                f"Refused: the URL contains a space or an invisible or control character (character {position}).",
                hint="Remove it, or percent-encode a space as %20.",
            )
    try:
        parts = urlsplit(text)
    except ValueError:
        raise UrlRefused("Refused: the URL is not valid (unbalanced [ ] around the host).", hint=_CHECK_HINT) from None
    try:
        port = parts.port
    except ValueError:
        raise UrlRefused(
            "Refused: the URL is not valid (the port must be a number up to 65535).", hint=_CHECK_HINT
        ) from None
    _check_scheme(text, parts.scheme)
    if not parts.hostname:
        raise UrlRefused("Refused: the URL has no host name (expected https://host/path).", hint=_CHECK_HINT)
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(
            "Refused: the URL contains a user name or password (the user:pass@ part); it would be sent to "
            "identifAI and stored with the submission.",
            hint="Remove the credentials: identifAI must be able to download the video without logging in, "
            "so use a public or pre-signed link.",
        )
    host = _ascii_host(parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    normalised = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_PATH_SAFE),
            quote(parts.query, safe=_QUERY_SAFE),
            quote(parts.fragment, safe=_QUERY_SAFE),
        )
    )
    return CheckedUrl(normalised, _warnings(parts, host))


def _check_scheme(text: str, scheme: str) -> None:
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        return
    after = text[len(scheme) + 1 :]
    # "example.com/clip.mp4" has no scheme; "example.com:8080/clip.mp4" parses with scheme "example.com".
    if not scheme or ("://" not in text and ("." in scheme or after[:1].isdigit())):
        raise UrlRefused("Refused: the URL has no scheme.", hint="Start it with https://.")
    reason, hint = _SCHEME_REASONS.get(scheme, _DEFAULT_SCHEME_REASON)
    shown = scheme if re.fullmatch(r"[a-z][a-z0-9+.-]{0,19}", scheme) else "this"
    raise UrlRefused(f"Refused: {shown}: URLs are not supported; {reason}.", hint=hint)


def _ascii_host(hostname: str) -> str:
    """The host as sent on the wire: an IP literal, or a domain in IDNA (punycode) form."""
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        pass
    hint = "Check the host name in the link."
    try:
        ascii_host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise UrlRefused("Refused: the URL's host is not a valid domain name.", hint=hint) from None
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise UrlRefused("Refused: the URL's host is not a valid domain name.", hint=hint)
    return ascii_host


def _warnings(parts: SplitResult, host: str) -> list[str]:
    warnings: list[str] = []
    if parts.scheme.lower() == "http":
        warnings.append(
            "The URL uses http, not https: the video travels unencrypted and could be altered on its way to identifAI."
        )
    domain = host.removesuffix(".")
    is_file = parts.path.lower().endswith(_VIDEO_EXTENSIONS)
    if _matches(domain, _SOCIAL_DOMAINS):
        page = (
            ""
            if is_file
            else " This looks like a page rather than the video file, which identifAI may not be able to download."
        )
        warnings.append(
            f"{domain} is a social or video platform. identifAI advises against social links: platforms "
            f"re-encode what is uploaded, which removes provenance (C2PA) and can change the verdict.{page} "
            "If you can, submit the original file or a direct link to it."
        )
    elif _matches(domain, _SHARE_DOMAINS) and not _direct_download(domain, parts.query):
        warnings.append(
            f"{domain} share links usually open a web page, not the video itself, so identifAI may download "
            "the page instead. Use a direct download link (for Dropbox, add ?dl=1) or upload the file."
        )
    if _is_local(domain):
        warnings.append(
            f"{domain} is a local or private address. identifAI downloads the URL from its own servers, so a "
            "local or private address will not be reachable: use classify_video_file, or a public link."
        )
    return warnings


def _matches(domain: str, domains: tuple[str, ...]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in domains)


def _direct_download(domain: str, query: str) -> bool:
    values = parse_qs(query)
    return _matches(domain, ("dropbox.com",)) and (values.get("dl") == ["1"] or values.get("raw") == ["1"])


def _is_local(domain: str) -> bool:
    if domain == "localhost" or domain.endswith(_LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(domain)
    except ValueError:
        if "." not in domain:  # a single label ("nas", "intranet") only resolves on a local network
            return True
        try:  # legacy IPv4 spellings that resolvers still accept: 2130706433, 0x7f.1, 127.1
            address = ipaddress.ip_address(socket.inet_aton(domain))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast

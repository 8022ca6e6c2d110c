"""check_video_url: tables of accepted, warned-about and refused URLs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identifai_mcp.errors import UrlRefused
from identifai_mcp.urls import MAX_URL_CHARS, check_video_url

HTTP = "http, not https"
SOCIAL = "identifAI advises against social links"
PAGE = "looks like a page rather than the video file"
SHARE = "share links usually open a web page"
LOCAL = "a local or private address will not be reachable"

# (given, normalised, fragments expected in the warnings, in order; () for none)
ACCEPTED: list[tuple[str, str, tuple[str, ...]]] = [
    ("https://cdn.example.com/clip.mp4", "https://cdn.example.com/clip.mp4", ()),
    ("  https://cdn.example.com/clip.mp4\n", "https://cdn.example.com/clip.mp4", ()),
    ("HTTPS://CDN.Example.COM/Clip.MP4", "https://cdn.example.com/Clip.MP4", ()),
    ("https://example.com", "https://example.com", ()),
    ("https://example.com./clip.mp4", "https://example.com./clip.mp4", ()),
    (
        "https://cdn.example.com:8443/c.mp4?sig=a%2Fb&x=1#t=10",
        "https://cdn.example.com:8443/c.mp4?sig=a%2Fb&x=1#t=10",
        (),
    ),
    (
        "https://bücher.example/vidéo clip.mp4".replace(" ", "%20"),
        "https://xn--bcher-kva.example/vid%C3%A9o%20clip.mp4",
        (),
    ),
    ("https://☃.net/clip.webm", "https://xn--n3h.net/clip.webm", ()),
    (
        "https://s3.amazonaws.com/b/clip.mp4?X-Amz-Signature=abc",
        "https://s3.amazonaws.com/b/clip.mp4?X-Amz-Signature=abc",
        (),
    ),
    ("https://8.8.8.8/clip.mp4", "https://8.8.8.8/clip.mp4", ()),
    ("https://notyoutube.com/clip.mp4", "https://notyoutube.com/clip.mp4", ()),
    ("https://dl.dropboxusercontent.com/s/abc/clip.mp4", "https://dl.dropboxusercontent.com/s/abc/clip.mp4", ()),
    ("https://www.dropbox.com/s/abc/clip.mp4?dl=1", "https://www.dropbox.com/s/abc/clip.mp4?dl=1", ()),
    ("http://cdn.example.com/clip.mp4", "http://cdn.example.com/clip.mp4", (HTTP,)),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", (SOCIAL,)),
    ("https://youtu.be/dQw4w9WgXcQ", "https://youtu.be/dQw4w9WgXcQ", (SOCIAL,)),
    ("https://m.youtube.com/shorts/abc", "https://m.youtube.com/shorts/abc", (SOCIAL,)),
    (
        "https://www.tiktok.com/@someone/video/7300000000000000000",
        "https://www.tiktok.com/@someone/video/7300000000000000000",
        (SOCIAL,),
    ),
    ("https://www.instagram.com/reel/abc/", "https://www.instagram.com/reel/abc/", (SOCIAL,)),
    ("https://fb.watch/abc/", "https://fb.watch/abc/", (SOCIAL,)),
    ("https://x.com/someone/status/1", "https://x.com/someone/status/1", (SOCIAL,)),
    ("https://twitter.com/someone/status/1", "https://twitter.com/someone/status/1", (SOCIAL,)),
    ("https://vimeo.com/123456", "https://vimeo.com/123456", (SOCIAL,)),
    ("https://www.reddit.com/r/videos/comments/abc/", "https://www.reddit.com/r/videos/comments/abc/", (SOCIAL,)),
    ("https://www.twitch.tv/videos/1", "https://www.twitch.tv/videos/1", (SOCIAL,)),
    ("https://www.dailymotion.com/video/x8abc", "https://www.dailymotion.com/video/x8abc", (SOCIAL,)),
    ("https://drive.google.com/file/d/abc/view", "https://drive.google.com/file/d/abc/view", (SHARE,)),
    ("https://www.dropbox.com/s/abc/clip.mp4?dl=0", "https://www.dropbox.com/s/abc/clip.mp4?dl=0", (SHARE,)),
    ("http://localhost:8000/clip.mp4", "http://localhost:8000/clip.mp4", (HTTP, LOCAL)),
    ("https://127.0.0.1/clip.mp4", "https://127.0.0.1/clip.mp4", (LOCAL,)),
    ("https://[::1]:8443/clip.mp4", "https://[::1]:8443/clip.mp4", (LOCAL,)),
    ("https://[::ffff:127.0.0.1]/clip.mp4", "https://[::ffff:7f00:1]/clip.mp4", (LOCAL,)),
    ("https://10.1.2.3/clip.mp4", "https://10.1.2.3/clip.mp4", (LOCAL,)),
    ("https://192.168.1.10/clip.mp4", "https://192.168.1.10/clip.mp4", (LOCAL,)),
    ("http://169.254.169.254/latest/meta-data/", "http://169.254.169.254/latest/meta-data/", (HTTP, LOCAL)),
    ("https://2130706433/clip.mp4", "https://2130706433/clip.mp4", (LOCAL,)),
    ("https://127.1/clip.mp4", "https://127.1/clip.mp4", (LOCAL,)),
    ("https://nas/clip.mp4", "https://nas/clip.mp4", (LOCAL,)),
    ("https://media.internal/clip.mp4", "https://media.internal/clip.mp4", (LOCAL,)),
    ("https://camera.local/clip.mp4", "https://camera.local/clip.mp4", (LOCAL,)),
]


@pytest.mark.parametrize(("url", "normalised", "warnings"), ACCEPTED, ids=[case[0].strip()[:60] for case in ACCEPTED])
def test_accepted_url_is_normalised_with_its_warnings(url: str, normalised: str, warnings: tuple[str, ...]) -> None:
    checked = check_video_url(url)
    assert checked.url == normalised
    assert len(checked.warnings) == len(warnings)
    for fragment, warning in zip(warnings, checked.warnings, strict=True):
        assert fragment in warning


@pytest.mark.parametrize("url", ["https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://vimeo.com/123456"])
def test_social_page_is_called_a_page(url: str) -> None:
    (warning,) = check_video_url(url).warnings
    assert SOCIAL in warning and PAGE in warning


def test_direct_file_on_a_social_cdn_is_warned_about_re_encoding_but_not_called_a_page() -> None:
    (warning,) = check_video_url("https://v.redd.it/abc/DASH_720.mp4").warnings
    assert SOCIAL in warning and PAGE not in warning


# (given, fragment expected in the error's describe())
REFUSED: list[tuple[str, str]] = [
    ("", "no URL was given"),
    ("   \n", "no URL was given"),
    ("https://example.com/" + "a" * MAX_URL_CHARS, f"the limit is {MAX_URL_CHARS}"),
    ("file:///etc/passwd", "file: URLs are not supported; a file: URL names a file on this computer"),
    ("FILE:///C:/clip.mp4", "Use classify_video_file"),
    ("ftp://example.com/clip.mp4", "ftp: URLs are not supported; identifAI downloads videos over http and https only"),
    ("sftp://example.com/clip.mp4", "sftp: URLs are not supported"),
    ("gopher://example.com/1", "gopher: URLs are not supported"),
    ("data:video/mp4;base64,AAAAGGZ0eXBpc29t", "data: URLs are not supported"),
    ("javascript:alert(document.cookie)", "javascript: URLs are not supported"),
    ("blob:https://example.com/0b3c", "blob: URLs are not supported"),
    ("example.com/clip.mp4", "the URL has no scheme"),
    ("example.com:8080/clip.mp4", "the URL has no scheme"),
    ("//example.com/clip.mp4", "the URL has no scheme"),
    ("/home/me/clip.mp4", "looks like a local file path"),
    ("~/Videos/clip.mp4", "looks like a local file path"),
    ("./clip.mp4", "looks like a local file path"),
    ("C:\\My Videos\\clip.mp4", "looks like a local file path"),
    ("\\\\server\\share\\clip.mp4", "looks like a local file path"),
    ("https:///clip.mp4", "has no host name"),
    ("https://user:pass@example.com/clip.mp4", "contains a user name or password"),
    ("https://token@example.com/clip.mp4", "would be sent to identifAI and stored"),
    ("https://exa mple.com/clip.mp4", "character 12"),
    ("https://example.com/my clip.mp4", "percent-encode a space as %20"),
    ("https://example.com/clip\u200b.mp4", "invisible or control character"),
    ("https://example.com/\u202eclip.mp4", "invisible or control character"),
    ("https://example.com/clip.mp4\x00", "invisible or control character"),
    ("https://example.com/clip.mp4\x7f", "invisible or control character"),
    ("https://example.com:99999/clip.mp4", "the URL is not valid"),
    ("https://example.com:port/clip.mp4", "the URL is not valid"),
    ("https://[::1/clip.mp4", "the URL is not valid"),
    ("https://-bad-.example.com/clip.mp4", "not a valid domain name"),
    ("https://ex%41mple.com/clip.mp4", "not a valid domain name"),
    ("https://a..b.example/clip.mp4", "not a valid domain name"),
    ("https://" + "a" * 64 + ".example/clip.mp4", "not a valid domain name"),
    ("https://ex_ample.com\\@evil.example/clip.mp4", "contains a user name or password"),
]


@pytest.mark.parametrize(("url", "fragment"), REFUSED, ids=[case[0][:60] or "empty" for case in REFUSED])
def test_refused_url_says_why(url: str, fragment: str) -> None:
    with pytest.raises(UrlRefused) as caught:
        check_video_url(url)
    message = caught.value.describe()
    assert message.startswith("Refused: ")
    assert fragment in message
    if len(url.strip()) > 8:  # the URL may hold credentials or a signed token: it is never repeated
        assert url.strip() not in message


def test_credentials_are_never_repeated_in_the_error() -> None:
    with pytest.raises(UrlRefused) as caught:
        check_video_url("https://alice:hunter2-secret@example.com/clip.mp4")
    message = caught.value.describe()
    assert "hunter2" not in message and "alice" not in message


@given(st.text(max_size=120))
def test_any_text_is_either_refused_or_an_http_url_that_checks_the_same_again(text: str) -> None:
    try:
        checked = check_video_url(text)
    except UrlRefused:
        return
    assert checked.url.startswith(("http://", "https://"))
    assert checked.url.isascii() and not any(c.isspace() for c in checked.url)
    assert check_video_url(checked.url) == checked


LABELS = st.text("abcxyz019-é", min_size=1, max_size=12)


@given(
    st.sampled_from(["https://", "http://"]),
    st.lists(LABELS, min_size=1, max_size=4).map(".".join),
    st.text(max_size=40),
)
def test_normalising_is_idempotent(scheme: str, host: str, path: str) -> None:
    try:
        checked = check_video_url(f"{scheme}{host}/{path}")
    except UrlRefused:
        return
    assert check_video_url(checked.url).url == checked.url

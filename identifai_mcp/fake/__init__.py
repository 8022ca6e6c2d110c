"""A faithful fake of the identifAI video API, for tests, benchmarks and trying things by hand.

It serves the documented routes with the documented statuses and bodies (and, where the docs are
silent, one plausible behaviour you can switch), over real HTTP on loopback:

    POST /api/classification_video                    multipart `video` (+ options)
    POST /api/video_fromurl                           multipart `file_url` (+ options)
    GET  /api/classification_video/{identifier}
    GET  /api/classifications_video?identifiers[]=…   at most 100; unknown ones are left out
    POST /api/classification_video/{hash}/override    JSON {"classification": "human"|"artificial"}
    GET  /api/user/credits

Use it from tests (a thread running uvicorn on 127.0.0.1, a free port):

    from identifai_mcp.fake import run_fake
    from identifai_mcp.settings import RateLimits, Settings

    with run_fake(api_key="k", polls_until_done=0, rate_limits=None) as fake:
        settings = Settings(api_key="k", base_url=fake.base_url, poll_interval=0.01,
                            rate_limits=RateLimits(get_per_second=1000, get_per_minute=60000,
                                                   post_per_second=1000, post_per_minute=60000))
        ...                             # then inspect: fake.requests, fake.calls("POST"), fake.jobs
        fake.reset(api_key="k", polls_until_done=3)  # reuse one server: defaults + these, nothing kept

or by hand: `python -m identifai_mcp.fake --port 8765 --api-key test-key` (logs go to stderr).

Knobs (keyword arguments of run_fake(), FakeIdentifai(), reset() and configure(); reset() starts
from the defaults below, configure() changes only the knobs it names and keeps jobs and history):

    api_key             "test-key"  the accepted X-Api-Key (a tuple accepts several, each with its
                                    own credits and rate limits); any other key gets 401 Unauthorized
    forbidden_key       "forbidden-key"  this key gets 403 Forbidden (None: no such key)
    credits             1000        starting credits of every key; a submission costs 1/2/6 credits
                                    for frames 5/10/30, +1 with with_audio; cached repeats are free
    polls_until_done    1           GETs (single or batch) of a job that answer status "new" before
                                    it is done; 0 = done at the first GET
    seconds_until_done  None        or done this many seconds after submission, whichever is first
    hidden_polls        0           the first N GETs of a new job treat it as unknown (below)
    unknown             "404"       an identifier the fake does not know: "404" -> 404 {"error": …};
                                    "pending" -> 200 with status "new". Batches always omit them.
    shape               "current"   "middle": no status/api_version, audio `chunk_details`;
                                    "old": identifier = file hash, results.images as lists of
                                    model results, no status, no verdicts
    heuristic           "AverageExcludeObsolete"  the account's default heuristic (`verdict`)
    rate_limits         GET 2/s & 60/min, POST 1/s & 30/min, per key, as
                        {"GET": [(2, 1.0), (60, 60.0)], "POST": [(1, 1.0), (30, 60.0)]}; None = off.
                        Over the limit: 429 {"message": "Too Many Attempts."}; counted in
                        `fake.throttled`; `fake.peak("GET", 1.0)` is the most seen in any second
    retry_after_header  True        send Retry-After (whole seconds) with a throttling 429
    max_video_bytes     5 GiB       larger uploads get the documented 400

Outcomes are deterministic per file hash and options. To force one, put "artificial" or "human"
in the file name, its first 64 KiB or the URL ("errored"/"corrupt" -> an errored job, "c2pa" ->
C2PA data that forces artificial unless prevent_c2pa_forces, "nsfw" -> is_nsfw; a URL containing
"unreachable" errors), or call `fake.set_outcome(hash_or_url, "artificial", errored=None,
c2pa=False, nsfw=None)` before submitting. `video_bytes("artificial")` makes a small valid file.
Uploads that are not video/* or start like an image, PDF, ZIP, HTML or JSON file, or are empty,
get 400 {"error": "The uploaded file format is not supported."}.

Submit answers {"identifier": …} only when Accept prefers application/json, else the bare
identifier as text/plain: the documented trap.

Faults: `fake.inject(fault, times=1, path_prefix=None, method=None, retry_after=None, delay=1.0,
after=False)` makes the next `times` matching requests fail. Faults: "500", "502", "503" (JSON
message), "html-502" (an nginx page), "html-200" (an HTML page with status 200), "429" (with
Retry-After when retry_after is given), "reset" (drop the connection without answering),
"cut" (headers and half the body, then drop), "truncated" (half the JSON body, status and length
consistent), "slow" (answer after `delay` seconds). The request body is always read first. A
fault strikes before the request is processed unless after=True ("slow", "truncated" and "cut"
always come after), so after=True models a lost answer to a submission that was charged.

Inspection: `fake.requests` (FakeRequest: method, path, query, headers, at, status, form, file
(name, filename, content_type, size, sha256, head), json, fault, identifier, counted),
`fake.calls(method, path_prefix)`, `fake.jobs`, `fake.account(key)` -> (available, spent),
`fake.set_credits(n)`, `fake.finish(identifier=None)` (done from the next poll), `fake.throttled`.
"""

from identifai_mcp.fake.runner import run_fake
from identifai_mcp.fake.server import FakeIdentifai
from identifai_mcp.fake.state import FAULTS, FakeConfig, FakeRequest, Job, url_hash

__all__ = ["FAULTS", "FakeConfig", "FakeIdentifai", "FakeRequest", "Job", "run_fake", "url_hash", "video_bytes"]


def video_bytes(marker: str = "", size: int = 4096) -> bytes:
    """A small file that passes as MP4 (an ftyp box), with `marker` in its first bytes."""
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + marker.encode()
    return head + b"\x00" * max(0, size - len(head))

"""Property tests: reports built from random schema-shaped results count what the raw JSON holds.

Every expected figure is recomputed here from the raw dict, without the wire models or the
report code, so a shared misreading cannot make both sides agree.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from identifai_mcp.models import VideoClassification
from identifai_mcp.report import MAX_SUMMARY_CHARS, Report, batch_report, build_report

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MODEL_NAMES = ["V01", "V011", "brokenwand2", "Revelio III", "Revelio IV", "Ardē", "morphing", "", None]
FRAME_LABELS = ["human", "artificial", "Human", "ARTIFICIAL", "unknown", "", None]
SCORE_LABELS = ["artificial", "human", "morphed", None]

# A few repeated values make ties between labels (which flag nothing) common enough to test.
scores = st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.floats(min_value=0, max_value=1))


OMIT = object()  # a sentinel: leave the key out of the dict


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value, an explicit null, or the key left out."""
    return st.one_of(strategy, st.none(), st.just(OMIT))


def drop_omitted(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not OMIT}


model_results = st.builds(
    lambda model, unknown, labels: drop_omitted({"model": model, "unknown": unknown, "classification": labels}),
    model=st.one_of(st.sampled_from(MODEL_NAMES), st.just(OMIT)),
    unknown=st.sampled_from([True, False, None, OMIT, False, False]),
    labels=maybe(st.lists(st.fixed_dictionaries({"label": st.sampled_from(SCORE_LABELS), "score": scores}), max_size=3)),
)

verdicts = st.builds(
    lambda cls, conf, heur, unknown: drop_omitted(
        {"classification": cls, "confidence": conf, "heuristic": heur, "unknown": unknown}
    ),
    cls=st.sampled_from(FRAME_LABELS),
    conf=scores,
    heur=st.sampled_from(["Majority", "Average", "AverageExcludeObsolete", "TopRelevant", None]),
    unknown=st.sampled_from([True, False, None, OMIT, False]),
)

new_frames = st.builds(
    lambda verdict, results, nsfw: drop_omitted({"verdict": verdict, "results": results, "is_nsfw": nsfw}),
    verdict=maybe(verdicts),
    results=maybe(st.lists(model_results, max_size=5)),
    nsfw=st.sampled_from([True, False, None, OMIT, OMIT]),
)
old_frames = st.lists(model_results, max_size=4)  # pre-1.1: a frame is its list of model results
frames = st.one_of(new_frames, old_frames)

clips = st.builds(
    lambda i, verdict: drop_omitted({"index": i, "start": i * 10, "end": i * 10 + 10, "verdict": verdict}),
    st.integers(0, 20),
    maybe(verdicts),
)
audios = st.builds(
    lambda verdict, clip_list, key: drop_omitted(
        {"verdict": verdict, key: {"clips": clip_list} if key == "details" else clip_list}
    ),
    maybe(verdicts),
    st.lists(clips, max_size=4),
    st.sampled_from(["details", "chunk_details"]),
)


def _results(images: list[Any], audio_list: list[Any], shape: str) -> Any:
    if shape == "bare":
        return images  # a bare list where {images: [...]} is expected
    if shape == "null":
        return None
    return {"images": images, "audios": audio_list}


videos = st.builds(
    lambda status, verdict, heuristics, images, audio_list, shape, forced, nsfw, ident, errors: drop_omitted({
        "status": status, "verdict": verdict, "verdicts": heuristics, "force_classification": forced,
        "is_nsfw": nsfw, "identifier": ident, "hash": "ab" * 32, "name": "clip.mp4", "errors": errors,
        "results": _results(images, audio_list, shape),
    }),
    status=st.sampled_from(["done", "done", "new", "errored", "processing", None, OMIT]),
    verdict=maybe(verdicts),
    heuristics=maybe(st.lists(verdicts, max_size=7)),
    images=st.lists(frames, max_size=12),
    audio_list=st.lists(audios, max_size=2),
    shape=st.sampled_from(["object", "object", "object", "bare", "null"]),
    forced=st.sampled_from(["human", "artificial", None, OMIT, OMIT]),
    nsfw=st.sampled_from([True, False, None, OMIT]),
    ident=st.sampled_from(["f617faae", None, OMIT]),
    errors=st.sampled_from([None, OMIT, "Decoding failed.", ["a", "b"], {"video": ["bad"]}]),
)


# --- independent recomputation from the raw dict -------------------------------------------------


def raw_images(video: dict[str, Any]) -> list[Any]:
    results = video.get("results")
    if isinstance(results, list):
        return results
    return (results or {}).get("images") or []


def raw_label(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value.lower() in ("human", "artificial") else None


def raw_frame_label(frame: Any) -> str | None:
    if isinstance(frame, list):
        return None
    return raw_label((frame.get("verdict") or {}).get("classification"))


def raw_model_answers(frame: Any) -> dict[str, tuple[float | None, bool, bool]]:
    """name -> (artificial score, flagged, unknown); a model listed twice counts once."""
    entries = frame if isinstance(frame, list) else (frame.get("results") or [])
    answers: dict[str, tuple[float | None, bool, bool]] = {}
    for entry in entries:
        name = entry.get("model") or "(unnamed)"
        if name in answers:
            continue
        if entry.get("unknown"):
            answers[name] = (None, False, True)
            continue
        labels = entry.get("classification") or []
        art = next((c["score"] for c in labels if c["label"] == "artificial" and c["score"] is not None), None)
        others = [c["score"] for c in labels if c["label"] != "artificial" and c["score"] is not None]
        flagged = art is not None and all(art > o for o in others)
        answers[name] = (art, flagged, False)
    return answers


# --- properties ----------------------------------------------------------------------------------


@FAST
@given(videos)
def test_frame_counts_match_the_raw_frames(video: dict[str, Any]) -> None:
    report = build_report(VideoClassification.model_validate(video))
    labels = [raw_frame_label(f) for f in raw_images(video)]
    assert report.frames.analysed == len(labels)
    assert report.frames.artificial == labels.count("artificial")
    assert report.frames.human == labels.count("human")
    assert report.frames.undecided == sum(1 for lab in labels if lab is None)
    if labels:
        assert report.frames.artificial_share == labels.count("artificial") / len(labels)


TIE = {"status": "done", "results": {"images": [{"results": [
    {"model": "V01", "classification": [{"label": "artificial", "score": 0.5}, {"label": "human", "score": 0.5}]},
    {"model": "V011", "unknown": True, "classification": [{"label": "artificial", "score": 0.9}]},
]}]}}


@FAST
@given(videos)
@example(TIE)
def test_model_stats_match_the_raw_scores(video: dict[str, Any]) -> None:
    report = build_report(VideoClassification.model_validate(video))
    per_frame = [raw_model_answers(f) for f in raw_images(video)]
    names = list(dict.fromkeys(n for answers in per_frame for n in answers))
    assert [m.name for m in report.models] == names
    for stats in report.models:
        answers = [a[stats.name] for a in per_frame if stats.name in a]
        values = [s for s, _, _ in answers if s is not None]
        assert stats.frames_scored == len(values)
        assert stats.frames_flagged == sum(1 for s, flagged, _ in answers if s is not None and flagged)
        assert stats.frames_unknown == sum(1 for _, _, unknown in answers if unknown)
        assert stats.max_artificial_score == (max(values) if values else None)
        if values:
            assert math.isclose(stats.mean_artificial_score or 0.0, sum(values) / len(values), abs_tol=1e-6)
        else:
            assert stats.mean_artificial_score is None
    for strong in report.strongest_frames:
        values = [s for s, _, _ in per_frame[strong.index].values() if s is not None]
        assert strong.score == max(values)
    assert [f.score for f in report.strongest_frames] == sorted((f.score for f in report.strongest_frames), reverse=True)


@FAST
@given(videos)
def test_heuristic_agreement_matches_the_raw_verdicts(video: dict[str, Any]) -> None:
    report = build_report(VideoClassification.model_validate(video))
    heuristics = video.get("verdicts") or []
    labels = [None if v.get("unknown") else raw_label(v.get("classification")) for v in heuristics]
    assert report.agreement.heuristics_artificial == labels.count("artificial")
    assert report.agreement.heuristics_human == labels.count("human")
    labelled = {lab for lab in labels if lab}
    assert report.agreement.heuristics_agree == (len(labelled) == 1 if labelled else None)


@FAST
@given(videos)
def test_summary_never_contradicts_the_verdict(video: dict[str, Any]) -> None:
    report = build_report(VideoClassification.model_validate(video))
    assert len(report.summary) <= MAX_SUMMARY_CHARS
    label = report.verdict.classification
    if report.status == "done" and label:
        assert report.summary.startswith(f"identifAI rates this video {label}")
    for other in {"human", "artificial"} - {label}:
        assert f"rates this video {other}" not in report.summary
    if report.status == "pending":
        assert report.summary.startswith("identifAI has not finished analysing this video yet.")
        assert ("call get_result with" in report.summary) == (report.next_step is not None)
    if report.status == "errored":
        assert report.summary.startswith("identifAI could not analyse this video:")
        assert "rates this video" not in report.summary


# --- robustness: anything VideoClassification parses ---------------------------------------------

wild_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.none(), st.booleans()
)
wild_text = st.one_of(st.text(max_size=400), st.none())
wild_leaf = st.one_of(wild_numbers, wild_text, st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))

wild_model = st.fixed_dictionaries(
    {}, optional={
        "model": wild_text, "unknown": st.one_of(st.booleans(), st.none()),
        "classification": st.one_of(st.none(), st.lists(st.fixed_dictionaries(
            {}, optional={"label": wild_text, "score": wild_numbers}), max_size=3)),
        "extra_field": wild_leaf,
    },
)
wild_verdict = st.fixed_dictionaries(
    {}, optional={"classification": wild_text, "confidence": wild_numbers, "heuristic": wild_text,
                  "count": st.one_of(st.none(), st.integers(-5, 5)), "unknown": st.one_of(st.booleans(), st.none()),
                  "models": st.one_of(st.none(), st.lists(st.text(max_size=8), max_size=3))},
)
wild_c2pa = st.fixed_dictionaries(
    {}, optional={
        "manifests": st.one_of(st.none(), st.dictionaries(st.text(max_size=6), wild_leaf, max_size=2),
                               st.just({"m": {"claim_generator": 3, "assertions": [{"label": "c2pa.actions", "data": []}]}})),
        "active_manifest": wild_text, "validation_state": wild_text,
        "validation_status": st.one_of(st.none(), st.lists(st.dictionaries(st.text(max_size=5), wild_leaf, max_size=2), max_size=2)),
        "validation_results": st.one_of(st.none(), st.just({"activeManifest": {"failure": [{"code": 5}, "x", {"code": "a"}]}})),
    },
)
wild_frame = st.one_of(
    st.lists(wild_model, max_size=3),
    st.fixed_dictionaries({}, optional={
        "verdict": st.one_of(st.none(), wild_verdict), "results": st.one_of(st.none(), st.lists(wild_model, max_size=4)),
        "is_nsfw": st.one_of(st.booleans(), st.none()), "c2pa": st.one_of(st.none(), wild_c2pa),
    }),
)
wild_clip = st.fixed_dictionaries({}, optional={
    "index": st.one_of(st.none(), st.integers(-3, 3)), "start": wild_numbers, "end": wild_numbers,
    "verdict": st.one_of(st.none(), wild_verdict),
})
wild_audio = st.fixed_dictionaries({}, optional={
    "verdict": st.one_of(st.none(), wild_verdict), "errors": wild_leaf,
    "details": st.one_of(st.none(), st.fixed_dictionaries({"clips": st.one_of(st.none(), st.lists(wild_clip, max_size=3))})),
    "chunk_details": st.one_of(st.none(), st.lists(wild_clip, max_size=3)),
})
wild_videos = st.fixed_dictionaries({}, optional={
    "status": st.one_of(wild_text, st.sampled_from(["new", "done", "errored"])),
    "errors": wild_leaf, "identifier": wild_text, "hash": wild_text, "name": wild_text, "ref_id": wild_text,
    "verdict": st.one_of(st.none(), wild_verdict), "verdicts": st.one_of(st.none(), st.lists(wild_verdict, max_size=8)),
    "force_classification": wild_text, "is_nsfw": st.one_of(st.booleans(), st.none()),
    "c2pa": st.one_of(st.none(), wild_c2pa),
    "results": st.one_of(st.none(), st.lists(wild_frame, max_size=6), st.fixed_dictionaries({}, optional={
        "images": st.one_of(st.none(), st.lists(wild_frame, max_size=8)),
        "audios": st.one_of(st.none(), st.lists(wild_audio, max_size=2)),
    })),
    "unexpected": wild_leaf,
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(wild_videos, st.sampled_from(["summary", "frames"]), st.floats(allow_nan=True, allow_infinity=True))
def test_build_report_never_raises_on_anything_the_wire_model_parses(video: dict[str, Any], detail: str, wait: float) -> None:
    try:
        parsed = VideoClassification.model_validate(video)
    except ValidationError:
        assume(False)
        return
    report = build_report(parsed, detail=detail, wait_hint=wait)  # type: ignore[arg-type]
    assert len(report.summary) <= MAX_SUMMARY_CHARS
    # The output obeys its own schema: a client validating structuredContent would accept it.
    dumped = json.loads(report.model_dump_json())
    assert Report.model_validate(dumped) == Report.model_validate(dumped)
    batch = batch_report([report, report], ["x"])
    assert len(batch.summary) <= MAX_SUMMARY_CHARS


@FAST
@given(st.lists(videos, max_size=6), st.lists(st.sampled_from(["a", "b", "c"]), max_size=4))
def test_batch_totals_add_up(batch_videos: list[dict[str, Any]], missing: list[str]) -> None:
    reports = [build_report(VideoClassification.model_validate(v)) for v in batch_videos]
    t = batch_report(reports, missing).totals
    assert t.artificial + t.human + t.undetermined + t.pending + t.errored == len(reports)
    assert t.missing == len(set(missing)) and t.total == len(reports) + len(set(missing))

"""Golden tests of identifai_mcp.report over fixtures written from the documented API examples."""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from identifai_mcp.models import ClassifyOptions, VideoClassification
from identifai_mcp.provenance import C2PAIngredient, C2PAReport, ProvenanceReport, ValidationIssue
from identifai_mcp.report import (
    MAX_SUMMARY_CHARS,
    BatchReport,
    Report,
    batch_report,
    build_report,
    explain,
    summary_markdown,
)

DATA = Path(__file__).parent / "data"
# Listed, not globbed: other suites may keep their own JSON in tests/data.
FIXTURES = [
    "current", "middle", "old_hash", "brokenwand", "c2pa_forced", "overridden", "split", "audio_clips",
    "audio_chunks", "nsfw", "pending", "errored", "nulls", "unknown_models",
]
REPORT_PACKAGE = Path(__file__).parents[1] / "identifai_mcp" / "report"


def raw(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def result(name: str) -> VideoClassification:
    return VideoClassification.model_validate(raw(name))


def report(name: str, **kwargs: Any) -> Report:
    return build_report(result(name), **kwargs)


# --- every fixture -------------------------------------------------------------------------------


def test_every_fixture_parses_as_a_video_result() -> None:
    for name in FIXTURES:
        assert isinstance(result(name), VideoClassification)


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("detail", ["summary", "frames"])
def test_every_fixture_gives_a_short_summary_that_round_trips(name: str, detail: str) -> None:
    rep = report(name, detail=detail)
    assert 0 < len(rep.summary) <= MAX_SUMMARY_CHARS
    assert rep.summary == explain(rep)
    assert Report.model_validate_json(rep.model_dump_json()) == rep
    assert (rep.frame_table is not None) == (detail == "frames")


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_states_its_verdict_first(name: str) -> None:
    rep = report(name)
    if rep.status == "done" and rep.verdict.classification:
        assert rep.summary.startswith(f"identifAI rates this video {rep.verdict.classification}")
    for other in {"human", "artificial"} - {rep.verdict.classification}:
        assert f"rates this video {other}" not in rep.summary


# --- current shape -------------------------------------------------------------------------------


def test_current_shape_report() -> None:
    rep = report("current")
    assert rep.identifier == "f617faae1a78b248cb1e336b7f58fd26c70d6a2c6ba7500b98fde581117e8a3b"
    assert rep.hash == "1122bc922b7381529013a2198b9143c0b6a52669fd511cfb030418209f1751a6"
    assert (rep.name, rep.ref_id, rep.status, rep.errors, rep.source) == ("sample-video.mp4", "case-2291", "done", None, "api")
    assert rep.verdict.model_dump() == {
        "classification": "artificial", "confidence": 0.6, "heuristic": "AverageExcludeObsolete", "count": 3, "unknown": False,
    }
    assert [v.heuristic for v in rep.verdicts] == [
        "Majority", "Average", "AverageExcludeObsolete", "AverageExclude10", "AverageExclude20", "AverageExclude30", "TopRelevant",
    ]
    assert rep.frames.model_dump() == {"analysed": 10, "artificial": 7, "human": 3, "undecided": 0, "artificial_share": 0.7}
    stats = {m.name: (m.frames_scored, m.frames_flagged, m.frames_unknown, m.max_artificial_score) for m in rep.models}
    assert stats == {
        "V01": (10, 7, 0, 0.98), "V011": (10, 7, 0, 0.97), "brokenwand2": (10, 9, 0, 0.99),
        "Revelio III": (10, 6, 0, 0.87), "Revelio IV": (10, 3, 0, 0.79),
    }
    assert rep.models[2].mean_artificial_score == pytest.approx(0.844)
    assert [(f.index, f.score) for f in rep.strongest_frames] == [(4, 0.99), (0, 0.97), (9, 0.96)]
    assert rep.strongest_frames[1].models == ["V01", "V011", "brokenwand2", "Revelio III"]
    assert rep.agreement.model_dump() == {
        "heuristics_artificial": 7, "heuristics_human": 0, "heuristics_unlabelled": 0, "heuristics_agree": True,
        "verdict_matches_heuristics": True, "models_agree": False, "frames_models_split": 6,
    }
    assert rep.c2pa.present is False and rep.c2pa.forced_verdict is False
    assert (rep.nsfw, rep.audio, rep.forced_classification, rep.provenance, rep.next_step) == (None, None, None, None, None)
    assert rep.summary == (
        "identifAI rates this video artificial (60% confidence, AverageExcludeObsolete heuristic). "
        "All 7 heuristics agree (artificial). "
        "7 of 10 analysed frames were judged artificial, 3 human. "
        "The models disagree on 6 of 10 frames (derived from each model's top label); frames each model flagged "
        "artificial, of those it scored: V01 7/10, V011 7/10, brokenwand2 9/10, Revelio III 6/10, Revelio IV 3/10. "
        "Highest artificial score: 0.99 on frame index 4, flagged by V01, V011, brokenwand2 and 2 more. "
        "identifAI reported no C2PA Content Credentials."
    )


def test_frames_detail_adds_a_compact_frame_table() -> None:
    table = report("current", detail="frames").frame_table
    assert table is not None and [row.index for row in table] == list(range(10))
    assert table[4].model_dump() == {
        "index": 4, "classification": "artificial", "confidence": 0.93,
        "scores": {"V01": 0.98, "V011": 0.97, "brokenwand2": 0.99, "Revelio III": 0.87, "Revelio IV": 0.79},
    }
    assert report("current").frame_table is None


def test_summary_markdown_has_the_summary_and_both_tables() -> None:
    rep = report("current")
    text = summary_markdown(rep)
    assert text.startswith("# sample-video.mp4\n")
    assert rep.summary in text
    assert "| AverageExcludeObsolete (main) | artificial | 60% |" in text
    assert "| TopRelevant | artificial | 99% |" in text
    assert "| brokenwand2 | 10 | 9 | 0 | 0.99 | 0.84 |" in text
    assert f"[identifAI dashboard]({rep.result_url})" in text


def test_summary_markdown_escapes_table_cells() -> None:
    data = raw("current")
    data["results"]["images"][0]["results"][0]["model"] = "odd|model\nname"
    text = summary_markdown(build_report(VideoClassification.model_validate(data)))
    assert "| odd\\|model name | 1 |" in text


# --- older shapes --------------------------------------------------------------------------------


def test_middle_shape_without_status_is_done() -> None:
    rep = report("middle")
    assert rep.status == "done" and rep.api_version is None and rep.result_url is None
    assert (rep.verdict.classification, rep.verdict.confidence, rep.verdict.heuristic) == ("human", 0.8264, "Average")
    assert rep.frames.model_dump() == {"analysed": 5, "artificial": 1, "human": 4, "undecided": 0, "artificial_share": 0.2}
    assert rep.summary.startswith(
        "identifAI rates this video human (83% confidence, Average heuristic). All 7 heuristics agree (human). "
        "4 of 5 analysed frames were judged human, 1 artificial. "
    )


def test_old_hash_shape_has_model_scores_but_no_verdicts() -> None:
    rep = report("old_hash")
    assert rep.status == "done"
    # Pre-identifier results were addressed by hash, so the hash stands in for the identifier.
    assert rep.identifier == rep.hash == "ee9ac46c6eb0e7bcce54c4167a168cefe6f92feb4fb282687fbbbcf9dd37ba58"
    assert rep.verdict.classification is None and rep.verdicts == []
    assert rep.frames.model_dump() == {"analysed": 5, "artificial": 0, "human": 0, "undecided": 5, "artificial_share": 0.0}
    stats = {m.name: (m.frames_scored, m.frames_flagged, m.max_artificial_score) for m in rep.models}
    assert stats == {"V011": (5, 4, 0.9971989393234252), "V01": (5, 4, 0.9912), "brokenwand2": (5, 5, 0.9911)}
    assert rep.summary == (
        "identifAI returned no verdict for the video as a whole. None of the 5 analysed frames carries a verdict of its own. "
        "The models disagree on 1 of 5 frames (derived from each model's top label); frames each model flagged artificial, "
        "of those it scored: V011 4/5, V01 4/5, brokenwand2 5/5. "
        "Highest artificial score: 0.997 on frame index 0, flagged by V011, V01, brokenwand2. "
        "identifAI reported no C2PA Content Credentials."
    )


# --- disagreement --------------------------------------------------------------------------------


def test_one_model_disagrees_while_every_heuristic_says_human() -> None:
    rep = report("brokenwand")
    assert rep.verdict.classification == "human" and rep.verdict.confidence == 0.979
    assert rep.agreement.heuristics_agree is True and rep.agreement.verdict_matches_heuristics is True
    assert rep.agreement.models_agree is False and rep.agreement.frames_models_split == 5
    flagged = {m.name: m.frames_flagged for m in rep.models}
    assert flagged == {"V011": 0, "V01": 0, "brokenwand2": 5}
    assert "All 6 heuristics agree (human)." in rep.summary
    assert "5 of 5 analysed frames were judged human." in rep.summary
    assert "The models disagree on 5 of 5 frames" in rep.summary
    assert "V011 0/5, V01 0/5, brokenwand2 5/5." in rep.summary
    assert "Highest artificial score: 0.95 on frame index 2, flagged by brokenwand2." in rep.summary


def test_split_heuristics_are_inconclusive() -> None:
    rep = report("split")
    assert (rep.agreement.heuristics_artificial, rep.agreement.heuristics_human) == (4, 3)
    assert rep.agreement.heuristics_agree is False and rep.agreement.verdict_matches_heuristics is False
    assert rep.summary.startswith(
        "identifAI rates this video artificial (52% confidence, AverageExcludeObsolete heuristic). "
        "Inconclusive: the heuristics disagree (4 say artificial, 3 say human). "
        "5 of 10 analysed frames were judged artificial, 5 human. "
        "The frames are evenly split between artificial and human. "
    )


def test_heuristics_that_all_contradict_the_main_verdict_are_inconclusive() -> None:
    data = raw("current")
    data["verdict"]["classification"] = "human"
    rep = build_report(VideoClassification.model_validate(data))
    assert rep.agreement.verdict_matches_heuristics is False
    assert "Inconclusive: every labelled heuristic says artificial, unlike the main verdict (human)." in rep.summary
    assert "3 of 10 analysed frames were judged human, 7 artificial." in rep.summary
    assert "Split evidence: more frames were judged artificial (7) than human (3), against the main verdict." in rep.summary


# --- C2PA, override, audio, NSFW -----------------------------------------------------------------


def test_c2pa_signature_may_have_forced_the_verdict() -> None:
    rep = report("c2pa_forced")
    assert rep.c2pa.model_dump() == {
        "present": True, "validation_state": "Valid", "forced_verdict": True, "prevent_c2pa_forces": None,
        "active_manifest": "urn:c2pa:3f1e6a52-8d1b-4c55-a2a4-6f3c1c2b9e10",
        "claim_generator": "Google C2PA Core Generator Library 1.0.0", "title": "veo_clip.mp4", "signer": "Google LLC",
        "ai_declaration": "generated", "validation_failures": [],
    }
    assert "1 of 5 analysed frames was judged artificial, 4 human. " in rep.summary
    assert "Split evidence: more frames were judged human (4) than artificial (1), against the main verdict." in rep.summary
    assert rep.summary.endswith(
        "identifAI found C2PA Content Credentials (validation state Valid) that declare the content AI-generated, "
        "written by Google C2PA Core Generator Library 1.0.0. By default such a signature forces identifAI's verdict "
        "to artificial and prevent_c2pa_forces was not set, so the signature alone may explain this verdict."
    )


def test_prevent_c2pa_forces_means_the_signature_did_not_force() -> None:
    rep = report("c2pa_forced", options=ClassifyOptions(prevent_c2pa_forces=True))
    assert rep.c2pa.forced_verdict is False and rep.c2pa.prevent_c2pa_forces is True
    assert "prevent_c2pa_forces was set, so the signature did not force the verdict." in rep.summary
    assert "may explain this verdict" not in rep.summary


def test_c2pa_validation_failures_are_listed() -> None:
    data = raw("c2pa_forced")
    c2pa = data["results"]["images"][0]["c2pa"]
    c2pa["validation_state"] = "Invalid"
    c2pa["validation_results"]["activeManifest"]["failure"] = [
        {"code": "assertion.dataHash.mismatch", "explanation": "asset hash does not match"}
    ]
    rep = build_report(VideoClassification.model_validate(data))
    assert rep.c2pa.validation_failures == ["assertion.dataHash.mismatch"]
    assert "(validation state Invalid)" in rep.summary
    assert "Validation failures: assertion.dataHash.mismatch." in rep.summary


def test_override_in_force() -> None:
    rep = report("overridden")
    assert rep.forced_classification == "human" and rep.verdict.classification == "artificial"
    assert rep.summary.startswith(
        "identifAI rates this video artificial (57% confidence, AverageExcludeObsolete heuristic). "
        "An override is in force: the classification has been set to human by hand. "
    )


@pytest.mark.parametrize("name", ["audio_clips", "audio_chunks"])
def test_audio_clips_under_either_name(name: str) -> None:
    audio = report(name).audio
    assert audio is not None
    assert (audio.verdict.classification, audio.verdict.confidence) == ("artificial", 0.757081098003281)
    assert [(c.index, c.start, c.end, c.classification) for c in audio.clips] == [
        (0, 0, 10, "artificial"), (1, 10, 20, "artificial"), (2, 20, 27.4, "human"),
    ]
    assert (audio.clips_artificial, audio.clips_human, audio.tracks) == (2, 1, 1)
    assert report(name).summary.endswith(
        "Audio track: artificial (76% confidence, AverageExcludeObsolete heuristic); "
        "2 of 3 clips judged artificial, 1 human."
    )


def test_nsfw_flagged() -> None:
    rep = report("nsfw")
    assert rep.nsfw is True
    assert rep.summary.endswith("identifAI flagged NSFW content.")
    assert "The models agree on every frame they scored" in rep.summary


def test_nsfw_from_frames_alone_and_false_when_analysed_clean() -> None:
    data = raw("nsfw")
    data.pop("is_nsfw")
    assert build_report(VideoClassification.model_validate(data)).nsfw is True
    for frame in data["results"]["images"]:
        frame["is_nsfw"] = False
    rep = build_report(VideoClassification.model_validate(data))
    assert rep.nsfw is False and "identifAI flagged no NSFW content." in rep.summary


# --- pending, errored, empty ---------------------------------------------------------------------


def test_pending_says_exactly_what_to_call_next() -> None:
    rep = report("pending")
    identifier = raw("pending")["identifier"]
    assert rep.status == "pending" and rep.hash is None and rep.ref_id == "batch-7"
    assert rep.next_step is not None
    assert rep.next_step.model_dump() == {"tool": "get_result", "arguments": {"identifier": identifier, "wait_seconds": 30}}
    assert rep.summary == (
        "identifAI has not finished analysing this video yet. "
        f'To check again, call get_result with {{"identifier": "{identifier}", "wait_seconds": 30}}.'
    )
    assert report("pending", wait_hint=12.5).next_step.arguments["wait_seconds"] == 12.5  # type: ignore[union-attr]


def test_pending_without_identifier_falls_back_to_hash_or_says_so() -> None:
    rep = build_report(VideoClassification.model_validate({"status": "new", "hash": "abc"}))
    assert rep.next_step is not None and rep.next_step.arguments["identifier"] == "abc"
    rep = build_report(VideoClassification.model_validate({"status": "new"}))
    assert rep.next_step is None
    assert "No identifier was returned, so the result cannot be fetched again." in rep.summary


def test_errored_gives_the_api_reason() -> None:
    rep = report("errored")
    assert rep.status == "errored" and rep.errors == "The video could not be decoded: unsupported codec."
    assert rep.summary == "identifAI could not analyse this video: The video could not be decoded: unsupported codec."


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ({"video": ["The video field is required."]}, "video: The video field is required."),
        (["first", "second"], "first; second"),
        (None, None),
    ],
)
def test_errored_reasons_of_other_shapes(errors: Any, expected: str | None) -> None:
    rep = build_report(VideoClassification.model_validate({"status": "errored", "errors": errors}))
    assert rep.errors == expected
    reason = (expected or "no reason given").rstrip(".")
    assert rep.summary == f"identifAI could not analyse this video: {reason}."


def test_done_result_only_carries_errors_when_errored() -> None:
    data = raw("current") | {"errors": "stale warning"}
    assert build_report(VideoClassification.model_validate(data)).errors is None


def test_nulls_everywhere() -> None:
    rep = report("nulls")
    assert rep.status == "done"
    assert rep.verdict.model_dump() == {"classification": None, "confidence": None, "heuristic": None, "count": None, "unknown": None}
    assert rep.frames.model_dump() == {"analysed": 3, "artificial": 0, "human": 0, "undecided": 3, "artificial_share": 0.0}
    assert [(m.name, m.frames_scored) for m in rep.models] == [("(unnamed)", 0), ("V011", 0)]
    assert rep.strongest_frames == [] and rep.audio is None and rep.nsfw is None
    assert rep.summary == (
        "identifAI returned no verdict for the video as a whole. None of the 3 analysed frames carries a verdict of its own. "
        "identifAI reported no C2PA Content Credentials."
    )


def test_done_with_nothing_at_all() -> None:
    rep = build_report(VideoClassification.model_validate({"status": "done"}))
    assert rep.summary.startswith("identifAI returned no verdict and no per-frame results for this video.")
    assert rep.frames.artificial_share is None


def test_unknown_models_and_unlabelled_heuristics_are_named_as_not_judged() -> None:
    rep = report("unknown_models")
    stats = {m.name: (m.frames_scored, m.frames_flagged, m.frames_unknown) for m in rep.models}
    assert stats == {
        "Revelio Onboarding I": (4, 1, 0), "Revelio Onboarding II": (3, 0, 1), "morphing": (1, 1, 3), "Ardē": (4, 0, 0),
    }
    assert rep.agreement.heuristics_unlabelled == 1
    assert rep.frames.undecided == 1
    assert "Both labelled heuristics agree (human); 1 more gave no label." in rep.summary
    assert "3 of 4 analysed frames were judged human; 1 had no verdict." in rep.summary
    assert rep.summary.endswith(
        "Not judged: models that answered unknown: Revelio Onboarding II (1 frame), morphing (3 frames)."
    )


def test_out_of_range_and_odd_labels_are_treated_as_missing() -> None:
    data = raw("current")
    data["verdict"] |= {"confidence": 60, "classification": "Artificial"}
    data["results"]["images"][0]["results"][0]["classification"][1]["score"] = float("nan")
    data["force_classification"] = "maybe"
    rep = build_report(VideoClassification.model_validate(data))
    assert (rep.verdict.classification, rep.verdict.confidence) == ("artificial", None)
    assert rep.models[0].frames_scored == 9
    assert rep.forced_classification is None
    assert rep.summary.startswith("identifAI rates this video artificial (AverageExcludeObsolete heuristic).")


def test_small_confidences_are_not_rounded_to_zero() -> None:
    data = raw("brokenwand") | {"verdict": {"heuristic": "Average", "confidence": 0.004, "classification": "human"}}
    rep = build_report(VideoClassification.model_validate(data))
    assert rep.summary.startswith("identifAI rates this video human (0.4% confidence, Average heuristic).")


# --- provenance and source -----------------------------------------------------------------------


def _provenance(**c2pa: Any) -> ProvenanceReport:
    return ProvenanceReport(path="/videos/clip.mp4", name="clip.mp4", c2pa=C2PAReport(**c2pa))


@pytest.mark.parametrize(
    ("c2pa", "sentence"),
    [
        ({}, "Local inspection found no Content Credentials in the file, which proves nothing either way: "
             "re-encoding and uploads strip them."),
        ({"present": True, "ai_declaration": "generated"},
         "Local inspection found Content Credentials in the file that declare the content AI-generated."),
        ({"present": True, "ai_declaration": "composite", "trust": "untrusted"},
         "Local inspection found Content Credentials in the file that declare AI-generated content in a composite; "
         "the signer is not on the trust list."),
        ({"present": True, "validation_failures": [ValidationIssue(code="assertion.bmffHash.mismatch")]},
         "Local inspection found Content Credentials in the file that declare no AI generation, "
         "but they failed validation (assertion.bmffHash.mismatch)."),
        ({"present": True, "ingredients": [C2PAIngredient(title="veo.mp4", ai_declaration="generated")]},
         "Local inspection found Content Credentials in the file that declare no AI generation for the file itself, "
         "though an ingredient's credentials do."),
        ({"present": True, "readable": False, "error": "fragmented MP4 is not supported"},
         "Local inspection could not read the file's Content Credentials (fragmented MP4 is not supported)."),
    ],
)
def test_local_provenance_is_summarised(c2pa: dict[str, Any], sentence: str) -> None:
    prov = _provenance(**c2pa)
    rep = report("current", provenance=prov)
    assert rep.provenance == prov
    assert sentence in rep.summary
    assert sentence in report("pending", provenance=prov).summary


def test_history_source_is_said() -> None:
    rep = report("current", source="history")
    assert rep.source == "history"
    assert rep.summary.endswith("This report comes from the local history; nothing was uploaded again.")


def test_ref_id_falls_back_to_the_submitted_option() -> None:
    rep = build_report(VideoClassification.model_validate({"status": "new", "identifier": "x"}), options=ClassifyOptions(ref_id="r1"))
    assert rep.ref_id == "r1"


# --- the 1,000-character cap ---------------------------------------------------------------------


def test_crowded_report_drops_detail_but_keeps_the_verdict() -> None:
    data = raw("current")
    names = [f"Revelio Experimental Model Number {i:02d} With A Long Name" for i in range(20)]
    for frame in data["results"]["images"]:
        frame["results"] = [
            {"model": n, "unknown": i % 3 == 0, "classification": [{"label": "artificial", "score": 0.3 + i / 50}]}
            for i, n in enumerate(names)
        ]
    data["verdicts"][0]["classification"] = "human"
    data["is_nsfw"] = True
    rep = build_report(VideoClassification.model_validate(data), provenance=_provenance(), source="history")
    assert len(rep.summary) <= MAX_SUMMARY_CHARS
    assert rep.summary.startswith("identifAI rates this video artificial (60% confidence, AverageExcludeObsolete heuristic).")
    assert "Inconclusive: the heuristics disagree (6 say artificial, 1 says human)." in rep.summary
    assert rep.summary.endswith("More in the full report.")


def test_huge_error_text_is_cut_at_a_word() -> None:
    rep = build_report(VideoClassification.model_validate({"status": "errored", "errors": "codec failure " * 500}))
    assert len(rep.summary) <= MAX_SUMMARY_CHARS
    assert rep.summary.endswith("….")


# --- batch ---------------------------------------------------------------------------------------


def test_batch_totals_table_and_summary() -> None:
    reports = [report(n) for n in ("current", "brokenwand", "overridden", "pending", "errored", "nulls", "split")]
    batch = batch_report(reports, ["deadbeef", "deadbeef", "cafe"])
    assert isinstance(batch, BatchReport)
    assert batch.missing == ["deadbeef", "cafe"]
    # The override on "overridden" counts as human, in place of identifAI's artificial.
    assert batch.totals.model_dump() == {
        "artificial": 2, "human": 2, "undetermined": 1, "pending": 1, "errored": 1, "missing": 2, "total": 9,
    }
    lines = batch.table.splitlines()
    assert len(lines) == 2 + 9
    assert lines[2] == (
        "| sample-video.mp4 | f617faae1a78b248cb1e336b7f58fd26c70d6a2c6ba7500b98fde581117e8a3b | done | artificial "
        "| 60% | 7/10 | no | |"
    )
    assert lines[4].endswith("| done | artificial | 57% | 3/5 | no | human |")
    assert lines[-1] == "| | cafe | missing | | | | | |"
    pending_id, errored_id = raw("pending")["identifier"], raw("errored")["identifier"]
    assert batch.summary == (
        "9 videos: 2 artificial, 2 human, 1 without a verdict, 1 pending, 1 errored, 2 not found. "
        "An override is in force on 1 (counted as overridden). Inconclusive: the heuristics disagree on 1. "
        f"Still processing: {pending_id}; call get_results_batch with these identifiers to check again. "
        f"identifAI could not analyse: {errored_id}. identifAI returned nothing for: deadbeef, cafe."
    )


def test_batch_marks_c2pa_forced_rows_and_stays_short() -> None:
    reports = [report("c2pa_forced")] + [report("pending")] * 40
    batch = batch_report(reports, [f"missing-{i:03d}" * 4 for i in range(40)])
    assert "| yes, may have forced the verdict |" in batch.table
    assert "C2PA Content Credentials may have forced the artificial verdict on 1." in batch.summary
    assert "and 35 more" in batch.summary
    assert len(batch.summary) <= MAX_SUMMARY_CHARS


def test_empty_batch() -> None:
    batch = batch_report([], [])
    assert batch.totals.total == 0 and batch.summary == "0 videos: 0 artificial, 0 human."


# --- schema and purity ---------------------------------------------------------------------------


def _undescribed(schema: dict[str, Any]) -> list[str]:
    missing = []
    for name, model in schema.get("$defs", {}).items():
        if name in {"ProvenanceReport", "C2PAReport", "ContainerInfo", "StreamInfo", "Signer", "C2PAAction",
                    "C2PAIngredient", "ValidationIssue"}:
            continue  # provenance.py's models, described by their owner
        missing += [f"{name}.{p}" for p, s in model.get("properties", {}).items() if "description" not in s]
    missing += [f"Report.{p}" for p, s in schema["properties"].items() if "description" not in s]
    return missing


@pytest.mark.parametrize("model", [Report, BatchReport])
def test_every_output_field_is_described(model: type[Report] | type[BatchReport]) -> None:
    assert _undescribed(model.model_json_schema(mode="serialization")) == []


@functools.cache
def _validator(model: type[Report] | type[BatchReport]) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = model.model_json_schema(mode="serialization")
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.mark.parametrize("name", FIXTURES)
def test_structured_content_validates_against_the_output_schema(name: str) -> None:
    # MCP clients may validate structuredContent against the tool's outputSchema.
    rep = report(name, detail="frames", provenance=_provenance(present=True, ai_declaration="generated"))
    _validator(Report).validate(json.loads(rep.model_dump_json()))
    batch = batch_report([rep], ["gone"])
    _validator(BatchReport).validate(json.loads(batch.model_dump_json()))


def test_report_package_is_pure() -> None:
    allowed = {"__future__", "collections", "dataclasses", "json", "math", "typing", "pydantic",
               "identifai_mcp.models", "identifai_mcp.provenance", "identifai_mcp.report"}
    for path in REPORT_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert any(name == a or name.startswith(a + ".") for a in allowed), f"{path.name} imports {name}"

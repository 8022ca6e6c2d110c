"""VideoClassification -> Report: counting and condensing, never judging.

Every figure here is either passed through from identifAI or counted from its per-frame data;
no score is compared with a threshold we made up. Numbers that are not finite or fall outside
0..1 are treated as missing, because the report's schema promises 0..1 and an MCP client may
validate against it.
"""

from __future__ import annotations

import math
from typing import Any

from identifai_mcp.models import (
    AudioResult,
    ClassifyOptions,
    FrameResult,
    ModelResult,
    Verdict,
    VideoClassification,
)
from identifai_mcp.provenance import ProvenanceReport
from identifai_mcp.report.c2pa import c2pa_out
from identifai_mcp.report.schema import (
    Agreement,
    AudioOut,
    Classification,
    ClipOut,
    Detail,
    FrameCounts,
    FrameRow,
    ModelStats,
    NextStep,
    Report,
    Source,
    StrongFrame,
    VerdictOut,
)
from identifai_mcp.report.text import explain

STRONGEST_FRAMES = 3
MAX_ERROR_CHARS = 2000
UNNAMED_MODEL = "(unnamed)"
FRAME_TABLE_DECIMALS = 4
MEAN_DECIMALS = 6


def build_report(
    result: VideoClassification,
    *,
    detail: Detail = "summary",
    provenance: ProvenanceReport | None = None,
    source: Source = "api",
    options: ClassifyOptions | None = None,
    wait_hint: float = 30,
) -> Report:
    """Condense one identifAI video result into a Report, its `summary` filled by explain()."""
    state = result.state
    frames = result.frames
    verdict = _verdict_out(result.verdict)
    verdicts = [_verdict_out(v) for v in result.verdicts]
    per_frame = [_frame_scores(f) for f in frames]
    identifier = result.identifier or result.hash
    report = Report(
        identifier=identifier,
        hash=result.hash,
        name=result.name,
        ref_id=result.ref_id or (options.ref_id if options else None),
        result_url=result.result_url,
        api_version=result.api_version,
        status=state,
        errors=_text(result.errors) if state == "errored" else None,
        verdict=verdict,
        verdicts=verdicts,
        frames=_frame_counts(frames),
        models=_model_stats(per_frame),
        strongest_frames=_strongest(frames, per_frame),
        c2pa=c2pa_out(result.c2pa_info, verdict.classification, options),
        nsfw=_nsfw(result),
        audio=_audio_out(result.audios),
        forced_classification=_label(result.force_classification),
        agreement=_agreement(verdict, verdicts, per_frame),
        provenance=provenance,
        source=source,
        next_step=_next_step(identifier, wait_hint) if state == "pending" else None,
        frame_table=_frame_table(frames, per_frame) if detail == "frames" else None,
    )
    return report.model_copy(update={"summary": explain(report)})


# --- small readers -------------------------------------------------------------------------------


def _unit(value: Any) -> float | None:
    """A 0..1 number, or None for anything else (missing, non-finite, out of range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def _label(value: Any) -> Classification | None:
    """'human' or 'artificial' (case-insensitive), else None: the API documents no other label."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    if value == "human":
        return "human"
    if value == "artificial":
        return "artificial"
    return None


def _verdict_out(verdict: Verdict | None) -> VerdictOut:
    """One wire verdict as a report verdict; all fields null when there is none."""
    if verdict is None:
        return VerdictOut()
    return VerdictOut(
        classification=_label(verdict.classification),
        confidence=_unit(verdict.confidence),
        heuristic=verdict.heuristic,
        count=verdict.count,
        unknown=verdict.unknown,
    )


def _text(value: Any) -> str | None:
    """Error payloads come as a string, a list or a Laravel-style dict; flatten to one line."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, dict):
        text = "; ".join(f"{k}: {t}" for k, v in value.items() if (t := _text(v)))
    elif isinstance(value, list | tuple):
        text = "; ".join(t for v in value if (t := _text(v)))
    else:
        text = str(value)
    return text[:MAX_ERROR_CHARS] or None


# --- frames and models ---------------------------------------------------------------------------

# Per frame: model name -> (artificial score or None, flagged, answered unknown).
FrameScores = dict[str, tuple[float | None, bool, bool]]


def _model_score(result: ModelResult) -> tuple[float | None, bool, bool]:
    """(artificial score, flagged, unknown) for one model on one frame.

    A model that answered unknown is not counted as scoring, whatever numbers it sent: the flag
    is undocumented, and the obvious reading is "could not decide". Flagged means artificial is
    the model's own top label (strictly above every other label it scored); no threshold.
    """
    if result.unknown:
        return None, False, True
    artificial = _unit(result.score("artificial"))
    if artificial is None:
        return None, False, False
    others = [_unit(c.score) for c in result.classification if c.label != "artificial"]
    flagged = all(artificial > other for other in others if other is not None)
    return artificial, flagged, False


def _frame_scores(frame: FrameResult) -> FrameScores:
    scores: FrameScores = {}
    for result in frame.results:
        # A model listed twice on one frame counts once: its first answer.
        scores.setdefault(result.model or UNNAMED_MODEL, _model_score(result))
    return scores


def _frame_counts(frames: list[FrameResult]) -> FrameCounts:
    labels = [_label(f.verdict.classification) if f.verdict else None for f in frames]
    analysed, artificial, human = len(labels), labels.count("artificial"), labels.count("human")
    return FrameCounts(
        analysed=analysed,
        artificial=artificial,
        human=human,
        undecided=analysed - artificial - human,
        artificial_share=artificial / analysed if analysed else None,
    )


def _model_stats(per_frame: list[FrameScores]) -> list[ModelStats]:
    names = list(dict.fromkeys(name for scores in per_frame for name in scores))
    stats = []
    for name in names:
        answers = [scores[name] for scores in per_frame if name in scores]
        values = [score for score, _, _ in answers if score is not None]
        stats.append(
            ModelStats(
                name=name,
                frames_scored=len(values),
                frames_flagged=sum(1 for score, flagged, _ in answers if score is not None and flagged),
                frames_unknown=sum(1 for _, _, unknown in answers if unknown),
                max_artificial_score=max(values) if values else None,
                mean_artificial_score=_mean(values),
            )
        )
    return stats


def _mean(values: list[float]) -> float | None:
    # Rounded: a derived figure needs no float noise (0.10600000000000001); clamped so that
    # rounding never pushes it out of 0..1.
    return min(1.0, round(math.fsum(values) / len(values), MEAN_DECIMALS)) if values else None


def _flagging(scores: FrameScores) -> list[str]:
    return [name for name, (score, flagged, _) in scores.items() if score is not None and flagged]


def _strongest(frames: list[FrameResult], per_frame: list[FrameScores]) -> list[StrongFrame]:
    ranked = []
    for index, (frame, scores) in enumerate(zip(frames, per_frame, strict=True)):
        values = [score for score, _, _ in scores.values() if score is not None]
        if values:
            ranked.append((max(values), index, frame, scores))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return [
        StrongFrame(
            index=index,
            score=score,
            models=_flagging(scores),
            classification=_label(frame.verdict.classification) if frame.verdict else None,
        )
        for score, index, frame, scores in ranked[:STRONGEST_FRAMES]
    ]


def _frame_table(frames: list[FrameResult], per_frame: list[FrameScores]) -> list[FrameRow]:
    return [
        FrameRow(
            index=index,
            classification=_label(frame.verdict.classification) if frame.verdict else None,
            confidence=_unit(frame.verdict.confidence) if frame.verdict else None,
            scores={
                name: None if score is None else round(score, FRAME_TABLE_DECIMALS)
                for name, (score, _, _) in scores.items()
            },
        )
        for index, (frame, scores) in enumerate(zip(frames, per_frame, strict=True))
    ]


def _agreement(verdict: VerdictOut, verdicts: list[VerdictOut], per_frame: list[FrameScores]) -> Agreement:
    labels = [v.classification if not v.unknown else None for v in verdicts]
    artificial, human = labels.count("artificial"), labels.count("human")
    labelled = {lab for lab in labels if lab is not None}
    split_frames = 0
    frames_with_two = 0
    for scores in per_frame:
        tops = [flagged for score, flagged, _ in scores.values() if score is not None]
        if len(tops) >= 2:
            frames_with_two += 1
            split_frames += len(set(tops)) > 1
    return Agreement(
        heuristics_artificial=artificial,
        heuristics_human=human,
        heuristics_unlabelled=len(labels) - artificial - human,
        heuristics_agree=len(labelled) == 1 if labelled else None,
        verdict_matches_heuristics=(
            labelled == {verdict.classification} if labelled and verdict.classification else None
        ),
        models_agree=split_frames == 0 if frames_with_two else None,
        frames_models_split=split_frames,
    )


# --- NSFW, audio ---------------------------------------------------------------------------


def _nsfw(result: VideoClassification) -> bool | None:
    flags = [result.is_nsfw, *(f.is_nsfw for f in result.frames)]
    if any(flag is True for flag in flags):
        return True
    return False if any(flag is False for flag in flags) else None


def _audio_out(audios: list[AudioResult]) -> AudioOut | None:
    if not audios:
        return None
    audio = audios[0]
    clips = [
        ClipOut(
            index=clip.index,
            start=_finite(clip.start),
            end=_finite(clip.end),
            classification=_label(clip.verdict.classification) if clip.verdict else None,
            confidence=_unit(clip.verdict.confidence) if clip.verdict else None,
        )
        for clip in audio.clips
    ]
    labels = [c.classification for c in clips]
    return AudioOut(
        verdict=_verdict_out(audio.verdict),
        errors=_text(audio.errors),
        clips=clips,
        clips_artificial=labels.count("artificial"),
        clips_human=labels.count("human"),
        tracks=len(audios),
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _next_step(identifier: str | None, wait_hint: float) -> NextStep | None:
    if not identifier:
        return None
    return NextStep(tool="get_result", arguments={"identifier": identifier, "wait_seconds": _seconds(wait_hint)})


def _seconds(value: float) -> int | float:
    # As an agent should type it: 30, not 30.0.
    seconds = max(0.0, float(value)) if math.isfinite(value) else 0.0
    return int(seconds) if seconds.is_integer() else seconds

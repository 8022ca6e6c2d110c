"""Deterministic, internally consistent classification results for the fake identifAI.

Scores come from a RNG seeded with the file hash and the options, so the same upload always
gets the same result. Every verdict is computed from the scores with the heuristic it names
(our own reading of the names; identifAI does not define them), frame by frame and then over
the frames, so the JSON is consistent the way the real service's is.
"""

from __future__ import annotations

import hashlib
import random
import statistics
from dataclasses import dataclass
from typing import Any

MODELS = ["V01", "V011", "brokenwand2", "Revelio III", "Revelio IV", "Ardē"]
OBSOLETE = {"V01", "V011"}
HEURISTICS = [
    "Majority",
    "Average",
    "AverageExcludeObsolete",
    "AverageExclude10",
    "AverageExclude20",
    "AverageExclude30",
    "TopRelevant",
]
API_VERSION = "1.1.0"
RESULT_URL = "https://app.identifai.net/classification/video/{identifier}"
CLIP_SECONDS = 5.0


@dataclass
class Outcome:
    """What a job will turn out to be; None fields are left to the seeded RNG."""

    classification: str | None = None  # "human" | "artificial"
    errored: str | None = None  # the `errors` text of an errored job
    c2pa: bool = False
    nsfw: bool | None = None


@dataclass
class JobFacts:
    identifier: str
    hash: str
    name: str
    ref_id: str | None
    options: dict[str, Any]  # normalised: frames int, booleans bool, key_frames_method str
    outcome: Outcome


def _p(scored: tuple[str, float]) -> float:
    return scored[1]


def verdict(heuristic: str, scored: list[tuple[str, float]]) -> dict[str, Any]:
    """One heuristic over (name, artificial score) pairs: models of a frame, or frames of a video."""
    items = scored
    if heuristic == "AverageExcludeObsolete":
        items = [s for s in scored if s[0] not in OBSOLETE] or scored
    if heuristic.startswith("AverageExclude") and heuristic[14:].isdigit():
        # Drop the given percentage of scores farthest from the median, then average.
        median = statistics.median(map(_p, scored))
        drop = len(scored) * int(heuristic[14:]) // 100
        items = sorted(scored, key=lambda s: abs(s[1] - median))[: len(scored) - drop]
    if heuristic == "Majority":
        votes = sum(1 for s in items if s[1] >= 0.5)
        artificial = votes * 2 >= len(items)
        confidence = max(votes, len(items) - votes) / len(items)
    elif heuristic == "TopRelevant":
        top = max(items, key=lambda s: abs(s[1] - 0.5))[1]
        artificial, confidence = top >= 0.5, max(top, 1 - top)
    else:
        mean = statistics.fmean(map(_p, items))
        artificial, confidence = mean >= 0.5, max(mean, 1 - mean)
    return {
        "heuristic": heuristic,
        "confidence": confidence,
        "classification": "artificial" if artificial else "human",
    }


def _as_score(v: dict[str, Any]) -> float:
    confidence = float(v["confidence"])
    return confidence if v["classification"] == "artificial" else 1 - confidence


def _forced(v: dict[str, Any]) -> dict[str, Any]:
    return {**v, "confidence": 1.0, "classification": "artificial"}


def _model_result(rng: random.Random, model: str, p: float) -> dict[str, Any]:
    labels: list[dict[str, Any]] = [{"label": "artificial", "score": p}, {"label": "human", "score": 1 - p}]
    labels.sort(key=lambda item: float(item["score"]), reverse=True)
    return {
        "model": model,
        "unknown": False,
        "elapsed_time": round(rng.uniform(0.05, 2.5), 6),
        "classification": labels,
        "classification_details": {"confidence": round(max(p, 1 - p), 6)},
    }


def _scores(rng: random.Random, outcome: Outcome, models: list[str], frames: int) -> list[list[float]]:
    def clamp(x: float) -> float:
        return min(0.999, max(0.001, x))

    if outcome.classification is None:
        base = rng.random()
        frame_ps = [clamp(base + rng.gauss(0, 0.15)) for _ in range(frames)]
        return [[clamp(p + rng.gauss(0, 0.1)) for _ in models] for p in frame_ps]
    # A forced outcome: most models agree firmly, one may mildly dissent, so every heuristic agrees.
    lo, hi = (0.7, 0.995) if outcome.classification == "artificial" else (0.005, 0.3)
    out = []
    for _ in range(frames):
        row = [rng.uniform(lo, hi) for _ in models]
        if len(row) > 2 and rng.random() < 0.3:
            row[rng.randrange(len(row))] = rng.uniform(0.42, 0.58)
        out.append(row)
    return out


def c2pa_manifest(name: str, seed: str) -> dict[str, Any]:
    urn = f"urn:uuid:{hashlib.sha256(seed.encode()).hexdigest()[:32]}"
    return {
        "manifests": {
            urn: {
                "claim_generator": "FakeGen/1.0 c2pa-rs/0.33.0",
                "title": name,
                "assertions": [
                    {
                        "label": "c2pa.actions",
                        "data": {
                            "actions": [
                                {
                                    "action": "c2pa.created",
                                    "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                                }
                            ]
                        },
                    }
                ],
                "signature_info": {"issuer": "Fake Generative AI Inc.", "time": "2025-01-01T00:00:00+00:00"},
            }
        },
        "active_manifest": urn,
        "validation_state": "Valid",
        "validation_status": [],
        "validation_results": {
            "activeManifest": {
                "success": [
                    {
                        "code": "claimSignature.validated",
                        "url": f"self#jumbf=/c2pa/{urn}",
                        "explanation": "claim signature valid",
                    }
                ],
                "failure": [],
                "informational": [],
            },
            "ingredientDeltas": [],
        },
    }


def _header(facts: JobFacts, identifier: str, hash_: str, name: str, status: str) -> dict[str, Any]:
    return {
        "hash": hash_,
        "identifier": identifier,
        "api_version": API_VERSION if status != "new" else None,
        "status": status,
        "errors": None,
        "name": name,
        "ref_id": facts.ref_id,
        "result_url": RESULT_URL.format(identifier=facts.identifier),
    }


def _sub_id(facts: JobFacts, kind: str, index: int) -> tuple[str, str]:
    digest = hashlib.sha256(f"{facts.identifier}|{kind}|{index}".encode()).hexdigest()
    return digest, hashlib.sha256(f"{facts.hash}|{kind}|{index}".encode()).hexdigest()


def done(facts: JobFacts, heuristic: str) -> dict[str, Any]:
    """The full, current-shape result of a finished job (before overrides and shape changes)."""
    opts, outcome = facts.options, facts.outcome
    rng = random.Random(f"{facts.hash}|{sorted((k, v) for k, v in opts.items() if k != 'no_cache')}")
    models = MODELS + (["morphing"] if opts.get("with_morphing") else [])
    frames = opts.get("frames", 10)
    if opts.get("key_frames"):
        frames = rng.randint(max(1, frames // 2), frames)
    forced = outcome.c2pa and not opts.get("prevent_c2pa_forces")
    c2pa = c2pa_manifest(facts.name, facts.hash) if outcome.c2pa else None
    nsfw = outcome.nsfw if outcome.nsfw is not None else rng.random() < 0.1
    stem = facts.name.rsplit(".", 1)[0] or "video"

    frame_objs: list[dict[str, Any]] = []
    frame_verdicts: dict[str, list[tuple[str, float]]] = {h: [] for h in HEURISTICS}
    for index, row in enumerate(_scores(rng, outcome, models, frames)):
        scored = list(zip(models, row, strict=True))
        verdicts = [{**verdict(h, scored), "models": models} for h in HEURISTICS]
        if forced:
            verdicts = [_forced(v) for v in verdicts]
        for v in verdicts:
            frame_verdicts[v["heuristic"]].append((f"frame{index}", _as_score(v)))
        identifier, hash_ = _sub_id(facts, "frame", index)
        frame = {
            **_header(facts, identifier, hash_, f"{stem}_frame_{index:02d}.jpg", "done"),
            "c2pa": c2pa,
            "has_heatmap": True,
            "verdict": next(v for v in verdicts if v["heuristic"] == heuristic),
            "verdicts": verdicts,
            "force_classification": None,
            "results": [_model_result(rng, m, p) for m, p in scored],
        }
        if opts.get("with_nsfw"):
            frame["is_nsfw"] = nsfw and rng.random() < 0.5
        if opts.get("with_morphing") or opts.get("ensure_face_per_frame"):
            frame["details"] = [{"detections": [_face(rng, row[-1])]}]
        frame_objs.append(frame)

    video_verdicts = []
    for h in HEURISTICS:
        v = {**verdict(h, frame_verdicts[h]), "count": len(frame_objs), "models": models, "unknown": False}
        video_verdicts.append(_forced(v) if forced else v)
    result = {
        **_header(facts, facts.identifier, facts.hash, facts.name, "done"),
        "verdict": next(v for v in video_verdicts if v["heuristic"] == heuristic),
        "verdicts": video_verdicts,
        "force_classification": None,
        "results": {"images": frame_objs, "audios": [_audio(facts, rng, heuristic)] if opts.get("with_audio") else []},
    }
    if opts.get("with_nsfw"):
        result["is_nsfw"] = nsfw
    return result


def _face(rng: random.Random, p: float) -> dict[str, Any]:
    x, y = rng.randint(0, 900), rng.randint(0, 500)
    return {
        "box": {"x1": x, "x2": x + rng.randint(60, 300), "y1": y, "y2": y + rng.randint(60, 300)},
        "results": [_model_result(rng, "morphing", p)],
        "verdict": verdict("Average", [("morphing", p)]),
    }


def _audio(facts: JobFacts, rng: random.Random, heuristic: str) -> dict[str, Any]:
    clips, all_scored = [], []
    for index in range(rng.randint(2, 5)):
        p = min(0.999, max(0.001, rng.random()))
        all_scored.append((f"clip{index}", p))
        clips.append(
            {
                "index": index,
                "start": index * CLIP_SECONDS,
                "end": (index + 1) * CLIP_SECONDS,
                "results": [_model_result(rng, "Phantom", p)],
                "verdict": {**verdict(heuristic, [("Phantom", p)]), "models": ["Phantom"]},
            }
        )
    verdicts = [{**verdict(h, all_scored), "models": ["Phantom"]} for h in HEURISTICS]
    identifier, hash_ = _sub_id(facts, "audio", 0)
    mean = statistics.fmean(map(_p, all_scored))
    return {
        **_header(facts, identifier, hash_, f"{facts.name.rsplit('.', 1)[0]}.wav", "done"),
        "verdict": next(v for v in verdicts if v["heuristic"] == heuristic),
        "verdicts": verdicts,
        "force_classification": None,
        "results": [_model_result(rng, "Phantom", mean)],
        "details": {"clips": clips},
    }


def pending(facts: JobFacts) -> dict[str, Any]:
    return {
        **_header(facts, facts.identifier, facts.hash, facts.name, "new"),
        "verdict": None,
        "verdicts": [],
        "force_classification": None,
        "results": {"images": [], "audios": []},
    }


def errored(facts: JobFacts, message: str) -> dict[str, Any]:
    return {**pending(facts), "api_version": API_VERSION, "status": "errored", "errors": message}


def shaped(result: dict[str, Any], shape: str, forced: str | None) -> dict[str, Any]:
    """Apply an override, then rewrite a current-shape result into an older documented shape."""
    result = {**result, "force_classification": forced}
    if shape == "current":
        return result
    drop = ("status", "api_version") if shape == "middle" else ("status", "api_version", "identifier")
    if shape == "old":
        images = [frame["results"] for frame in (result.get("results") or {}).get("images", [])]
        old = {"hash": result["hash"], "name": result["name"], "results": {"images": images}}
        if result.get("errors"):
            old["errors"] = result["errors"]
        return old
    out = {k: v for k, v in result.items() if k not in drop}
    results = out.get("results") or {}
    out["results"] = {
        "images": [{k: v for k, v in f.items() if k not in drop} for f in results.get("images", [])],
        "audios": [_middle_audio(a, drop) for a in results.get("audios", [])],
    }
    return out


def _middle_audio(audio: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    out = {k: v for k, v in audio.items() if k not in drop and k != "details"}
    out["chunk_details"] = (audio.get("details") or {}).get("clips", [])
    return out

"""How much smaller is the report than the raw identifAI result?

Builds realistic current-shape results (7 models and 7 heuristics per frame, full frame headers,
as in the documented examples) for 5-, 10- and 30-frame videos, plus a 30-frame video with an
audio track and C2PA credentials, and compares the bytes of:

- the raw result JSON (compact, as the API sends it),
- the summary text (what goes into an MCP tool result's `content`),
- the structured report (`structuredContent`) with detail="summary" and detail="frames",
- the markdown of the identifai://videos/{id}/summary resource.

Run: .venv/bin/python bench/compactness.py   (writes docs/benchmarks-compactness.md)
The numbers are deterministic: the results come from a seeded generator, not the network.
Exit status 1 when the summary of a 30-frame video exceeds 5% of the raw JSON.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run from a checkout without installing.
sys.path.insert(0, str(ROOT))

from identifai_mcp.models import VideoClassification  # noqa: E402
from identifai_mcp.report import build_report, summary_markdown  # noqa: E402

OUT = ROOT / "docs" / "benchmarks-compactness.md"
GOAL = 0.05  # summary bytes / raw JSON bytes at 30 frames
MODELS = ["V01", "V011", "brokenwand2", "Revelio III", "Revelio IV", "Ardē", "Revelio Onboarding I"]
HEURISTICS = ["Majority", "Average", "AverageExcludeObsolete", "AverageExclude10", "AverageExclude20",
              "AverageExclude30", "TopRelevant"]
DEFAULT_HEURISTIC = "AverageExcludeObsolete"


def _hex(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _header(identifier: str, name: str) -> dict[str, Any]:
    return {
        "hash": _hex("hash", identifier), "identifier": identifier, "api_version": "1.1.0", "status": "done",
        "errors": None, "name": name, "ref_id": None,
        "result_url": f"https://app.identifai.net/results/{identifier}",
    }


def _verdict(heuristic: str, p: float, **extra: Any) -> dict[str, Any]:
    label = "artificial" if p > 0.5 else "human"
    return {"heuristic": heuristic, "confidence": p if p > 0.5 else 1 - p, "classification": label, **extra}


def _model_result(rng: random.Random, model: str, p: float) -> dict[str, Any]:
    return {
        "model": model, "unknown": False, "elapsed_time": rng.uniform(0.05, 0.6),
        "classification": [{"label": "artificial", "score": p}, {"label": "human", "score": 1 - p}],
        "classification_details": {},
    }


def _frame(rng: random.Random, video: str, index: int, lean: float, c2pa: dict[str, Any] | None) -> dict[str, Any]:
    scores = [min(0.9999, max(0.0001, rng.gauss(lean, 0.2))) for _ in MODELS]
    mean = sum(scores) / len(scores)
    verdicts = [_verdict(h, min(0.9999, max(0.0001, rng.gauss(mean, 0.05))), models=MODELS) for h in HEURISTICS]
    return {
        **_header(_hex(video, "frame", index), f"frame_{index:04d}.jpg"),
        "is_nsfw": False, "c2pa": c2pa, "has_heatmap": True,
        "verdict": next(v for v in verdicts if v["heuristic"] == DEFAULT_HEURISTIC),
        "verdicts": verdicts, "force_classification": None,
        "results": [_model_result(rng, m, p) for m, p in zip(MODELS, scores, strict=True)],
        "details": [],
    }


def _c2pa() -> dict[str, Any]:
    label = "urn:c2pa:7b0d1c8e-2f43-4c61-9b7e-1d2a3c4e5f60"
    return {
        "active_manifest": label,
        "manifests": {label: {
            "claim_generator_info": [{"name": "Google C2PA Core Generator Library", "version": "1.0.0"}],
            "title": "clip.mp4", "format": "video/mp4",
            "signature_info": {"alg": "Es256", "issuer": "Google LLC", "time": "2025-06-12T10:14:03+00:00"},
            "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
            }]}}],
        }},
        "validation_state": "Valid", "validation_status": [],
        "validation_results": {"activeManifest": {"failure": [], "success": [{"code": "claimSignature.validated"}],
                                                  "informational": []}, "ingredientDeltas": []},
    }


def _audio(rng: random.Random, video: str, seconds: float) -> dict[str, Any]:
    clips = []
    for index in range(int(seconds // 10)):
        p = min(0.9999, max(0.0001, rng.gauss(0.7, 0.15)))
        clips.append({"index": index, "start": index * 10, "end": index * 10 + 10,
                      "results": [_model_result(rng, "Phantom", p)],
                      "verdict": _verdict(DEFAULT_HEURISTIC, p, models=["Phantom"])})
    p = sum(c["results"][0]["classification"][0]["score"] for c in clips) / len(clips)
    return {
        **_header(_hex(video, "audio"), "audio.wav"),
        "verdict": _verdict(DEFAULT_HEURISTIC, p), "verdicts": [_verdict(h, p) for h in HEURISTICS],
        "force_classification": None, "results": [_model_result(rng, "Phantom", p)], "details": {"clips": clips},
    }


def raw_result(frames: int, *, audio: bool = False, c2pa: bool = False, seed: int = 7) -> dict[str, Any]:
    """A realistic done result: about two thirds of the frames lean artificial."""
    rng = random.Random(seed * 1000 + frames)
    video = f"bench-{frames}-{audio}-{c2pa}"
    manifest = _c2pa() if c2pa else None
    images = [_frame(rng, video, i, 0.78 if rng.random() < 0.66 else 0.25, manifest) for i in range(frames)]
    share = sum(f["verdict"]["classification"] == "artificial" for f in images) / frames
    verdicts = [_verdict(h, min(0.9999, max(0.0001, rng.gauss(share, 0.05))), count=frames, models=MODELS,
                         unknown=False) for h in HEURISTICS]
    return {
        **_header(_hex(video), f"bench_{frames}_frames.mp4"),
        "is_nsfw": False,
        "verdict": next(v for v in verdicts if v["heuristic"] == DEFAULT_HEURISTIC),
        "verdicts": verdicts, "force_classification": None,
        "results": {"images": images, "audios": [_audio(rng, video, frames * 2.0)] if audio else []},
    }


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def measure(label: str, raw: dict[str, Any]) -> dict[str, Any]:
    result = VideoClassification.model_validate(raw)
    short = build_report(result)
    full = build_report(result, detail="frames")
    raw_bytes = _bytes(json.dumps(raw, ensure_ascii=False, separators=(",", ":")))
    return {
        "case": label, "raw": raw_bytes, "summary": _bytes(short.summary),
        "report": _bytes(short.model_dump_json()), "report_frames": _bytes(full.model_dump_json()),
        "markdown": _bytes(summary_markdown(short)), "text": short.summary,
    }


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.2%}"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| video | raw JSON | summary | structured, detail=summary | structured, detail=frames | summary resource (markdown) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [f"{r[k]:,} B ({_pct(r[k], r['raw'])})" for k in ("summary", "report", "report_frames", "markdown")]
        lines.append(f"| {r['case']} | {r['raw']:,} B | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def document(rows: list[dict[str, Any]], ok: bool) -> str:
    thirty = next(r for r in rows if r["case"] == "30 frames")
    return f"""# Benchmark: report compactness

How many bytes an agent receives from `identifai-mcp` compared with identifAI's raw result.
Generated by `bench/compactness.py` (deterministic: seeded synthetic results in the current API
shape, 7 models and 7 heuristics per frame, full frame headers; no network).

Percentages are of the raw JSON (compact, as the API sends it). "summary" is the text in a tool
result's `content`; "structured" is `structuredContent` (the `Report`), serialised as JSON.

{table(rows)}

Goal: the summary of a 30-frame video at most {GOAL:.0%} of the raw JSON.
Result: {_pct(thirty['summary'], thirty['raw'])} — **{'met' if ok else 'missed'}**.

The summary is capped at 1,000 characters whatever the video, so its share falls as frames are
added; the structured report grows with the number of models (and, with detail=frames, with the
number of frames), not with the per-frame headers and heuristics that dominate the raw JSON.

Summary of the 30-frame video:

> {thirty['text']}
"""


def main() -> int:
    cases = [
        ("5 frames", raw_result(5)),
        ("10 frames", raw_result(10)),
        ("30 frames", raw_result(30)),
        ("30 frames, audio and C2PA", raw_result(30, audio=True, c2pa=True)),
    ]
    rows = [measure(label, raw) for label, raw in cases]
    thirty = next(r for r in rows if r["case"] == "30 frames")
    ok = thirty["summary"] <= GOAL * thirty["raw"]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(document(rows, ok), encoding="utf-8")
    print(table(rows))
    print(f"\n30-frame summary / raw JSON: {_pct(thirty['summary'], thirty['raw'])} (goal <= {GOAL:.0%}): "
          f"{'met' if ok else 'MISSED'}. Written to {OUT.relative_to(ROOT)}.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

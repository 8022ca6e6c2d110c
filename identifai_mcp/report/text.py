"""Report -> words: the summary an agent repeats, and the markdown of the summary resource.

Rules the text keeps: it states only what the report holds; it puts no score in a made-up bucket
("high", "likely"); figures we computed are called derived; disagreement is said plainly, since
uncertainty is a result. Percentages appear only here, never in the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from identifai_mcp.report.schema import Report

MAX_SUMMARY_CHARS = 1000
MAX_QUOTED_CHARS = 300
MAX_LISTED_MODELS = 8
ELLIPSIS = "…"
MORE = "More in the full report."

# Priorities: 0 is never dropped; higher numbers go first when the text is over the cap.
KEEP, CORE, EVIDENCE, CONTEXT, LIMITS, EXTRA = range(6)


@dataclass(frozen=True)
class _Sentence:
    text: str
    priority: int


def explain(report: Report) -> str:
    """A few plain sentences, at most 1,000 characters, that an agent can repeat verbatim."""
    if report.status == "pending":
        sentences = _pending(report)
    elif report.status == "errored":
        sentences = _errored(report)
    else:
        sentences = _done(report)
    return _fit(sentences)


def summary_markdown(report: Report) -> str:
    """Markdown for identifai://videos/{identifier}/summary: the summary plus heuristic and model tables."""
    title = cell(report.name or report.identifier or "Video")
    lines = [f"# {title}", ""]
    facts = [f"identifier `{report.identifier}`" if report.identifier else "", f"status {report.status}"]
    if report.result_url:
        facts.append(f"[identifAI dashboard]({report.result_url})")
    lines += [", ".join(f for f in facts if f), "", report.summary or explain(report)]
    if report.verdicts:
        lines += ["", "| heuristic | classification | confidence |", "| --- | --- | --- |"]
        for v in report.verdicts:
            main = " (main)" if v.heuristic and v.heuristic == report.verdict.heuristic else ""
            classification = (v.classification or "none") + (" (flagged unknown)" if v.unknown else "")
            lines.append(f"| {cell(v.heuristic or '?')}{main} | {classification} | {pct(v.confidence)} |")
    if report.models:
        lines += [
            "",
            "| model | frames scored | flagged artificial | answered unknown | max artificial score | mean artificial score (derived) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for m in report.models:
            lines.append(
                f"| {cell(m.name)} | {m.frames_scored} | {m.frames_flagged} | {m.frames_unknown} "
                f"| {score(m.max_artificial_score)} | {score(m.mean_artificial_score)} |"
            )
    return "\n".join(lines) + "\n"


# --- formatting helpers (shared with the batch table) --------------------------------------------


def pct(value: float | None) -> str:
    """0.6 -> '60%'; adds decimals rather than show '0%' or '100%' for a value that is neither."""
    if value is None:
        return "n/a"
    for decimals in range(4):
        text = f"{value * 100:.{decimals}f}"
        if value in (0.0, 1.0) or float(text) not in (0.0, 100.0):
            return f"{text}%"
    return f"{text}%"


def score(value: float | None) -> str:
    """A 0..1 score with the decimals it needs to not read as exactly 0 or 1."""
    if value is None:
        return "n/a"
    for decimals in range(2, 6):
        text = f"{value:.{decimals}f}"
        if value in (0.0, 1.0) or float(text) not in (0.0, 1.0):
            return text
    return text


def cell(text: str) -> str:
    """Text safe inside one markdown table cell."""
    return clip(" ".join(text.split()).replace("|", "\\|"), 120)


def clip(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """Cut text to `limit` characters at a word boundary, marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + ELLIPSIS


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- sentences by status -------------------------------------------------------------------------


def _pending(report: Report) -> list[_Sentence]:
    out = [_Sentence("identifAI has not finished analysing this video yet.", KEEP)]
    if report.next_step:
        call = json.dumps(report.next_step.arguments, ensure_ascii=False)
        out.append(_Sentence(f"To check again, call {report.next_step.tool} with {call}.", KEEP))
    else:
        out.append(_Sentence("No identifier was returned, so the result cannot be fetched again.", KEEP))
    out += _provenance(report) + _source(report)
    return out


def _errored(report: Report) -> list[_Sentence]:
    reason = clip(report.errors) if report.errors else "no reason given"
    out = [_Sentence(f"identifAI could not analyse this video: {reason.rstrip('.')}.", KEEP)]
    return out + _provenance(report) + _source(report)


def _done(report: Report) -> list[_Sentence]:
    return [
        *_verdict(report),
        *_override(report),
        *_heuristics(report),
        *_frames(report),
        *_models(report),
        *_strongest(report),
        *_c2pa(report),
        *_provenance(report),
        *_audio(report),
        *_nsfw(report),
        *_not_judged(report),
        *_source(report),
    ]


# --- sentences for a done result -----------------------------------------------------------------


def _verdict(report: Report) -> list[_Sentence]:
    v = report.verdict
    if v.classification is None:
        if report.frames.analysed:
            return [_Sentence("identifAI returned no verdict for the video as a whole.", KEEP)]
        return [_Sentence("identifAI returned no verdict and no per-frame results for this video.", KEEP)]
    details = [f"{pct(v.confidence)} confidence" if v.confidence is not None else "",
               f"{clip(v.heuristic, 60)} heuristic" if v.heuristic else ""]
    inside = ", ".join(d for d in details if d)
    text = f"identifAI rates this video {v.classification}" + (f" ({inside})" if inside else "") + "."
    if v.unknown:
        text += " identifAI also flagged this verdict as unknown."
    return [_Sentence(text, KEEP)]


def _override(report: Report) -> list[_Sentence]:
    if report.forced_classification is None:
        return []
    return [_Sentence(
        f"An override is in force: the classification has been set to {report.forced_classification} by hand.", CORE
    )]


def _heuristics(report: Report) -> list[_Sentence]:
    a = report.agreement
    labelled = a.heuristics_artificial + a.heuristics_human
    if labelled < 2 and not a.heuristics_unlabelled:
        return []  # one heuristic is the verdict itself: nothing to compare
    more = f"; {a.heuristics_unlabelled} more gave no label" if a.heuristics_unlabelled else ""
    if a.heuristics_agree is False:
        return [_Sentence(
            f"Inconclusive: the heuristics disagree ({_say(a.heuristics_artificial)} artificial, "
            f"{_say(a.heuristics_human)} human){more}.", CORE
        )]
    if labelled == 0:
        return [_Sentence(f"None of the {len(report.verdicts)} heuristics gave a human/artificial label.", LIMITS)]
    said = "artificial" if a.heuristics_artificial else "human"
    if report.verdict.classification and report.verdict.classification != said:
        return [_Sentence(
            f"Inconclusive: every labelled heuristic says {said}, unlike the main verdict "
            f"({report.verdict.classification}){more}.", CORE
        )]
    if labelled == 1:
        return [_Sentence(f"The only labelled heuristic says {said}{more}.", LIMITS)]
    who = "Both" if labelled == 2 else f"All {labelled}"
    return [_Sentence(f"{who} {'labelled ' if more else ''}heuristics agree ({said}){more}.", LIMITS)]


def _say(n: int) -> str:
    return f"{n} says" if n == 1 else f"{n} say"


def _frames(report: Report) -> list[_Sentence]:
    f = report.frames
    if f.analysed == 0:
        return [_Sentence("identifAI returned no per-frame results.", CONTEXT)]
    if f.undecided == f.analysed:
        return [_Sentence(f"None of the {plural(f.analysed, 'analysed frame')} carries a verdict of its own.", CORE)]
    # Lead with the verdict's own label, so the count reads as agreement (or not) with it.
    v = report.verdict.classification
    counts = {"artificial": f.artificial, "human": f.human}
    lead = v or "artificial"
    other = "human" if lead == "artificial" else "artificial"
    text = f"{counts[lead]} of {f.analysed} analysed frames {'was' if counts[lead] == 1 else 'were'} judged {lead}"
    if counts[other]:
        text += f", {counts[other]} {other}"
    if f.undecided:
        text += f"; {f.undecided} had no verdict"
    out = [_Sentence(text + ".", CORE)]
    if v is not None and counts[other] and counts[lead]:
        if counts[other] > counts[lead]:
            out.append(_Sentence(
                f"Split evidence: more frames were judged {other} ({counts[other]}) than {v} ({counts[lead]}), "
                "against the main verdict.", CORE,
            ))
        elif counts[other] == counts[lead]:
            out.append(_Sentence("The frames are evenly split between artificial and human.", CORE))
    return out


def _models(report: Report) -> list[_Sentence]:
    scored = [m for m in report.models if m.frames_scored]
    if not scored:
        return []
    listed = ", ".join(f"{clip(m.name, 40)} {m.frames_flagged}/{m.frames_scored}" for m in scored[:MAX_LISTED_MODELS])
    if len(scored) > MAX_LISTED_MODELS:
        listed += f" and {len(scored) - MAX_LISTED_MODELS} more"
    a = report.agreement
    if a.models_agree is False:
        lead = (f"The models disagree on {a.frames_models_split} of {report.frames.analysed} frames "
                f"(derived from each model's top label)")
        return [_Sentence(f"{lead}; frames each model flagged artificial, of those it scored: {listed}.", EVIDENCE)]
    if a.models_agree:
        return [_Sentence(
            f"The models agree on every frame they scored (derived from each model's top label); "
            f"frames each model flagged artificial, of those it scored: {listed}.", LIMITS
        )]
    return [_Sentence(f"Frames each model flagged artificial, of those it scored: {listed}.", LIMITS)]


def _strongest(report: Report) -> list[_Sentence]:
    if not report.strongest_frames:
        return []
    top = report.strongest_frames[0]
    more = f" and {len(top.models) - 3} more" if len(top.models) > 3 else ""
    who = f", flagged by {', '.join(clip(m, 40) for m in top.models[:3])}{more}" if top.models else ""
    return [_Sentence(f"Highest artificial score: {score(top.score)} on frame index {top.index}{who}.", EXTRA)]


def _c2pa(report: Report) -> list[_Sentence]:
    c = report.c2pa
    if not c.present:
        return [_Sentence("identifAI reported no C2PA Content Credentials.", EXTRA)]
    text = "identifAI found C2PA Content Credentials"
    if c.validation_state:
        text += f" (validation state {clip(c.validation_state, 40)})"
    if c.ai_declaration == "generated":
        text += " that declare the content AI-generated"
    elif c.ai_declaration == "composite":
        text += " that declare AI-generated content in a composite"
    if c.claim_generator:
        text += f", written by {clip(c.claim_generator, 60)}"
    text += "."
    if c.validation_failures:
        text += f" Validation failures: {', '.join(clip(code, 60) for code in c.validation_failures)}."
    if c.forced_verdict:
        text += (" By default such a signature forces identifAI's verdict to artificial and prevent_c2pa_forces "
                 "was not set, so the signature alone may explain this verdict.")
    elif c.prevent_c2pa_forces:
        text += " prevent_c2pa_forces was set, so the signature did not force the verdict."
    return [_Sentence(text, EVIDENCE)]


def _provenance(report: Report) -> list[_Sentence]:
    p = report.provenance
    if p is None:
        return []
    c = p.c2pa
    if not c.readable:
        reason = f" ({clip(c.error, 120)})" if c.error else ""
        return [_Sentence(f"Local inspection could not read the file's Content Credentials{reason}.", CONTEXT)]
    if not c.present:
        return [_Sentence(
            "Local inspection found no Content Credentials in the file, which proves nothing either way: "
            "re-encoding and uploads strip them.", CONTEXT
        )]
    text = "Local inspection found Content Credentials in the file"
    if c.ai_declaration == "generated":
        text += " that declare the content AI-generated"
    elif c.ai_declaration == "composite":
        text += " that declare AI-generated content in a composite"
    elif any(i.ai_declaration for i in c.ingredients):
        text += " that declare no AI generation for the file itself, though an ingredient's credentials do"
    else:
        text += " that declare no AI generation"
    if c.validation_failures:
        codes = ", ".join(clip(i.code or i.explanation or "unnamed", 60) for i in c.validation_failures[:3])
        text += f", but they failed validation ({codes})"
    if c.trust == "untrusted":
        text += "; the signer is not on the trust list"
    return [_Sentence(text + ".", CONTEXT)]


def _audio(report: Report) -> list[_Sentence]:
    a = report.audio
    if a is None:
        return []
    v = a.verdict
    if v.classification:
        details = ", ".join(d for d in (
            f"{pct(v.confidence)} confidence" if v.confidence is not None else "",
            f"{clip(v.heuristic, 60)} heuristic" if v.heuristic else "",
        ) if d)
        text = f"Audio track: {v.classification}" + (f" ({details})" if details else "")
    else:
        text = "The audio track was analysed but identifAI gave it no verdict"
        if a.errors:
            text += f" ({clip(a.errors, 120)})"
    if a.clips:
        text += f"; {a.clips_artificial} of {plural(len(a.clips), 'clip')} judged artificial, {a.clips_human} human"
    return [_Sentence(text + ".", CONTEXT)]


def _nsfw(report: Report) -> list[_Sentence]:
    if report.nsfw is None:
        return []
    text = "identifAI flagged NSFW content." if report.nsfw else "identifAI flagged no NSFW content."
    return [_Sentence(text, CONTEXT)]


def _not_judged(report: Report) -> list[_Sentence]:
    unknown = [m for m in report.models if m.frames_unknown]
    if not unknown:
        return []
    listed = ", ".join(f"{clip(m.name, 40)} ({plural(m.frames_unknown, 'frame')})" for m in unknown[:MAX_LISTED_MODELS])
    return [_Sentence(f"Not judged: models that answered unknown: {listed}.", LIMITS)]


def _source(report: Report) -> list[_Sentence]:
    if report.source != "history":
        return []
    return [_Sentence("This report comes from the local history; nothing was uploaded again.", EXTRA)]


# --- fitting under the cap -----------------------------------------------------------------------


def _fit(sentences: list[_Sentence], limit: int = MAX_SUMMARY_CHARS) -> str:
    """Join sentences; over the cap, drop the least important (latest first), then cut."""
    kept = list(sentences)
    dropped = False
    while len(_join(kept)) > limit and any(s.priority != KEEP for s in kept):
        worst = max(range(len(kept)), key=lambda i: (kept[i].priority, i))
        del kept[worst]
        dropped = True
    text = _join(kept)
    if dropped and len(text) + 1 + len(MORE) <= limit:
        text = f"{text} {MORE}"
    return text if len(text) <= limit else clip(text, limit)


def _join(sentences: list[_Sentence]) -> str:
    return " ".join(s.text for s in sentences)


def number(value: float | None) -> str:
    """A count as a person writes it: 998, not 998.0; 'unknown' when absent."""
    if value is None:
        return "unknown"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"

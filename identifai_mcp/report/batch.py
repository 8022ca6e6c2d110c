"""Many reports -> one BatchReport: totals, a pasteable table and a short summary."""

from __future__ import annotations

from collections.abc import Sequence

from identifai_mcp.report.schema import BatchReport, BatchTotals, Classification, Report
from identifai_mcp.report.text import MAX_SUMMARY_CHARS, cell, clip, pct, plural

MAX_LISTED_IDS = 5
TABLE_HEADER = (
    "| name | identifier | status | verdict | confidence | frames artificial | C2PA | override |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def batch_report(reports: Sequence[Report], missing: Sequence[str]) -> BatchReport:
    """Gather reports for many classifications, with totals, a table and a summary."""
    missing = list(dict.fromkeys(missing))
    totals = _totals(reports, missing)
    rows = [_row(r) for r in reports] + [_cells(["", cell(i), "missing", "", "", "", "", ""]) for i in missing]
    return BatchReport(
        results=list(reports),
        missing=missing,
        totals=totals,
        table="\n".join([TABLE_HEADER, *rows]),
        summary=_summary(reports, missing, totals),
    )


def effective(report: Report) -> Classification | None:
    """The classification in force: a user override wins over identifAI's verdict."""
    return report.forced_classification or report.verdict.classification


def _totals(reports: Sequence[Report], missing: list[str]) -> BatchTotals:
    done = [effective(r) for r in reports if r.status == "done"]
    return BatchTotals(
        artificial=done.count("artificial"),
        human=done.count("human"),
        undetermined=done.count(None),
        pending=sum(r.status == "pending" for r in reports),
        errored=sum(r.status == "errored" for r in reports),
        missing=len(missing),
        total=len(reports) + len(missing),
    )


def _row(r: Report) -> str:
    frames = f"{r.frames.artificial}/{r.frames.analysed}" if r.frames.analysed else ""
    c2pa = ("yes, may have forced the verdict" if r.c2pa.forced_verdict else "yes") if r.c2pa.present else "no"
    confidence = pct(r.verdict.confidence) if r.verdict.confidence is not None else ""
    cells = [
        cell(r.name or ""), cell(r.identifier or ""), r.status, r.verdict.classification or "",
        confidence, frames, c2pa, r.forced_classification or "",
    ]
    return _cells(cells)


def _cells(cells: list[str]) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


def _ids(reports: Sequence[Report]) -> str:
    ids = [clip(r.identifier or r.name or "?", 70) for r in reports]
    more = f" and {len(ids) - MAX_LISTED_IDS} more" if len(ids) > MAX_LISTED_IDS else ""
    return ", ".join(ids[:MAX_LISTED_IDS]) + more


def _summary(reports: Sequence[Report], missing: list[str], t: BatchTotals) -> str:
    counts = [f"{t.artificial} artificial", f"{t.human} human"]
    if t.undetermined:
        counts.append(f"{t.undetermined} without a verdict")
    for n, word in ((t.pending, "pending"), (t.errored, "errored"), (t.missing, "not found")):
        if n:
            counts.append(f"{n} {word}")
    parts = [f"{plural(t.total, 'video')}: {', '.join(counts)}."]
    overridden = sum(1 for r in reports if r.forced_classification)
    if overridden:
        parts.append(f"An override is in force on {overridden} (counted as overridden).")
    split = sum(1 for r in reports if r.agreement.heuristics_agree is False)
    if split:
        parts.append(f"Inconclusive: the heuristics disagree on {split}.")
    c2pa = sum(1 for r in reports if r.c2pa.forced_verdict)
    if c2pa:
        parts.append(f"C2PA Content Credentials may have forced the artificial verdict on {c2pa}.")
    pending = [r for r in reports if r.status == "pending"]
    if pending:
        parts.append(f"Still processing: {_ids(pending)}; call get_results_batch with these identifiers to check again.")
    errored = [r for r in reports if r.status == "errored"]
    if errored:
        parts.append(f"identifAI could not analyse: {_ids(errored)}.")
    if missing:
        shown = ", ".join(clip(i, 70) for i in missing[:MAX_LISTED_IDS])
        more = f" and {len(missing) - MAX_LISTED_IDS} more" if len(missing) > MAX_LISTED_IDS else ""
        parts.append(f"identifAI returned nothing for: {shown}{more}.")
    text = " ".join(parts)
    return text if len(text) <= MAX_SUMMARY_CHARS else clip(text, MAX_SUMMARY_CHARS)

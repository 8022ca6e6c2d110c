"""Reports: identifAI video results turned into short, faithful structured data and text.

Pure: no I/O, no clock, no settings, no MCP. The server, the CLI and the history all build on
these functions.
"""

from identifai_mcp.report.batch import batch_report
from identifai_mcp.report.build import build_report
from identifai_mcp.report.schema import (
    Agreement,
    AudioOut,
    BatchReport,
    BatchTotals,
    C2PAOut,
    ClipOut,
    FrameCounts,
    FrameRow,
    ModelStats,
    NextStep,
    Report,
    StrongFrame,
    VerdictOut,
)
from identifai_mcp.report.text import MAX_SUMMARY_CHARS, explain, summary_markdown

__all__ = [
    "MAX_SUMMARY_CHARS",
    "Agreement",
    "AudioOut",
    "BatchReport",
    "BatchTotals",
    "C2PAOut",
    "ClipOut",
    "FrameCounts",
    "FrameRow",
    "ModelStats",
    "NextStep",
    "Report",
    "StrongFrame",
    "VerdictOut",
    "batch_report",
    "build_report",
    "explain",
    "summary_markdown",
]

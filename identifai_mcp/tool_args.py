"""The tools' shared argument types. Their descriptions are product text the model reads:
when to use an option, what it costs, what it risks.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Path_ = Annotated[str, Field(min_length=1, max_length=4096, description=(
    "Path of a local video file (absolute, or relative to the server's working directory). "
    "Only video files are accepted; folders set in IDENTIFAI_ALLOWED_DIRS limit what may be read."))]
Url = Annotated[str, Field(min_length=1, max_length=2048, description=(
    "Public http(s) URL of the video file. identifAI downloads it itself. A direct link to the "
    "media file works best; social-network pages are discouraged (platforms re-encode videos)."))]
Identifier = Annotated[str, Field(min_length=1, max_length=128, description=(
    "The classification identifier returned when the video was submitted."))]
Frames = Annotated[Literal[5, 10, 30] | None, Field(description=(
    "How many frames identifAI analyses: 5, 10 or 30. More frames give more evidence but cost more "
    "credits. Leave unset for the account's default."))]
KeyFrames = Annotated[bool | None, Field(description=(
    "Analyse key frames (shot changes) instead of equally spaced frames; may yield fewer frames."))]
KeyFramesMethod = Annotated[Literal["iframes", "color", "flow"] | None, Field(description=(
    "How key frames are chosen when key_frames is true: iframes (codec key frames, the default), "
    "color (per shot, the frame nearest its average colour), flow (per shot, the stillest frame)."))]
WithMorphing = Annotated[bool | None, Field(description=(
    "Also run the face-morphing model. Only when people's faces are visible: without faces it "
    "risks false positives."))]
WithTampering = Annotated[bool | None, Field(description=(
    "Also look for non-AI manipulation (tampering, editing)."))]
WithAudio = Annotated[bool | None, Field(description=(
    "Also analyse the speech in the audio track (beta; must be enabled in the identifAI plan)."))]
WithNsfw = Annotated[bool | None, Field(description="Also detect NSFW content.")]
EnsureFace = Annotated[bool | None, Field(description=(
    "Only use frames with at least one face; combine with with_morphing to look for face swaps. "
    "Slower."))]
PreventC2pa = Annotated[bool | None, Field(description=(
    "If true, a C2PA signature does not force the verdict to artificial (by default it does)."))]
NoCache = Annotated[bool | None, Field(description=(
    "Re-analyse even if this file was analysed before with the same options. Costs credits again; "
    "normally leave unset."))]
RefId = Annotated[str | None, Field(max_length=255, description=(
    "Your own reference to attach to the classification (e.g. a case or ticket number)."))]
Detail = Annotated[Literal["summary", "frames"], Field(description=(
    "summary: the report and its explanation. frames: adds a compact per-frame table."))]
ClassifyWait = Annotated[float | None, Field(ge=0, le=600, description=(
    "Seconds to wait for the verdict before returning status 'pending' with the identifier "
    "(default from IDENTIFAI_WAIT_SECONDS, 40). Keep it under about 45: many MCP clients drop a "
    "call after 60 s. 0 submits and returns at once."))]
ResultWait = Annotated[float, Field(ge=0, le=600, description=(
    "Seconds to wait while the classification is pending (0: just look). Keep it under about 45."))]

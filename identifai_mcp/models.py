"""Pydantic models of identifAI's JSON: tolerant of every documented shape, old and new.

Unknown fields are kept (`extra="allow"`), every optional field defaults to None, and the older
shapes (frames as bare lists of model results, no `status`, `chunk_details` instead of
`details.clips`) are normalised on the way in.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Label = Literal["human", "artificial"]
JobState = Literal["pending", "done", "errored"]
KeyFramesMethod = Literal["iframes", "color", "flow"]
FrameCount = Literal[5, 10, 30]


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


class LabelScore(Wire):
    label: str | None = None
    score: float | None = None


class ModelResult(Wire):
    """One detection model's output on one frame, clip or face."""

    model: str | None = None
    unknown: bool | None = None
    elapsed_time: float | None = None
    classification: list[LabelScore] = Field(default_factory=list)
    classification_details: dict[str, Any] | None = None

    _list = field_validator("classification", mode="before")(_none_to_list)

    def score(self, label: str = "artificial") -> float | None:
        """The model's score for `label`, or None when it gave none."""
        for item in self.classification:
            if item.label == label and item.score is not None:
                return item.score
        return None

    def label(self) -> str | None:
        """The label this model scored highest, or None when it scored nothing."""
        scored = [c for c in self.classification if c.score is not None and c.label]
        return max(scored, key=lambda c: c.score or 0.0).label if scored else None


class Verdict(Wire):
    heuristic: str | None = None
    confidence: float | None = None
    classification: str | None = None
    count: int | None = None
    models: list[str] | None = None
    unknown: bool | None = None


class C2PA(Wire):
    manifests: dict[str, Any] | None = None
    active_manifest: str | None = None
    validation_state: str | None = None
    validation_status: list[dict[str, Any]] | None = None
    validation_results: dict[str, Any] | None = None


class Detection(Wire):
    box: dict[str, Any] | None = None
    results: list[ModelResult] = Field(default_factory=list)
    verdict: Verdict | None = None

    _list = field_validator("results", mode="before")(_none_to_list)


class FrameDetail(Wire):
    detections: list[Detection] = Field(default_factory=list)

    _list = field_validator("detections", mode="before")(_none_to_list)


class _Header(Wire):
    """Fields shared by a video, a frame and an audio track."""

    hash: str | None = None
    identifier: str | None = None
    api_version: str | None = None
    status: str | None = None
    errors: Any = None
    name: str | None = None
    ref_id: str | None = None
    result_url: str | None = None
    verdict: Verdict | None = None
    verdicts: list[Verdict] = Field(default_factory=list)
    force_classification: str | None = None

    _list = field_validator("verdicts", mode="before")(_none_to_list)


class FrameResult(_Header):
    """One analysed frame; the old API sent only the list of model results."""

    is_nsfw: bool | None = None
    c2pa: C2PA | None = None
    has_heatmap: bool | None = None
    results: list[ModelResult] = Field(default_factory=list)
    details: list[FrameDetail] | None = None

    _results = field_validator("results", mode="before")(_none_to_list)

    @model_validator(mode="before")
    @classmethod
    def _old_shape(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"results": data}
        return data


class AudioClip(Wire):
    index: int | None = None
    start: float | None = None
    end: float | None = None
    results: list[ModelResult] = Field(default_factory=list)
    verdict: Verdict | None = None

    _list = field_validator("results", mode="before")(_none_to_list)


class AudioDetails(Wire):
    clips: list[AudioClip] = Field(default_factory=list)

    _list = field_validator("clips", mode="before")(_none_to_list)


class AudioResult(_Header):
    results: list[ModelResult] = Field(default_factory=list)
    details: AudioDetails | None = None
    chunk_details: list[AudioClip] | None = None

    _results = field_validator("results", mode="before")(_none_to_list)

    @property
    def clips(self) -> list[AudioClip]:
        """Per-clip results, whichever of the two documented names carried them."""
        if self.details and self.details.clips:
            return self.details.clips
        return self.chunk_details or []


class VideoResults(Wire):
    images: list[FrameResult] = Field(default_factory=list)
    audios: list[AudioResult] = Field(default_factory=list)

    _list = field_validator("images", "audios", mode="before")(_none_to_list)


class VideoClassification(_Header):
    """GET /api/classification_video/{identifier}, in any documented version."""

    is_nsfw: bool | None = None
    c2pa: C2PA | None = None
    results: VideoResults | None = None

    @model_validator(mode="before")
    @classmethod
    def _results_as_list(cls, data: Any) -> Any:
        # Tolerate a bare list of frames where an object {images: [...]} is expected.
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = {**data, "results": {"images": data["results"]}}
        return data

    @property
    def state(self) -> JobState:
        """pending, done or errored: from `status`, or for pre-1.1 results from the verdict."""
        status = (self.status or "").lower()
        if status == "errored" or (not status and self.errors):
            return "errored"
        if status == "done":
            return "done"
        if status == "new":
            return "pending"
        if status:
            # An unknown status (e.g. "processing"): done only if a verdict is already there.
            return "done" if self.verdict is not None and status in {"completed", "complete", "finished"} else "pending"
        # Pre-1.1 results have no status: a verdict or analysed frames mean the job finished.
        return "done" if self.verdict is not None or self.force_classification or self.frames else "pending"

    @property
    def frames(self) -> list[FrameResult]:
        return self.results.images if self.results else []

    @property
    def audios(self) -> list[AudioResult]:
        return self.results.audios if self.results else []

    @property
    def c2pa_info(self) -> C2PA | None:
        """C2PA data, at video level if sent there, otherwise from the first frame that has it."""
        if self.c2pa is not None:
            return self.c2pa
        return next((f.c2pa for f in self.frames if f.c2pa is not None), None)


class Submission(Wire):
    identifier: str


class Credits(Wire):
    available_credits: float | None = None
    total_spent: float | None = None


class OverrideResult(Wire):
    classification: str | None = None
    type: str | None = None
    hash: str | None = None


class ClassifyOptions(BaseModel):
    """The submit options, named as the API names them. None means 'not sent'."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: FrameCount | None = None
    key_frames: bool | None = None
    key_frames_method: KeyFramesMethod | None = None
    with_morphing: bool | None = None
    with_tampering: bool | None = None
    with_audio: bool | None = None
    with_nsfw: bool | None = None
    ensure_face_per_frame: bool | None = None
    prevent_c2pa_forces: bool | None = None
    no_cache: bool | None = None
    ref_id: str | None = Field(default=None, max_length=255)

    def form(self) -> dict[str, str]:
        """Form fields as the docs' curl examples send them: booleans as true/false."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    def cache_key(self) -> str:
        """A stable text of the options that change the analysis (ref_id and no_cache do not)."""
        fields = self.model_dump(exclude_none=True, exclude={"ref_id", "no_cache"})
        return "&".join(f"{k}={fields[k]}" for k in sorted(fields))

"""The report models: the outputSchema of the classify tools and get_result.

`surface.md` promises the top-level names; every field description is read by an AI model, so it
says what the value means and where it comes from. Scores and confidences stay 0..1 here; only
the text turns them into percentages.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from identifai_mcp.provenance import AiDeclaration, ProvenanceReport

Classification = Literal["human", "artificial"]
Status = Literal["pending", "done", "errored"]
Source = Literal["api", "history"]
Detail = Literal["summary", "frames"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerdictOut(_Out):
    """One identifAI verdict: the main one, or one heuristic's."""

    classification: Classification | None = Field(
        default=None,
        description="'human' or 'artificial' as identifAI returned it; null when identifAI gave no such label.",
    )
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="identifAI's confidence in this classification, 0..1 as the API returns it; null when not given.",
    )
    heuristic: str | None = Field(
        default=None,
        description="The identifAI heuristic that produced this verdict (e.g. Majority, Average, AverageExcludeObsolete, TopRelevant).",
    )
    count: int | None = Field(
        default=None,
        description="identifAI's `count` for this verdict, passed through as given; its meaning is undocumented.",
    )
    unknown: bool | None = Field(
        default=None,
        description="identifAI's `unknown` flag, passed through as given; true probably means the heuristic could not decide.",
    )


class FrameCounts(_Out):
    """Counts over the per-frame verdicts."""

    analysed: int = Field(description="Frames identifAI analysed (entries in its per-frame results).")
    artificial: int = Field(description="Analysed frames whose own verdict is 'artificial'.")
    human: int = Field(description="Analysed frames whose own verdict is 'human'.")
    undecided: int = Field(
        description="Analysed frames with no human/artificial verdict (older results carry no per-frame verdicts at all)."
    )
    artificial_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Derived: artificial / analysed, 0..1 (like Twelve Labs' duration_ratio); null when no frame was analysed.",
    )


class ModelStats(_Out):
    """One detection model's scores across the analysed frames."""

    name: str = Field(
        description="The detection model's name as identifAI reports it (e.g. V011, brokenwand2, Revelio IV)."
    )
    frames_scored: int = Field(
        description="Frames on which this model gave an artificial score and did not answer unknown."
    )
    frames_flagged: int = Field(
        description="Of those, frames where the model's artificial score beats every other label it scored (its own top label). No threshold is applied."
    )
    frames_unknown: int = Field(
        description="Frames on which this model answered unknown; they are not counted as scored."
    )
    max_artificial_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Highest artificial score this model gave on a scored frame, 0..1; null when it scored none.",
    )
    mean_artificial_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Derived: mean of this model's artificial scores over its scored frames, 0..1; null when it scored none.",
    )


class StrongFrame(_Out):
    """A frame with one of the highest artificial scores."""

    index: int = Field(description="0-based position of the frame in identifAI's per-frame results.")
    score: float = Field(ge=0, le=1, description="The highest artificial score any model gave this frame, 0..1.")
    models: list[str] = Field(description="Models whose own top label for this frame is artificial; empty when none.")
    classification: Classification | None = Field(
        default=None, description="The frame's own identifAI verdict; null when the frame has none."
    )


class C2PAOut(_Out):
    """C2PA Content Credentials as identifAI reported them."""

    present: bool = Field(description="True when identifAI reported C2PA data for the video or one of its frames.")
    validation_state: str | None = Field(
        default=None, description="identifAI's C2PA validation state (e.g. 'Valid'); null when absent."
    )
    forced_verdict: bool = Field(
        default=False,
        description=(
            "Derived: true when C2PA is present, the verdict is artificial and prevent_c2pa_forces was not set in the "
            "options we know of. By default identifAI forces a C2PA-signed video to artificial; the API does not say "
            "whether the rule fired, so this marks that it may have."
        ),
    )
    prevent_c2pa_forces: bool | None = Field(
        default=None,
        description="The prevent_c2pa_forces option as submitted, when known; null when not known or not sent.",
    )
    active_manifest: str | None = Field(default=None, description="Label of the active C2PA manifest, when given.")
    claim_generator: str | None = Field(
        default=None, description="The tool that wrote the active manifest, when given."
    )
    title: str | None = Field(default=None, description="Title recorded in the active manifest, when given.")
    signer: str | None = Field(default=None, description="Issuer of the manifest's signing certificate, when given.")
    ai_declaration: AiDeclaration | None = Field(
        default=None,
        description=(
            "What the manifest's actions declare about AI: 'generated' (trainedAlgorithmicMedia) or 'composite' "
            "(compositeWithTrainedAlgorithmicMedia); null when they declare neither or no manifest was readable."
        ),
    )
    validation_failures: list[str] = Field(
        default_factory=list,
        description="Codes of C2PA validation failures identifAI reported (at most 5); empty when none.",
    )


class ClipOut(_Out):
    """One analysed audio clip."""

    index: int | None = Field(default=None, description="The clip's index as identifAI gives it.")
    start: float | None = Field(default=None, description="Clip start; the unit is undocumented (probably seconds).")
    end: float | None = Field(default=None, description="Clip end; the unit is undocumented (probably seconds).")
    classification: Classification | None = Field(
        default=None, description="The clip's verdict; null when it has none."
    )
    confidence: float | None = Field(default=None, ge=0, le=1, description="Confidence of the clip's verdict, 0..1.")


class AudioOut(_Out):
    """identifAI's analysis of the video's audio track (BETA, with_audio)."""

    verdict: VerdictOut = Field(description="The audio track's main verdict; fields are null when identifAI gave none.")
    errors: str | None = Field(
        default=None, description="identifAI's error text for the audio analysis, when it reported one."
    )
    clips: list[ClipOut] = Field(default_factory=list, description="Per-clip verdicts, in identifAI's order.")
    clips_artificial: int = Field(default=0, description="Clips whose verdict is artificial.")
    clips_human: int = Field(default=0, description="Clips whose verdict is human.")
    tracks: int = Field(default=1, description="Audio results identifAI returned; only the first is detailed here.")


class Agreement(_Out):
    """Derived by identifai-mcp from the verdicts and per-frame scores; identifAI does not report this."""

    heuristics_artificial: int = Field(description="Heuristic verdicts that say artificial.")
    heuristics_human: int = Field(description="Heuristic verdicts that say human.")
    heuristics_unlabelled: int = Field(
        description="Heuristic verdicts with no human/artificial label or flagged unknown."
    )
    heuristics_agree: bool | None = Field(
        default=None,
        description="True when every labelled heuristic says the same; false when they split; null with no labelled heuristic.",
    )
    verdict_matches_heuristics: bool | None = Field(
        default=None,
        description="True when every labelled heuristic says what the main verdict says; null without a main verdict or heuristics.",
    )
    models_agree: bool | None = Field(
        default=None,
        description="True when, on every frame scored by two or more models, their top labels match; null when no frame had two.",
    )
    frames_models_split: int = Field(
        default=0,
        description="Frames on which the scoring models' top labels differ (one says artificial, another not).",
    )


class NextStep(_Out):
    """The exact tool call to make next."""

    tool: str = Field(description="Name of the tool to call.")
    arguments: dict[str, Any] = Field(description="Arguments to pass, ready to use.")


class FrameRow(_Out):
    """One analysed frame, compactly."""

    index: int = Field(description="0-based position of the frame in identifAI's per-frame results.")
    classification: Classification | None = Field(
        default=None, description="The frame's identifAI verdict; null when none."
    )
    confidence: float | None = Field(default=None, ge=0, le=1, description="Confidence of the frame's verdict, 0..1.")
    scores: dict[str, float | None] = Field(
        default_factory=dict,
        description="Artificial score per model, 0..1, rounded to 4 decimals; null when that model gave none or answered unknown.",
    )


class Report(_Out):
    """What identifAI said about one video, checked and condensed."""

    identifier: str | None = Field(
        default=None,
        description="identifAI's identifier for this classification (for get_result). Results from API versions that predate identifiers give the hash here.",
    )
    hash: str | None = Field(
        default=None, description="SHA-256 of the video (used by override); null until identifAI reports it."
    )
    name: str | None = Field(default=None, description="The video's file name as identifAI recorded it.")
    ref_id: str | None = Field(default=None, description="The caller's reference ID, when one was sent.")
    result_url: str | None = Field(
        default=None, description="The identifAI dashboard page for this result; give it to a person who wants to look."
    )
    api_version: str | None = Field(
        default=None, description="identifAI API version at analysis time; null while pending or for old results."
    )
    status: Status = Field(description="pending (identifAI is still working; status 'new'), done, or errored.")
    errors: str | None = Field(default=None, description="identifAI's reason when status is errored; null otherwise.")
    verdict: VerdictOut = Field(
        description="identifAI's main verdict for the whole video, by the account's default heuristic. All null while pending or when identifAI gave none."
    )
    verdicts: list[VerdictOut] = Field(
        default_factory=list, description="One verdict per heuristic identifAI returned, in its order."
    )
    frames: FrameCounts = Field(
        description="How many frames identifAI analysed, and how many of them it judged artificial or human."
    )
    models: list[ModelStats] = Field(
        default_factory=list, description="Per detection model: how many frames it scored and flagged, and its scores."
    )
    strongest_frames: list[StrongFrame] = Field(
        default_factory=list, description="Up to 3 frames with the highest artificial scores, highest first."
    )
    c2pa: C2PAOut = Field(
        description="Whether identifAI found C2PA Content Credentials, and whether they may have forced the verdict."
    )
    nsfw: bool | None = Field(
        default=None,
        description="True when identifAI flagged NSFW content on the video or any frame; null when NSFW was not analysed.",
    )
    audio: AudioOut | None = Field(
        default=None, description="The audio-track analysis; null when the audio track was not analysed."
    )
    forced_classification: Classification | None = Field(
        default=None,
        description="A user override in force (force_classification): the classification set by hand; null when none.",
    )
    agreement: Agreement = Field(
        description="Derived by identifai-mcp: whether heuristics and models agree. Not an identifAI output."
    )
    # Published as a plain object: inspect_video_file's outputSchema describes it in full, and
    # repeating that ~10k-character schema in three tools' schemas would bloat tools/list.
    provenance: Annotated[
        ProvenanceReport | None,
        WithJsonSchema({"anyOf": [{"type": "object"}, {"type": "null"}], "description": (
            "Local, offline inspection of the file (C2PA Content Credentials and container metadata), "
            "shaped as inspect_video_file's result; null unless it was run.")}),
    ] = None
    source: Source = Field(
        default="api",
        description="'api' when fetched from identifAI now; 'history' when taken from the local history without a new upload.",
    )
    next_step: NextStep | None = Field(
        default=None, description="For a pending result, the exact call that fetches it again; null otherwise."
    )
    frame_table: list[FrameRow] | None = Field(
        default=None, description="Per-frame verdicts and model scores; null unless detail='frames' was asked for."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Cautions about the submission itself (e.g. a social-network page instead of a media file).",
    )
    summary: str = Field(
        default="", description="A short plain-language explanation of this report, safe to repeat verbatim."
    )


class BatchTotals(_Out):
    """Counts over a batch of reports."""

    artificial: int = Field(
        description="Done results classified artificial (a user override counts in place of identifAI's verdict)."
    )
    human: int = Field(
        description="Done results classified human (a user override counts in place of identifAI's verdict)."
    )
    undetermined: int = Field(default=0, description="Done results with neither a verdict nor an override.")
    pending: int = Field(description="Results identifAI is still processing.")
    errored: int = Field(description="Results identifAI could not analyse.")
    missing: int = Field(description="Identifiers identifAI returned nothing for.")
    total: int = Field(description="All identifiers asked about: results plus missing.")


class BatchReport(_Out):
    """Reports for many classifications."""

    results: list[Report] = Field(description="One report per identifier identifAI answered for.")
    missing: list[str] = Field(default_factory=list, description="Identifiers identifAI returned no result for.")
    totals: BatchTotals = Field(description="Counts over results and missing.")
    table: str = Field(description="One markdown table row per video, ready to paste.")
    summary: str = Field(description="A short plain-language explanation of the batch.")

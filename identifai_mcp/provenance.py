"""Typed models of what a local inspection finds: C2PA Content Credentials and container facts.

Filled by `identifai_mcp.inspect`; read by the report (to mention declared AI generation or broken
credentials next to identifAI's verdict), the CLI and the MCP tools.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AiDeclaration = Literal["generated", "composite"]
Trust = Literal["trusted", "untrusted", "not_checked"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Signer(_Model):
    issuer: str | None = None
    common_name: str | None = None


class C2PAAction(_Model):
    action: str | None = None
    digital_source_type: str | None = None
    software_agent: str | None = None
    when: str | None = None


class C2PAIngredient(_Model):
    title: str | None = None
    format: str | None = None
    relationship: str | None = None
    # What the ingredient's own credentials declare about AI, when it carries any.
    ai_declaration: AiDeclaration | None = None


class ValidationIssue(_Model):
    code: str | None = None
    explanation: str | None = None
    url: str | None = None


class C2PAReport(_Model):
    present: bool = False
    # False when a manifest may be there but could not be read (e.g. fragmented MP4).
    readable: bool = True
    error: str | None = None
    claim_generator: str | None = None
    title: str | None = None
    signer: Signer | None = None
    signed_at: str | None = None
    actions: list[C2PAAction] = Field(default_factory=list)
    # What the credentials declare about AI: trainedAlgorithmicMedia -> generated,
    # compositeWithTrainedAlgorithmicMedia -> composite; None when they declare neither.
    ai_declaration: AiDeclaration | None = None
    ingredients: list[C2PAIngredient] = Field(default_factory=list)
    validation_state: str | None = None
    validation_failures: list[ValidationIssue] = Field(default_factory=list)
    trust: Trust = "not_checked"


class StreamInfo(_Model):
    index: int
    type: str
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    bit_rate: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration_seconds: float | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class ContainerInfo(_Model):
    format: str | None = None
    format_long: str | None = None
    duration_seconds: float | None = None
    bit_rate: int | None = None
    size_bytes: int | None = None
    streams: list[StreamInfo] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    encoder: str | None = None
    handler: str | None = None
    creation_time: str | None = None
    # Tags that speak to where the file came from (software, device, generator names).
    origin_hints: list[str] = Field(default_factory=list)
    # MP4 only: samples kept in moof fragments (live, DASH, fMP4); None when not an MP4 or unknown.
    fragmented: bool | None = None


class ProvenanceReport(_Model):
    """structuredContent of inspect_video_file, and `provenance` in a classify report."""

    path: str
    name: str
    size_bytes: int | None = None
    c2pa: C2PAReport = Field(default_factory=C2PAReport)
    container: ContainerInfo | None = None
    # What could not be read, in plain words.
    errors: list[str] = Field(default_factory=list)
    summary: str = ""

"""C2PA as identifAI reports it -> C2PAOut: presence, validation, and what the manifest declares.

The manifests arrive as free-form JSON (c2pa-rs's reader output, passed through by identifAI), so
every step checks types and gives up quietly: a missing title is not worth a failed report.
"""

from __future__ import annotations

from typing import Any

from identifai_mcp.models import C2PA, ClassifyOptions
from identifai_mcp.provenance import AiDeclaration
from identifai_mcp.report.schema import C2PAOut, Classification

MAX_FAILURE_CODES = 5
GENERATED = "trainedAlgorithmicMedia"
COMPOSITE = "compositeWithTrainedAlgorithmicMedia"


def c2pa_out(c2pa: C2PA | None, verdict: Classification | None, options: ClassifyOptions | None) -> C2PAOut:
    """What identifAI reported about C2PA, and whether its default rule may have forced the verdict."""
    prevent = options.prevent_c2pa_forces if options else None
    if c2pa is None:
        return C2PAOut(present=False, prevent_c2pa_forces=prevent)
    manifest = _active_manifest(c2pa)
    return C2PAOut(
        present=True,
        validation_state=c2pa.validation_state,
        # The API does not say whether its C2PA rule fired; "may have" is all the data supports.
        forced_verdict=verdict == "artificial" and not prevent,
        prevent_c2pa_forces=prevent,
        active_manifest=c2pa.active_manifest,
        claim_generator=_claim_generator(manifest),
        title=_str(manifest.get("title")),
        signer=_signer(manifest),
        ai_declaration=_ai_declaration(manifest),
        validation_failures=_failure_codes(c2pa),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _active_manifest(c2pa: C2PA) -> dict[str, Any]:
    manifests = _dict(c2pa.manifests)
    if c2pa.active_manifest and c2pa.active_manifest in manifests:
        return _dict(manifests[c2pa.active_manifest])
    # Without a named active manifest, a lone manifest is unambiguous; several are not.
    return _dict(next(iter(manifests.values()))) if len(manifests) == 1 else {}


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    if name := _str(manifest.get("claim_generator")):
        return name
    for info in _list(manifest.get("claim_generator_info")):
        info = _dict(info)
        if name := _str(info.get("name")):
            version = _str(info.get("version"))
            return f"{name} {version}" if version else name
    return None


def _signer(manifest: dict[str, Any]) -> str | None:
    info = _dict(manifest.get("signature_info"))
    return _str(info.get("issuer")) or _str(info.get("common_name"))


def _ai_declaration(manifest: dict[str, Any]) -> AiDeclaration | None:
    found: set[str] = set()
    for assertion in _list(manifest.get("assertions")):
        assertion = _dict(assertion)
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in _list(_dict(assertion.get("data")).get("actions")):
            action = _dict(action)
            kind = _str(action.get("digitalSourceType")) or _str(action.get("digital_source_type")) or ""
            # IPTC terms come as full URIs (http://cv.iptc.org/newscodes/digitalsourcetype/...) or bare.
            term = kind.rsplit("/", 1)[-1]
            if term == COMPOSITE:
                found.add("composite")
            elif term == GENERATED:
                found.add("generated")
    if "generated" in found:
        return "generated"
    return "composite" if found else None


def _failure_codes(c2pa: C2PA) -> list[str]:
    active = _dict(_dict(c2pa.validation_results).get("activeManifest"))
    entries = _list(active.get("failure")) if c2pa.validation_results is not None else _list(c2pa.validation_status)
    codes = [code for entry in entries if (code := _str(_dict(entry).get("code")))]
    return list(dict.fromkeys(codes))[:MAX_FAILURE_CODES]

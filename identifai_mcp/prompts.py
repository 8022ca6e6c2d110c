"""Prompt texts: Markdown files with a small front matter, shipped inside the wheel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)


@dataclass(frozen=True)
class PromptText:
    name: str
    title: str
    description: str
    arguments: dict[str, str]  # name -> description, all required
    body: str

    def render(self, values: dict[str, str]) -> str:
        missing = [a for a in self.arguments if not str(values.get(a, "")).strip()]
        if missing:
            raise ValueError(f"Missing required argument(s): {', '.join(missing)}")
        # Arguments are user text: substitute them literally, never as format strings.
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), self.body)


def prompts_dir() -> Path:
    """The folder of prompt files: inside the installed package, or at the top of a checkout."""
    packaged = Path(__file__).with_name("prompts")
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "prompts"


def parse(text: str) -> PromptText:
    match = _FRONT.match(text.replace("\r\n", "\n"))
    if not match:
        raise ValueError("a prompt file starts with a --- front matter block")
    header, body = match.groups()
    meta: dict[str, str] = {}
    arguments: dict[str, str] = {}
    in_args = False
    for line in header.splitlines():
        if not line.strip():
            continue
        if line.startswith("  ") and in_args:
            key, _, value = line.strip().partition(":")
            arguments[key.strip()] = value.strip()
            continue
        key, _, value = line.partition(":")
        in_args = key.strip() == "arguments"
        if not in_args:
            meta[key.strip()] = value.strip()
    return PromptText(meta["name"], meta.get("title", meta["name"]), meta.get("description", ""), arguments, body.strip() + "\n")


def load_prompts(folder: Path | None = None) -> list[PromptText]:
    folder = folder or prompts_dir()
    return [parse(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.md"))]

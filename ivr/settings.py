"""The whole configuration of a hotline: routing.yaml plus one prompts file per language."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import Routing, load_routing
from .console_labels import load_labels
from .errors import ConfigError
from .phone import Caller
from .prompts import PromptSet, load_prompts
from .saved_replies import SavedReply, load_saved_replies
from .sms.text import SMS_TEMPLATES, check_sms_templates


@dataclass(frozen=True)
class HotlineConfig:
    routing: Routing
    prompts: dict[str, PromptSet]
    console_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    saved_replies: dict[str, dict[str, SavedReply]] = field(default_factory=dict)

    def language_for(self, caller: Caller) -> str:
        """Romanian (the first language) for home callers and withheld numbers, else the foreign one."""
        if caller.region is None or caller.region == self.routing.hotline.holidays:
            return self.routing.default_language
        return self.routing.foreign_language

    def milestone_name(self, department: str, name: str, lang: str) -> str:
        """A milestone as people read it in ``lang``: its routing.yaml title, else the console's
        words for a common key ("termen promis"), else the key itself."""
        dept = self.routing.departments.get(department)
        title = dept.milestone_title(name, lang) if dept is not None else None
        common = self.console_labels.get(lang, {}).get(f"milestone_name_{name}")
        return title or (common if isinstance(common, str) else None) or name

    def prompt_set(self, lang: str | None) -> PromptSet:
        return self.prompts.get(lang or "", self.prompts[self.routing.default_language])


def config_paths() -> tuple[Path, Path]:
    """routing.yaml and prompts/: $IVR_ROUTING_FILE and $IVR_PROMPTS_DIR, else the working directory's."""
    return (
        Path(os.environ.get("IVR_ROUTING_FILE", "routing.yaml")),
        Path(os.environ.get("IVR_PROMPTS_DIR", "prompts")),
    )


# A BCP-47 language code with its region, as Real-Time Transcription takes it (ro-RO, en-US).
_TRANSCRIPTION_LANGUAGE = re.compile(r"[a-z]{2,3}-[A-Z]{2}")


def _transcription_problems(routing: Routing, prompts: dict[str, PromptSet]) -> list[str]:
    """With hotline.transcription on, each prompts file's language is the transcription's languageCode."""
    if not routing.hotline.transcription:
        return []
    return [
        f'{p.source}: language: "{p.language}" is not a language code such as ro-RO or en-US, '
        "which hotline.transcription needs for Twilio's Real-Time Transcription"
        for p in prompts.values() if not _TRANSCRIPTION_LANGUAGE.fullmatch(p.language)
    ]


def load_hotline(routing_file: Path, prompts_dir: Path) -> HotlineConfig:
    """Load and validate everything; ConfigError lists every fault found in every file."""
    if not routing_file.is_file():
        raise ConfigError([f"{routing_file.resolve()}: file not found (run ivr where routing.yaml is, or set IVR_ROUTING_FILE)"])
    if not prompts_dir.is_dir():
        raise ConfigError([f"{prompts_dir.resolve()}: prompts folder not found (run ivr where prompts/ is, or set IVR_PROMPTS_DIR)"])
    routing = load_routing(routing_file)
    prompts = load_prompts(prompts_dir, routing.hotline.languages, SMS_TEMPLATES, routing.shared_milestones)
    problems = check_sms_templates(routing, prompts) + _transcription_problems(routing, prompts)
    if problems:
        raise ConfigError(problems)
    languages = routing.hotline.languages
    return HotlineConfig(routing, prompts, load_labels(prompts_dir, languages), load_saved_replies(prompts_dir, languages))

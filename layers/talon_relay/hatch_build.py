"""Hatchling metadata hook: the package's dependencies are the pins of requirements.txt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


class RequirementsMetadataHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        lines = (Path(self.root) / "requirements.txt").read_text(encoding="utf-8").splitlines()
        metadata["dependencies"] = [req for req in (line.split("#", 1)[0].strip() for line in lines) if req]

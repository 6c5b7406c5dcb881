"""Build hook: the wheel ships the message catalogues compiled, so that an installed casework
never writes into its own package (a checkout compiles them when the app starts)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogues(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        source = Path(self.root) / "casework" / "translations"
        self._tmp = tempfile.TemporaryDirectory()
        for po_path in sorted(source.glob("*/LC_MESSAGES/*.po")):
            relative = po_path.relative_to(source).with_suffix(".mo")
            mo_path = Path(self._tmp.name) / relative
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=relative.parts[0])
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
            build_data["force_include"][str(mo_path)] = f"casework/translations/{relative}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if hasattr(self, "_tmp"):
            self._tmp.cleanup()

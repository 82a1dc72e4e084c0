"""What ``flashc build`` left in ``.flash/``, read the way every deploy target needs it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .. import package
from ..errors import FlashcError


class NoBuildError(FlashcError):
    """The project has no (complete) build to deploy."""


@dataclass(frozen=True, slots=True)
class Built:
    output: Path
    manifest: dict

    @classmethod
    def read(cls, root: Path) -> Built:
        package.recover_output(root)  # a build killed between its renames: its previous output
        output = root / package.OUTPUT
        try:
            manifest = json.loads((output / "flash_manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NoBuildError(f"{root} has no build; run `flashc build` first") from None
        return cls(output, manifest)

    @property
    def digests(self) -> dict[str, str]:
        """Each endpoint's package digest (the manifest's ``flashc.endpoint_digests``)."""
        return dict(self.manifest.get("flashc", {}).get("endpoint_digests", {}))

    @property
    def names(self) -> list[str]:
        return sorted(self.manifest.get("resources", {}))

    def endpoint(self, name: str) -> dict:
        return self.manifest["resources"][name]

    @property
    def artifact(self) -> Path:
        return self.output / package.ARTIFACT

    def artifact_sha256(self) -> str:
        """The artifact's sha256, from its bytes (what is uploaded is what was hashed)."""
        digest = hashlib.sha256()
        try:
            with self.artifact.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            raise NoBuildError(f"{self.artifact} is missing; run `flashc build` again") from None
        return digest.hexdigest()

"""A deploy plan is data: what would be created, replaced, removed or left alone, and why.

Targets compute it from the build (the manifest's per-endpoint digests) and the
recorded state, print it for ``flashc deploy --plan``, and apply it otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from .state import DeployState


class Change(Enum):
    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    """Changed in place, field by field (a target that can update, like RunPod)."""
    REMOVE = "remove"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One drifted setting: ``field: old -> new`` (JSON values; secrets already masked)."""

    field: str
    old: object
    new: object


@dataclass(frozen=True, slots=True)
class Action:
    change: Change
    endpoint: str
    reason: str
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    env: str
    target: str
    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()
    """Target-level steps beside the endpoints (RunPod: create the app, upload the artifact)."""

    @property
    def changes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.change is not Change.KEEP)

    def render(self) -> str:
        """``+ create``, ``~ replace``, ``- remove``, ``= keep`` lines, then a count."""
        marks = {Change.CREATE: "+", Change.REPLACE: "~", Change.UPDATE: "~", Change.REMOVE: "-", Change.KEEP: "="}
        lines = [f"  * {note}" for note in self.notes]
        for a in self.actions:
            lines.append(f"  {marks[a.change]} {a.change.value:<7} {a.endpoint}  ({a.reason})")
            lines.extend(f"      {f.field}: {_shown(f.old)} -> {_shown(f.new)}" for f in a.fields)
        counts = {change: sum(1 for a in self.actions if a.change is change) for change in Change}
        changing = (Change.CREATE, Change.REPLACE, Change.UPDATE, Change.REMOVE)
        summary = ", ".join(f"{counts[c]} to {c.value}" for c in changing if counts[c])
        if self.notes:
            summary += (", " if summary else "") + f"{len(self.notes)} other step{'s' if len(self.notes) > 1 else ''}"
        lines.append(f"{self.target}/{self.env}: " + (summary or "nothing to change"))
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, object]:
        """The plan as JSON data (``flashc deploy --plan --format json``)."""
        return {
            "env": self.env,
            "target": self.target,
            "notes": list(self.notes),
            "actions": [
                {
                    "change": a.change.value,
                    "endpoint": a.endpoint,
                    "reason": a.reason,
                    "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in a.fields],
                }
                for a in self.actions
            ],
            "empty": not self.changes and not self.notes,
        }


def _shown(value: object) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def compute_plan(env: str, target: str, built: Mapping[str, str], state: DeployState | None, running: bool) -> Plan:
    """``built`` maps endpoint name -> digest; ``running``: the recorded processes are alive."""
    deployed = state.endpoints if state is not None and running else {}
    actions = []
    for name in sorted(set(built) | set(deployed)):
        if name not in deployed:
            reason = "new endpoint" if state is None or name not in state.endpoints else "not running"
            actions.append(Action(Change.CREATE, name, reason))
        elif name not in built:
            actions.append(Action(Change.REMOVE, name, "no longer in the project"))
        elif deployed[name].digest != built[name]:
            actions.append(Action(Change.REPLACE, name, "its code or configuration changed"))
        else:
            actions.append(Action(Change.KEEP, name, "unchanged"))
    return Plan(env, target, tuple(actions))

"""Read a stage's environment variables from .chalice/config.json (global, then stage)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stage_environment(stage: str = "local") -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise KeyError(f"no stage {stage!r} in .chalice/config.json")
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env

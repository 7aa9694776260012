"""Thresholds and the pass/fail verdict a CI job exits on.

A threshold is just ``metric: bound``; whether the bound is a floor or a ceiling follows from
the metric (nobody wants a *minimum* wrong-refusal rate), so a thresholds file cannot get the
direction wrong. Files may hold one flat mapping, or per-suite mappings over a default:

    {"default": {"faithfulness": 0.9}, "suites": {"multihop-ci": {"correctness": 0.2}}}

A suite's entry is laid over the default; ``null`` removes a default bound for that suite.
Which metrics can be bounded, and which way, is eval.metric_table's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.metric_table import GATED, HIGHER_IS_BETTER

__all__ = [
    "Check",
    "ThresholdError",
    "Thresholds",
    "check",
    "default_thresholds_path",
    "load_thresholds",
    "parse_thresholds",
]

_KNOWN = {m.name for m in GATED}


class ThresholdError(ValueError):
    """A thresholds file or option that cannot be used: a usage error."""


@dataclass
class Thresholds:
    bounds: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def with_overrides(self, overrides: Mapping[str, float | None]) -> Thresholds:
        merged = dict(self.bounds)
        for metric, bound in overrides.items():
            if bound is not None:
                merged[metric] = float(_validated(metric, bound, "command line"))
        return Thresholds(merged, self.source or "command line")


@dataclass
class Check:
    metric: str
    op: str
    bound: float
    value: float | int | None
    status: str
    """"pass", "fail" or "not measured" (the suite cannot measure it: never a failure)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        shown = "null" if self.value is None else f"{self.value:g}"
        return f"{self.metric} = {shown} (required {self.op} {self.bound:g}): {self.status}"


def default_thresholds_path() -> Path:
    return Path(__file__).resolve().parent / "thresholds.json"


def _validated(metric: str, bound: object, origin: str) -> float:
    if metric not in _KNOWN:
        raise ThresholdError(
            f"{origin}: unknown metric {metric!r} (known: {', '.join(sorted(_KNOWN))})"
        )
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        raise ThresholdError(f"{origin}: bound for {metric!r} must be a number")
    if metric in HIGHER_IS_BETTER and not 0.0 <= bound <= 1.0:
        raise ThresholdError(f"{origin}: bound for {metric!r} must be between 0 and 1")
    if bound < 0:
        raise ThresholdError(f"{origin}: bound for {metric!r} must not be negative")
    return float(bound)


def _mapping(data: object, origin: str) -> dict[str, float | None]:
    if not isinstance(data, dict):
        raise ThresholdError(f"{origin}: expected an object of metric: bound")
    return {str(k): (None if v is None else _validated(str(k), v, origin)) for k, v in data.items()}


def parse_thresholds(data: object, origin: str, suite: str) -> Thresholds:
    if not isinstance(data, dict):
        raise ThresholdError(f"{origin}: expected a JSON object")
    if "default" in data or "suites" in data:
        extra = set(data) - {"default", "suites", "notes"}
        if extra:
            raise ThresholdError(f"{origin}: unexpected key {sorted(extra)[0]!r}")
        bounds = _mapping(data.get("default", {}), f"{origin}: default")
        suites = data.get("suites", {})
        if not isinstance(suites, dict):
            raise ThresholdError(f"{origin}: 'suites' must map suite names to bounds")
        if suite in suites:
            bounds.update(_mapping(suites[suite], f"{origin}: suites.{suite}"))
            origin = f"{origin} (suite {suite!r})"
    else:
        bounds = _mapping(data, origin)
    return Thresholds({k: v for k, v in bounds.items() if v is not None}, origin)


def load_thresholds(path: str | Path, suite: str) -> Thresholds:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThresholdError(f"{path}: no such thresholds file") from None
    except json.JSONDecodeError as exc:
        raise ThresholdError(f"{path}: malformed JSON ({exc.msg}, line {exc.lineno})") from None
    return parse_thresholds(data, str(path), suite)


def check(
    aggregate: Mapping[str, float | int | None], thresholds: Thresholds, errors: int = 0
) -> list[Check]:
    """One check per bound, in a stable order, plus a check that no case errored (a case the
    target failed on measured nothing, so the run cannot vouch for it)."""
    checks: list[Check] = []
    for metric in GATED:
        if metric.name not in thresholds.bounds:
            continue
        bound = thresholds.bounds[metric.name]
        value = aggregate.get(metric.name)
        if value is None:
            status = "not measured"
        elif metric.higher_is_better:
            status = "pass" if value >= bound - 1e-9 else "fail"
        else:
            status = "pass" if value <= bound + 1e-9 else "fail"
        checks.append(Check(metric.name, metric.op, bound, value, status))
    checks.append(Check("errors", "<=", 0, errors, "pass" if errors == 0 else "fail"))
    return checks

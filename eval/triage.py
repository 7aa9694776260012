"""Which cases a report points at, and why: shared by report.md, report.html and the pytest
helper's failure message.
"""

from __future__ import annotations

from typing import Any

__all__ = ["problems"]


def problems(case: dict[str, Any]) -> list[str]:
    """Why a case is shown among the worst (report.md, report.html); empty for a good case."""
    out: list[str] = []
    if case.get("error"):
        out.append("error")
    if case.get("wrong_refusal"):
        out.append("wrong refusal")
    if case.get("missed_refusal"):
        out.append("should have refused")
    if case.get("correct") is False and not case.get("wrong_refusal"):
        out.append("incorrect")
    if case.get("faithfulness") is not None and case["faithfulness"] < 1.0:
        out.append(f"faithfulness {case['faithfulness']:.2f}")
    if case.get("fake_repeated"):
        out.append("repeats planted answer")
    return out

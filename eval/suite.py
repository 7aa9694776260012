"""Evaluation suites: JSON Lines files, one question per line, checked strictly on load.

A suite is hand-edited and lives for years, so every mistake (a misspelt key, an answer given
as a number, a case marked unanswerable that also has a gold answer) is reported with its
``file:line`` before any model loads: a typo must never silently turn into an unmeasured case.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from core.records import Filters

__all__ = ["SuiteCase", "SuiteError", "load_suite", "suite_digest"]

_KEYS = {
    "id",
    "question",
    "answer",
    "evidence",
    "unanswerable",
    "kind",
    "filters",
    "fake_answer",
    "date",
    "notes",
}
_FILTER_KEYS = {"source", "published_after", "published_before", "as_of"}


class SuiteError(ValueError):
    """A suite that cannot be run; the message starts with ``file:line``."""


@dataclass(frozen=True)
class SuiteCase:
    """One question and what a good answer to it looks like.

    ``answers`` are alternatives (any one counts); ``evidence`` items are all needed (recall
    is the share of them retrieved). ``fake_answer`` is a planted falsehood the corpus
    carries (RGB counterfactual cases): repeating it is what the suite measures.
    """

    id: str
    question: str
    answers: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    unanswerable: bool = False
    kind: str = ""
    filters: Filters | None = None
    fake_answer: str | None = None
    line: int = 0

    @property
    def answerable(self) -> bool:
        return not self.unanswerable

    def filters_dict(self) -> dict[str, str]:
        """The filters as /ask and /search take them (dates as ISO strings)."""
        return self.filters.as_dict() if self.filters is not None else {}

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"id": self.id, "question": self.question}
        if self.answers:
            record["answer"] = list(self.answers)
        if self.evidence:
            record["evidence"] = list(self.evidence)
        if self.unanswerable:
            record["unanswerable"] = True
        if self.kind:
            record["kind"] = self.kind
        if self.filters is not None:
            record["filters"] = self.filters_dict()
        if self.fake_answer:
            record["fake_answer"] = self.fake_answer
        return record


def _strings(value: object, key: str, where: str) -> tuple[str, ...]:
    items: Sequence[object] = value if isinstance(value, list) else [value]
    if not items:
        raise SuiteError(f"{where}: {key!r} is an empty list")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise SuiteError(f"{where}: {key!r} must be a non-empty string or a list of them")
        out.append(item.strip())
    return tuple(out)


def _filters(value: object, where: str) -> Filters:
    if not isinstance(value, dict):
        raise SuiteError(f"{where}: 'filters' must be an object")
    unknown = set(value) - _FILTER_KEYS
    if unknown:
        raise SuiteError(
            f"{where}: unknown filter {sorted(unknown)[0]!r} "
            f"(expected {', '.join(sorted(_FILTER_KEYS))})"
        )
    source = value.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise SuiteError(f"{where}: filters.source must be a non-empty string")
    dates: dict[str, date | None] = {}
    for key in ("published_after", "published_before", "as_of"):
        raw = value.get(key)
        if raw is None:
            dates[key] = None
            continue
        try:
            dates[key] = date.fromisoformat(str(raw))
        except ValueError:
            raise SuiteError(f"{where}: filters.{key} {raw!r} is not a date (YYYY-MM-DD)") from None
    try:
        return Filters(source=source.strip() if source else None, **dates)
    except ValueError as exc:
        raise SuiteError(f"{where}: filters: {exc}") from None


def parse_case(record: object, where: str, default_id: str, line: int = 0) -> SuiteCase:
    if not isinstance(record, dict):
        raise SuiteError(f"{where}: expected a JSON object, got {type(record).__name__}")
    unknown = set(record) - _KEYS
    if unknown:
        raise SuiteError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (expected {', '.join(sorted(_KEYS))})"
        )
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise SuiteError(f"{where}: 'question' is missing or empty")
    raw_id = record.get("id", default_id)
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool) or not str(raw_id).strip():
        raise SuiteError(f"{where}: 'id' must be a non-empty string or an integer")
    unanswerable = record.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise SuiteError(f"{where}: 'unanswerable' must be true or false")
    answers = _strings(record["answer"], "answer", where) if "answer" in record else ()
    if unanswerable and answers:
        raise SuiteError(f"{where}: a case marked unanswerable cannot have a gold 'answer'")
    evidence = _strings(record["evidence"], "evidence", where) if "evidence" in record else ()
    kind = record.get("kind", "")
    if not isinstance(kind, str):
        raise SuiteError(f"{where}: 'kind' must be a string")
    fake = record.get("fake_answer")
    if fake is not None and (not isinstance(fake, str) or not fake.strip()):
        raise SuiteError(f"{where}: 'fake_answer' must be a non-empty string")
    filters = _filters(record["filters"], where) if record.get("filters") else None
    return SuiteCase(
        id=str(raw_id).strip(),
        question=" ".join(question.split()),
        answers=answers,
        evidence=evidence,
        unanswerable=unanswerable,
        kind=kind,
        filters=filters,
        fake_answer=fake.strip() if fake else None,
        line=line,
    )


def load_suite(path: str | Path) -> list[SuiteCase]:
    """Every case of a suite file; the first bad line stops the load with its location."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such suite file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: is not UTF-8 text") from None
    cases: list[SuiteCase] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        case = parse_case(record, where, default_id=str(number), line=number)
        if case.id in seen:
            raise SuiteError(f"{where}: duplicate id {case.id!r} (first on line {seen[case.id]})")
        seen[case.id] = number
        cases.append(case)
    if not cases:
        raise SuiteError(f"{path}: the suite has no cases")
    return cases


def suite_digest(path: str | Path) -> str:
    """Recorded in reports, so two reports can be checked to come from the same suite."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]

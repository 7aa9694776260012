"""Reading a news question before searching: which outlets, which dates, which parts.

"Did The Verge and TechCrunch agree ...?" needs passages from both outlets; "the latest on X"
wants recent articles; "in October 2023" names a window; "Who attended the meeting and what
did Israel say?" is two searches. No LLM is needed for these: the outlets come from the catalog,
dates from a small grammar, parts from conjunctions between clauses.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from core.records import Filters
from core.words import MONTH_ABBREVIATIONS, MONTH_PATTERN, MONTHS

_MONTHS = {name: number for number, name in enumerate(MONTHS, start=1)} | MONTH_ABBREVIATIONS
"""Month names and their short forms, to the month number."""
_MONTH = MONTH_PATTERN
_DAY_MONTH_YEAR = re.compile(
    rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH})\.?|(?P<m2>{_MONTH})\.?\s+"
    rf"(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)(?:,?\s+(?P<y>(?:19|20)\d\d))?\b",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(rf"\b(?:in\s+)?(?P<m>{_MONTH})\.?\s+(?P<y>(?:19|20)\d\d)\b", re.IGNORECASE)
_ISO = re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)\b")
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_SEASONS = ("season", "spring", "summer", "fall", "autumn", "winter")
_RECENT = re.compile(
    r"\b(latest|most recent|recently|newest|current(?:ly)?|now|so far|to date|"
    rf"this (?:week|month|year|{'|'.join(_SEASONS)})|today|yesterday|"
    r"(?:last|past) (?:week|few days)|next (?:week|month|year|weekend)|upcoming|"
    r"new (?:study|research|report|survey|poll|analysis|data|figures|findings|record|recall|"
    rf"law|rules?)|{_WEEKDAY})\b",
    re.IGNORECASE,
)
_RELATIVE = {
    "today": 1,
    "yesterday": 2,
    "this week": 7,
    "last week": 14,
    "last few days": 4,
    "past week": 7,
    "past few days": 4,
    "this month": 31,
} | {f"this {season}": 92 for season in _SEASONS}
_WEEKDAY_ALONE = re.compile(rf"\b{_WEEKDAY}\b", re.IGNORECASE)
_NOT_A_PERIOD = re.compile(
    r"\b(?:black friday|cyber monday|giving tuesday|super tuesday|ash wednesday|good friday|"
    r"small business saturday|easter sunday|super bowl sunday)\b",
    re.IGNORECASE,
)
_OUTLET_TODAY = re.compile(r"\b[A-Z][\w&]*\s+(?:Today|TODAY)\b")
"""Days and names that are no period of the present: "Black Friday sales" is a shopping
event, not last Friday, and "Business Today" or "USA TODAY" is an outlet."""
RECENT_DAYS = 31
"""How far back "recently", "now" or "a new study" reach when the question names no period:
news asked about as current is the last month's."""
_SPLIT = re.compile(
    r"\s*(?:,\s*)?\b(?:and|while|whereas|but)\s+(?=(?:who|what|when|where|which|why|how|did|"
    r"does|do|is|are|was|were|has|have)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SubQuery:
    text: str
    filters: Filters


@dataclass(frozen=True)
class QueryPlan:
    question: str
    parts: list[SubQuery]
    recency: bool = False
    window: tuple[date, date] | None = None
    """A date range the question names: passages inside it are preferred, not required."""
    sources: list[str] = field(default_factory=list)
    recent: tuple[date, date] | None = None
    """The period the question is about as current news (its window, or the last month for
    "recently", "now", "a new study"): searched on its own as well, so its reports reach the
    reranker, but not preferred there (in an archive "recently" is often the article's word,
    not the asker's)."""
    reference_day: date | None = None
    """The day relative dates were read from (see today)."""
    period: tuple[date, date] | None = None
    """Where the readers look first (see current_period)."""

    @property
    def asked_on(self) -> date | None:
        """The day a question about the present is asked on, for the reader's prompt; None for
        any other question (a date the question does not need moved the model's yes/no
        verdicts on MultiHop-RAG CI)."""
        return self.reference_day if self.recency else None


def plan_query(
    question: str,
    filters: Filters,
    known_sources: Sequence[str],
    newest: date | None,
) -> QueryPlan:
    outlets = mentioned_sources(question, known_sources)
    sources = outlets if not filters.source else []
    recency = relative_to_today(question)
    now = today(newest, filters.as_of)
    relative = relative_window(question, now)
    window = named_window(question) or relative
    recent = window or (last_month(now) if recency else None)
    period = current_period(relative, recency, now, outlets)
    texts = split_parts(question)
    parts: list[SubQuery] = []
    if len(sources) > 1:
        # A comparison of outlets: search each outlet for the whole question.
        for source in sources:
            parts.append(SubQuery(question, replace(filters, source=source)))
    elif len(sources) == 1 and len(texts) == 1:
        parts.append(SubQuery(question, replace(filters, source=sources[0])))
        parts.append(SubQuery(question, filters))  # the outlet may be named, not the carrier
    else:
        parts = [SubQuery(text, filters) for text in texts]
        if len(parts) > 1:
            parts.insert(0, SubQuery(question, filters))
    return QueryPlan(question, parts, recency, window, sources, recent, now, period)


def relative_to_today(question: str) -> bool:
    """Whether the question is asked about the present ("this week", "now", "the latest", "a
    new study", "on Wednesday"): its answer depends on the day it is asked on."""
    return bool(_RECENT.search(_without_names(question)))


def today(newest: date | None, as_of: date | None) -> date | None:
    """The day relative dates are read from: the newest story, unless the question is asked
    as of an earlier day (then stories after it do not exist for the question)."""
    if as_of is None:
        return newest
    return min(newest, as_of) if newest else as_of


def mentioned_sources(question: str, known: Sequence[str]) -> list[str]:
    lowered = f" {question.lower()} "
    found: list[str] = []
    for source in sorted(known, key=len, reverse=True):
        name = source.lower().strip()
        if len(name) < 3:
            continue
        pattern = r"(?<![\w])['\"‘“]?" + re.escape(name) + r"['\"’”]?(?![\w])"
        if re.search(pattern, lowered) and not any(name in f.lower() for f in found):
            found.append(source)
    return found


def split_parts(question: str) -> list[str]:
    """'Who attended and what did Israel say?' -> two questions; lists of names stay whole
    (the split needs a question word or auxiliary after the conjunction)."""
    pieces = [p.strip(" ,;") for p in _SPLIT.split(question) if p and p.strip(" ,;")]
    if len(pieces) < 2 or any(len(p.split()) < 3 for p in pieces):
        return [question]
    return [p if p.endswith("?") else p + "?" for p in pieces]


def named_window(question: str) -> tuple[date, date] | None:
    match = _ISO.search(question)
    if match:
        try:
            day = date(int(match["y"]), int(match["m"]), int(match["d"]))
            return day, day
        except ValueError:
            return None
    match = _DAY_MONTH_YEAR.search(question)
    if match and match["y"]:
        month = _MONTHS[(match["m1"] or match["m2"]).lower()]
        try:
            day = date(int(match["y"]), month, int(match["d1"] or match["d2"]))
            return day, day
        except ValueError:
            return None
    match = _MONTH_YEAR.search(question)
    if match:
        month = _MONTHS[match["m"].lower()]
        year = int(match["y"])
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    return None


def relative_window(question: str, newest: date | None) -> tuple[date, date] | None:
    """'This week' in a news archive means the week before its newest story, not before the
    wall clock: an archive of October 2023 is asked about as if read then. A bare weekday
    ("down for millions on Wednesday") is the last seven days, as news copy uses it; "this
    year" runs from 1 January."""
    if newest is None:
        return None
    question = _without_names(question)
    lowered = question.lower()
    for phrase, days in _RELATIVE.items():
        if phrase in lowered:
            return newest - timedelta(days=days - 1), newest
    if "this year" in lowered:
        return date(newest.year, 1, 1), newest
    if _WEEKDAY_ALONE.search(question):
        return newest - timedelta(days=6), newest
    return None


def _without_names(question: str) -> str:
    return _OUTLET_TODAY.sub(" ", _NOT_A_PERIOD.sub(" ", question))


def in_period(published: date | None, window: tuple[date, date] | None) -> bool:
    """Whether a report of that day falls in the window (an undated one never does)."""
    return bool(window and published and window[0] <= published <= window[1])


def current_period(
    relative: tuple[date, date] | None,
    recency: bool,
    now: date | None,
    outlets: Sequence[str],
) -> tuple[date, date] | None:
    """The period a question about the present is about: the one it names relative to today
    (``relative``, "this week"), else the last month for "now", "recently" or "a new study"
    (``recency``); None for a question about no present at all. A question naming ``outlets``
    ("the company recently noted by TechCrunch") asks what they reported: its "recently" dates
    their report, not the fact, so only a period it names counts."""
    if relative is None and not outlets and recency:
        return last_month(now)
    return relative


def last_month(newest: date | None) -> tuple[date, date] | None:
    """The period a question asks about as current news ("recently", "now", "a new study")
    when it names none: the last ``RECENT_DAYS``."""
    if newest is None:
        return None
    return newest - timedelta(days=RECENT_DAYS - 1), newest

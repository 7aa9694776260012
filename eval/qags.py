"""Validate a support scorer against human judgements (QAGS, Wang et al., ACL 2020).

The faithfulness numbers the harness reports are only as good as the scorer behind them, so
the scorer is checked against people: QAGS-CNNDM has 714 summary sentences, each judged
"supported by the article?" by three crowd workers. The metrics are plain numpy so the check
runs wherever the harness does, without scikit-learn.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from eval.support import SupportScorer

__all__ = [
    "balanced_accuracy",
    "best_threshold",
    "load_qags",
    "roc_auc",
    "subsample_articles",
    "validate_scorer",
]


# QAGS articles are tokenised CNN/DM text, re-joined with spaces: "235, 000" and "1. 3 billion"
# where the summaries say "235,000" and "1.3 billion". Undoing that keeps the number check
# from failing on formatting that no real passage has.
_SPLIT_THOUSANDS = re.compile(
    r"(?<=\b\d), (?=\d{3}\b)|(?<=\b\d\d), (?=\d{3}\b)|(?<=\b\d\d\d), (?=\d{3}\b)"
)
_SPLIT_DECIMAL = re.compile(r"(?<=\d)\. (?=\d)")


def _detokenise(text: str) -> str:
    return _SPLIT_DECIMAL.sub(".", _SPLIT_THOUSANDS.sub(",", text))


def load_qags(path: str | Path, clean: bool = True) -> list[tuple[str, str, bool]]:
    """(article, summary sentence, supported) triples; supported = a majority said "yes".

    A strict majority of the workers who answered, so a sentence with an even split (which
    QAGS does not contain: every sentence has three answers) would count as unsupported.
    ``clean`` re-joins numbers split by the original tokenisation ("3, 800" -> "3,800").
    """
    rows: list[tuple[str, str, bool]] = []
    with Path(path).open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_number}: not JSON ({exc})") from exc
            article = _detokenise(record["article"]) if clean else record["article"]
            for item in record["summary_sentences"]:
                answers = [str(r["response"]).strip().lower() for r in item["responses"]]
                yes = sum(a == "yes" for a in answers)
                sentence = _detokenise(item["sentence"]) if clean else item["sentence"]
                rows.append((article, sentence, yes * 2 > len(answers)))
    return rows


def _arrays(
    scores: Sequence[float] | NDArray[np.float64], labels: Sequence[bool] | NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores and labels must be 1-d and equal length: {s.shape} {y.shape}")
    return s, y


def _ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks with ties given their average rank (what Mann-Whitney U needs)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve via the rank-sum statistic; ties count one half, which is
    what keeps a scorer that gives everything 1.0 at exactly 0.5."""
    s, y = _arrays(scores, labels)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both positive and negative labels")
    ranks = _ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def balanced_accuracy(
    scores: Sequence[float] | NDArray[np.float64],
    labels: Sequence[bool] | NDArray[np.bool_],
    threshold: float,
) -> float:
    """Mean of the true-positive and true-negative rates at ``score >= threshold``.

    Balanced because three quarters of QAGS sentences are supported: plain accuracy would
    reward calling everything supported.
    """
    s, y = _arrays(scores, labels)
    predicted = s >= threshold
    tpr = float((predicted & y).sum() / max(int(y.sum()), 1))
    tnr = float((~predicted & ~y).sum() / max(int((~y).sum()), 1))
    return (tpr + tnr) / 2.0


def best_threshold(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The cut that maximises balanced accuracy, placed midway between adjacent scores so
    it does not sit exactly on a training example."""
    s, y = _arrays(scores, labels)
    values = np.unique(s)
    candidates = np.concatenate(([values[0]], (values[:-1] + values[1:]) / 2.0, [values[-1]]))
    best, best_value = float(candidates[0]), -1.0
    for candidate in candidates:
        value = balanced_accuracy(s, y, float(candidate))
        if value > best_value:
            best, best_value = float(candidate), value
    return best


def subsample_articles(
    rows: Sequence[tuple[str, str, bool]], max_articles: int
) -> list[tuple[str, str, bool]]:
    """Every k-th article with all its sentences: deterministic, and it keeps the expensive
    part (encoding articles) proportional to the sample, which sampling sentences would not."""
    articles = list(dict.fromkeys(article for article, _, _ in rows))
    if max_articles >= len(articles):
        return list(rows)
    step = len(articles) / max_articles
    keep = {articles[int(i * step)] for i in range(max_articles)}
    return [row for row in rows if row[0] in keep]


def validate_scorer(
    scorer: SupportScorer,
    path: str | Path,
    threshold: float | None = None,
    max_articles: int | None = None,
) -> dict[str, float]:
    """AUC and balanced accuracy of ``scorer`` on a QAGS file, the whole article as evidence.

    With ``threshold=None`` the best threshold on this data is chosen and reported, which is
    optimistic; pass a fixed one to measure a deployed setting. ``max_articles`` keeps a
    deterministic subset of articles for quick checks.
    """
    rows = load_qags(path)
    if max_articles is not None:
        rows = subsample_articles(rows, max_articles)
    pairs = [(sentence, article) for article, sentence, _ in rows]
    labels = [label for _, _, label in rows]
    started = time.perf_counter()
    scores = scorer.score(pairs)
    elapsed = time.perf_counter() - started
    chosen = best_threshold(scores, labels) if threshold is None else threshold
    return {
        "n": len(rows),
        "auc": roc_auc(scores, labels),
        "balanced_accuracy": balanced_accuracy(scores, labels, chosen),
        "threshold": chosen,
        "seconds_per_claim": elapsed / max(len(rows), 1),
    }

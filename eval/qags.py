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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from assistant.judge.support import SupportScorer

__all__ = [
    "balanced_accuracy",
    "best_threshold",
    "cross_validate",
    "equal_error_threshold",
    "fit_logistic",
    "load_qags",
    "logistic_fitter",
    "maximin_threshold",
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
    return maximin_threshold(scores, labels, [""] * len(scores))


def equal_error_threshold(
    scores: Sequence[float] | NDArray[np.float64],
    labels: Sequence[bool] | NDArray[np.bool_],
    weights: Sequence[float] | NDArray[np.float64] | None = None,
) -> float:
    """The cut where the (weighted) true-positive and true-negative rates meet.

    The shipped threshold sits here rather than at the balanced-accuracy maximum: the maximum
    is often a narrow peak on a flat curve, and the equal-error point moves less between data
    sets. ``weights`` let two data sets count equally whatever their sizes.
    """
    s, y = _arrays(scores, labels)
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(s)
    s, y, w = s[order], y[order], w[order]
    pos, neg = float(w[y].sum()), float(w[~y].sum())
    if pos == 0 or neg == 0:
        raise ValueError("an equal-error threshold needs both positive and negative labels")
    # Cutting just above s[i] rejects items 0..i: false negatives so far / true negatives so far.
    fnr = np.cumsum(np.where(y, w, 0.0)) / pos
    tnr = np.cumsum(np.where(~y, w, 0.0)) / neg
    i = int(np.argmin(np.abs((1.0 - fnr) - tnr)))
    upper = s[i + 1] if i + 1 < len(s) else s[i]
    return float((s[i] + upper) / 2.0)


def maximin_threshold(
    scores: Sequence[float] | NDArray[np.float64],
    labels: Sequence[bool] | NDArray[np.bool_],
    sets: Sequence[str] | NDArray[np.str_],
) -> float:
    """The cut at which the worst of the data sets does best: the highest balanced accuracy
    of the set it is lowest on (cuts placed midway between adjacent scores).

    The llm judge's threshold sits here: one threshold must serve extractive and abstractive
    text alike, and the equal-error point of the two sets pooled favours the set the judge
    already reads well (cross-validated by article on QAGS, the worse set's balanced accuracy
    0.731 at the pooled equal-error point, 0.740 here). With one set it is that set's best
    cut."""
    s, y = _arrays(scores, labels)
    names = np.asarray(sets)
    groups = [names == name for name in dict.fromkeys(names.tolist())]
    values = np.unique(s)
    candidates = np.concatenate(([values[0]], (values[:-1] + values[1:]) / 2.0, [values[-1]]))
    best, best_value = float(candidates[0]), -1.0
    for candidate in candidates:
        value = min(balanced_accuracy(s[m], y[m], float(candidate)) for m in groups)
        if value > best_value:
            best, best_value = float(candidate), value
    return best


ThresholdRule = Literal["equal-error", "maximin"]


def fit_logistic(
    x: NDArray[np.float64],
    y: NDArray[np.bool_],
    weights: NDArray[np.float64] | None = None,
    l2: float = 0.01,
    iterations: int = 50,
) -> tuple[float, NDArray[np.float64]]:
    """(bias, coefficients) of an L2-penalised logistic regression, by Newton/IRLS.

    The penalty is on the coefficients only, per unit of (weighted) example count. Plain numpy
    so the fit that produced the shipped constants can be rerun wherever the harness runs.
    """
    n, d = x.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w * n / w.sum()
    design = np.hstack([np.ones((n, 1)), x])
    beta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2 * n)
    penalty[0] = 0.0
    target = y.astype(np.float64)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (w * (p - target)) + penalty * beta
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian + 1e-9 * np.eye(d + 1), gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return float(beta[0]), beta[1:]


def _folds(groups: Sequence[str], k: int, seed: int) -> list[NDArray[np.int64]]:
    """Indices of ``k`` folds that never split a group (an article): its sentences share
    the article's wording, so splitting them would leak it from training into test."""
    names = list(dict.fromkeys(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[j]: rank % k for rank, j in enumerate(order)}
    assignment = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(assignment == f) for f in range(k)]


Predictor = Callable[[NDArray[np.float64]], NDArray[np.float64]]
Fitter = Callable[[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]], Predictor]


def logistic_fitter(l2: float = 3e-4) -> Fitter:
    """Fit a logistic combination of all columns; predict probabilities."""

    def fit(x: NDArray[np.float64], y: NDArray[np.bool_], w: NDArray[np.float64]) -> Predictor:
        bias, coef = fit_logistic(x, y, w, l2=l2)
        return lambda z: 1.0 / (1.0 + np.exp(-(bias + z @ coef)))

    return fit


def cross_validate(
    x: NDArray[np.float64],
    y: Sequence[bool] | NDArray[np.bool_],
    groups: Sequence[str],
    sets: Sequence[str],
    fitter: Fitter | None = None,
    k: int = 5,
    repeats: int = 5,
    rule: ThresholdRule = "equal-error",
) -> dict[str, dict[str, float]]:
    """Refit on k-1 folds of articles and score the held-out fold, ``repeats`` times with
    different fold draws; per data set in ``sets``, the held-out AUC and the balanced
    accuracy at the threshold chosen on the training folds by ``rule`` (each data set
    weighing the same in the fit and the threshold, as in the shipped fit), averaged over
    repeats. ``fitter`` defaults to a logistic combination of all columns of ``x``."""
    fit = fitter or logistic_fitter()
    labels = np.asarray(y, dtype=bool)
    set_array = np.asarray(sets)
    names = list(dict.fromkeys(sets))
    counts = {name: int((set_array == name).sum()) for name in names}
    weights = np.array([1.0 / counts[name] for name in sets])
    out: dict[str, dict[str, list[float]]] = {
        n: {"auc": [], "balanced_accuracy": []} for n in names
    }
    for repeat in range(repeats):
        scores = np.zeros(len(labels))
        predicted = np.zeros(len(labels), dtype=bool)
        for test in _folds(groups, k, seed=repeat):
            train = np.setdiff1d(np.arange(len(labels)), test)
            predict = fit(x[train], labels[train], weights[train])
            fitted = predict(x[train])
            cut = (
                maximin_threshold(fitted, labels[train], set_array[train])
                if rule == "maximin"
                else equal_error_threshold(fitted, labels[train], weights[train])
            )
            scores[test] = predict(x[test])
            predicted[test] = scores[test] >= cut
        for name in names:
            mask = set_array == name
            if labels[mask].all() or not labels[mask].any():
                continue
            out[name]["auc"].append(roc_auc(scores[mask], labels[mask]))
            out[name]["balanced_accuracy"].append(
                balanced_accuracy(predicted[mask].astype(float), labels[mask], 0.5)
            )
    return {
        n: {m: float(np.mean(v)) for m, v in metrics.items() if v} for n, metrics in out.items()
    }


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


def qags_name(path: str | Path) -> str:
    """ "cnndm" for mturk_cnndm.jsonl: the set's name in reports."""
    stem = Path(path).stem
    return stem.removeprefix("mturk_")


def _fast_part(judge: Any) -> Any:
    """The fast (feature-combining) judge inside ``judge``: itself, or a gated judge's."""
    return getattr(judge, "fast", judge)


def _llm_fitter(gate: float, fast_columns: int, l2: float = 3e-4) -> Fitter:
    """Refit the whole llm judge: the fast logistic on the feature columns, then, on the
    claims below ``gate`` that the verifier was asked about (last column, NaN when not
    asked), the logistic of the fast log-odds and the verifier's."""

    def logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
        p = np.clip(p, 1e-9, 1 - 1e-9)
        return np.clip(np.log(p / (1 - p)), -6.0, 6.0)

    def fit(x: NDArray[np.float64], y: NDArray[np.bool_], w: NDArray[np.float64]) -> Predictor:
        fast_bias, fast_coef = fit_logistic(x[:, :fast_columns], y, w, l2=l2)

        def fast(z: NDArray[np.float64]) -> NDArray[np.float64]:
            return 1.0 / (1.0 + np.exp(-(fast_bias + z[:, :fast_columns] @ fast_coef)))

        p = fast(x)
        asked = (p < gate) & ~np.isnan(x[:, -1])
        design = np.column_stack([logit(p[asked]), logit(x[asked, -1])])
        bias, coef = fit_logistic(design, y[asked], w[asked], l2=l2)

        def predict(z: NDArray[np.float64]) -> NDArray[np.float64]:
            q = fast(z)
            mask = (q < gate) & ~np.isnan(z[:, -1])
            inner = np.column_stack([logit(q[mask]), logit(z[mask, -1])])
            q[mask] = 1.0 / (1.0 + np.exp(-(bias + inner @ coef)))
            return q

        return predict

    return fit


def _vetoing(fitter: Fitter, column: int) -> Fitter:
    """``fitter`` on every column but ``column`` (the fast judge's veto flag), its
    predictions capped where the flag is set, as the shipped judge caps them: the veto is a
    rule, so cross-validation refits everything around it and never fits it."""
    from assistant.judge.support import VETO_CAP

    def fit(x: NDArray[np.float64], y: NDArray[np.bool_], w: NDArray[np.float64]) -> Predictor:
        predict = fitter(np.delete(x, column, axis=1), y, w)

        def capped(z: NDArray[np.float64]) -> NDArray[np.float64]:
            q = predict(np.delete(z, column, axis=1))
            return np.where(z[:, column] >= 1.0, np.minimum(q, VETO_CAP), q)

        return capped

    return fit


def validate_judge(
    judge: Any,
    paths: Sequence[str | Path],
    fitted_on: Sequence[str] = (),
    max_articles: int | None = None,
    folds: int = 5,
    repeats: int = 5,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every QAGS file in ``paths`` scored by ``judge`` at its one shipped threshold, plus
    the same combination refitted and cross-validated by article over all of them.

    ``judge`` is the fast judge (a ``CombinedScorer``) or the llm judge (a ``GatedScorer``,
    whose ``fast`` part is computed once and reused). A set named in ``fitted_on`` is marked
    ``in_sample``: its figures at the shipped constants are not held-out figures. Cost is
    wall time per claim: the fast part, and the verifier's calls for the llm judge.
    """
    fast_judge = _fast_part(judge)
    keys = list(fast_judge.weights)
    is_gated = fast_judge is not judge
    sets: dict[str, Any] = {}
    columns: list[NDArray[np.float64]] = []
    all_labels: list[bool] = []
    groups: list[str] = []
    names: list[str] = []
    for path in paths:
        name = qags_name(path)
        rows = load_qags(path)
        if max_articles is not None:
            rows = subsample_articles(rows, max_articles)
        pairs = [(sentence, article) for article, sentence, _ in rows]
        labels = [label for _, _, label in rows]
        if log is not None:
            log(f"{name}: scoring {len(rows)} claims with {judge.name}")
        started = time.perf_counter()
        features = fast_judge.features(pairs)
        fast_scores = [fast_judge.combine(row) for row in features]
        fast_seconds = time.perf_counter() - started
        entry: dict[str, Any] = {
            "n": len(rows),
            "articles": len({article for article, _, _ in rows}),
            "supported_share": round(float(np.mean(labels)), 4),
            "in_sample": name in fitted_on,
            "fast_ms_per_claim": round(1000.0 * fast_seconds / max(len(rows), 1), 1),
        }
        matrix = np.array([[row[k] for k in keys] for row in features], dtype=np.float64)
        vetoed = [fast_judge.vetoes(row) for row in features]
        if fast_judge.veto is not None:
            matrix = np.column_stack([matrix, np.array(vetoed, dtype=np.float64)])
        if is_gated:
            before = dict(judge.stats)
            started = time.perf_counter()
            scores = judge.rescore(pairs, fast_scores, vetoed)
            seconds = time.perf_counter() - started
            asked = judge.stats["verified"] - before["verified"]
            verdicts = np.array(
                [np.nan if v is None else v for v in judge.last_verdicts], dtype=np.float64
            )
            matrix = np.column_stack([matrix, verdicts])
            entry.update(
                {
                    "verified_share": round(asked / max(len(rows), 1), 4),
                    "llm_ms_per_claim": round(1000.0 * (fast_seconds + seconds) / len(rows), 1),
                    "llm_ms_per_verified_claim": round(1000.0 * seconds / max(asked, 1), 1),
                }
            )
        else:
            scores = fast_scores
        entry["auc"] = round(roc_auc(scores, labels), 4)
        entry["balanced_accuracy"] = round(balanced_accuracy(scores, labels, judge.threshold), 4)
        sets[name] = entry
        columns.append(matrix)
        all_labels += labels
        groups += [f"{name}:{article}" for article, _, _ in rows]
        names += [name] * len(rows)
    fitter = _llm_fitter(judge.gate, len(keys)) if is_gated else logistic_fitter()
    if fast_judge.veto is not None:
        fitter = _vetoing(fitter, len(keys))
    rule: ThresholdRule = getattr(judge, "threshold_rule", "equal-error")
    try:
        cv = cross_validate(
            np.vstack(columns),
            all_labels,
            groups,
            names,
            fitter,
            k=folds,
            repeats=repeats,
            rule=rule,
        )
    except (ValueError, np.linalg.LinAlgError) as exc:  # too few articles or one class
        cv = {"error": {"message": str(exc)}}  # type: ignore[dict-item]
    for name, figures in cv.items():
        if name in sets:
            sets[name]["cross_validated"] = {m: round(v, 4) for m, v in figures.items()}
    return {
        "judge": judge.name,
        "threshold": judge.threshold,
        "threshold_rule": rule,
        "fitted_on": list(fitted_on),
        "cross_validation": f"{folds} folds by article x {repeats}, refitted on all sets given",
        "sets": sets,
    }

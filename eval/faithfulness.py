"""Claim-level faithfulness and citation quality of a cited answer.

The answer is split into claims (assistant.judge.claims), each claim is scored against the
passages it cites by a ``SupportScorer`` (assistant.judge.support, the same judge the reader
verifies its sentences with), and the verdicts become the answer's numbers: faithfulness,
citation precision and citation recall. Each verdict keeps the judge's own account of why:
the evidence span of its best citation that supports it best, so a report can show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.judge.claims import Claim, split_claims

if TYPE_CHECKING:
    from assistant.judge.support import EvidenceSpan, Judge

__all__ = ["ClaimVerdict", "FaithfulnessResult", "faithfulness"]


@dataclass
class ClaimVerdict:
    """A claim with its support: ``score`` is against all its cited passages together;
    ``evidence`` is the span of passage ``best_citation`` (offsets into that passage) that the
    judge found supports the claim best; ``verifier`` the llm judge's P(yes) for that
    passage when it asked."""

    text: str
    citations: list[int]
    score: float
    supported: bool
    best_citation: int | None
    citation_scores: dict[int, float] = field(default_factory=dict)
    evidence: EvidenceSpan | None = None
    verifier: float | None = None


@dataclass
class FaithfulnessResult:
    """Answer-level metrics. Refusals (no claims) score 1.0 everywhere: saying nothing is not
    unfaithful. An answer with claims but no citation markers gets citation precision 0.0:
    it cites nothing that could be checked."""

    claims: list[ClaimVerdict]
    faithfulness: float
    citation_precision: float
    citation_recall: float
    unsupported: list[str]


def faithfulness(
    answer: str,
    passages: Mapping[int, str],
    scorer: Judge,
    threshold: float | None = None,
) -> FaithfulnessResult:
    """Score every claim of a cited answer against the passages it cites.

    A claim is supported when its cited passages *together* support it (a claim may combine
    [1] and [2]); citation recall asks the stricter question of whether one cited passage
    alone does, and citation precision whether each citation pulls its weight. Markers that
    resolve to no passage count as unsupporting citations: a dangling [5] is a wrong citation.
    ``threshold`` defaults to the judge's own.
    """
    if threshold is None:
        threshold = scorer.threshold
    claims: list[Claim] = split_claims(answer)
    if not claims:
        return FaithfulnessResult([], 1.0, 1.0, 1.0, [])

    pairs: list[tuple[str, str]] = []
    index: dict[tuple[str, str], int] = {}

    def want(claim: str, evidence: str) -> int:
        key = (claim, evidence)
        if key not in index:
            index[key] = len(pairs)
            pairs.append(key)
        return index[key]

    plan: list[tuple[dict[int, int], int | None]] = []
    for claim in claims:
        resolved = [c for c in claim.citations if c in passages]
        single = {c: want(claim.text, passages[c]) for c in resolved}
        joint = (
            want(claim.text, "\n\n".join(passages[c] for c in resolved))
            if len(resolved) > 1
            else (single[resolved[0]] if resolved else None)
        )
        plan.append((single, joint))
    judged = scorer.assess(pairs) if pairs else []
    scores = [j.score for j in judged]

    verdicts: list[ClaimVerdict] = []
    precise = total_citations = recalled = 0
    for claim, (single, joint) in zip(claims, plan, strict=True):
        per_citation = {c: scores[i] for c, i in single.items()}
        best = max(per_citation, key=lambda c: per_citation[c]) if per_citation else None
        best_single = per_citation[best] if best is not None else 0.0
        joint_score = scores[joint] if joint is not None else 0.0
        score = max(joint_score, best_single)
        supported = joint is not None and score >= threshold
        total_citations += len(claim.citations)
        precise += sum(s >= threshold for s in per_citation.values())
        recalled += best_single >= threshold and best is not None
        best_judged = judged[single[best]] if best is not None else None
        verdicts.append(
            ClaimVerdict(
                claim.text,
                list(claim.citations),
                score,
                supported,
                best,
                per_citation,
                evidence=best_judged.span if best_judged else None,
                verifier=best_judged.verifier if best_judged else None,
            )
        )
    n = len(verdicts)
    return FaithfulnessResult(
        claims=verdicts,
        faithfulness=sum(v.supported for v in verdicts) / n,
        citation_precision=precise / total_citations if total_citations else 0.0,
        citation_recall=recalled / n,
        unsupported=[v.text for v in verdicts if not v.supported],
    )

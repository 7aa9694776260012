"""The metrics a run reports, in one table: each one's name, which way is better, how its
values are shown and what it measures.

Everything that lists metrics reads them from here: the keys and order of the report's
``aggregate`` (eval.scoring), the ``--min-*``/``--max-*`` options (eval.cli), floors versus
ceilings (eval.gate), the report tables (eval.report, eval.html_report; BY_KIND picks the
per-kind table's columns) and better/worse in a comparison (eval.compare). Adding a metric
means one row here and its computation in eval.scoring.aggregate, whose docstring holds the
full definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BY_KIND",
    "GATED",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "METRICS",
    "Metric",
    "format_delta",
    "format_value",
]


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool | None
    """True: a threshold is a floor; False: a ceiling; None: not a quality (a count), so it is
    never gated and a change in it is neither better nor worse."""
    fmt: str
    """How values are shown: ".3f" a share or score in [0, 1], ".0f" milliseconds, "d" a
    count."""
    help: str
    """What it measures, in a line (eval.scoring's docstring has the full definition)."""
    option: bool = False
    """Whether ``newsdesk eval run`` has a ``--min-NAME`` (floor) or ``--max-NAME`` (ceiling)
    option for it. Any gated metric can be bounded in a thresholds file."""

    @property
    def op(self) -> str:
        """How a value is compared with its threshold."""
        return ">=" if self.higher_is_better else "<="

    @property
    def option_prefix(self) -> str:
        """The option's prefix: "min" for a floor (``--min-mrr``, ``args.min_mrr``), "max"
        for a ceiling."""
        return "min" if self.higher_is_better else "max"

    @property
    def on_unit_scale(self) -> bool:
        """A share or score in [0, 1], drawn as a bar in report.html."""
        return self.fmt == ".3f"


METRICS: tuple[Metric, ...] = (
    Metric(
        "faithfulness",
        True,
        ".3f",
        "share of an answer's claims that the passages it cites support",
        option=True,
    ),
    Metric(
        "citation_precision",
        True,
        ".3f",
        "share of an answer's citations that support the claim they are cited for",
        option=True,
    ),
    Metric(
        "citation_recall",
        True,
        ".3f",
        "share of an answer's claims that one cited passage alone supports",
        option=True,
    ),
    Metric(
        "correctness",
        True,
        ".3f",
        "share of answerable cases whose answer contains or entails a gold answer",
        option=True,
    ),
    Metric(
        "anchor_accuracy",
        True,
        ".3f",
        "MultiHop-RAG's accuracy: share of answers sharing a word with a gold answer; "
        "unanswerable cases right when refused",
    ),
    Metric(
        "recall_at_k",
        True,
        ".3f",
        "share of the gold evidence found in the top-k passages",
        option=True,
    ),
    Metric(
        "mrr",
        True,
        ".3f",
        "reciprocal rank of the first passage holding gold evidence",
        option=True,
    ),
    Metric(
        "refusal_accuracy",
        True,
        ".3f",
        "share of unanswerable cases refused",
        option=True,
    ),
    Metric(
        "wrong_refusal_rate",
        False,
        ".3f",
        "share of answerable cases refused",
        option=True,
    ),
    Metric("token_f1", True, ".3f", "SQuAD token F1 of the answer against the gold answers"),
    Metric("exact_match", True, ".3f", "share of answers equal to a gold answer, normalised"),
    Metric("answer_entailment", True, ".3f", "share of answers that entail a gold answer"),
    Metric(
        "counterfactual_repeat_rate",
        False,
        ".3f",
        "share of cases with a planted false answer whose answer repeats it",
        option=True,
    ),
    Metric("latency_p50_ms", False, ".0f", "median time to answer, in milliseconds"),
    Metric(
        "latency_p95_ms",
        False,
        ".0f",
        "95th-percentile time to answer, in milliseconds",
        option=True,
    ),
    Metric("n_cases", None, "d", "cases in the suite"),
)
"""In report order: the order of the report's ``aggregate`` and of its tables."""

BY_KIND: tuple[str, ...] = (
    "correctness",
    "anchor_accuracy",
    "faithfulness",
    "recall_at_k",
    "refusal_accuracy",
    "n_cases",
)
"""The columns of the reports' per-kind table: strict correctness beside the paper's looser
anchor_accuracy, so each MultiHop question type can be read against the paper's own table."""

_BY_NAME = {m.name: m for m in METRICS}

GATED: tuple[Metric, ...] = (
    *(m for m in METRICS if m.higher_is_better is True),
    *(m for m in METRICS if m.higher_is_better is False),
)
"""The metrics a threshold can bound, floors first: the order of the gate's checks and of
the command-line options."""
HIGHER_IS_BETTER = tuple(m.name for m in GATED if m.higher_is_better)
LOWER_IS_BETTER = tuple(m.name for m in GATED if not m.higher_is_better)


def format_value(name: str, value: object) -> str:
    """A value as the reports print it: "n/m" (not measured) for None, milliseconds rounded,
    whole numbers as they are and everything else to three decimals."""
    if value is None:
        return "n/m"
    row = _BY_NAME.get(name)
    if row is not None and row.fmt == ".0f":
        return f"{float(value):.0f}"  # type: ignore[arg-type]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{float(value):.3f}"  # type: ignore[arg-type]


def format_delta(name: str, delta: float) -> str:
    """A signed change, to the precision the metric is shown at (whole milliseconds and
    counts, else three decimals)."""
    row = _BY_NAME.get(name)
    if row is not None and row.fmt in (".0f", "d"):
        return f"{delta:+.0f}"
    return f"{delta:+.3f}"

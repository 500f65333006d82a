"""Command line: python -m epicore.pooling --prevalence P [--pool-size K] [--design D] [--json].

Prints the expected tests per person for pool size K, or searches for the best size and names
it. `main(argv, prog)` returns the exit status so the platform can mount it as another command
(`fangkong pool-size`); bad arguments give status 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from epicore.errors import ValidationError
from epicore.pooling.advice import DEFAULT_SIZES, POOL, Advice, best_pool_size
from epicore.pooling.designs import DESIGNS, DORFMAN, MATRIX, Performance, evaluate, individual

USAGE_ERROR = 2
# A saving below 5% is flagged: it is within the noise of a prevalence guess, and every positive
# pool costs its members a second round of waiting.
MARGINAL_SAVING = 0.05

_DESIGN_HELP = {
    "individual": "one test per person (单管单检)",
    "dorfman": "pools of k, every member of a positive pool retested alone (混采 + 单管复核)",
    "matrix": "k x k array, k row and k column pools, crossings retested (Kim et al. 2007 A2)",
}


def _fraction(text: str) -> float:
    """0.01, 1% and 1e-2 all mean one in a hundred; range checks are the engine's."""
    raw = text.strip()
    try:
        return float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or percentage: {text!r}") from None


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Expected tests per person for pooled testing (混采), and the best pool size.",
        epilog="designs: " + "; ".join(f"{d}: {_DESIGN_HELP[d]}" for d in DESIGNS),
    )
    parser.add_argument(
        "--prevalence", type=_fraction, required=True, help="share infected, 0..1 or a percentage"
    )
    parser.add_argument(
        "--sensitivity", type=_fraction, default=1.0, help="assay sensitivity (default 1)"
    )
    parser.add_argument(
        "--specificity", type=_fraction, default=1.0, help="assay specificity (default 1)"
    )
    parser.add_argument(
        "--pool-size", type=int, default=None, help="evaluate this size instead of searching"
    )
    parser.add_argument("--design", choices=DESIGNS, default=DORFMAN, help="default dorfman")
    parser.add_argument(
        "--min-size", type=int, default=DEFAULT_SIZES[0], help="smallest size searched (2)"
    )
    parser.add_argument(
        "--max-size", type=int, default=DEFAULT_SIZES[-1], help="largest size searched (30)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m epicore.pooling") -> int:
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on bad arguments (2)
        return int(exc.code or 0)
    try:
        if args.pool_size is not None:
            report = _given_size(args)
        else:
            report = _search(args)
    except ValidationError as exc:
        print(f"{prog}: error: {exc.message}", file=sys.stderr)
        return USAGE_ERROR
    print(json.dumps(report[0], ensure_ascii=False, indent=2) if args.json else report[1])
    return 0


def _given_size(args: argparse.Namespace) -> tuple[dict[str, object], str]:
    result = evaluate(
        args.design, args.prevalence, args.pool_size, args.sensitivity, args.specificity
    )
    alone = individual(args.prevalence, args.sensitivity, args.specificity)
    saving = 1.0 - result.tests_per_person
    data = {
        "mode": "given",
        "assay": _assay(args),
        "result": result.as_dict(),
        "saving_vs_individual": saving,
        "individual": alone.as_dict(),
    }
    lines = [
        _header(args),
        f"pool size {_size_label(result)}: {result.tests_per_person:.4f} tests per person, "
        + _saving_text(saving),
        _accuracy_line(result),
    ]
    if result.pool_size > 1 and saving <= 0:
        lines.append("advice: pooling needs more tests than individual testing here; test singly")
    return data, "\n".join(lines)


def _search(args: argparse.Namespace) -> tuple[dict[str, object], str]:
    if args.min_size > args.max_size:
        raise ValidationError(
            "pool_sizes", f"--min-size {args.min_size} is above --max-size {args.max_size}"
        )
    advice = best_pool_size(
        args.prevalence,
        args.sensitivity,
        args.specificity,
        design=args.design,
        sizes=range(args.min_size, args.max_size + 1),
    )
    data = {"mode": "best", "assay": _assay(args), **advice.as_dict()}
    return data, "\n".join([_header(args), *_advice_lines(advice)])


def _advice_lines(advice: Advice) -> list[str]:
    best = advice.best
    if advice.design == "individual":
        return ["individual testing: 1 test per person", _accuracy_line(best)]
    low, high = advice.sizes[0], advice.sizes[-1]
    lines = [
        f"best pool size {_size_label(best)} (searched {low}..{high}): "
        f"{best.tests_per_person:.4f} tests per person, " + _saving_text(advice.saving),
        _accuracy_line(best),
    ]
    if advice.larger_size_better:
        lines.append(
            f"note: the optimum is beyond {high}; larger pools would save a little more but "
            "dilute each swab further (not modelled), so the search stops at its upper edge"
        )
    practice = ", ".join(
        f"{item.performance.pool_size}: {item.performance.tests_per_person:.4f}"
        f" (+{item.excess:.1%}{', near-optimal' if item.near_optimal else ''})"
        for item in advice.practice
    )
    lines.append(f"practice sizes (5/10/20-in-1): {practice}")
    if advice.recommendation == POOL:
        near = [i.performance.pool_size for i in advice.practice if i.near_optimal]
        tube = f"; {near[0]}-in-1 is within 10% of it" if near else ""
        lines.append(f"advice: pool in {_size_label(best)}{tube}")
        if advice.saving < MARGINAL_SAVING:
            lines.append(
                "caution: the saving is marginal; a positive pool also delays its members' results"
            )
        if best.sensitivity < advice.individual.sensitivity:
            lines.append(
                f"caution: the procedure catches {best.sensitivity:.2%} of infections against "
                f"{advice.individual.sensitivity:.2%} for individual testing, because a positive "
                "must also be confirmed by its retest"
            )
    else:
        lines.append(
            "advice: test individually (单管单检): at this prevalence no pool size needs fewer "
            "tests than one per person"
        )
    return lines


def _header(args: argparse.Namespace) -> str:
    assay = (
        "perfect assay"
        if args.sensitivity == 1.0 and args.specificity == 1.0
        else f"assay sensitivity {args.sensitivity:.2%}, specificity {args.specificity:.2%}"
    )
    return f"design {args.design}, prevalence {args.prevalence:.4%}, {assay}"


def _assay(args: argparse.Namespace) -> dict[str, float]:
    return {
        "prevalence": args.prevalence,
        "sensitivity": args.sensitivity,
        "specificity": args.specificity,
    }


def _size_label(result: Performance) -> str:
    if result.pool_size == 1:
        return "1 (individual testing)"
    if result.design == MATRIX:
        return f"{result.pool_size} ({result.pool_size}x{result.pool_size} array)"
    return str(result.pool_size)


def _saving_text(saving: float) -> str:
    if saving >= 0:
        return f"saving {saving:.1%} of tests versus individual testing"
    return f"{-saving:.1%} more tests than individual testing"


def _accuracy_line(result: Performance) -> str:
    return (
        f"  procedure sensitivity {result.sensitivity:.4%}, specificity {result.specificity:.4%}; "
        f"per person: {result.missed_per_person:.3g} infections missed, "
        f"{result.false_positives_per_person:.3g} false positives"
    )

"""``fastgd bench``: the benchmark suite, its report, and the performance regression check.

``fastgd bench [--quick]`` runs ``benchmarks/`` with pytest-benchmark and writes ``results/``;
``fastgd bench --check BASELINE`` compares each compiled backend's speedup over the NumPy reference
with a committed baseline and exits 1 on a regression; ``--update-baseline`` rewrites it.
"""

from pathlib import Path


def add_parser(subparsers):
    """Add the ``bench`` subcommand and its options to ``fastgd``'s argument parser."""
    parser = subparsers.add_parser(
        "bench", help="run the benchmark suite, or check speedups against a baseline",
        description="Run the benchmark suite and write its report, or check the compiled "
                    "backends' speedups over NumPy against a baseline.")
    parser.add_argument("--quick", action="store_true",
                        help="the quick design: about 3 minutes on 2 cores (default: the full "
                             "suite, under 20)")
    parser.add_argument("--out", type=Path,
                        help="directory for benchmark.json, report.md and plots/ (default: "
                             "results/, or results/quick/ with --quick)")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="only render the report from this benchmark.json of an earlier run")
    parser.add_argument("--check", type=Path, metavar="BASELINE",
                        help="instead of the suite, compare speedups over NumPy with BASELINE and "
                             "exit 1 if one dropped by more than --threshold")
    parser.add_argument("--threshold", type=float, default=0.25,
                        help="largest tolerated drop of a speedup, as a fraction (default 0.25)")
    parser.add_argument("--update-baseline", action="store_true",
                        help="with --check: measure and write BASELINE instead of comparing")
    parser.add_argument("--select", default="", metavar="TEXT",
                        help="with --check: only the cases whose id contains TEXT")
    parser.add_argument("--budget", type=float, default=0.5,
                        help="with --check: seconds of timing per case and attempt (default 0.5)")


def run(args):
    """Run ``fastgd bench`` with the parsed ``args``; return the exit code."""
    # imported here, not at the top: `fastgd --help` and the other subcommands build this parser too
    from . import check, report, runner

    if args.check:
        if args.update_baseline:
            return check.update_baseline(args.check, args.select, args.budget)
        return check.run_check(args.check, args.threshold, args.select, args.budget)
    out = args.out or runner.ROOT / "results" / ("quick" if args.quick else "")
    if args.render:
        report.render(args.render, out)
        return 0
    return runner.run_suite(args.quick, out)

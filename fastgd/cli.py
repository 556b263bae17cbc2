"""The ``fastgd`` command: ``fastgd demo NAME`` and ``fastgd bench``.

Each subcommand lives in its own module, which adds its arguments with ``add_parser(subparsers)``
and runs with ``run(args)``; this file only wires them together.
"""

import argparse
import importlib
import sys

#: subcommand -> module providing ``add_parser`` and ``run``
SUBCOMMANDS = {"demo": "fastgd.demos", "bench": "fastgd.bench"}


def build_parser():
    parser = argparse.ArgumentParser(prog="fastgd", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module in SUBCOMMANDS.items():
        try:
            importlib.import_module(module).add_parser(subparsers)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return importlib.import_module(SUBCOMMANDS[args.command]).run(args) or 0


if __name__ == "__main__":
    sys.exit(main())

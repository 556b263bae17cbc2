"""The wheel carries fastgd's compiled kernels (see fastgd/_prebuilt): building it compiles them.

``FASTGD_PREBUILD`` chooses which: ``full`` (the default), ``smoke`` (two fits, for the tests), or
``0`` (none: a pure wheel that compiles on first use, as an install from the source does).
Everything else is in pyproject.toml.
"""

import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel

PREBUILD = os.environ.get("FASTGD_PREBUILD", "full")


class WheelWithKernels(bdist_wheel):
    """A wheel for this Python and platform, with the kernels compiled into its package."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = PREBUILD == "0"

    def run(self):
        if PREBUILD != "0":
            self.run_command("build")
            build_lib = Path(self.get_finalized_command("build").build_lib).resolve()
            subprocess.run([sys.executable, "-m", "fastgd._prebuilt.build",
                            str(build_lib / "fastgd" / "_prebuilt"), "--set", PREBUILD],
                           env={**os.environ, "PYTHONPATH": str(build_lib)}, check=True)
        super().run()


setup(cmdclass={"bdist_wheel": WheelWithKernels})

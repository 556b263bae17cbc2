"""A pytest plugin that shows the benchmark suite advancing as one progress bar on stderr.

``fastgd bench`` loads it with ``-p fastgd.bench.progress`` and holds pytest's own output back, so
that the bar is all the terminal shows while the suite runs.
"""

import sys

from tqdm import tqdm


class ProgressBar:
    """One tick per finished benchmark, with its name."""

    bar = None

    def pytest_collection_finish(self, session):
        # sys.__stderr__: pytest captures sys.stderr while a test runs
        self.bar = tqdm(total=len(session.items), unit="benchmark", file=sys.__stderr__,
                        dynamic_ncols=True)

    def pytest_runtest_logfinish(self, nodeid):
        self.bar.set_postfix_str(nodeid.rpartition("::")[2], refresh=False)
        self.bar.update()

    def pytest_sessionfinish(self):
        if self.bar is not None:  # None when collection failed
            self.bar.close()


def pytest_configure(config):
    config.pluginmanager.register(ProgressBar(), "fastgd-progress-bar")

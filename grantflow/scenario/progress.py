"""A progress bar for long batches of actions: tqdm on a terminal, nothing in a pipe (the
runner's one line per batch is the record there)."""
from __future__ import annotations

import sys
from contextlib import contextmanager


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def bar(total: int, label: str, enabled: bool | None = None):
    """A callable to count one item done; a tqdm bar on stderr while the batch runs."""
    if not (on_terminal() if enabled is None else enabled) or total < 2:
        yield lambda n=1: None
        return
    from tqdm import tqdm
    with tqdm(total=total, desc=label, unit="act", leave=False, dynamic_ncols=True,
              smoothing=0.1) as shown:
        yield shown.update

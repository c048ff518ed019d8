"""What a seed shows while it runs, on stderr: a bar for each table it writes rows to, and a
line for each phase between them, so no part of a long load runs silent.

    users:  100%|██████████| 200/200 [00:00<00:00, 3546.68rows/s]
    rebuilding keys and indexes ... 2.1 s
    VACUUM (ANALYZE): 100%|██████████| 6/6 [00:03<00:00, 1.9tables/s]

A table that gets no rows (`--users 0`) gets no bar: an empty "0rows" bar says nothing.
"""

import sys
import time
from contextlib import contextmanager

from tqdm import tqdm


class Progress:
    def __init__(self, enabled: bool, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr

    def bar(self, total: int, label: str, unit: str = "rows") -> tqdm:
        """A progress bar over total units; nothing shown when disabled or total is 0."""
        return tqdm(
            total=total,
            desc=label,
            unit=unit,
            disable=not self.enabled or total == 0,
            file=self.stream,
            dynamic_ncols=True,
        )

    @contextmanager
    def phase(self, label: str):
        """One line for a step with no rows to count: "label ... 2.1 s" when it is done."""
        if not self.enabled:
            yield
            return
        self.stream.write(f"{label} ...")
        self.stream.flush()
        began = time.perf_counter()
        try:
            yield
        finally:
            self.stream.write(f" {time.perf_counter() - began:.1f} s\n")
            self.stream.flush()

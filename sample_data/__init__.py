"""Synthetic authority generator with ground truth (`caseflags generate`) and the committed sample.

The committed sample `small/` lives in the repository only; an installed caseflags carries the
generator, not the sample.
"""

from pathlib import Path

SAMPLE_DELIVERY = Path(__file__).resolve().parent / "small"

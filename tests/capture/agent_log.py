"""What the capture agent's log lines say: which captures it stored or spooled, in which order.

Shared by the tests that stop Redis under a running agent (test_outage, test_credentials).
"""
from __future__ import annotations

import re

STORED = re.compile(r"stored (\w{26})")
SPOOLED = re.compile(r"spooled (\w{26})")


def captured_order(lines):
    """Ids in the order they were taken: stored at once, or spooled."""
    return [m.group(1) for line in lines if "from spool" not in line
            for m in [STORED.search(line) or SPOOLED.search(line)] if m]


def arrival_order(lines):
    return [m.group(1) for line in lines for m in [STORED.search(line)] if m]

"""The morning peak at hospital reception desks (DOMAIN.md 6), as a Locust load shape.

Chosen explicitly, as a second file beside the locustfile:

    locust -f loadtests/locustfile.py,loadtests/morning_peak.py --host URL --headless

(a shape in the locustfile itself would silently take over every -u/-r/-t run). The run:

    0 -> 15 %    desks open: ramp from 0 to the morning level (LOOKUP_PEAK_USERS)
    15 -> 85 %   the morning: hold that level, with three 30-second bursts to
                 LOOKUP_BURST_USERS (a ward round, a bus of patients, a system catching up)
    85 -> 100 %  late morning: taper to a fifth of the level; then the run ends

With the locustfile's think times one user makes ~1.3 requests/s, so the defaults (35 users,
bursts of 300) are DOMAIN 6's national figures: ~45 lookups/s on average in the morning peak,
bursts of several hundred per second. Scale both for headroom tests; LOOKUP_SHAPE_SECONDS
(default 600) sets the length. -u, -r and -t are ignored while a shape runs.
"""

from __future__ import annotations

import os

from locust import LoadTestShape

BURSTS = (0.30, 0.50, 0.70)  # where each burst starts, as a share of the run
BURST_SECONDS = 30.0  # or a twentieth of a shorter run


def _env(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    return float(text) if text else default


class MorningPeak(LoadTestShape):
    """Ramp to the morning level, hold it with bursts, taper, stop."""

    def __init__(self) -> None:
        super().__init__()
        self.level = max(1, int(_env("LOOKUP_PEAK_USERS", 35)))
        self.burst = max(self.level, int(_env("LOOKUP_BURST_USERS", 300)))
        self.length = _env("LOOKUP_SHAPE_SECONDS", 600.0)
        self.burst_seconds = min(BURST_SECONDS, self.length / 20)

    def users_at(self, t: float) -> int | None:
        """The number of users `t` seconds into the run, or None once it is over."""
        share = t / self.length
        if share >= 1.0:
            return None
        if share < 0.15:
            return max(1, round(self.level * share / 0.15))
        if share < 0.85:
            for start in BURSTS:
                if 0 <= t - start * self.length < self.burst_seconds:
                    return self.burst
            return self.level
        tail = (share - 0.85) / 0.15
        return max(1, round(self.level * (1.0 - 0.8 * tail)))

    def tick(self) -> tuple[int, float] | None:
        users = self.users_at(self.get_run_time())
        if users is None:
            return None
        # Fast enough to reach a burst within ~3 s, as a real burst arrives.
        return users, max(1.0, self.burst / 3.0)

"""How long and how many connections a worker keeps (issue 16), and the open-file limit under them.

Idle and slow connections cost a worker nothing but a file descriptor each, until there are
none left: then it can no longer accept, nor open a new snapshot. So every wait is bounded
(`ConnectionLimits`) and the connections are capped below the open-file limit: at the cap, the
connections idle the longest are closed to make room for new ones (lookup.web.runner).
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

__all__ = ("FD_RESERVE", "ConnectionLimits", "connection_cap", "raise_fd_limit")

# Descriptors a worker needs besides its connections: the snapshot (two while switching), the
# audit log, the listening socket, the event loop, the executors' pipes, with room to spare.
FD_RESERVE = 100


@dataclass(frozen=True)
class ConnectionLimits:
    """What one worker allows its connections; the `lookup serve` options of the same names."""

    # Seconds an idle keep-alive connection stays open. Longer than a load balancer's usual
    # idle timeout (60 s), so the balancer, not this side, closes a pooled connection first.
    keepalive_timeout: float = 75.0
    # Seconds for a request head to arrive in full, from a new connection's start or from the
    # head's first byte (a client dribbling its headers holds a descriptor all the while).
    header_timeout: float = 10.0
    # Seconds for a whole request body once the handler reads it (at most 256 KiB); then 408.
    body_timeout: float = 15.0
    # Connections per worker; at the cap the longest idle are closed to make room.
    max_connections: int = 4096


def raise_fd_limit() -> int:
    """Raise the open-file soft limit to the hard limit where allowed; return the soft limit.

    Inherited by the workers forked after it. The default soft limit (often 1024) is what a
    flood of idle connections exhausts first; the hard limit is the administrator's word.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20  # Linux's default nr_open
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft  # not allowed here (a container's seccomp, a smaller nr_open): keep it
    return target


def connection_cap(max_connections: int) -> int:
    """Return the connections a worker may hold: the setting, within its open-file limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - FD_RESERVE))

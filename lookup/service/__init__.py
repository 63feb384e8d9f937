"""Running the HTTP API as a service: `supervisor` (`lookup serve`: one worker per core, restarts,
drain), `clients` (API keys, scopes, gateway logins, rate limits), `audit` (SPEC.md 5: one record
per answered lookup) and `metrics` (Prometheus counters shared by the workers).

Nothing is imported here: each command loads only the part it uses.
"""

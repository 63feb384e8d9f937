"""Operator and CI scripts that drive the `lookup` command as a user would (docs/ROBUSTNESS.md)."""

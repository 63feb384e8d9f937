"""Compiled core of the entitlement lookup (Cython units; see docs/DESIGN.md)."""

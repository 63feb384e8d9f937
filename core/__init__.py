"""Compiled core of the entitlement lookup (Cython units; docs/DESIGN.md 1).

Private: users import `lookup`, whose `lookup._core` chooses this core or its plain-Python
reference twin and gives typed names for both.
"""

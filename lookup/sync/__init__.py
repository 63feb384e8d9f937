"""Monthly synchronisation with the national population register (SPEC.md 1.3 and 4,
DOMAIN.md 6): `lookup reconcile` and its corrections delta live here."""

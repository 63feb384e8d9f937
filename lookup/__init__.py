"""Vietnam health insurance (BHYT) entitlement lookup."""

"""Signed, expiring, revocable links to one interview for one person (SPEC sections 1, 3, 5)."""

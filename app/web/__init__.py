"""Roundtable's own pages: the booking page at a mail link, and what a dead link says."""

"""Roundtable: the interview-scheduling backend of a talent marketplace."""

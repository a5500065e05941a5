"""A participant's copy of an interview: how it reaches them, and how far it got."""

"""Organizations, users, projects, proposals and API tokens: what the marketplace feeds us."""

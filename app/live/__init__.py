"""Live updates: what changed, captured at commit and fanned out to subscriptions."""

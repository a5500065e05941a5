"""Background work: the outbox relay, Dramatiq brokers and actors, mail and reminders."""

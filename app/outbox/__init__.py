"""The outbox: work promised in the transaction of the change that causes it.

One home for the whole protocol: `enqueue` (writing a row), `topics` (every topic's name
and handler), `errors` (how a handler says "try again later" or "give up"), `processing`
(claiming a row, the state machine, publishing due rows), `relay` (an API process
publishing after each commit) and `admin` (failed rows, retrying one). Domains register
their handlers in `topics`; Dramatiq actors (app.workers.actors) only carry row ids.
"""

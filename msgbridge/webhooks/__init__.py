"""Status and inbound events delivered to the URLs messages name: signed, durable, at least once.

The store holds every event beside the change it reports (``msgbridge.store``); this package turns a stored
event into a request (``formats``), signs it (``signing``), decides when to try again (``policy``), stops
calling a receiver that keeps failing (``breaker``), and runs the loop that claims events from the store and
records what became of them (``worker``).
"""

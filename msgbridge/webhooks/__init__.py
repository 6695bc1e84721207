"""Status and inbound events delivered to the callback URLs messages carry (webhooks out)."""

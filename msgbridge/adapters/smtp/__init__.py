"""SMTP out: plain email, and SMS handed to a provider's mail interface."""

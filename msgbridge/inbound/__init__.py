"""Inbound gateways: traffic from other networks (mail) turned into SMS in the outbox."""

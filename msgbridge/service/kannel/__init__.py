"""Kannel's ``/cgi-bin/sendsms`` and Jasmin's ``/send`` in front of the gateway, and their DLR callbacks."""

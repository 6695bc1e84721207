"""SMPP 3.4 itself, shared by the ``smpp://`` client (msgbridge.adapters.smpp) and the SMSC simulator.

What both ends must agree on lives here once: the PDU codec (``codec``), the
command_status table (``status``), how addresses get their TON/NPI
(``addressing``) and the receipt text format (``receipt_text``). Neither end
imports the other.
"""

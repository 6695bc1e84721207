"""The SMPP server front of ``msgbridge serve``: ESMEs bind to msgbridge and reach any configured transport.

``accounts`` holds who may bind (the ``smpp-user`` file), ``session`` one connection's protocol, ``submit``
what a submit_sm / data_sm / submit_multi becomes, ``receipts`` the deliver_sm going back, ``server`` the
listener and what the sessions share. The front knows the gateway only through
:class:`~msgbridge.service.contract.Gateway` and the store's event methods.
"""

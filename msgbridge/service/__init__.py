"""The gateway as a long-running service: the runtime that keeps transports open and drains the outbox
(:mod:`msgbridge.service.runtime`), the Python API over it (:mod:`msgbridge.service.client`), and the HTTP
front (:mod:`msgbridge.service.http`). :mod:`msgbridge.service.contract` is what a front may ask of the runtime.
"""

"""The ``msgbridge`` command line."""

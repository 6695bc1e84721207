"""The bundled demo campaign: ``python -m msgbridge.demo``."""

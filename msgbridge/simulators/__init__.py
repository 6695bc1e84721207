"""Local stand-ins for the networks msgbridge talks to, reached over real sockets."""

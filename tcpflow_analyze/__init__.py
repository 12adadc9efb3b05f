"""tcpflow-analyze: rebuild TCP connections from captures and infer each endpoint's state."""

__version__ = "0.1.0"

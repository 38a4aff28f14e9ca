"""Mingzhou: the command line and the demo that put the platform's parts together.

This package is the composition root: it may import every other package, and none of
them imports it, so the edge agent still never depends on the cloud.
"""

__version__ = "0.1.0"

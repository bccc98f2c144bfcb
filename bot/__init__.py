"""Redraw: the conversation engine, the image domain and backends, and the composition root.

Platform-neutral: nothing here imports telegram, discord or sqlalchemy.
"""

__version__ = "0.1.0"

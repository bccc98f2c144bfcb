"""Redraw: the conversation engine, image backends, validation and configuration.

Platform-neutral: nothing here imports telegram, discord or sqlalchemy.
"""

__version__ = "0.1.0"

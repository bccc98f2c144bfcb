"""The composition root: the one place that puts Redraw together.

- :mod:`bot.app.wiring`: storage and the engine from the settings (``open_storage``,
  ``build_engine``: used by the runtime and the tests alike).
- :mod:`bot.app.plugins`: what the core asks of a platform and of the store, found
  through the ``redraw.platforms`` and ``redraw.storage`` entry points.
- :mod:`bot.app.runtime`: one process (``redraw run``): start and stop in order.
- :mod:`bot.app.monitor`: ``/metrics`` and ``/healthz``.
- :mod:`bot.app.checks`: what ``redraw check`` reaches.

- :mod:`bot.app.cli`: the ``redraw`` command; :mod:`bot.app.config`: the settings;
  :mod:`bot.app.logs`: log lines.

Nothing is imported here: each command loads only what it needs.
"""

"""The bot's web pages (``REDRAW_PUBLIC_URL``): the mask painter and a chat's version tree.

An inbound adapter like the platforms: a submit from the painter becomes a turn through
:class:`adapters.web.ports.RegionEditor`, the one thing the server asks of the engine.

- ``ports``: the RegionEditor protocol and the values it trades (no aiohttp).
- ``tokens``: signed, expiring links bound to a chat, a user and a picture (no aiohttp).
- ``links``: the links the platform adapters put on buttons (no aiohttp).
- ``telegram_webapp``: checking a Telegram Mini App's ``initData`` (no aiohttp).
- ``server``: the aiohttp application, :func:`adapters.web.server.start`; ``pages``: its HTML.
"""

"""Where one client reaches Discord: its REST base (``DISCORD_API_BASE_URL``, e.g. a
rate-limit proxy or a test fake) and its gateway (``DISCORD_GATEWAY_URL``).

discord.py keeps both class-wide (``Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``),
so setting them would move every client in the process. Instead each
:class:`AddressedClient` gets an HTTP client of its own whose aiohttp session sends
what discord.py addresses to Discord's defaults to the configured places: REST calls,
interaction responses and followups (they share the session) and the gateway
connection. The class-wide values are never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route
from discord.state import ConnectionState
from discord.utils import MISSING

from bot.app.config import Settings
from bot.errors import StartupError

API_VERSION_PATH = "/api/v10"


def api_base(url: str) -> str:
    """``http://proxy:8080`` → ``http://proxy:8080/api/v10``; a URL naming its version is kept."""
    url = url.rstrip("/")
    return url if "/api/v" in url else url + API_VERSION_PATH


@dataclass(frozen=True)
class Addresses:
    """One client's REST base and gateway; None: Discord's own."""

    api: str | None = None
    gateway: yarl.URL | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Addresses:
        return cls(
            api_base(settings.discord_api_base_url) if settings.discord_api_base_url else None,
            yarl.URL(settings.discord_gateway_url) if settings.discord_gateway_url else None,
        )

    @property
    def shown_api(self) -> str:
        return self.api or Route.BASE

    def rest(self, url: str) -> str:
        """A REST URL discord.py built on its class-wide base, on this client's."""
        if self.api is not None and url.startswith(Route.BASE):
            return self.api + url[len(Route.BASE) :]
        return url

    def websocket(self, url: str) -> str:
        """The gateway URL discord.py built on its default (with its query), on this client's."""
        if self.gateway is not None and url.startswith(str(DiscordWebSocket.DEFAULT_GATEWAY)):
            return str(self.gateway.with_query(yarl.URL(url).query))
        return url


class AddressedSession:
    """A client's aiohttp session, sending to the client's :class:`Addresses`."""

    def __init__(self, session: aiohttp.ClientSession, addresses: Addresses) -> None:
        self._session = session
        self._addresses = addresses

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return self._session.request(method, self._addresses.rest(url), **kwargs)

    def ws_connect(self, url: str, **kwargs: Any) -> Any:
        return self._session.ws_connect(self._addresses.websocket(url), **kwargs)

    def __getattr__(self, name: str) -> Any:
        # get (the CDN), close, closed: as they are.
        return getattr(self._session, name)


class AddressedHTTP(HTTPClient):
    """discord.py's HTTP client whose session (made at login) goes to :class:`Addresses`."""

    def __init__(self, loop: Any, addresses: Addresses) -> None:
        self.addresses = addresses
        super().__init__(loop)

    # HTTPClient keeps its session as ``self.__session``, and interactions and webhooks
    # read it by that (mangled) name: every reader gets the addressed one.
    @property
    def _HTTPClient__session(self) -> Any:
        return self._addressed

    @_HTTPClient__session.setter
    def _HTTPClient__session(self, session: Any) -> None:
        self._addressed = session if session is MISSING else AddressedSession(session, self.addresses)


class AddressedClient(discord.Client):
    """A discord.py client that reaches Discord at ``addresses``, whatever other clients
    in the process do."""

    def __init__(self, *, addresses: Addresses, intents: discord.Intents, **options: Any) -> None:
        # Read by _get_state, which discord.Client's constructor calls.
        self._addresses = addresses
        super().__init__(intents=intents, **options)

    def _get_state(self, **options: Any) -> ConnectionState[Self]:
        # The connection state keeps the client's HTTP client: ours goes in before it is made.
        self.http = AddressedHTTP(self.loop, self._addresses)
        return super()._get_state(**options)


async def log_in(client: AddressedClient, token: str) -> None:
    """Log in over REST: a refused token or an unreachable API becomes a one-line
    StartupError (``redraw run``, ``redraw check``)."""
    try:
        await client.login(token)
    except discord.LoginFailure as error:
        raise StartupError("Discord refused DISCORD_BOT_TOKEN; check it in the Developer Portal") from error
    except (discord.HTTPException, aiohttp.ClientError, OSError) as error:
        where = client._addresses.shown_api
        raise StartupError(f"could not reach Discord's API at {where}: {error}") from error

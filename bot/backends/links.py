"""Fetching the image links a provider puts in an answer, as the hostile input they are.

A link is text a model wrote, and a prompt can make it write anything: a link to the
bot's own network, to a cloud metadata service, to a page that never ends. So:

- **Scheme.** ``https`` only; ``http`` too when the provider itself is ``http``.
- **Address.** The host is resolved once, every address it resolves to must be
  public (not loopback, private, CGNAT, link-local, multicast or reserved; checked
  with :mod:`ipaddress`), and the connection goes to an address that was checked.
  httpx never resolves the name again, so a DNS server that answers differently the
  second time (rebinding) gains nothing. TLS still verifies the certificate against
  the host name. The provider's own host and port are exempt: the operator chose it.
  ``REDRAW_FETCH_PRIVATE_LINKS`` admits private and loopback addresses too, never
  link-local ones (cloud metadata lives there).
- **Redirects** are followed by hand, at most :data:`MAX_REDIRECTS`, each hop checked
  like the first (scheme, then address at connect time).
- **Content.** An ``image/*`` content type or image magic bytes, within the size cap.
- **Time.** A total deadline (the caller's) and a minimum rate: after
  :data:`GRACE_S`, a link must keep up :data:`MIN_RATE` bytes a second on average.
- **Slots.** The body is read through :func:`~bot.images.offload.gated`: network waits
  never hold the slots that bound how many bodies are parsed at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass

import httpcore
import httpx

from bot.errors import LinkRefused, LinkTooSlow, MalformedResponse, UpstreamError, UpstreamUnavailable
from bot.images import imaging
from bot.images.offload import cooperative, gated
from bot.tls import link_context

MAX_REDIRECTS = 3
# A link must deliver this many bytes a second on average once GRACE_S has passed.
MIN_RATE = 32 * 1024
GRACE_S = 10.0
# No byte at all for this long ends the download (the rate check needs bytes to run).
IDLE_S = 15.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[list[str]]]
ErrorFrom = Callable[[int, Mapping[str, str]], UpstreamError]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# Cloud metadata services: never, whatever the operator allows (AWS's IPv6 one is a ULA).
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _unwrapped(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64): it is where packets go."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: IPAddress, *, private_ok: bool = False) -> str | None:
    """Why a link may not connect to ``address``, or None when it may."""
    ip = _unwrapped(address)
    if ip in _METADATA or ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    private = "a private or loopback address"
    if ip.is_unspecified:
        return "a reserved address"
    if ip.is_loopback:  # before is_reserved: ::1 is both
        return None if private_ok else private
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT):
        return None if private_ok else private
    if not ip.is_global:
        return "an address that is not public"
    return None


def _host_key(host: str) -> str:
    host = host.strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


@dataclass(frozen=True)
class LinkPolicy:
    schemes: tuple[str, ...]
    # The provider's own (host, port): exempt from the address rules.
    provider: tuple[str, int]
    private_ok: bool = False

    @classmethod
    def for_provider(cls, base_url: str, *, private_ok: bool = False) -> LinkPolicy:
        url = httpx.URL(base_url)
        schemes = ("https", "http") if url.scheme == "http" else ("https",)
        port = url.port or (443 if url.scheme == "https" else 80)
        return cls(schemes, (_host_key(url.host), port), private_ok)

    def check_url(self, url: httpx.URL) -> httpx.URL:
        if url.scheme not in self.schemes:
            raise LinkRefused(f"refused a {url.scheme or 'relative'}:// image link (allowed: {self.schemes})")
        if not url.host:
            raise LinkRefused("refused an image link without a host")
        return url

    def is_provider(self, host: str, port: int) -> bool:
        return (_host_key(host), port) == self.provider

    async def addresses(self, host: str, port: int, resolve: Resolve) -> list[str]:
        """The addresses to connect to: all of them checked, or a refusal."""
        try:
            found = await resolve(host, port)
        except OSError as exc:
            raise UpstreamUnavailable(f"cannot resolve the image link's host: {exc}") from None
        if self.is_provider(host, port):
            return found
        if not found:
            raise UpstreamUnavailable("the image link's host has no address")
        for text in found:
            # A name that resolves to public and private addresses alike is refused outright.
            reason = refusal(ipaddress.ip_address(text.split("%")[0]), private_ok=self.private_ok)
            if reason is not None:
                raise LinkRefused(f"refused an image link to {reason} ({host} is {text})")
        return found


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer, connecting only to addresses the policy passed."""

    def __init__(self, policy: LinkPolicy, resolve: Resolve) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        error: Exception | None = None
        for address in await self._policy.addresses(host, port, self._resolve):
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise LinkRefused("image links never reach a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, backend: httpcore.AsyncNetworkBackend, limits: httpx.Limits) -> None:
        # No environment proxies: through a proxy, the address connected to could not be checked.
        # The shared context: else httpx loads the CA bundle for a pool thrown away below.
        super().__init__(verify=link_context(), limits=limits, trust_env=False)
        # httpx offers no public way to give its pool a network backend: replace the pool.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=link_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class LinkFetcher:
    def __init__(
        self,
        *,
        provider_url: str,
        max_bytes: int,
        gate: asyncio.Semaphore,
        error_from: ErrorFrom,
        connect_timeout: float = 10.0,
        private_ok: bool = False,
        min_rate: float = MIN_RATE,
        grace_s: float = GRACE_S,
        resolve: Resolve = system_resolve,
    ) -> None:
        self.policy = LinkPolicy.for_provider(provider_url, private_ok=private_ok)
        self.max_bytes = max_bytes
        self.min_rate = min_rate
        self.grace_s = grace_s
        self._gate = gate
        self._error_from = error_from
        transport = _GuardedTransport(
            _GuardedBackend(self.policy, resolve),
            httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        # Image links live on other hosts: this client never carries our key.
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=connect_timeout, read=IDLE_S, write=30.0, pool=connect_timeout),
            follow_redirects=False,
            transport=transport,
            # Pictures are compressed already; a gzip body would only hide its real size.
            headers={"Accept": "image/*", "Accept-Encoding": "identity"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, url: str) -> tuple[bytes, str]:
        """One attempt at ``url``: redirects followed and checked hop by hop. Returns the
        bytes and their image type."""
        try:
            request = self._http.build_request("GET", self.policy.check_url(httpx.URL(url)))
        except httpx.InvalidURL as exc:
            raise LinkRefused(f"an image link that is not a URL: {exc}") from None
        loop = asyncio.get_running_loop()
        for hop in range(MAX_REDIRECTS + 1):
            started = loop.time()
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TimeoutException as exc:
                if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                    raise UpstreamUnavailable("connecting to the image link timed out") from None
                raise LinkTooSlow("the image link sent nothing for too long") from None
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(f"cannot download the image link: {type(exc).__name__}") from None
            try:
                if response.next_request is not None:
                    if hop == MAX_REDIRECTS:
                        raise LinkRefused(f"the image link redirected more than {MAX_REDIRECTS} times")
                    request = response.next_request
                    self.policy.check_url(request.url)
                    continue
                return await self._body(response, started)
            finally:
                await response.aclose()
        raise AssertionError("unreachable: the last hop returns or raises")

    async def _body(self, response: httpx.Response, started: float) -> tuple[bytes, str]:
        if response.status_code >= 400:
            error = self._error_from(response.status_code, response.headers)
            if not error.retryable:
                raise MalformedResponse(
                    f"the image link answered HTTP {response.status_code}", status=response.status_code
                )
            raise error
        if response.status_code != 200:
            raise LinkRefused(f"the image link answered HTTP {response.status_code}, not a picture")
        declared = int(response.headers.get("content-length") or 0)
        if declared > self.max_bytes:
            raise MalformedResponse(f"the image link is too large ({declared} bytes)")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        body = bytearray()
        mime: str | None = None
        # The pace: by time t the link owes min_rate * (t - started - grace) bytes.
        owed_at = started + self.grace_s
        try:
            async with (
                asyncio.timeout_at(owed_at) as pace,
                aclosing(gated(response.aiter_bytes(), self._gate)) as chunks,
            ):
                async for chunk in cooperative(chunks):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise MalformedResponse("the image link is larger than the download limit")
                    if mime is None and len(body) >= 16:
                        mime = self._image_type(content_type, body)
                    pace.reschedule(owed_at + len(body) / self.min_rate)
        except TimeoutError:
            raise LinkTooSlow(f"the image link fell under {self.min_rate:.0f} bytes/s") from None
        except httpx.TimeoutException:
            raise LinkTooSlow("the image link stopped sending") from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"the image download broke off: {type(exc).__name__}") from None
        return bytes(body), mime or self._image_type(content_type, body)

    @staticmethod
    def _image_type(content_type: str, head: bytes | bytearray) -> str:
        """The picture's type, from its magic bytes or else its declared type; refuse a page."""
        sniffed = imaging.sniff_mime(bytes(head[:16]))
        if sniffed is not None:
            return sniffed
        if content_type.startswith("image/"):
            return content_type
        raise LinkRefused(f"the image link served {content_type or 'no content type'}, not a picture")

"""Credentials inside URLs: which parts are secret, and how a URL is shown without them.

A database URL carries its password (``postgresql+asyncpg://redraw:PASSWORD@db/redraw``),
and a proxy's ``OPENAI_BASE_URL`` may carry a login or a key
(``https://user:PASSWORD@proxy/v1``, ``https://proxy/v1?key=KEY``). Settings, logs,
``redraw config``, ``redraw check`` and error messages show URLs through
:func:`shown_url`; the log redactor also replaces the values :func:`url_secrets` returns.

Plain string work, no SQLAlchemy: ``bot`` does not import it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

HIDDEN = "***"
# Query parameters that carry a credential (a proxy's ?key=, a signed ?sig=, asyncpg's ?password=).
_SECRET_QUERY_KEY = re.compile(r"pass|pwd|secret|token|key|sig|auth|cred", re.IGNORECASE)
# ``scheme://user:password@`` anywhere in a text: the password goes whatever its length.
URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)(?P<password>[^\s@/]+)@", re.IGNORECASE)


def _userinfo(url: str) -> tuple[str, str, str | None, str]:
    """(scheme://, user, password or None, the rest after '@'); user '' when there is no userinfo."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", None, url
    netloc_end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return scheme + sep, "", None, rest
    user, colon, password = userinfo.partition(":")
    return scheme + sep, user, password if colon else None, host + tail


def shown_url(url: str, *, hide_user: bool = False) -> str:
    """``url`` with its password (and, with ``hide_user``, its whole login) and any
    credential-like query value replaced by ``***``. ``hide_user`` is for provider URLs,
    where a login without a password is usually a key; a database's user name is just a role."""
    head, user, password, rest = _userinfo(url)
    if user or password is not None:
        login = HIDDEN if hide_user else user + (f":{HIDDEN}" if password is not None else "")
        url = f"{head}{login}@{rest}"
    base, question, query = url.partition("?")
    if not question:
        return url
    query, hash_, fragment = query.partition("#")
    parts = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        secret = equals and value and _SECRET_QUERY_KEY.search(unquote(name))
        parts.append(f"{name}={HIDDEN}" if secret else pair)
    return f"{base}?{'&'.join(parts)}{hash_}{fragment}"


def url_secrets(url: str | None, *, include_user: bool = False) -> list[str]:
    """The secret parts of ``url``, as written and percent-decoded (a library may log either)."""
    if not url:
        return []
    _, user, password, _ = _userinfo(url)
    found = [password] if password else []
    if include_user and user:
        found.append(user)
    try:
        query = urlsplit(url).query
    except ValueError:
        query = ""
    found += [value for name, value in parse_qsl(query) if value and _SECRET_QUERY_KEY.search(name)]
    found += [value for name, value in _raw_query(query) if value and _SECRET_QUERY_KEY.search(name)]
    return sorted({variant for value in found for variant in (value, unquote(value))})


def _raw_query(query: str) -> list[tuple[str, str]]:
    return [(unquote(name), value) for name, _, value in (pair.partition("=") for pair in query.split("&"))]


def hide_url_passwords(text: str, replacement: str = HIDDEN) -> str:
    """Every ``scheme://user:password@`` in ``text`` with the password replaced."""
    return URL_PASSWORD.sub(lambda match: f"{match['head']}{replacement}@", text)

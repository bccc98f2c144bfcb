"""One TLS context for every HTTPS client in the process.

httpx builds a context per client and each loads the CA bundle again (about 1.3 MB
of memory apiece); the bot has four clients (the provider, image links, and
Telegram's two). They can share one: a context only holds settings and certificates.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


@functools.cache
def link_context() -> ssl.SSLContext:
    """For image links, which trust nothing from the environment: certifi's bundle, never
    SSL_CERT_FILE or SSL_CERT_DIR. With neither set, that is :func:`client_context`'s."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return httpx.create_ssl_context(trust_env=False)
    return client_context()

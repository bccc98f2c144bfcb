"""Signed links and Telegram's initData, without a server."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from adapters.web import tokens
from adapters.web.links import page_link
from adapters.web.telegram_webapp import InitDataError, check_init_data
from bot.app import logs
from bot.app.config import ConfigError, load_settings
from tests.web.fakes import KEY, claim

NOW = 1_750_000_000.0
BOT = "7000000001:AAH-test-token"


def test_a_token_round_trips_and_binds_everything() -> None:
    made = claim("paint", 12, now=NOW, locale="pt-BR")
    token = tokens.sign(KEY, made)
    assert tokens.verify(KEY, token, "paint", now=NOW + 60) == made
    assert made.expires_at == NOW + 24 * 3600
    assert claim("versions", now=NOW).expires_at == NOW + 7 * 24 * 3600
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(token) < 200


@pytest.mark.parametrize("position", [0, 5, 20, -1, -10])
def test_any_changed_character_is_refused(position: int) -> None:
    token = tokens.sign(KEY, claim("paint", now=NOW))
    changed = token[position]
    swapped = "A" if changed != "A" else "B"
    bad = token[:position] + swapped + token[position + 1 :] if position >= 0 else None
    if position < 0:
        index = len(token) + position
        bad = token[:index] + swapped + token[index + 1 :]
    assert bad is not None
    with pytest.raises(tokens.TokenError) as refused:
        tokens.verify(KEY, bad, "paint", now=NOW)
    assert refused.value.reason == "invalid"


def test_a_payload_resigned_with_another_key_or_edited_is_refused() -> None:
    token = tokens.sign(b"another key" * 3, claim("paint", now=NOW))
    with pytest.raises(tokens.TokenError):
        tokens.verify(KEY, token, "paint", now=NOW)
    _, _, mac = tokens.sign(KEY, claim("paint", user="42", now=NOW)).partition(".")
    forged = tokens.sign(KEY, claim("paint", user="43", now=NOW)).partition(".")[0]
    with pytest.raises(tokens.TokenError):
        tokens.verify(KEY, f"{forged}.{mac}", "paint", now=NOW)
    for garbage in ("", ".", "a.b.c", "x" * 2000, "Zm9v.!!!", "Zm9v.Zm9v"):
        with pytest.raises(tokens.TokenError):
            tokens.verify(KEY, garbage, "paint", now=NOW)


def _signed(fields: list[object]) -> str:
    """A token with this payload, signed with the right key (what only the bot can make)."""
    payload = tokens._b64(json.dumps(fields, separators=(",", ":")).encode())
    return f"{payload}.{tokens._b64(tokens._mac(KEY, payload))}"


def test_a_token_names_which_of_the_turns_pictures() -> None:
    made = replace(claim("paint", 12, now=NOW), image_index=2)
    assert tokens.verify(KEY, tokens.sign(KEY, made), "paint", now=NOW).image_index == 2
    # A link given out before pictures had an index (layout 1) paints the first.
    expires = int(NOW) + 3600
    old = tokens.verify(KEY, _signed([1, "p", "telegram", "-1001", "42", 12, expires, ""]), "paint", now=NOW)
    assert (old.turn_id, old.image_index) == (12, 0)
    for fields in (
        [2, "p", "telegram", "-1001", "42", 12, expires, "", -1],
        [2, "p", "telegram", "-1001", "42", 12, expires, "", "1"],
        [2, "p", "telegram", "-1001", "42", 12, expires, ""],
        [1, "p", "telegram", "-1001", "42", 12, expires, "", 1],
    ):
        with pytest.raises(tokens.TokenError):
            tokens.verify(KEY, _signed(fields), "paint", now=NOW)


def test_expired_and_other_purpose_tokens_are_refused() -> None:
    paint = tokens.sign(KEY, claim("paint", now=NOW))
    with pytest.raises(tokens.TokenError) as refused:
        tokens.verify(KEY, paint, "paint", now=NOW + 24 * 3600)
    assert refused.value.reason == "expired"
    with pytest.raises(tokens.TokenError) as refused:
        tokens.verify(KEY, paint, "versions", now=NOW)
    assert refused.value.reason == "invalid"
    versions = tokens.sign(KEY, claim("versions", now=NOW))
    assert tokens.verify(KEY, versions, "versions", now=NOW + 6 * 86400).purpose == "versions"


def test_the_key_is_the_secret_or_derived_from_the_platform_tokens() -> None:
    one = load_settings(telegram_bot_token=BOT)
    assert tokens.signing_key(one) == tokens.signing_key(load_settings(telegram_bot_token=BOT))
    assert tokens.signing_key(one) != tokens.signing_key(load_settings(telegram_bot_token=BOT + "x"))
    both = load_settings(telegram_bot_token=BOT, discord_bot_token="d" * 40)
    assert tokens.signing_key(both) != tokens.signing_key(one)
    secret = load_settings(telegram_bot_token=BOT, redraw_web_secret="s" * 32)
    assert tokens.signing_key(secret) == tokens.signing_key(load_settings(redraw_web_secret="s" * 32))
    assert tokens.signing_key(secret) != tokens.signing_key(one)
    with pytest.raises(ValueError, match="REDRAW_WEB_SECRET"):
        tokens.signing_key(load_settings())


def test_links_for_buttons() -> None:
    assert (
        page_link(
            load_settings(telegram_bot_token=BOT),
            "paint",
            platform="telegram",
            chat_id=1,
            user_id=2,
            turn_id=3,
        )
        is None
    )
    settings = load_settings(telegram_bot_token=BOT, redraw_public_url="https://redraw.example.com/pages/")
    link = page_link(
        settings, "paint", platform="telegram", chat_id=-100, user_id=5, turn_id=9, locale="de", now=NOW
    )
    assert link is not None and link.startswith("https://redraw.example.com/pages/paint?t=")
    token = parse_qs(urlsplit(link).query)["t"][0]
    made = tokens.verify(tokens.signing_key(settings), token, "paint", now=NOW)
    assert (made.platform, made.chat_id, made.user_id, made.turn_id, made.locale) == (
        "telegram",
        "-100",
        "5",
        9,
        "de",
    )
    link = page_link(settings, "versions", platform="discord", chat_id=77, user_id=8, turn_id=9, now=NOW)
    assert link is not None and "/pages/versions?t=" in link
    made = tokens.verify(
        tokens.signing_key(settings), parse_qs(urlsplit(link).query)["t"][0], "versions", now=NOW
    )
    assert made.expires_at == NOW + 7 * 86400


def test_building_links_loads_no_web_server() -> None:
    code = (
        "import sys\n"
        "from adapters.web.links import page_link\n"
        "from bot.app.config import load_settings\n"
        "s = load_settings(telegram_bot_token='1:a', redraw_public_url='https://x.example')\n"
        "assert page_link(s, 'paint', platform='telegram', chat_id=1, user_id=2, turn_id=3)\n"
        "print('aiohttp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def telegram_init_data(fields: dict[str, str], bot_token: str = BOT) -> str:
    """Signed as Telegram's documentation says, written out here independently."""
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    signed = dict(fields, hash=hmac.new(secret, check.encode(), hashlib.sha256).hexdigest())
    return urlencode(signed)


def fields_for(user_id: object, auth_date: float = NOW) -> dict[str, str]:
    return {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Ada", "language_code": "en"}),
        "auth_date": str(int(auth_date)),
        "signature": "ZmFrZS1lZDI1NTE5",
    }


def test_init_data_signed_for_this_bot_gives_the_user() -> None:
    assert check_init_data(telegram_init_data(fields_for(279058397)), BOT, now=NOW + 60) == "279058397"


@pytest.mark.parametrize(
    ("init_data", "why"),
    [
        (telegram_init_data(fields_for(1), bot_token="1:another-bot"), "not signed"),
        (telegram_init_data(fields_for(1)).replace("Ada", "Eve"), "not signed"),
        (telegram_init_data(fields_for(1)) + "&extra=1", "not signed"),
        (telegram_init_data(fields_for(1)).replace("hash=", "hash=0"), "not signed"),
        (telegram_init_data(fields_for(1, NOW - 2 * 86400)), "stale"),
        (telegram_init_data(fields_for(1, NOW + 3600)), "stale"),
        (telegram_init_data(fields_for("1")), "no user"),
        (telegram_init_data({"auth_date": str(int(NOW))}), "no user"),
        (telegram_init_data({"user": "{}"}), "no auth_date"),
        ("", "not signed"),
        ("a=1&b", "not a query string"),
        ("user=1&user=2&hash=00", "repeats"),
        ("x" * 9000, "too long"),
    ],
    ids=[
        "other-bot",
        "edited",
        "added-field",
        "bad-hash",
        "stale",
        "future",
        "string-id",
        "no-user",
        "no-date",
        "empty",
        "not-a-query",
        "repeated",
        "long",
    ],
)
def test_bad_init_data_is_refused(init_data: str, why: str) -> None:
    with pytest.raises(InitDataError, match=why):
        check_init_data(init_data, BOT, now=NOW)


def test_settings_for_the_pages() -> None:
    settings = load_settings(redraw_public_url="https://redraw.example.com/")
    assert settings.redraw_public_url == "https://redraw.example.com" and settings.redraw_web_port == 8090
    assert (
        load_settings(redraw_public_url="http://localhost:8090").redraw_public_url == "http://localhost:8090"
    )
    assert load_settings(redraw_public_url="  ").redraw_public_url is None
    for bad, message in [
        ("redraw.example.com", "REDRAW_PUBLIC_URL: must be the pages' public URL"),
        ("ftp://redraw.example.com", "REDRAW_PUBLIC_URL: must be the pages' public URL"),
        ("http://redraw.example.com", "REDRAW_PUBLIC_URL: must be https:// (http only for localhost"),
        ("https://redraw.example.com/?a=1", "REDRAW_PUBLIC_URL: may not carry a query"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            load_settings(redraw_public_url=bad)
    with pytest.raises(ConfigError, match="REDRAW_WEB_PORT"):
        load_settings(redraw_web_port=70000)
    with pytest.raises(ConfigError) as refused:
        load_settings(redraw_web_secret="short-secret")
    assert "REDRAW_WEB_SECRET: must be at least 16 characters" in str(refused.value)
    assert "short-secret" not in str(refused.value) and "(hidden)" in str(refused.value)


def test_expiry_is_measured_against_the_clock() -> None:
    token = tokens.sign(KEY, claim("paint"))
    assert tokens.verify(KEY, token, "paint").turn_id == 7
    with pytest.raises(tokens.TokenError):
        tokens.verify(KEY, token, "paint", now=time.time() + 86401)


def test_the_pages_are_found_through_their_entry_point_without_aiohttp() -> None:
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "from adapters.web import plugin\n"
        "[found] = entry_points(group='redraw.web', name='pages')\n"
        "assert found.load() is plugin.start\n"
        "print('aiohttp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_web_secret_is_blanked_in_logs() -> None:
    secret = "web-secret-0123456789abcdef"
    assert secret in logs.secrets_of(load_settings(redraw_web_secret=secret))

"""Text the bot posts on Discord is shown as written, never read as markdown.

Captions and answers quote prompts, and a prompt must not make the bot post a
masked link, bold or hidden text, a heading or a mention. ``allowed_mentions``
already keeps anyone from being pinged; this keeps ``@everyone`` from even looking
like one.

discord.utils.escape_markdown is not enough: its masked-link pattern is greedy, so
in ``[a](x) **b** [c](y)`` it escapes the first bracket and nothing after it.
Here every markdown character is escaped, except inside bare links, which a
backslash would break.
"""

from __future__ import annotations

import re

import discord

# Bare links, as Discord finds them (discord.utils' own pattern).
_URL = re.compile(r"(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s]")
# Backslash, bold/italic, underline, strike, spoiler, code, and "[" of a masked link.
_MARKUP = re.compile(r"([\\*_~|`\[])")
# Quotes, headings, subtext and lists start a line.
_LINE_START = re.compile(r"^(\s*)([>#+-])")


def plain(text: str) -> str:
    """``text`` escaped for Discord; at most twice as long."""
    return discord.utils.escape_mentions("\n".join(map(_plain_line, text.split("\n"))))


def _plain_line(line: str) -> str:
    pieces = []
    position = 0
    for link in _URL.finditer(line):
        pieces += [_MARKUP.sub(r"\\\1", line[position : link.start()]), link.group()]
        position = link.end()
    pieces.append(_MARKUP.sub(r"\\\1", line[position:]))
    return _LINE_START.sub(r"\1\\\2", "".join(pieces))

"""The HTML of the web pages. Everything that came from a user or the store goes through
:func:`html.escape`; pages load no inline script or style (the CSP forbids them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlencode

from adapters.web.ports import Claim, VersionNode

_STATUS_WORDS = {
    "done": "done",
    "failed": "failed",
    "interrupted": "interrupted",
    "queued": "waiting",
    "running": "drawing",
}


def _page(title: str, body: str, *, styles: Sequence[str] = (), scripts: Sequence[str] = ()) -> str:
    links = "".join(f'<link rel="stylesheet" href="static/{escape(name)}">' for name in ("base.css", *styles))
    loaded = "".join(f'<script src="static/{escape(name)}" defer></script>' for name in scripts)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} · Redraw</title>{links}{loaded}</head>\n"
        f"<body>{body}</body></html>\n"
    )


def error_page(title: str, explanation: str) -> str:
    body = (
        '<main class="error" id="error">'
        f"<h1>{escape(title)}</h1><p>{escape(explanation)}</p>"
        '<p class="hint">Nothing was sent to the chat.</p></main>'
    )
    return _page(title, body)


def painter_page(token: str, width: int, height: int) -> str:
    query = escape(urlencode({"t": token}))
    body = f"""<main id="painter" data-token="{escape(token)}" data-width="{width}" data-height="{height}">
<header><h1>Edit a region</h1>
<p class="hint">Paint over what should change, then say how. The rest stays as it is.</p></header>
<div class="stage" id="stage"><img id="picture" src="picture?{query}" alt="The picture to edit"
 width="{width}" height="{height}" draggable="false"><canvas id="mask" width="{width}" height="{height}"
 aria-label="Paint here the area to change"></canvas></div>
<div class="tools" role="toolbar" aria-label="Painting tools">
<div class="group"><button type="button" id="brush" aria-pressed="true">Brush</button>
<button type="button" id="eraser" aria-pressed="false">Eraser</button></div>
<label class="size">Size <input type="range" id="size" min="4" max="160" value="40"></label>
<div class="group"><button type="button" id="undo" disabled>↶ Undo</button>
<button type="button" id="invert">◐ Invert</button><button type="button" id="clear">✕ Clear</button></div>
</div>
<form id="form" autocomplete="off"><label for="text">What should change there?</label>
<textarea id="text" name="text" rows="2" maxlength="32000" required
 placeholder="e.g. a red scarf"></textarea>
<button type="submit" id="send">Send to the chat</button></form>
<p id="status" role="status" aria-live="polite"></p>
</main>"""
    return _page("Edit a region", body, styles=["painter.css"], scripts=["painter.js"])


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _took(node: VersionNode) -> str:
    if node.finished_at is None:
        return ""
    seconds = (node.finished_at - node.created_at).total_seconds()
    return f" · {seconds:.0f} s" if seconds >= 0 else ""


def _cost(value: float | None) -> str:
    if value is None:
        return "cost unknown"
    return f"${value:.3f}" if value < 0.1 else f"${value:.2f}"


def _node(node: VersionNode, token: str, current: int) -> str:
    query = {"t": token, "turn": str(node.turn_id)}
    link = escape(urlencode(query))
    classes = "node current" if node.turn_id == current else "node"
    status = _STATUS_WORDS.get(node.status, node.status)
    thumb = (
        f'<a class="thumb" href="original?{link}"><img loading="lazy" src="thumb?{link}" '
        f'alt="Picture #{node.turn_id}"></a>'
        if node.has_original
        else f'<span class="thumb empty" aria-hidden="true">{escape(status)}</span>'
    )
    settings = "".join(
        f"<li><span>{escape(name)}</span> {escape(value)}</li>" for name, value in node.settings.items()
    )
    download = (
        f'<a class="download" href="original?{link}" download>⤓ Original</a>' if node.has_original else ""
    )
    marker = ' <span class="here">this picture</span>' if node.turn_id == current else ""
    return (
        f'<div class="{classes}" id="turn-{node.turn_id}" data-turn="{node.turn_id}">{thumb}'
        f'<div class="meta"><p class="title"><strong>#{node.turn_id}</strong>'
        f' <span class="status status-{escape(node.status)}">{escape(status)}</span>{marker}</p>'
        f'<p class="prompt">{escape(node.prompt) or "<em>(no text)</em>"}</p>'
        f'<ul class="settings">{settings}</ul>'
        f'<p class="facts"><time datetime="{escape(node.created_at.isoformat())}">'
        f"{escape(_when(node.created_at))}</time>{escape(_took(node))} · {escape(_cost(node.cost_usd))}</p>"
        f"{download}</div></div>"
    )


def _tree(nodes: Iterable[VersionNode], token: str, current: int) -> str:
    ordered = sorted(nodes, key=lambda node: (node.created_at, node.turn_id))
    known = {node.turn_id for node in ordered}
    children: dict[int | None, list[VersionNode]] = defaultdict(list)
    for node in ordered:
        # A parent outside the chat's tree (a turn no longer listed) makes a root.
        children[node.parent_id if node.parent_id in known else None].append(node)

    # Iterative, so a chain thousands of versions deep renders as well as a short one.
    parts: list[str] = ['<ul class="tree">']
    stack: list[tuple[list[VersionNode], int]] = [(children[None], 0)]
    while stack:
        siblings, index = stack.pop()
        if index >= len(siblings):
            parts.append("</ul>")
            if stack:
                parts.append("</li>")
            continue
        node = siblings[index]
        stack.append((siblings, index + 1))
        branch = " branch" if len(siblings) > 1 else ""
        parts.append(f'<li class="version{branch}">{_node(node, token, current)}')
        kids = children.get(node.turn_id, [])
        if kids:
            parts.append('<ul class="children">')
            stack.append((kids, 0))
        else:
            parts.append("</li>")
    return "".join(parts)


def versions_page(claim: Claim, nodes: Sequence[VersionNode], token: str) -> str:
    done = sum(1 for node in nodes if node.status == "done")
    spent = sum(node.cost_usd or 0.0 for node in nodes)
    branches = sum(1 for node in nodes if node.parent_id is not None) - len(
        {node.parent_id for node in nodes if node.parent_id is not None}
    )
    summary = (
        f"{len(nodes)} versions ({done} done), {branches} branch{'es' if branches != 1 else ''}, "
        f"{_cost(spent)} in all"
    )
    body = (
        '<main id="versions"><header><h1>Versions</h1>'
        f'<p class="hint">{escape(summary)}. Each picture sits under the one it was made from; '
        "pictures made from the same one are branches.</p></header>"
        f"{_tree(nodes, token, claim.turn_id) if nodes else '<p>No pictures in this chat yet.</p>'}"
        "</main>"
    )
    return _page("Versions", body, styles=["versions.css"])

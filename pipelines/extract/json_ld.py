"""A page's JSON-LD kept for trafilatura's last resort, its article bodies as text.

trafilatura's baseline, which it runs when its extractors find no article, takes the ``articleBody`` of the
page's JSON-LD before anything else; without the scripts it falls to the text of the whole page, menus and
all (a Times of India page: 4-gram F1 0.74 without them, 0.96 with). Some outlets write that body as HTML
with embeds in it (an ``<iframe>``, the ``<script>`` that sizes it), which trafilatura's baseline does not
recognise as markup and returns verbatim; those strings are given as text here, scripts and embeds left out.
"""

from __future__ import annotations

import html
import json
import re

from lxml import etree
from lxml import html as lxml_html

__all__ = ["keep_json_ld"]

# an embed inside a JSON string: written out, escaped as JSON allows (\u003c) or as HTML (&lt;)
_EMBED = re.compile(r"(?:<|\\u003c|&lt;)\s*(?:script|style|iframe|noscript)\b", re.I)
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*\b[^<>]*>")
_BLOCKS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "figure")


def _as_text(value: str) -> str:
    """An HTML string (escaped as HTML or not) as its text: scripts, styles and embeds dropped, a line a block."""
    if "&lt;" in value:
        value = html.unescape(value)
    try:
        frag = lxml_html.fragment_fromstring(value, create_parent="div")
    except (etree.ParserError, ValueError):
        return _MARKUP.sub(" ", value)
    etree.strip_elements(frag, "script", "style", "iframe", "noscript", "object", "embed", with_tail=False)
    for el in frag.iter(*_BLOCKS):
        el.tail = "\n" + (el.tail or "")
    return "\n".join(" ".join(line.split()) for line in frag.text_content().split("\n") if line.strip())


def _render(node):
    if isinstance(node, dict):
        return {k: _render(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v) for v in node]
    if isinstance(node, str) and _EMBED.search(node):
        return _as_text(node)
    return node


def _rendered(script) -> None:
    """The script's JSON with every string that holds an embed given as text (left as is when not JSON)."""
    raw = script.text or ""
    if not _EMBED.search(raw):
        return
    try:
        data = json.loads(raw, strict=False)
    except ValueError:
        return
    script.text = json.dumps(_render(data), ensure_ascii=False)


def keep_json_ld(tree) -> list:
    """Take the page's JSON-LD scripts out of its body, their article bodies rendered as text, and return them
    (to be put back in the <head> once the other scripts are gone: out of every count of the body's words)."""
    scripts = [s for s in tree.iter("script") if "ld+json" in (s.get("type") or "").lower()]
    for script in scripts:
        script.drop_tree()  # its tail stays where it was
        script.tail = None
        _rendered(script)
    return scripts

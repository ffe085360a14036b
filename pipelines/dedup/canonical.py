"""Choice of the canonical (original) copy in a cluster of duplicates. Pure, deterministic.

Member dicts carry: id, url, canonical_url, outlet, published (ISO 8601), text, priority (int, higher =
more original, from the outlet registry), title; a member whose text is not kept (a stored duplicate)
carries ``credit`` (its credited outlet) and ``word_count`` instead. Rules, each narrowing the candidates of the previous:

1. ``rel=canonical``: members that other members' canonical_url points to (chains followed).
2. Credit: members whose outlet is credited by an "originally appeared in <Outlet>" line in a member's
   text; else members that credit no other outlet beat members that do.
3. Earliest publication date (full datetimes compared when all candidates have a time; a missing date
   loses to a present one).
4. Highest priority.  5. Most copies (``copies``, given for a story's members only: how many other sites
   carry each one's text, so the wire's wording beats one site's rewrite; among members at least half as
   long as the longest, so an excerpt's copies do not beat the whole report).  6. The incumbent
   (``incumbent``: the member that is the canonical now), so that identical copies never take turns.
   7. Longest text.  8. Smallest id.

Re-running on the grown cluster switches the canonical when a better original arrives; ``decide`` also
says which rule took the incumbent's place (the deduplicator keeps a demoted incumbent's text unless
that rule is ``rel=canonical`` or a credit: a claimed date alone never strips an existing text).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Sequence

from pipelines.extract.words import count_words

_CREDIT = re.compile(
    r"(?:originally|first)\s+(?:appeared|published|ran)\s+(?:in|on|at|by)\s+(?:the\s+)?"
    r"(?P<name>[A-Z0-9][\w&'’.\-]*(?:\s+(?:[A-Z0-9][\w&'’.\-]*|of|and|for|the|on|de|&))*)"
    r"|(?:republished|reprinted|reproduced)\s+(?:with\s+permission\s+)?from\s+(?:the\s+)?"
    r"(?P<name2>[A-Z0-9][\w&'’.\-]*(?:\s+(?:[A-Z0-9][\w&'’.\-]*|of|and|for|the|on|&))*)",
    re.IGNORECASE,
)
_STOP = {"the", "a", "an", "of", "and", "for", "on", "de", "&", "com", "www", "news"}


# words every credit line holds (after folding case and spaces): a page without any is not scanned
# with the case-insensitive pattern, which costs about half a millisecond on a long article
_CREDIT_NEEDLES = tuple(f"{a} {b}" for a in ("originally", "first") for b in ("appeared", "published", "ran")) + (
    "republished", "reprinted", "reproduced")


def credited_outlet(text: str | None) -> str | None:
    """The outlet credited as original ("originally appeared in the South China Morning Post") or None."""
    folded = " ".join((text or "").lower().split())
    if not any(needle in folded for needle in _CREDIT_NEEDLES):
        return None
    for m in _CREDIT.finditer(text or ""):
        name = (m.group("name") or m.group("name2") or "").strip(" .,;:'’\"")
        words = name.split()
        while words and words[-1].lower() in _STOP - {"&"}:
            words.pop()
        # keep capitalised words only (stop at the first lower-case non-connector word)
        kept: list[str] = []
        for i, w in enumerate(words):
            lead = i == 0 and ("." in w or (len(words) > 1 and words[1][0].isupper()))
            if w[0].isupper() or w[0].isdigit() or lead or (kept and w.lower() in _STOP):
                kept.append(w)
            else:
                break
        while kept and kept[-1].lower() in _STOP:
            kept.pop()
        if kept:
            return " ".join(kept).rstrip(".,")
    return None


def _tokens(name: str) -> list[str]:
    name = re.sub(r"^https?://", "", (name or "").lower())
    return [t for t in re.split(r"[^a-z0-9]+", name) if t and t not in _STOP]


def outlet_matches(outlet: str | None, credited: str) -> bool:
    """Same outlet by words, acronym (SCMP) or domain (scmp.com) of the credited name."""
    a, b = _tokens(outlet or ""), _tokens(credited)
    if not a or not b:
        return False
    acr_b, acr_a = "".join(t[0] for t in b), "".join(t[0] for t in a)
    joined_a, joined_b = "".join(a), "".join(b)
    return (a == b or joined_a == joined_b or (len(b) > 1 and acr_b in a) or (len(a) > 1 and acr_a in b)
            or (len(b) > 1 and acr_b == joined_a) or (len(a) > 1 and acr_a == joined_b))


def _norm_url(url: str | None) -> str:
    u = re.sub(r"^https?://(www\.)?", "", (url or "").strip().lower())
    return u.split("#")[0].rstrip("/")


def _parse_date(value) -> tuple[date | None, datetime | None]:
    if not value:
        return None, None
    s = str(value).strip().replace("Z", "+00:00")
    try:
        if len(s) <= 10:
            return date.fromisoformat(s[:10]), None
        dt = datetime.fromisoformat(s)
    except ValueError:
        try:
            return date.fromisoformat(s[:10]), None
        except ValueError:
            return None, None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.date(), dt


def _by_rel_canonical(members: list[dict]) -> list[dict]:
    by_url = {_norm_url(m.get("url")): m for m in members if m.get("url")}
    targets = {}
    for m in members:
        seen, cur = {m["id"]}, m
        while True:
            nxt = by_url.get(_norm_url(cur.get("canonical_url")))
            if nxt is None or nxt["id"] in seen:
                break
            seen.add(nxt["id"])
            cur = nxt
        if cur is not m:
            targets[cur["id"]] = cur
    return list(targets.values())


def _by_credit(members: list[dict]) -> list[dict]:
    credits = {m["id"]: _credit(m) for m in members}
    named = {c for c in credits.values() if c}
    originals = [m for m in members if any(outlet_matches(m.get("outlet"), c) for c in named)]
    if originals:
        return originals
    return [m for m in members if not credits[m["id"]] or outlet_matches(m.get("outlet"), credits[m["id"]])]


def _by_date(members: list[dict]) -> list[dict]:
    parsed = {m["id"]: _parse_date(m.get("published")) for m in members}
    dated = [m for m in members if parsed[m["id"]][0] is not None]
    if not dated:
        return members
    first = min(parsed[m["id"]][0] for m in dated)
    same_day = [m for m in dated if parsed[m["id"]][0] == first]
    if all(parsed[m["id"]][1] is not None for m in same_day):
        earliest = min(parsed[m["id"]][1] for m in same_day)
        same_day = [m for m in same_day if parsed[m["id"]][1] == earliest]
    return same_day


def _by_priority(members: list[dict]) -> list[dict]:
    best = max(int(m.get("priority") or 0) for m in members)
    return [m for m in members if int(m.get("priority") or 0) == best]


def _by_copies(members: list[dict]) -> list[dict]:
    """In a story (near-duplicate clusters of one report, ``copies``: how many other sites carry each one's
    text), the text most sites carry: the wire's own wording, not one site's rewrite of it."""
    longest = max(_length(m) for m in members)
    whole = [m for m in members if 2 * _length(m) >= longest]  # an excerpt's copies do not make it the report
    best = max(int(m.get("copies") or 0) for m in whole)
    return [m for m in whole if int(m.get("copies") or 0) == best] if best else members


def _by_incumbent(members: list[dict]) -> list[dict]:
    return [m for m in members if m.get("incumbent")]


def _by_length(members: list[dict]) -> list[dict]:
    best = max(_length(m) for m in members)
    return [m for m in members if _length(m) == best]


RULES = (("rel_canonical", _by_rel_canonical), ("credit", _by_credit), ("date", _by_date),
         ("priority", _by_priority), ("copies", _by_copies), ("incumbent", _by_incumbent), ("length", _by_length))


def decide(members: Sequence[dict]) -> tuple[str, str | None]:
    """(id of the canonical member, name of the rule that set the incumbent aside, or None when the
    incumbent stays or there is none). See the module docstring for the rules."""
    if not members:
        raise ValueError("empty cluster")
    cands, ousted = list(members), None
    for name, rule in RULES:
        narrowed = rule(cands)
        if narrowed:
            if ousted is None and any(m.get("incumbent") for m in cands) and not any(m.get("incumbent") for m in narrowed):
                ousted = name
            cands = narrowed
    winner = min(cands, key=lambda m: str(m["id"]))
    if ousted is None and any(m.get("incumbent") for m in members) and not winner.get("incumbent"):
        ousted = "id"
    return winner["id"], ousted


def choose_canonical(members: Sequence[dict]) -> str:
    """Id of the canonical member of a duplicate cluster (see module docstring for the rules)."""
    return decide(members)[0]


def _credit(member: dict) -> str | None:
    """The outlet a member credits: its ``credit`` (found at extraction, or stored when its text is not
    kept), else the one its text names."""
    return member.get("credit") or credited_outlet(member.get("text"))


def _length(member: dict) -> int:
    """Length in words: of the text, or the stored ``word_count`` when the text is not kept."""
    text = member.get("text")
    return count_words(text, member.get("language")) if text else int(member.get("word_count") or 0)

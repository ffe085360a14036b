"""Incremental persistence of a NearDupIndex in a BlobStore: append-only segments plus a small manifest.

Layout under ``dedup/index/``: ``manifest.json`` (format, parameters, the segments in order with their
size and xxh64) and ``seg-NNNNNNNN.bin``. Each save writes one segment with what changed since the last
load or save (rows added, ids removed or replaced, tags changed), then the manifest: a run that adds 1%
of the documents writes about 1% of the index. A crash between the two leaves an unlisted segment, which
the next save overwrites or the next compaction deletes. When there are more than ``MAX_SEGMENTS``
segments, or the removals recorded in them exceed ``MAX_DEAD`` of the live documents, the save writes a
fresh snapshot instead (segments of ``SNAPSHOT_ROWS`` documents) and deletes the old segments.

A segment per add: id, 16-byte text hash, shingle count, b-bit signature, band keys, story anchors, tag
(the record's ``text_sha256``: the deduplicator's tag check reconciles a crash between a record write
and the save). A segment or manifest that does not check out (size, checksum, format, parameters)
makes ``load_index`` return None: the caller rebuilds the index from the records. The single blob of
earlier versions (``dedup/index.bin``) counts as absent (rebuilt once), and the first snapshot deletes it.

API::

    load_index(store, cfg, texts) -> NearDupIndex | None
    save_index(store, index) -> bool                  # False when nothing changed since the last save
    encode_snapshot(index) -> bytes; decode_snapshot(data, cfg=None, texts=None) -> NearDupIndex
"""
from __future__ import annotations

import json
import logging
import re
import struct
from typing import Callable

import numpy as np
import xxhash

from pipelines.dedup.index import FORMAT_VERSION, NearDupIndex, ParamsMismatch
from pipelines.dedup.shingles import SCHEME, DedupConfig

log = logging.getLogger(__name__)

PREFIX = "dedup/index/"
MANIFEST = PREFIX + "manifest.json"
OLD_BLOB = "dedup/index.bin"
MAGIC = b"NDSG"
_TEXTS = b"NDTX"  # to_bytes() of an index keeping its own texts: they follow the segment, this last
_SEGMENT = re.compile(re.escape(PREFIX) + r"seg-\d{8}\.bin")
MAX_SEGMENTS = 16
MAX_DEAD = 0.25
SNAPSHOT_ROWS = 1 << 17
_NPARTS = 12


# -- one segment -------------------------------------------------------------------------------------
def _encode(index: NearDupIndex, rows: np.ndarray, lsh: tuple[np.ndarray, np.ndarray],
            anc: tuple[np.ndarray, np.ndarray], removes: list[str], retags: dict[str, str]) -> bytes:
    """A segment of `rows` (ascending, alive); lsh/anc: (keys, rows) of those rows, sorted by row."""
    cfg = index.cfg

    def grouped(pair: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        keys, krows = pair
        if len(keys):
            keep = index._alive[krows.astype(np.int64)]
            keys, krows = keys[keep], krows[keep]
        counts = np.zeros(len(rows), dtype="<u4")
        if len(krows):
            present, n = np.unique(krows, return_counts=True)
            counts[np.searchsorted(rows, present)] = n  # rows ascending
        return counts, keys.astype("<u4")

    lsh_counts, lsh_keys = grouped(lsh)
    anc_counts, anc_keys = grouped(anc)
    ids = [index._row_id[r] for r in rows]
    tags = []
    for r in rows:
        if index._tagged[r]:
            tags.append(index._tag[r].tobytes().hex())
        else:
            tags.append(index._tag_other.get(int(r), ""))
    header = {"format": FORMAT_VERSION, "scheme": SCHEME, "config": cfg.to_dict(), "adds": len(rows),
              "removes": len(removes), "retags": len(retags)}
    parts = [
        json.dumps(ids).encode("utf-8"),
        index._thash[rows].astype("<u8").tobytes(),
        index._nsh[rows].astype("<u4").tobytes(),
        index._signed[rows].astype(np.uint8).tobytes(),
        index._bbit[rows].tobytes(),
        lsh_counts.tobytes(),
        lsh_keys.tobytes(),
        anc_counts.tobytes(),
        anc_keys.tobytes(),
        json.dumps(tags).encode("utf-8"),
        json.dumps(removes).encode("utf-8"),
        json.dumps(retags).encode("utf-8"),
    ]
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    body = struct.pack("<I", len(head)) + head + b"".join(struct.pack("<Q", len(x)) + x for x in parts)
    return MAGIC + struct.pack("<H", FORMAT_VERSION) + struct.pack("<Q", xxhash.xxh64_intdigest(body)) + body


def _decode(data: bytes, cfg: DedupConfig | None) -> tuple[dict, list]:
    """(header, parts) of a segment; ParamsMismatch for another format or parameters, ValueError if corrupt."""
    if len(data) < 14 or data[:4] != MAGIC:
        raise ParamsMismatch("not a NearDupIndex segment")
    (version,) = struct.unpack_from("<H", data, 4)
    if version != FORMAT_VERSION:
        raise ParamsMismatch(f"index format {version} != {FORMAT_VERSION}: rebuild")
    (checksum,) = struct.unpack_from("<Q", data, 6)
    body = memoryview(data)[14:]
    if xxhash.xxh64_intdigest(body) != checksum:
        raise ValueError("NearDupIndex segment is corrupt (checksum)")
    try:
        (hlen,) = struct.unpack_from("<I", body, 0)
        header = json.loads(bytes(body[4 : 4 + hlen]))
        stored = DedupConfig(**header["config"])
        pos, parts = 4 + hlen, []
        for _ in range(_NPARTS):
            (n,) = struct.unpack_from("<Q", body, pos)
            parts.append(body[pos + 8 : pos + 8 + n])
            pos += 8 + n
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"NearDupIndex segment is malformed ({exc})") from exc
    if header.get("scheme") != SCHEME or (cfg is not None and cfg != stored):
        raise ParamsMismatch(f"index built with {stored}, asked for {cfg}: rebuild")
    header["cfg"] = stored
    return header, parts


def _apply(index: NearDupIndex, header: dict, parts: list) -> None:
    """Replay a segment: removes, then adds (an id added again replaces its old row), then tag changes."""
    cfg = index.cfg
    n = header["adds"]
    ids = json.loads(bytes(parts[0]))
    for doc_id in json.loads(bytes(parts[10])):
        index._kill(doc_id)
    if n:
        thash = np.frombuffer(parts[1], dtype="<u8").reshape(n, 2).astype(np.uint64)
        nsh = np.frombuffer(parts[2], dtype="<u4")
        signed = np.frombuffer(parts[3], dtype=np.uint8).astype(bool)
        bbit = np.frombuffer(parts[4], dtype=np.uint8).reshape(n, cfg.num_perm)
        lsh_counts = np.frombuffer(parts[5], dtype="<u4").astype(np.int64)
        lsh_keys = np.frombuffer(parts[6], dtype="<u4")
        anc_counts = np.frombuffer(parts[7], dtype="<u4").astype(np.int64)
        anc_keys = np.frombuffer(parts[8], dtype="<u4")
        tags = json.loads(bytes(parts[9]))
        if len(ids) != n or len(tags) != n or len(lsh_keys) != lsh_counts.sum() or len(anc_keys) != anc_counts.sum():
            raise ValueError("NearDupIndex segment is inconsistent")
        for doc_id in ids:
            index._kill(doc_id)
        index._append_raw(ids, thash, nsh, signed, bbit, lsh_keys, lsh_counts, anc_keys, anc_counts, tags)
    for doc_id, tag in json.loads(bytes(parts[11])).items():
        if doc_id in index:
            index._set_tag(index._rows[doc_id], tag or None)


def encode_snapshot(index: NearDupIndex) -> bytes:
    """The whole index as one segment; an index that keeps its own texts (no ``texts`` callable) adds them."""
    rows = np.flatnonzero(index._alive[: index._n])
    data = _encode(index, rows, index._lsh.entries(0, index._n), index._anchors.entries(0, index._n), [], {})
    if index._own is None:
        return data
    own = json.dumps([index._own.get(index._row_id[r]) for r in rows]).encode("utf-8")
    return data + own + struct.pack("<QQ", len(own), xxhash.xxh64_intdigest(own)) + _TEXTS


def decode_snapshot(data: bytes, cfg: DedupConfig | None = None,
                    texts: Callable[[str], str | None] | None = None) -> NearDupIndex:
    own = None
    if data.endswith(_TEXTS) and len(data) > 14 + 16 + len(_TEXTS):
        n, check = struct.unpack_from("<QQ", data, len(data) - len(_TEXTS) - 16)
        end = len(data) - len(_TEXTS) - 16
        own = memoryview(data)[end - n : end]
        if n > end or xxhash.xxh64_intdigest(own) != check:
            raise ValueError("NearDupIndex texts are corrupt (checksum)")
        data = data[: end - n]
    header, parts = _decode(data, cfg)
    index = NearDupIndex(header["cfg"], texts)
    _apply(index, header, parts)
    if own is not None and index._own is not None:
        ids = json.loads(bytes(parts[0]))
        index._own.update((i, t) for i, t in zip(ids, json.loads(bytes(own))) if t is not None)
    _mark_saved(index)
    return index


def _mark_saved(index: NearDupIndex) -> None:
    index._saved_rows = index._n
    index._removed.clear()
    index._retagged.clear()
    for p in (index._exact, index._lsh, index._anchors):
        p.mark_saved()


# -- the store ---------------------------------------------------------------------------------------
def load_index(store, cfg: DedupConfig, texts: Callable[[str], str | None] | None) -> NearDupIndex | None:
    """The index persisted in `store`, or None when absent or unusable (the caller rebuilds it)."""
    raw = store.read(MANIFEST)
    if raw is None:
        if store.read(OLD_BLOB) is not None:
            log.warning("dedup index: %s is the old single-blob format: rebuilding from the records", OLD_BLOB)
        return None
    try:
        manifest = json.loads(raw)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("segments"), list):
            raise ValueError("the manifest is not an object with a list of segments")
        for seg in manifest["segments"]:  # only our own segment names: never a key a damaged file makes up
            if not isinstance(seg, dict) or not _SEGMENT.fullmatch(str(seg.get("key"))):
                raise ValueError(f"the manifest names an unexpected segment {seg!r:.80}")
        if (manifest.get("format") != FORMAT_VERSION or manifest.get("scheme") != SCHEME
                or DedupConfig(**manifest["config"]) != cfg):
            raise ParamsMismatch(f"index built with {manifest.get('config')}, asked for {cfg.to_dict()}")
        index = NearDupIndex(cfg, texts)
        for seg in manifest["segments"]:
            data = store.read(seg["key"])
            if data is None:
                raise ValueError(f"segment {seg['key']} is missing")
            if len(data) != seg["bytes"] or xxhash.xxh64_hexdigest(data) != seg["xxh64"]:
                raise ValueError(f"segment {seg['key']} does not match the manifest (size or checksum)")
            header, parts = _decode(data, cfg)
            _apply(index, header, parts)
        if len(index) != manifest.get("docs", len(index)):
            raise ValueError(f"{len(index)} documents loaded, the manifest says {manifest['docs']}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # ParamsMismatch is a ValueError
        log.warning("dedup index not usable (%s): rebuilding from the records", exc)
        return None
    if index._n > len(index):
        index.compact()
    _mark_saved(index)
    index._persisted = manifest
    return index


def _write_manifest(store, index: NearDupIndex, segments: list[dict], dead: int, nxt: int) -> dict:
    manifest = {"format": FORMAT_VERSION, "scheme": SCHEME, "config": index.cfg.to_dict(), "segments": segments,
                "docs": len(index), "dead": dead, "next": nxt}
    store.write(MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"), content_type="application/json")
    return manifest


def _put(store, key: str, data: bytes) -> dict:
    store.write(key, data, content_type="application/octet-stream")
    return {"key": key, "bytes": len(data), "xxh64": xxhash.xxh64_hexdigest(data)}


def save_index(store, index: NearDupIndex) -> bool:
    """Write what changed since the last load or save: one segment and the manifest (or a compacted
    snapshot). Returns whether anything was written."""
    old = index._persisted
    if old is not None and old.get("config") == index.cfg.to_dict() and not index.dirty:
        return False
    removes = sorted(index._removed)
    dead = (old or {}).get("dead", 0) + len(removes)  # removed or replaced documents the segments still hold
    if (old is None or old.get("config") != index.cfg.to_dict() or len(old["segments"]) >= MAX_SEGMENTS
            or dead > MAX_DEAD * max(len(index), 1)):
        _snapshot(store, index, old)
        return True
    rows = np.flatnonzero(index._alive[index._saved_rows : index._n]) + index._saved_rows
    retags = {}
    for doc_id in sorted(index._retagged):
        if doc_id in index:
            retags[doc_id] = index.tags.get(doc_id) or ""
    data = _encode(index, rows, index._lsh.fresh_entries(index._saved_rows),
                   index._anchors.fresh_entries(index._saved_rows), removes, retags)
    seq = old["next"]
    seg = _put(store, f"{PREFIX}seg-{seq:08d}.bin", data)
    index._persisted = _write_manifest(store, index, old["segments"] + [seg], dead, seq + 1)
    _mark_saved(index)
    return True


def _snapshot(store, index: NearDupIndex, old: dict | None) -> None:
    if index._n > len(index):
        index.compact()
    seq = (old or {}).get("next", 0)
    if old is None:  # segments an earlier manifest (or a crash) left behind must not be overwritten half-way
        listed = [k for k in store.list(PREFIX) if k.startswith(PREFIX + "seg-")]
        if listed:
            seq = max(int(k[len(PREFIX) + 4 : -4]) for k in listed if k[len(PREFIX) + 4 : -4].isdigit()) + 1
    segments = []
    n = index._n
    for lo in range(0, max(n, 1), SNAPSHOT_ROWS):
        hi = min(n, lo + SNAPSHOT_ROWS)
        rows = np.arange(lo, hi)
        data = _encode(index, rows, index._lsh.entries(lo, hi), index._anchors.entries(lo, hi), [], {})
        segments.append(_put(store, f"{PREFIX}seg-{seq:08d}.bin", data))
        seq += 1
    index._persisted = _write_manifest(store, index, segments, 0, seq)
    keep = {s["key"] for s in segments} | {MANIFEST}
    for key in list(store.list(PREFIX)):
        if key not in keep:
            store.delete(key)
    store.delete(OLD_BLOB)
    _mark_saved(index)

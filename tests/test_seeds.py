"""seeds/INDEX.md and the seed files stay in step."""

from pathlib import Path

from pipelines.corpus.seeds import read_index

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def test_index_lists_every_seed_file_once():
    rows = read_index(SEEDS / "INDEX.md")
    files = sorted(p.name for p in SEEDS.glob("*.txt"))
    assert sorted(r["file"] for r in rows) == files
    assert len(files) == 5


def test_index_ids_and_files_agree():
    for row in read_index(SEEDS / "INDEX.md"):
        stem = Path(row["file"]).stem
        assert stem.split("_", 1)[1] == row["id"]
        assert row["url"].startswith("https://")
        text = (SEEDS / row["file"]).read_text(encoding="utf-8")
        # every seed mentions its topic words; the title is in the raw text
        if "(from the URL" in row["title"]:
            slug = row["url"].rstrip("/").rsplit("/", 1)[-1]
            assert all(w in slug for w in row["title"].split("(")[0].lower().split() if len(w) > 3)
            continue
        title_words = [w for w in row["title"].split() if len(w) > 5][:3]
        assert title_words and all(w.lower() in text.lower() for w in title_words)

"""Regenerate docs/labelspace.md from the adapters' label mappings (run after adding a corpus)."""
from pathlib import Path

from affectbench.labelspace import markdown

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "docs" / "labelspace.md"
    out.write_text(markdown(), encoding="utf-8")
    print(f"wrote {out}")

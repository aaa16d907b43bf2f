"""The English catalogue covers every message of the code and templates, as extracted now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_has_an_english_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).with_name("pybabel")), "extract", "-F", "babel.cfg", "-k", "_l", "-k", "N_",
         "-k", "lazy_gettext", "--no-location", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    with open(pot, "rb") as fh:
        template = read_po(fh)
    with open(ROOT / "contest/translations/en/LC_MESSAGES/messages.po", "rb") as fh:
        catalogue = read_po(fh)
    missing = [m.id for m in template if m.id and not (catalogue.get(m.id) and catalogue[m.id].string)]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not missing, f"untranslated: {missing[:10]} (run scripts/translations.sh and fill them in)"
    assert not fuzzy, f"fuzzy: {fuzzy[:10]}"

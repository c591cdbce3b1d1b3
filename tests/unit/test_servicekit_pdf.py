"""PDF normalisation (libs/servicekit/pdf.py) with crafted files: every kind of active content is
removed - also behind an escaped name (/J#61vaScript) - the text page stays, internal links stay,
metadata goes, and what qpdf cannot read is refused (422 pdf-not-accepted)."""
from __future__ import annotations

import io

import pikepdf
import pytest

from servicekit import pdf
from servicekit.errors import DomainError
from tests.unit import pdf_samples as s

ACTIVE = {"open-action JavaScript": s.OPEN_ACTION_JS, "escaped-name JavaScript": s.ESCAPED_NAME_JS,
          "launch": s.LAUNCH, "URI link": s.URI_LINK, "embedded file": s.EMBEDDED_FILE,
          "page open action": s.PAGE_AA_AND_INFO}


def test_the_samples_are_what_they_claim():
    assert pdf.active_content(s.CLEAN) == []
    for name, data in ACTIVE.items():
        assert pdf.active_content(data), name
    assert b"/JavaScript" not in s.ESCAPED_NAME_JS  # the literal-name filter would have let it pass
    assert "/JavaScript" in pdf.active_content(s.ESCAPED_NAME_JS)


@pytest.mark.parametrize("name", sorted(ACTIVE))
def test_active_content_is_removed_and_the_page_kept(name):
    cleaned, removed = pdf.normalise(ACTIVE[name])
    assert removed and pdf.active_content(cleaned) == []
    for marker in (b"JavaScript", b"app.alert", b"cmd.exe", b"evil.example", b"MZ\n", b"/Launch", b"/AA"):
        assert marker not in cleaned, (name, marker)
    with pikepdf.open(io.BytesIO(cleaned)) as doc:
        assert len(doc.pages) == 1 and b"(Hai)" in doc.pages[0].Contents.read_bytes()


def test_metadata_goes_and_an_internal_link_stays():
    cleaned, _ = pdf.normalise(s.PAGE_AA_AND_INFO)
    assert b"Pelapor Rahasia" not in cleaned
    linked, removed = pdf.normalise(s.INTERNAL_LINK)
    assert removed == []
    with pikepdf.open(io.BytesIO(linked)) as doc:
        assert doc.pages[0].Annots[0].A.S == pikepdf.Name.GoTo


@pytest.mark.parametrize("data", [s.NOT_A_PDF_INSIDE, b"%PDF-1.4\n" + b"0" * 2000, s.CLEAN[:60]])
def test_what_qpdf_cannot_read_is_refused(data):
    with pytest.raises(DomainError) as err:
        pdf.normalise(data)
    assert (err.value.kind, err.value.problem) == ("invalid", "pdf-not-accepted")


def test_an_encrypted_pdf_is_refused():
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(s.CLEAN)) as doc:
        doc.save(out, encryption=pikepdf.Encryption(owner="o", user="u"))
    with pytest.raises(DomainError) as err:
        pdf.normalise(out.getvalue())
    assert err.value.problem == "pdf-not-accepted"

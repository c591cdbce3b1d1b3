"""Crafted PDFs for the PDF cleaning (libs/servicekit/pdf.py), written byte by byte with a correct
cross-reference table, so qpdf reads them as a viewer would (no recovery needed)."""
from __future__ import annotations

from deploy.local.client import pdf_of

PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R%s >>"
CONTENT = b"<< /Length 35 >>\nstream\nBT /F1 12 Tf 20 100 Td (Hai) Tj ET\nendstream"


def build(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A PDF whose object n (1-based) is objects[n-1]; object 1 is the catalog."""
    return pdf_of(objects, trailer_extra)


def plain(catalog_extra: bytes = b"", page_extra: bytes = b"", more: list[bytes] = ()) -> bytes:
    """One page saying "Hai"; extra catalog or page entries and further objects (numbered from 5)."""
    return build([b"<< /Type /Catalog /Pages 2 0 R" + catalog_extra + b" >>",
                  b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                  PAGE % page_extra, CONTENT, *more])


CLEAN = plain()
OPEN_ACTION_JS = plain(b" /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>")
# The literal-name filter's blind spot: #61 is "a", so this is /JavaScript to every PDF reader.
ESCAPED_NAME_JS = plain(b" /OpenAction 5 0 R", more=[b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>"])
LAUNCH = plain(b" /OpenAction << /S /Launch /F (cmd.exe) >>")
URI_LINK = plain(page_extra=b" /Annots [5 0 R]",
                 more=[b"<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] /A << /S /URI /URI (http://evil.example/) >> >>"])
EMBEDDED_FILE = plain(b" /Names << /EmbeddedFiles << /Names [(a.exe) 5 0 R] >> >>",
                      page_extra=b" /Annots [7 0 R]",
                      more=[b"<< /Type /Filespec /F (a.exe) /EF << /F 6 0 R >> >>",
                            b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream",
                            b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS 5 0 R >>"])
PAGE_AA_AND_INFO = build([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                          PAGE % b" /AA << /O << /S /JavaScript /JS (x) >> >>", CONTENT,
                          b"<< /Author (Pelapor Rahasia) /Title (bukti) >>"], b" /Info 5 0 R")
INTERNAL_LINK = plain(page_extra=b" /Annots [5 0 R]",
                      more=[b"<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] /A << /S /GoTo /D [3 0 R /Fit] >> >>"])
NOT_A_PDF_INSIDE = b"%PDF-1.4 ktp"

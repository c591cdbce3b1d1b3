"""PDF normalisation (pikepdf/qpdf) for files people upload: applicant documents, complaint evidence.

A PDF is parsed by qpdf - so escaped names such as `/J#61vaScript` are read as the `/JavaScript`
they are - stripped of everything a reviewer's viewer could run, open or send (JavaScript,
actions other than moving within the document, launch, embedded and attached files, URI links,
forms' XFA, multimedia annotations), of its metadata (document info and XMP: an author's name on
an anonymous complaint), and written anew: only objects reachable from the new trailer survive, so
an orphaned script object or a hidden incremental update is gone too. The result is parsed again
and refused if anything active remains; a PDF qpdf cannot read, or one that is encrypted, is
refused (422 pdf-not-accepted) rather than stored as sent.
"""
from __future__ import annotations

import io

import pikepdf
from pikepdf import Array, Dictionary

from servicekit.errors import DomainError

# Action types that only move within the document (harmless): an /A of another type is removed.
SAFE_ACTIONS = frozenset({"/GoTo", "/Named", "/Thread"})
# Action types that run, open, send or play something: any dictionary with such an /S is emptied,
# wherever it is (/S names other things elsewhere - /Transparency, /Alpha, structure types).
DANGEROUS_ACTIONS = frozenset({"/JavaScript", "/Launch", "/URI", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE",
                               "/RichMediaExecute", "/Rendition", "/Movie", "/Sound", "/Hide", "/ResetForm",
                               "/GoTo3DView"})
# Dictionary keys that hold active content or files wherever they appear.
ACTIVE_KEYS = ("/JS", "/JavaScript", "/AA", "/OpenAction", "/EmbeddedFiles", "/EmbeddedFile", "/XFA",
               "/RichMediaContent", "/RichMediaSettings", "/Launch", "/URI", "/SubmitForm", "/ImportData")
# Annotations that exist to carry files or media: removed from their pages altogether.
ACTIVE_ANNOTATIONS = frozenset({"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})
MAX_OBJECTS = 200_000  # a scan has hundreds; more is a crafted file, not a document


def refused(detail: str) -> DomainError:
    return DomainError("invalid", "pdf-not-accepted", detail,
                       [{"field": "file", "message": "the PDF cannot be read or cleaned; scan or export it again"}])


def normalise(data: bytes) -> tuple[bytes, list[str]]:
    """(the cleaned PDF, what was removed: names like "/JavaScript", for a log line - never content)."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise refused("the PDF is encrypted") from None
    except (pikepdf.PdfError, ValueError, RuntimeError):
        raise refused("the PDF cannot be read") from None
    with pdf:
        if pdf.is_encrypted:
            raise refused("the PDF is encrypted")
        if len(pdf.objects) > MAX_OBJECTS:
            raise refused("the PDF has too many objects")
        removed: list[str] = []
        try:
            _clean(pdf, removed)
            out = io.BytesIO()
            pdf.save(out, deterministic_id=True, fix_metadata_version=False)
        except (pikepdf.PdfError, ValueError, RuntimeError, KeyError, TypeError):
            raise refused("the PDF cannot be cleaned") from None
    cleaned = out.getvalue()
    left = active_content(cleaned)
    if left:
        raise refused("the PDF keeps active content after cleaning: " + ", ".join(sorted(set(left))))
    return cleaned, sorted(set(removed))


def active_content(data: bytes) -> list[str]:
    """What is active in `data` as qpdf reads it (names decoded); empty when clean."""
    found: list[str] = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            for d in _dictionaries(obj):
                found += [k for k in ACTIVE_KEYS if k in d]
                if str(d.get("/S", "")) in DANGEROUS_ACTIONS:
                    found.append(str(d.get("/S")))
                action = d.get("/A")
                if isinstance(action, Dictionary) and str(action.get("/S", "")) not in SAFE_ACTIONS:
                    found.append(str(action.get("/S")))
                if str(d.get("/Subtype", "")) in ACTIVE_ANNOTATIONS and "/Rect" in d:
                    found.append(str(d.get("/Subtype")))
    return found


def _dictionaries(obj):
    if isinstance(obj, pikepdf.Stream):
        yield obj.stream_dict
    elif isinstance(obj, Dictionary):
        yield obj


def _clean(pdf: pikepdf.Pdf, removed: list[str]) -> None:
    root = pdf.Root
    for key in ("/OpenAction", "/AA", "/Collection", "/Metadata"):
        if key in root:
            removed.append(key)
            del root[key]
    if "/Info" in pdf.trailer:
        del pdf.trailer["/Info"]
    if "/Names" in root:
        for key in ("/JavaScript", "/EmbeddedFiles"):
            if key in root.Names:
                removed.append(key)
                del root.Names[key]
    if "/AcroForm" in root and "/XFA" in root.AcroForm:
        removed.append("/XFA")
        del root.AcroForm["/XFA"]
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, Array):
            kept = [a for a in annots if not (isinstance(a, Dictionary) and str(a.get("/Subtype", "")) in ACTIVE_ANNOTATIONS)]
            if len(kept) != len(annots):
                removed.append("/FileAttachment or media annotation")
                page.obj.Annots = Array(kept)
    for obj in pdf.objects:  # every dictionary, however it is reached (fields, outlines, annotations)
        for d in _dictionaries(obj):
            for key in ACTIVE_KEYS:
                if key in d:
                    removed.append(key)
                    del d[key]
            _drop_actions(d, removed)


def _drop_actions(d: Dictionary, removed: list[str]) -> None:
    """An /A (an annotation's or outline item's action) that does more than move within the document
    goes; a kept one loses its chained /Next actions. An action dictionary itself is emptied."""
    action = d.get("/A")
    if isinstance(action, Dictionary):
        kind = action.get("/S")
        if str(kind) not in SAFE_ACTIONS:
            removed.append(str(kind))
            del d["/A"]
        elif "/Next" in action:
            removed.append("/Next")
            del action["/Next"]
    kind = str(d.get("/S", ""))
    if kind in DANGEROUS_ACTIONS:
        removed.append(kind)
        for key in list(d.keys()):
            del d[key]

"""Tiny but real files for tests that upload documents: a PNG, a JPEG and a PDF.

Each is a complete, valid file that image viewers and PDF readers open (a 1x1 white
PNG, an 8x8 grey baseline JPEG, a one-page blank A4 PDF), built here byte by byte so no
binary fixture has to be stored, and small enough to sit under any upload limit::

    from portal.testing.samples import JPEG
    answers = {"photo_step": {"photo": ("photo.jpg", JPEG)}}
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["JPEG", "NOT_A_DOCUMENT", "PDF", "PNG"]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png() -> bytes:
    # 1x1 pixel, 8-bit greyscale; one scanline: filter byte 0, then the white pixel.
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff"))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _jpeg() -> bytes:
    # Baseline JPEG, one 8x8 greyscale block whose coefficients are all zero (mid grey).
    # Each Huffman table holds a single one-bit code: DC "difference category 0" and AC
    # "end of block", so the whole scan is the two bits 0 0, padded with ones.
    quantisation = _jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)
    frame = _jpeg_segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")
    counts = b"\x01" + b"\x00" * 15
    dc_table = _jpeg_segment(0xC4, b"\x00" + counts + b"\x00")
    ac_table = _jpeg_segment(0xC4, b"\x10" + counts + b"\x00")
    scan = _jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return (b"\xff\xd8" + quantisation + frame + dc_table + ac_table + scan
            + b"\x3f" + b"\xff\xd9")


def _pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


#: A 1x1 white PNG (67 bytes).
PNG: bytes = _png()
#: An 8x8 grey baseline JPEG.
JPEG: bytes = _jpeg()
#: A blank one-page A4 PDF.
PDF: bytes = _pdf()
#: A Windows executable's first bytes, for "the type is checked from content" tests.
NOT_A_DOCUMENT: bytes = b"MZ\x90\x00" + b"\x00" * 60

"""Tests of receipts: numbering, rendering, signing and verification."""

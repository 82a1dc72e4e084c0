"""libcst transforms: code rewrites that keep formatting and comments (fixes, extraction, stubs)."""

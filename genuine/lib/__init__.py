"""Shared algorithms with no knowledge of the pipeline: graph algorithms, near-duplicate text, text statistics."""

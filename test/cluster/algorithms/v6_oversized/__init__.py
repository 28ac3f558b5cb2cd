"""An algorithm whose output is larger than a node accepts (v6-node: results.max_output_bytes)."""

from vantage6.algorithm.tools.util import info


def oversized(size_bytes: int = 50 * 1024 * 1024 + 1) -> str:
    """A string of ``size_bytes`` characters; its JSON output is 2 bytes longer (the quotes)."""
    info(f"returning {size_bytes} bytes")
    return "x" * size_bytes

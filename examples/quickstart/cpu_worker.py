"""A CPU endpoint in the legacy ``@remote`` spelling, with its config in a shared module."""

from flashc import remote

from config import cpu_config


@remote(resource_config=cpu_config)
def word_count(text: str) -> dict:
    """Count words on a CPU worker."""
    words = text.split()
    return {"words": len(words), "unique": len(set(words))}

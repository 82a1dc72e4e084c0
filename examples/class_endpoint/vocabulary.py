"""A class endpoint: state built once per worker in ``__init__``, served by its public methods.

Each worker creates one ``Vocabulary`` when it starts, so the (here small) cost of
building the word list and its prefix index is paid once, not on every job. This
is where a real endpoint would load a model.
"""

from flashc import CpuInstanceType, Endpoint


@Endpoint(name="class-endpoint-vocabulary", cpu=CpuInstanceType.CPU3G_2_8, workers=(0, 2))
class Vocabulary:
    """Completion and spelling suggestions over Python's own vocabulary."""

    def __init__(self) -> None:
        import builtins
        import keyword
        import sys
        from collections import defaultdict

        words = set(keyword.kwlist) | set(sys.stdlib_module_names)
        words |= {name for name in dir(builtins) if not name.startswith("_")}
        self.words = sorted(words)
        self.known = frozenset(words)
        self.by_prefix: dict[str, list[str]] = defaultdict(list)
        for word in self.words:
            for end in range(1, min(len(word), 4) + 1):
                self.by_prefix[word[:end].lower()].append(word)

    def complete(self, prefix: str, limit: int = 5) -> dict:
        """Words starting with ``prefix``, shortest first."""
        key = prefix.lower()
        candidates = self.by_prefix.get(key[:4], [])
        matches = sorted((w for w in candidates if w.lower().startswith(key)), key=lambda w: (len(w), w))
        return {"prefix": prefix, "matches": matches[:limit], "vocabulary_size": len(self.words)}

    def correct(self, word: str, limit: int = 3) -> dict:
        """The known words closest to ``word`` (empty when it is already known)."""
        import difflib

        if word in self.known:
            return {"word": word, "known": True, "suggestions": []}
        return {"word": word, "known": False, "suggestions": difflib.get_close_matches(word, self.words, n=limit)}

"""CPU queue endpoints doing text processing with the standard library only.

Nothing is imported at module level except the SDK: every module a body uses is
imported inside it, because only the body ships to the worker.
"""

from flashc import CpuInstanceType, Endpoint


@Endpoint(name="cpu-worker-stats", cpu=CpuInstanceType.CPU3C_1_2, workers=(0, 2), idle_timeout=30)
async def text_stats(text: str, top: int = 5) -> dict:
    """Word, sentence and character counts, and the most frequent words."""
    import re
    from collections import Counter

    words = re.findall(r"[a-z']+", text.lower())
    sentences = [s for s in re.split(r"[.!?]+", text) if s.strip()]
    counts = Counter(words)
    return {
        "characters": len(text),
        "words": len(words),
        "unique_words": len(counts),
        "sentences": len(sentences),
        "average_word_length": round(sum(map(len, words)) / len(words), 2) if words else 0.0,
        "top_words": counts.most_common(top),
    }


@Endpoint(name="cpu-worker-redact", cpu=[CpuInstanceType.CPU3C_1_2, CpuInstanceType.CPU3G_1_4])
def redact(text: str, mask: str = "[redacted]") -> dict:
    """Replace e-mail addresses and phone numbers; a plain ``def`` is called with ``await`` too."""
    import re

    patterns = {
        "emails": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
        "phones": re.compile(r"\+?\d[\d ()-]{7,}\d"),
    }
    found = {}
    for kind, pattern in patterns.items():
        text, found[kind] = pattern.subn(mask, text)
    return {"text": text, "replaced": found}

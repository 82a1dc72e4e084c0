"""A GPU-declared endpoint. Its body is pure Python, so the example also runs on a CPU.

On a real GPU you would declare ``dependencies=["torch"]`` and load a model
inside the body; the feature-hashing vectors below stand in for embeddings.
"""

from flashc import Endpoint, GpuGroup


@Endpoint(name="mixed-pipeline-embed", gpu=[GpuGroup.ADA_24, GpuGroup.AMPERE_24], workers=(0, 2))
async def embed(texts: list[str], dimensions: int = 64) -> list[list[float]]:
    """One unit-length vector per text: each word adds a signed count to a hashed slot."""
    import hashlib
    import math
    import re

    vectors = []
    for text in texts:
        vector = [0.0] * dimensions
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % dimensions
            vector[slot] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        vectors.append([v / norm for v in vector])
    return vectors

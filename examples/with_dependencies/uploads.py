"""An endpoint with third-party dependencies, pinned exactly and imported inside the body.

``dependencies`` lists what the worker installs (PyPI names); the imports use the
packages' import names (``python-slugify`` is imported as ``slugify``). Only this
endpoint's own dependencies are installed into its package by ``flashc build``.
"""

from flashc import CpuInstanceType, Endpoint


@Endpoint(
    name="with-dependencies-uploads",
    cpu=CpuInstanceType.CPU3C_1_2,
    dependencies=["python-slugify==8.0.4", "humanize==4.11.0"],
)
async def describe_upload(title: str, size_bytes: int, max_slug_length: int = 40) -> dict:
    """A URL-safe file name for an upload, and its size in words people read."""
    import humanize
    from slugify import slugify

    slug = slugify(title, max_length=max_slug_length, word_boundary=True)
    return {
        "title": title,
        "slug": slug,
        "size": humanize.naturalsize(size_bytes, binary=True),
        "size_words": humanize.intword(size_bytes),
    }

"""Which package an import needs: the worker's standard library, import names, requirements.

Data and pure helpers for the dependency rules. Everything here is about the
*worker*: its Python version decides what the standard library holds, and pip
installs distributions by their PyPI name, which often differs from the name
code imports (``import cv2`` needs ``opencv-python``). Distribution names are
compared in canonical form (PEP 503: lower case, runs of ``-_.`` as one ``-``).
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cache

from flashc_runtime.sdk import tables
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# --- the standard library of the worker's Python ---------------------------------------------

_STDLIB_ADDED: dict[str, tuple[int, int]] = {
    "tomllib": (3, 11),
    "annotationlib": (3, 14),
    "compression": (3, 14),
}
"""Top-level stdlib modules and the version that added them (newer than 3.10)."""

_PEP_594_LATE = (
    *("aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib", "nis"),
    *("nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib"),
)
"""The "dead batteries" of PEP 594 that 3.13 removed (the rest went in 3.12)."""

_STDLIB_REMOVED: dict[str, tuple[int, int]] = {
    "binhex": (3, 11),
    **dict.fromkeys(("asynchat", "asyncore", "distutils", "imp", "smtpd"), (3, 12)),
    **dict.fromkeys((*_PEP_594_LATE, "lib2to3"), (3, 13)),
}
"""Top-level stdlib modules and the first version without them."""


def _version(python_version: str) -> tuple[int, int]:
    major, minor = python_version.split(".")[:2]
    return int(major), int(minor)


@cache
def stdlib_modules(python_version: str) -> frozenset[str]:
    """Top-level standard-library modules of CPython ``python_version`` (``"3.12"``).

    Based on the running interpreter's ``sys.stdlib_module_names``, corrected by the
    tables above so the answer is the target's whatever Python flashc runs on.
    """
    target = _version(python_version)
    names = set(sys.stdlib_module_names) | _STDLIB_ADDED.keys() | _STDLIB_REMOVED.keys()
    return frozenset(
        name
        for name in names
        if _STDLIB_ADDED.get(name, (0, 0)) <= target < _STDLIB_REMOVED.get(name, (99, 0))
    )


def is_stdlib(module: str, python_version: str) -> bool:
    """True when ``module`` (dotted) belongs to the standard library of the target Python."""
    return top_level(module) in stdlib_modules(python_version)


def top_level(module: str) -> str:
    return module.partition(".")[0]


# --- import names -> distributions ----------------------------------------------------------

IMPORT_DISTRIBUTIONS: Mapping[str, tuple[str, ...]] = {
    # Imports whose distribution is not named after them; the first entry is the one suggested.
    "Bio": ("biopython",),
    "Crypto": ("pycryptodome", "pycrypto"),
    "Cryptodome": ("pycryptodomex",),
    "Levenshtein": ("Levenshtein", "python-Levenshtein"),
    "MySQLdb": ("mysqlclient",),
    "OpenGL": ("PyOpenGL",),
    "OpenSSL": ("pyOpenSSL",),
    "PIL": ("Pillow", "pillow-simd"),
    "TTS": ("coqui-tts", "TTS"),
    "Xlib": ("python-xlib",),
    "absl": ("absl-py",),
    "attr": ("attrs",),
    "audioop": ("audioop-lts",),
    "awq": ("autoawq",),
    "bs4": ("beautifulsoup4",),
    "bson": ("pymongo",),
    "cairo": ("pycairo",),
    "cgi": ("legacy-cgi", "standard-cgi"),
    "cgitb": ("legacy-cgi", "standard-cgitb"),
    "clip": ("openai-clip",),
    "cupy": ("cupy", "cupy-cuda12x", "cupy-cuda11x"),
    "cv2": (
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    ),
    "dateutil": ("python-dateutil",),
    "decouple": ("python-decouple",),
    "discord": ("discord.py",),
    "distutils": ("setuptools",),
    "dns": ("dnspython",),
    "docx": ("python-docx",),
    "dotenv": ("python-dotenv",),
    "engineio": ("python-engineio",),
    "faiss": ("faiss-cpu", "faiss-gpu", "faiss-gpu-cu12"),
    "fasttext": ("fasttext", "fasttext-wheel"),
    "ffmpeg": ("ffmpeg-python",),
    "fitz": ("PyMuPDF",),
    "gi": ("PyGObject",),
    "git": ("GitPython",),
    "google.protobuf": ("protobuf",),
    "googleapiclient": ("google-api-python-client",),
    "grpc": ("grpcio",),
    "grpc_tools": ("grpcio-tools",),
    "hydra": ("hydra-core",),
    "imwatermark": ("invisible-watermark",),
    "jose": ("python-jose",),
    "jwt": ("PyJWT",),
    "kafka": ("kafka-python",),
    "ldap": ("python-ldap",),
    "llama_cpp": ("llama-cpp-python",),
    "llama_index": ("llama-index",),
    "magic": ("python-magic",),
    "memcache": ("python-memcached",),
    "mpl_toolkits": ("matplotlib",),
    "multipart": ("python-multipart",),
    "nacl": ("PyNaCl",),
    "nemo": ("nemo-toolkit",),
    "newspaper": ("newspaper3k",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "open_clip": ("open-clip-torch",),
    "osgeo": ("GDAL",),
    "paddle": ("paddlepaddle", "paddlepaddle-gpu"),
    "pdfminer": ("pdfminer.six",),
    "pinecone": ("pinecone", "pinecone-client"),
    "pkg_resources": ("setuptools",),
    "pptx": ("python-pptx",),
    "psycopg2": ("psycopg2-binary", "psycopg2"),
    "pynvml": ("nvidia-ml-py", "pynvml"),
    "serial": ("pyserial",),
    "skimage": ("scikit-image",),
    "sklearn": ("scikit-learn",),
    "slugify": ("python-slugify",),
    "socketio": ("python-socketio",),
    "socks": ("PySocks",),
    "speech_recognition": ("SpeechRecognition",),
    "telegram": ("python-telegram-bot",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "umap": ("umap-learn",),
    "usb": ("pyusb",),
    "websocket": ("websocket-client",),
    "weaviate": ("weaviate-client",),
    "whisper": ("openai-whisper",),
    "wx": ("wxPython",),
    "yaml": ("PyYAML",),
    "zmq": ("pyzmq",),
    # The PEP 594 modules removed in 3.12/3.13 live on as "standard-<name>" backports.
    **{name: (f"standard-{name}",) for name in ("aifc", "asynchat", "asyncore", "chunk", "crypt", "imghdr")},
    **{name: (f"standard-{name}",) for name in ("mailcap", "nntplib", "pipes", "smtpd", "sndhdr", "sunau")},
    **{name: (f"standard-{name}",) for name in ("telnetlib", "uu", "xdrlib")},
}
"""Import name (top-level, or dotted inside a namespace package) -> distributions providing it."""



def _reversed(table: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Canonical distribution -> the import names ``table`` says it provides."""
    reverse: dict[str, list[str]] = {}
    for name, provided in table.items():
        for distribution in provided:
            reverse.setdefault(canonicalize_name(distribution), []).append(name)
    return reverse


_LISTED_IMPORTS = _reversed(IMPORT_DISTRIBUTIONS)

NAMESPACE_ROOTS = frozenset({"azure", "backports", "google", "jaraco", "nvidia", "opentelemetry", "sphinxcontrib", "zope"})
"""Top-level names shared by many distributions: only the dotted name tells which one is meant."""

GPU_IMAGE = frozenset({"torch", "triton"})
"""Distributions the GPU worker image (a PyTorch + CUDA base) already has."""

EVERY_IMAGE = frozenset({"runpod"})
"""Distributions every worker image has (the serverless SDK that runs the handler)."""

BUNDLED = frozenset(canonicalize_name(name) for name in (*tables.SDK_MODULES, "flashc_runtime"))
"""The flash runtime, shipped with every endpoint."""

RUNTIME_ONLY = frozenset(
    canonicalize_name(name)
    for name in (
        "accelerate",
        "bitsandbytes",
        "einops",
        "flash-attn",
        "hf-transfer",
        "hf-xet",
        "ninja",
        "protobuf",
        "safetensors",
        "sentencepiece",
        "tiktoken",
        "xformers",
    )
)
"""Distributions other packages load on their own (model loaders, kernels): declared, rarely imported."""

COMPANIONS: dict[str, frozenset[str]] = {
    canonicalize_name(package): frozenset(canonicalize_name(c) for c in companions)
    for package, companions in {
        "diffusers": ("transformers", "torch", "torchvision", "scipy", "ftfy"),
        "transformers": ("torch", "tokenizers", "torchvision", "torchaudio", "pillow", "scipy", "librosa", "soundfile"),
        "sentence-transformers": ("torch", "transformers"),
        "peft": ("torch", "transformers"),
        "vllm": ("torch", "transformers"),
        "torchvision": ("pillow",),
        "torchaudio": ("soundfile",),
        "pandas": ("pyarrow", "openpyxl", "fastparquet", "sqlalchemy"),
    }.items()
}
"""Optional back ends a package imports itself when the user's code asks for a feature: declared
next to it (``diffusers`` with ``transformers``), they are used without an import of their own."""


def companions_of(imported: Iterable[str]) -> frozenset[str]:
    """The distributions the imported ones may load on their own (see :data:`COMPANIONS`)."""
    return frozenset(c for name in imported for c in COMPANIONS.get(name, ()))


def _prefixes(module: str) -> list[str]:
    """``a.b.c`` -> ``a.b.c``, ``a.b``, ``a`` (longest first)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def imported_modules(module: str, names: tuple[str, ...]) -> list[str]:
    """The modules ``from module import names`` may need a distribution for.

    Inside a namespace package the names are the distributions' own packages
    (``from google.cloud import storage`` needs ``google-cloud-storage``).
    """
    if names and top_level(module) in NAMESPACE_ROOTS:
        return [f"{module}.{name}" for name in names if name != "*"] or [module]
    return [module]


def listed_distributions(module: str) -> tuple[str, ...]:
    """The table's distributions (as PyPI spells them) for the longest listed prefix of ``module``."""
    for prefix in _prefixes(module):
        if prefix in IMPORT_DISTRIBUTIONS:
            return IMPORT_DISTRIBUTIONS[prefix]
    return ()


@cache
def distributions(module: str) -> tuple[str, ...]:
    """Canonical names of the distributions known to provide ``module``, most likely first.

    The table is authoritative for the names it lists; any other module is taken
    to be provided by a distribution named like it or like one of its dotted
    prefixes (``google.cloud.storage`` -> ``google-cloud-storage``).
    Installed metadata is separate (:func:`installed_distributions`) because it costs a scan.
    """
    listed = listed_distributions(module)
    names = listed or _prefixes(module)
    if not listed and top_level(module) in NAMESPACE_ROOTS and len(names) > 1:
        names = names[:-1]  # ``google`` itself provides none of ``google.*``
    return tuple(dict.fromkeys(canonicalize_name(name) for name in names))


@cache
def _installed() -> Mapping[str, list[str]]:
    """Top-level import name -> installed distributions, scanned once per process."""
    return importlib.metadata.packages_distributions()


def installed_distributions(module: str) -> tuple[str, ...]:
    """Canonical names of the installed distributions providing ``module``'s top-level package.

    Namespace roots are left out: ``google`` is provided by dozens of distributions,
    none of which tells whether ``google.cloud.storage`` is installed.
    """
    top = top_level(module)
    if top in NAMESPACE_ROOTS:
        return ()
    return tuple(dict.fromkeys(canonicalize_name(name) for name in _installed().get(top, ())))


def suggested_distribution(module: str) -> str:
    """The distribution to tell the user to add for ``module``, as PyPI spells it when known."""
    listed = listed_distributions(module)
    if listed:
        return listed[0]
    top = top_level(module)
    if top in NAMESPACE_ROOTS:
        return canonicalize_name(module)
    installed = _installed().get(top)
    return installed[0] if installed else canonicalize_name(top)


def import_names(distribution: str) -> tuple[str, ...]:
    """The names ``distribution`` (canonical) is expected to be imported as."""
    listed = _LISTED_IMPORTS.get(distribution, [])
    installed = [
        name
        for name, provided in _installed().items()
        if name.isidentifier() and not name.startswith("_") and distribution in map(canonicalize_name, provided)
    ]
    separator = "." if distribution.partition("-")[0] in NAMESPACE_ROOTS else "_"
    guessed = [] if listed or installed else [distribution.replace("-", separator)]
    return tuple(dict.fromkeys([*listed, *installed, *guessed]))


# --- requirements -----------------------------------------------------------------------------

_SINGLE_EQUALS = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*=[^=]")


def requirement_name(text: str) -> str | None:
    """The canonical distribution name of PEP 508 requirement ``text``; None if it is not one."""
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return None


def requirement_problem(text: str) -> str:
    """What is wrong with ``text``, which is not a requirement, phrased as the fix.

    packaging's own messages change between its versions, so this names the usual
    mistakes itself and falls back to the shape of a requirement.
    """
    stripped = text.strip()
    if not stripped:
        return "write a distribution name such as `numpy`"
    if stripped.startswith("-") or " -" in stripped:
        return "pip options such as `-r` or `--index-url` cannot be given in `dependencies`"
    if "://" in stripped or stripped.startswith("git+"):
        return "write a URL as a direct reference, `name @ url`"
    if stripped[0] in "./~\\":
        return "write a local path as `name @ file:///absolute/path`"
    if _SINGLE_EQUALS.match(stripped):
        return "pin a version with `==`"
    parts = [part for part in re.split(r"[\s,]+", stripped) if part]
    if len(parts) > 1 and all(requirement_name(part) for part in parts):
        return "put each requirement in its own string"
    return "expected `name[extras] version-specifier; marker`"

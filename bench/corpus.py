"""Synthetic flashc projects, deterministic from a seed.

A project of ``modules`` modules ``m0000.py`` ... where a share of them define endpoints in
every shape flashc reads: queue functions with ``@Endpoint(...)``, ``@remote(cfg)`` with the
configuration imported from a shared ``configs_*.py`` module, load-balanced ``api =
Endpoint(...)`` with ``@api.post/get`` routes, and class endpoints. Endpoint bodies import
what they use (stdlib, numpy with its dependency declared, helpers of other project modules)
and call other queue endpoints. Every module carries helper code up to the requested size.

The project checks clean (``flashc check`` finds nothing); :class:`CorpusInfo` says which
endpoints it holds so tests can compare with ``flashc inspect``.

    python -m bench.corpus OUT --modules 1000 --lines 100000 --endpoint-share 0.5 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

KINDS = ("queue", "remote", "lb", "class")
KIND_WEIGHTS = (4, 3, 2, 1)
CONFIG_MODULES = 10
"""Configurations of the ``@remote`` endpoints are spread over this many ``configs_*.py``."""


@dataclass
class CorpusInfo:
    root: str
    modules: int
    lines: int
    endpoints: list[str] = field(default_factory=list)
    """Endpoint names, in module order."""
    kinds: dict[str, int] = field(default_factory=dict)
    """Endpoint modules per kind."""
    queue_functions: list[str] = field(default_factory=list)
    """``module:function`` of each queue function endpoint (targets of cross-endpoint calls)."""


def module_name(index: int) -> str:
    return f"m{index:04d}"


def generate(
    root: Path,
    *,
    modules: int = 1000,
    lines: int = 100_000,
    endpoint_share: float = 0.5,
    seed: int = 7,
) -> CorpusInfo:
    """Write the project into ``root`` (emptied first) and say what it holds."""
    if modules < 1:
        raise ValueError(f"modules must be at least 1, not {modules}")
    if not 0 <= endpoint_share <= 1:
        raise ValueError(f"endpoint_share must be within 0..1, not {endpoint_share}")
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "synthetic"\nversion = "0.1.0"\n\n[tool.flashc]\napp = "synthetic"\n', encoding="utf-8"
    )
    endpoint_count = round(modules * endpoint_share)
    kinds: list[str | None] = [rng.choices(KINDS, KIND_WEIGHTS)[0] for _ in range(endpoint_count)]
    kinds += [None] * (modules - endpoint_count)
    rng.shuffle(kinds)
    per_module = max(20, lines // modules)
    info = CorpusInfo(root=str(root), modules=modules, lines=0)
    configs: dict[int, list[str]] = {k: [] for k in range(CONFIG_MODULES)}
    queue_targets: list[tuple[str, str]] = []
    total = 0
    for index, kind in enumerate(kinds):
        name = module_name(index)
        source = _module(index, kind, rng, per_module, queue_targets, configs, info)
        (root / f"{name}.py").write_text(source, encoding="utf-8")
        total += source.count("\n")
    for number, entries in configs.items():
        text = '"""Resource configurations of the @remote endpoints."""\n\nfrom flashc import CpuInstanceType, CpuLiveServerless\n'
        text += "".join(entries)
        (root / f"configs_{number}.py").write_text(text, encoding="utf-8")
        total += text.count("\n")
    info.lines = total
    info.modules = modules + CONFIG_MODULES
    return info


def _module(
    index: int,
    kind: str | None,
    rng: random.Random,
    size: int,
    queue_targets: list[tuple[str, str]],
    configs: dict[int, list[str]],
    info: CorpusInfo,
) -> str:
    name = module_name(index)
    head = [f'"""Synthetic module {index}: {kind or "helpers"}."""', "", "import json", "import math", "from dataclasses import dataclass", ""]
    body: list[str] = []
    plain = [module_name(i) for i in range(max(0, index - 40), index)]
    helper_source = rng.choice(plain) if plain else None
    if kind is not None:
        info.kinds[kind] = info.kinds.get(kind, 0) + 1
        call = rng.choice(queue_targets) if queue_targets and rng.random() < 0.6 else None
        if kind == "queue":
            head.insert(5, "from flashc import Endpoint, GpuGroup")
            endpoint = f"ep-{index}"
            body += [
                "",
                f'@Endpoint(name="{endpoint}", gpu=GpuGroup.ADA_24, workers=(0, 3), dependencies=["numpy"])',
                f"async def task_{index}(values: list[float], scale: float = 1.0) -> dict:",
                '    """A queue endpoint: numpy on the worker, a helper module, maybe another endpoint."""',
                *_body_lines(index, call, helper_source, numpy=True),
            ]
            queue_targets.append((name, f"task_{index}"))
            info.queue_functions.append(f"{name}:task_{index}")
        elif kind == "remote":
            number = index % CONFIG_MODULES
            config = f"cfg_{index}"
            endpoint = f"cfg-{index}"
            configs[number].append(
                f"\n{config} = CpuLiveServerless(\n    name=\"{endpoint}\",\n    instanceIds=[CpuInstanceType.CPU3C_1_2],\n"
                f"    workersMax={1 + index % 4},\n    idleTimeout={5 + index % 30},\n)\n"
            )
            head.insert(5, "from flashc import remote")
            head.insert(6, f"\nfrom configs_{number} import {config}")
            body += [
                "",
                f"@remote(resource_config={config})",
                f"async def task_{index}(values: list[float], scale: float = 1.0) -> dict:",
                '    """A queue endpoint in the @remote spelling, its configuration in another module."""',
                *_body_lines(index, call, helper_source, numpy=False),
            ]
            queue_targets.append((name, f"task_{index}"))
            info.queue_functions.append(f"{name}:task_{index}")
        elif kind == "lb":
            head.insert(5, "from flashc import CpuInstanceType, Endpoint")
            endpoint = f"lb-{index}"
            body += ["", f'api_{index} = Endpoint(name="{endpoint}", cpu=CpuInstanceType.CPU3C_1_2, workers=(1, 2))', ""]
            body += [
                "",
                f'@api_{index}.get("/r{index}/health")',
                f"async def health_{index}() -> dict:",
                '    return {"ok": True}',
                "",
                "",
                f'@api_{index}.post("/r{index}/score")',
                f"async def score_{index}(values: list[float], scale: float = 1.0) -> dict:",
                '    """A load-balanced route that calls a queue endpoint."""',
                *_body_lines(index, call, helper_source, numpy=False),
            ]
        else:
            head.insert(5, "from flashc import CpuInstanceType, Endpoint")
            endpoint = f"cls-{index}"
            body += [
                "",
                f'@Endpoint(name="{endpoint}", cpu=CpuInstanceType.CPU3G_2_8, workers=(0, 2))',
                f"class Model{index}:",
                '    """A class endpoint: state built once per worker."""',
                "",
                "    def __init__(self) -> None:",
                "        import string",
                "",
                "        self.alphabet = string.ascii_lowercase",
                f"        self.offset = {index % 7}",
                "",
                "    def predict(self, word: str) -> dict:",
                "        shifted = ''.join(self.alphabet[(self.alphabet.find(c) + self.offset) % 26] for c in word.lower() if c in self.alphabet)",
                '        return {"word": word, "shifted": shifted}',
                "",
                "    def describe(self) -> dict:",
                '        return {"offset": self.offset, "size": len(self.alphabet)}',
            ]
        info.endpoints.append(endpoint)
    text = "\n".join(head + body) + "\n"
    helpers = []
    number = 0
    while not helpers or text.count("\n") + sum(h.count("\n") for h in helpers) < size:
        helpers.append(_helper(index, number, rng))
        number += 1
    return text + "".join(helpers)


def _body_lines(index: int, call: tuple[str, str] | None, helper_source: str | None, *, numpy: bool) -> list[str]:
    lines = ["    import statistics"]
    if numpy:
        lines.append("    import numpy as np")
    if helper_source is not None:
        lines.append(f"    from {helper_source} import helper_{int(helper_source[1:])}_0")
    if call is not None:
        lines.append(f"    from {call[0]} import {call[1]}")
    lines += ["", f"    weights = [v * scale + {index % 5} for v in values]"]
    lines.append("    mean = float(np.mean(weights)) if weights else 0.0" if numpy else "    mean = statistics.fmean(weights) if weights else 0.0")
    result = ['"mean": mean', '"spread": statistics.pstdev(weights) if weights else 0.0']
    if helper_source is not None:
        result.append(f'"helper": helper_{int(helper_source[1:])}_0(len(weights))')
    if call is not None:
        lines.append(f"    other = await {call[1]}(weights[:3], scale=0.5)")
        result.append('"other": other')
    lines.append("    return {" + ", ".join(result) + "}")
    return lines


def _helper(index: int, number: int, rng: random.Random) -> str:
    """Ordinary module code that no endpoint body touches: a function or a dataclass."""
    a, b = rng.randint(1, 9), rng.randint(2, 50)
    if number % 3 == 2:
        return (
            f"\n\n@dataclass\nclass Record{index}_{number}:\n    key: str\n    weight: float = {a}.0\n\n"
            f"    def scaled(self, factor: float) -> float:\n        return self.weight * factor + {b}\n\n"
            f"    def as_json(self) -> str:\n        return json.dumps({{\"key\": self.key, \"weight\": self.weight}})\n"
        )
    return (
        f"\n\ndef helper_{index}_{number}(n: int) -> int:\n"
        f'    """Sum of a small series (helper {number} of module {index})."""\n'
        f"    total = 0\n    for step in range(n % {b} + 1):\n"
        f"        if step % {a + 1} == 0:\n            total += int(math.sqrt(step * {a}))\n"
        f"        else:\n            total -= step // {a}\n    return total\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--endpoint-share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    info = generate(args.out, modules=args.modules, lines=args.lines, endpoint_share=args.endpoint_share, seed=args.seed)
    summary = {k: v for k, v in asdict(info).items() if k not in ("endpoints", "queue_functions")}
    print(json.dumps({**summary, "endpoint_count": len(info.endpoints)}, indent=2))


if __name__ == "__main__":
    main()

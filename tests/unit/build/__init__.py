"""Tests of writing builds out (flashc.package) and installing dependencies (flashc.dependencies).

A package, so that ``test_dependencies.py`` here and the rules' one are distinct modules.
"""

"""The package docstring of ``emovit_model`` names every module and sub-package it holds, and nothing else."""

from __future__ import annotations

import importlib.util
import pkgutil
import re

import emovit_model


def test_the_package_docstring_names_every_module_and_only_those():
    held = {f"emovit_model.{info.name}" for info in pkgutil.iter_modules(emovit_model.__path__)}
    named = set(re.findall(r":mod:`(emovit_model\.[a-z_]+)`", emovit_model.__doc__))
    assert named == held
    for name in named:
        assert importlib.util.find_spec(name) is not None, name

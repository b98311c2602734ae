"""Sphinx configuration: the Markdown pages of docs/ (MyST) and the API reference from the numpydoc docstrings.

Built by the tests (``tests/test_docs.py``) with warnings as errors:

    python -m sphinx -W -b html docs docs/_build
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from crossbar import __version__  # noqa: E402

project = "xbar"
author = "the xbar developers"
copyright = "2026, the xbar developers"
release = version = __version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "numpydoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]

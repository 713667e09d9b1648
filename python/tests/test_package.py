"""The package as installed: docstrings everywhere, the type stubs of the
extension module present and current (regenerated with nanobind's stubgen
and compared), py.typed, and the Python programs of README.md and docs/."""

import importlib.util
import inspect
import pathlib
import subprocess
import sys

import pytest

import cuis
from cuis import _cuis

PKG = pathlib.Path(cuis.__file__).parent


def test_every_public_name_has_a_docstring():
    assert cuis.__doc__
    for name in cuis.__all__:
        obj = getattr(cuis, name)
        assert inspect.getdoc(obj), f"cuis.{name} has no docstring"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                    assert inspect.getdoc(member), f"cuis.{name}.{attr} has no docstring"


def test_extension_functions_have_docstrings():
    for name in dir(_cuis):
        obj = getattr(_cuis, name)
        if callable(obj) and not name.startswith("_") and not inspect.isclass(obj):
            assert obj.__doc__ and len(obj.__doc__) > 20, name


def test_keyword_signature_mirrors_sample_options():
    params = inspect.signature(cuis.sample).parameters
    for name, default in [("replacement", True), ("weighting", "unbiased"), ("k", 0.5), ("smooth", 0.0),
                          ("adaptive_smooth", 0.0), ("mean_loss", 0.0), ("power", 1.0), ("candidate_ids", None),
                          ("seed", 0), ("offset", 0)]:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY and params[name].default == default, name


def test_stubs_and_marker_shipped():
    assert (PKG / "py.typed").is_file()
    stub = PKG / "_cuis.pyi"
    assert stub.is_file()
    text = stub.read_text()
    for name in ("def sample_cpu(", "def sample_cuda(", "def cross_entropy_cpu(", "class ErrorCode("):
        assert name in text


@pytest.mark.skipif(importlib.util.find_spec("nanobind") is None, reason="nanobind not installed")
def test_stubs_are_current(tmp_path):
    out = tmp_path / "_cuis.pyi"
    subprocess.run([sys.executable, "-m", "nanobind.stubgen", "-q", "-m", "cuis._cuis", "-o", str(out)], check=True)
    assert out.read_text() == (PKG / "_cuis.pyi").read_text()


def test_extension_needs_no_cuda_shared_library():
    # cudart is static and cuBLAS is dropped (--as-needed): the module imports without the toolkit's libraries.
    so = pathlib.Path(_cuis.__file__)
    try:
        out = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("readelf not available")
    needed = [line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
    assert not [n for n in needed if "cuda" in n or "cublas" in n], needed


def _doc_pages():
    """README.md and docs/*.md of the source tree the tests run from."""
    from conftest import REPO

    return [pathlib.Path(REPO) / "README.md"] + sorted((pathlib.Path(REPO) / "docs").glob("*.md"))


def test_doc_python_snippets(tmp_path):
    """Every ```python block of README.md and docs/*.md is a complete program, marked
    `<!-- snippet: NAME_cpu -->` (run here) or `NAME_gpu` (run where a GPU is); names are unique."""
    import re

    from conftest import TORCH_CUDA

    snippets = []
    for page in _doc_pages():
        if not page.is_file():
            continue
        text = page.read_text()
        found = re.findall(r"<!-- snippet: (\w+) -->\n```python\n(.*?)```", text, re.S)
        assert len(found) == len(re.findall(r"```python\n", text)), \
            f"{page}: mark every ```python block with <!-- snippet: NAME_cpu|NAME_gpu -->"
        snippets += found
    if not snippets:
        pytest.skip("README.md and docs/ have no Python blocks (a package installed without its sources)")
    names = [n for n, _ in snippets]
    assert len(set(names)) == len(names), f"snippet names repeat: {names}"
    ran = 0
    for name, code in snippets:
        assert name.endswith(("_cpu", "_gpu")), name
        if name.endswith("_gpu") and not TORCH_CUDA:
            continue
        script = tmp_path / f"{name}.py"
        script.write_text(code)
        p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
        assert p.returncode == 0, f"{name}:\n{p.stdout}\n{p.stderr}"
        ran += 1
    assert ran > 0

"""pyrunc.codecache: modules come from the cache only while it matches their source, and anything unusable is
ignored rather than failing an import. Each case runs in a fresh `python -ISOO` (the launcher's interpreter flags)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyrunc import codecache, launcher

REPO = Path(__file__).resolve().parents[2]


def run_py(code: str, *paths: str) -> dict:
    """Run `code` in `python -ISOO` with REPO and `paths` on sys.path; it prints one JSON object."""
    prelude = f"import sys, json\nsys.path[:0] = {[*paths, str(REPO)]!r}\n"
    p = subprocess.run([sys.executable, "-ISOO", "-c", prelude + textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def write_cache(target: Path, package: Path) -> None:
    """Write a cache as the launcher does: compiled by `python -OO`."""
    run_py(f"""
        from pyrunc import codecache
        print(json.dumps(codecache.write({str(target)!r}, {str(package)!r})))
    """)


def make_package(tmp_path: Path) -> Path:
    pkg = tmp_path / "src" / "toypkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 'init'\n")
    (pkg / "one.py").write_text("from . import two\nVALUE = 'one:' + two.VALUE\n")
    (pkg / "two.py").write_text("VALUE = 'two'\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "deep.py").write_text("def where():\n    raise RuntimeError('boom')\n")
    (pkg / "broken.py").write_text("def (:\n")
    return pkg


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path]:
    """(the toy package, a cache written for it)."""
    pkg = make_package(tmp_path)
    cache = tmp_path / "cache.bin"
    write_cache(cache, pkg)
    return pkg, cache


IMPORT_TOY = """
    from pyrunc import codecache
    ok = codecache.install(sys.argv[1] if len(sys.argv) > 1 else CACHE)
    import toypkg.one, toypkg.sub.deep, traceback
    try:
        toypkg.sub.deep.where()
    except RuntimeError as e:
        tb = traceback.format_exc()
    mods = {n: type(m.__spec__.loader).__name__ for n, m in sys.modules.items() if n.startswith("toypkg")}
    print(json.dumps({"ok": ok, "value": toypkg.one.VALUE, "mods": mods, "file": toypkg.sub.deep.__file__,
                      "path": list(toypkg.__path__), "tb": tb}))
"""


def test_modules_load_from_the_cache_with_their_usual_attributes(toy: tuple[Path, Path]) -> None:
    pkg, cache = toy
    out = run_py(f"CACHE = {str(cache)!r}\n" + textwrap.dedent(IMPORT_TOY), str(pkg.parent))
    assert out["ok"] is True
    assert out["value"] == "one:two"
    assert set(out["mods"].values()) == {"CodeCache"}, out["mods"]
    assert out["file"] == str(pkg / "sub" / "deep.py")
    assert out["path"] == [str(pkg)]
    # Tracebacks name the source file and line, as with the usual import.
    assert f'File "{pkg / "sub" / "deep.py"}", line 2, in where' in out["tb"], out["tb"]


def test_an_edited_module_is_imported_from_its_source(toy: tuple[Path, Path]) -> None:
    pkg, cache = toy
    (pkg / "two.py").write_text("VALUE = 'edited two'\n")
    out = run_py(f"CACHE = {str(cache)!r}\n" + textwrap.dedent(IMPORT_TOY), str(pkg.parent))
    assert out["value"] == "one:edited two"
    assert out["mods"]["toypkg.two"] == "SourceFileLoader"
    assert out["mods"]["toypkg.one"] == "CodeCache"


def test_unusable_caches_are_ignored(toy: tuple[Path, Path], tmp_path: Path) -> None:
    pkg, good = toy
    data = good.read_bytes()
    cases = {
        "missing": None,
        "empty": b"",
        "garbage": b"\x00" * 100,
        "truncated header": data[:40],
        "truncated code": data[:-50],  # the header is whole: the last module's read comes up short
        "other interpreter": data.replace(sys.implementation.cache_tag.encode(),
                                          b"x" * len(sys.implementation.cache_tag), 1),
    }
    for name, content in cases.items():
        path = tmp_path / f"case-{name.replace(' ', '-')}"
        if content is not None:
            path.write_bytes(content)
        out = run_py(f"CACHE = {str(path)!r}\n" + textwrap.dedent(IMPORT_TOY), str(pkg.parent))
        assert out["value"] == "one:two", name
        if name != "truncated code":
            assert out["ok"] is False, name
            assert set(out["mods"].values()) == {"SourceFileLoader"}, (name, out["mods"])


def test_a_module_that_does_not_compile_is_left_to_the_usual_import(toy: tuple[Path, Path]) -> None:
    pkg, cache = toy
    out = run_py(f"""
        from pyrunc import codecache
        codecache.install({str(cache)!r})
        try:
            import toypkg.broken
        except SyntaxError as e:
            print(json.dumps({{"error": e.filename}}))
    """, str(pkg.parent))
    assert out["error"] == str(pkg / "broken.py")


def test_forked_children_stop_using_it(toy: tuple[Path, Path]) -> None:
    """After a fork the cache's fd is closed and its finder gone (no runtime fd may reach the container)."""
    pkg, cache = toy
    out = run_py(f"""
        import os
        from pyrunc import codecache
        codecache.install({str(cache)!r})
        finder = sys.meta_path[0]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            import toypkg.two
            state = {{"fd": finder.fd, "first": type(sys.meta_path[0]).__name__,
                      "loader": type(toypkg.two.__spec__.loader).__name__}}
            os.write(w, json.dumps(state).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        os.close(w)
        child = json.loads(os.read(r, 4096))
        child["parent_fd_open"] = finder.fd >= 0
        print(json.dumps(child))
    """, str(pkg.parent))
    assert out == {"fd": -1, "first": out["first"], "loader": "SourceFileLoader", "parent_fd_open": True}
    assert out["first"] != "CodeCache"


def test_the_package_cache_covers_pyrunc_and_the_launcher_names_it(tmp_path: Path) -> None:
    target = tmp_path / "pyrunc-launcher"
    launcher.write(str(target))
    text = target.read_text()
    cache = launcher.cache_path(sys.executable)
    assert f"code_cache={cache!r}" in text
    out = run_py(f"""
        from pyrunc import codecache
        c = codecache.load({cache!r})
        print(json.dumps(sorted(c.modules)))
    """)
    names = set(out)
    assert {"pyrunc.process.init", "pyrunc.rootfs.prepare", "pyrunc.spec.validate", "struct"} <= names
    pyfiles = {str(p.relative_to(REPO))[:-3].replace(os.sep, ".").removesuffix(".__init__")
               for p in (REPO / "pyrunc").rglob("*.py")}
    assert pyfiles <= names, pyfiles - names
    assert codecache.STDLIB  # and the standard modules it lists are in (when not frozen)


def test_the_cache_never_takes_a_standard_fd(toy: tuple[Path, Path]) -> None:
    """Run with stdin closed, the cache's fd must not become fd 0 (`run` relays fd 0 to the container)."""
    pkg, cache = toy
    out = run_py(f"""
        import os
        os.close(0)
        from pyrunc import codecache
        codecache.install({str(cache)!r})
        import toypkg.one
        print(json.dumps({{"fd": sys.meta_path[0].fd, "zero_open": os.path.exists("/proc/self/fd/0")}}))
    """, str(pkg.parent))
    assert out["fd"] >= 3 and out["zero_open"] is False, out

"""A built wheel carries every module of the package (subpackages included), not only what an editable install sees."""
import shutil, subprocess, sys, zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_has_every_module(tmp_path):
    src = tmp_path / 'src'   # a copy, so that setuptools' build folders are not left in the working tree
    shutil.copytree(ROOT / 'sparsadv', src / 'sparsadv', ignore=shutil.ignore_patterns('__pycache__'))
    for f in ('pyproject.toml', 'README.md'): shutil.copy(ROOT / f, src / f)
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wheel, = tmp_path.glob('sparsadv-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / 'sparsadv').rglob('*.py')}
    assert len(modules) > 20 and modules <= names, sorted(modules - names)

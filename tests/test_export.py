"""The committed package is exactly what nbdev_export makes from the notebooks (they never drift)."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_export_leaves_package_unchanged(tmp_path):
    for name in ('settings.ini', 'pyproject.toml'):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / 'nbs', tmp_path / 'nbs')
    shutil.copytree(ROOT / 'sparsadv', tmp_path / 'sparsadv', ignore=shutil.ignore_patterns('__pycache__'))
    nbdev_export = Path(sys.executable).with_name('nbdev_export')
    r = subprocess.run([str(nbdev_export)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    committed = {p.relative_to(ROOT / 'sparsadv'): p.read_text() for p in (ROOT / 'sparsadv').glob('*.py')}
    exported = {p.relative_to(tmp_path / 'sparsadv'): p.read_text() for p in (tmp_path / 'sparsadv').glob('*.py')}
    assert set(exported) == set(committed), f'files differ: {set(exported) ^ set(committed)}'
    drift = [str(k) for k in committed if committed[k] != exported[k]]
    assert not drift, f'sparsadv/ differs from nbdev_export of nbs/ in {drift}: run `make export` and commit'

"""Every notebook in nbs/ runs top to bottom under nbdev_test (one pytest case per notebook)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))


def test_notebooks_found():
    assert len(NOTEBOOKS) >= 5, f'expected the notebooks in {ROOT / "nbs"}, found {NOTEBOOKS}'


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb, tmp_path):
    nbdev_test = Path(sys.executable).with_name('nbdev_test')
    env = {**os.environ, 'SPARSADV_PROFILE': os.environ.get('SPARSADV_PROFILE', 'quick')}
    r = subprocess.run([str(nbdev_test), '--path', str(nb), '--n_workers', '0'], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and 'Success' in out, out[-6000:]

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


def test_cell_ids_unique():
    "Cell ids name a cell in the exported code (`# %% ... #c0012`) and in edits: two cells with one id are ambiguous."
    import collections, json
    dup = {}
    for nb in NOTEBOOKS:
        ids = collections.Counter(c.get('id') for c in json.loads(nb.read_text())['cells'])
        if any(v > 1 for v in ids.values()): dup[nb.name] = sorted(k for k, v in ids.items() if v > 1)
    assert not dup, f'cells sharing an id: {dup}'


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb, tmp_path):
    nbdev_test = Path(sys.executable).with_name('nbdev_test')
    env = {**os.environ, 'SPARSADV_PROFILE': os.environ.get('SPARSADV_PROFILE', 'quick')}
    r = subprocess.run([str(nbdev_test), '--path', str(nb), '--n_workers', '0'], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and 'Success' in out, out[-6000:]

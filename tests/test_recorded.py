"""The recorded paper-size run (book/recorded/paper, made by `make paper-synthetic`): it exists, it was made by this
version of the package at the paper profile's sizes, and its files read back. The recorder itself runs end to end at
the quick profile into a temporary folder, and a fresh record is not stale."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sparsadv
from sparsadv.claims import Claim
from sparsadv.experiments.recorded import rejudge
from sparsadv.core.config import get_profile
from sparsadv.experiments.recorded import load_recorded, RECORDED_ROOT, steps_to

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope='module')
def rec():
    r = load_recorded('paper')
    assert r is not None, f"no recorded paper-size run in {RECORDED_ROOT / 'paper'}: run `make paper-synthetic`"
    return r


def test_recorded_by_this_version(rec):
    assert rec.run['package'] == sparsadv.__version__, (
        f"the recorded run was made by version {rec.run['package']}, the package is {sparsadv.__version__}: "
        "run `make paper-synthetic` again")


def test_recorded_at_the_paper_sizes(rec):
    p = get_profile('paper')
    assert set(rec.results) == {'fig1', 'fig5', 'fig6'}
    for name, r in rec.results.items():
        assert r['profile']['name'] == 'paper' and (r['profile']['m'], r['profile']['n'], r['profile']['s']) == (p.m, p.n, p.s), name
        assert r.provenance.get('profile') == 'paper'
        claims = rejudge(dict(r))
        assert claims and all(c.profile in ('paper', '') for c in claims), name
    for name, h in rec.lista.items():
        assert h['config']['m'] == p.m and h['config']['n'] == p.n and h['config']['K'] == p.lista_layers, name
        assert h['steps'] == p.lista_steps == h['config']['steps'], name
        assert len(h['step']) == len(h['test_nmse_db']) > 10, name


def test_recorded_provenance_is_complete(rec):
    for k in ('package', 'commit', 'date', 'machine', 'cpus', 'wall_seconds', 'modules', 'figures'):
        assert rec.run.get(k) not in (None, '', {}), k
    assert rec.run['modules'].get('sparsadv.experiments.synthetic'), 'the module hashes must cover the experiment code'


def test_recorder_end_to_end(tmp_path):
    "book/paper_synthetic.py at the quick profile: every file written, and a fresh record is not stale."
    env = dict(__import__('os').environ, SPARSADV_CACHE=str(tmp_path / 'cache'), SPARSADV_PROGRESS='0', PYTHONPATH=str(ROOT))
    out = tmp_path / 'rec'
    res = subprocess.run([sys.executable, str(ROOT / 'book' / 'paper_synthetic.py'), '--profile', 'quick', '--out', str(out),
                          '--no-progress'], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ['fig1.json', 'fig5.json', 'fig6.json', 'lista_training.json', 'run.json']
    r = load_recorded('quick', out)
    assert r.stale_because() is None, r.stale_because()
    assert set(r.lista) == {'net1', 'net2', 'control'} and r.lista['net2']['config']['init'] == 'independent'
    # a changed module hash makes it stale, naming the module
    run = json.loads((out / 'run.json').read_text())
    run['modules']['sparsadv.attacks.pgd'] = '0' * 16
    (out / 'run.json').write_text(json.dumps(run))
    assert 'sparsadv.attacks.pgd' in load_recorded('quick', out).stale_because()


def test_steps_to():
    assert steps_to([10, 20, 30], [-29.0, -30.0, -31.0]) == 20
    assert steps_to([10, 20], [-10.0, -20.0]) is None
    with pytest.raises(ValueError, match='differ in length'): steps_to([1, 2], [-1.0])

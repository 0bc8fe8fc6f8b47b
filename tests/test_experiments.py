"""Experiments: same seed, same numbers (networks retrained from scratch each time); the command line works."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparsadv.experiments.synthetic import run_fig1, fig1_claims
from sparsadv.claims import Verdict
from sparsadv.experiments.registry import save_results, _jsonable


def _run_fresh(tmp_path, name, fn):
    old = os.environ['SPARSADV_CACHE']
    os.environ['SPARSADV_CACHE'] = str(tmp_path / name)   # an empty cache: the LISTA is trained anew
    try:
        return fn()
    finally:
        os.environ['SPARSADV_CACHE'] = old


def test_run_fig1_same_seed_same_numbers(tmp_path):
    r1 = _run_fresh(tmp_path, 'a', lambda: run_fig1('quick', seed=0, progress=False))
    r2 = _run_fresh(tmp_path, 'b', lambda: run_fig1('quick', seed=0, progress=False))
    assert json.dumps(_jsonable(r1)) == json.dumps(_jsonable(r2))
    r3 = _run_fresh(tmp_path, 'a', lambda: run_fig1('quick', seed=1, progress=False))
    assert r3['split']['LISTA']['pgd']['total'] != r1['split']['LISTA']['pgd']['total']


@pytest.fixture(scope='module')
def fig1_seed0(tmp_path_factory):
    "One fresh quick run of Fig 1 (seed 0), shared by the tests that only read it."
    return _run_fresh(tmp_path_factory.mktemp('fig1'), 'c', lambda: run_fig1('quick', seed=0, progress=False))


def test_fig1_results_are_consistent(fig1_seed0):
    r = fig1_seed0
    for coder, conds in r['split'].items():
        for cond, v in conds.items():
            assert abs(v['excess'] + v['missing'] + v['in_support'] - v['total']) <= 1e-4 * max(1.0, v['total'])
            assert v['total_p25'] <= v['total_p75']
    # the perturbation has the budget's norm and the noise matches it
    assert abs(r['delta_norm'] - r['eps']) < 0.05 * r['eps']
    # claims are recomputed from the numbers: flipping the PGD/noise means flips the 1c verdict
    fake = json.loads(json.dumps(_jsonable(r)))
    t, c = fake['tests']['LISTA'], fake['control']['LISTA']
    c.update(mean_a=1.0, mean_b=1.0, p=0.9, diff=0.0, lo=-0.1, hi=0.1)       # the control fails its rule
    t.update(mean_a=1.0, mean_b=2.0, p=1e-9, diff=-1.0, lo=-1.1, hi=-0.9)
    assert fig1_claims(fake)[0].verdict is Verdict.NOT_REPRODUCED
    t.update(mean_a=2.0, mean_b=1.0, diff=1.0, lo=0.9, hi=1.1)
    assert fig1_claims(fake)[0].verdict is Verdict.REPRODUCED
    c.update(mean_a=2.0, mean_b=1.0, p=1e-9, diff=1.0, lo=0.9, hi=1.1)       # the control passes too
    assert fig1_claims(fake)[0].verdict is Verdict.NOT_EVIDENCE


def test_cli_reproduce(tmp_path):
    exe = Path(sys.executable).with_name('sparsadv')
    env = {**os.environ, 'SPARSADV_CACHE': str(tmp_path / 'cache')}
    r = subprocess.run([str(exe), 'reproduce', 'fig1', '--profile', 'quick', '--out', str(tmp_path / 'out'),
                        '--no-progress'], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads((tmp_path / 'out' / 'fig1.json').read_text())
    assert res['figure'] == 'fig1' and res['profile']['name'] == 'quick' and res['claims']
    assert (tmp_path / 'out' / 'fig1.png').stat().st_size > 1000
    assert 'Fig' in r.stdout and 'results:' in r.stdout
    bad = subprocess.run([str(exe), 'reproduce', 'fig1', '--profile', 'huge'], capture_output=True, text=True)
    assert bad.returncode != 0 and 'huge' in bad.stderr


def test_fig1_fixed_sparsity_note_follows_the_numbers(fig1_seed0):
    fake = json.loads(json.dumps(_jsonable(fig1_seed0)))
    fixed_name = list(fake['split'])[2]                              # LISTA, OMP (tolerance), OMP (s = ...), LASSO x2
    row = lambda: [c for c in fig1_claims(fake) if 'indistinguishable' in c.claim][0]
    t, base = fake['tests'][fixed_name], fake['split'][fixed_name]['noise']['total']
    t.update(diff=-0.5 * base, lo=-0.6 * base, hi=-0.4 * base)       # PGD clearly weaker than noise
    fake['lista']['test_nmse_db'] = -12.0
    c = row()
    assert c.verdict is Verdict.NOT_REPRODUCED and 'WEAKER' in c.note and '-12.0 dB, short of' in c.note
    fake['lista']['test_nmse_db'] = -31.4
    t.update(diff=0.01 * base, lo=-0.2 * base, hi=0.22 * base)       # 0 inside, wider than the margin: too few signals
    c = row()
    assert c.verdict is Verdict.INCONCLUSIVE and 'signals would decide it' in c.note and 'short of' not in c.note
    t.update(diff=0.01 * base, lo=-0.05 * base, hi=0.07 * base)      # inside +-10% of the noise error
    assert row().verdict is Verdict.REPRODUCED

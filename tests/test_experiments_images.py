import json
import numpy as np
import pytest
from sparsadv.claims import Claim
from sparsadv.experiments.registry import _jsonable
from sparsadv.experiments.images import _controlled, run_fig2, run_fig3, run_fig4, fig2_claims, fig3_claims, fig4_claims, PAPER_FIG4, EPS_LINF, N_SUB, SUB_SIZE

CLAIM_KEYS = {'figure', 'claim', 'paper', 'measured', 'test', 'reproduced', 'profile', 'note'}

def _same(a, b):
    "Equal as JSON (NaN-safe through json round-trip of repr)."
    return json.dumps(_jsonable(a), sort_keys=True) == json.dumps(_jsonable(b), sort_keys=True)

def _check_claims(claims, profile='quick'):
    assert claims
    for d in claims:
        assert set(d) == CLAIM_KEYS
        assert d['reproduced'] in (True, False, None) and d['profile'] == profile
        assert isinstance(d['measured'], str) and d['measured'] and d['test']
        Claim.from_dict(d)

@pytest.fixture(scope='module')
def fig2_pair():
    return run_fig2('quick', seed=0), run_fig2('quick', seed=0)

@pytest.fixture(scope='module')
def fig3_pair():
    return run_fig3('quick', seed=0), run_fig3('quick', seed=0)

def test_fig2_deterministic(fig2_pair):
    a, b = fig2_pair
    assert _same(a, b)

def test_fig2_content(fig2_pair):
    r = fig2_pair[0]
    pgd = r['attacks']['PGD']
    assert 0 < pgd['linf'] <= EPS_LINF + 1e-6
    assert pgd['noise_linf'] == pytest.approx(pgd['linf'], abs=1e-6)
    t = r['tests']['PGD']
    assert t['n_a'] == r['n_coefficients'] and t['mean_a'] == pytest.approx(pgd['change']['mean'], rel=1e-9)
    assert 0 <= pgd['change']['share_near_zero'] <= 1
    _check_claims(r['claims'])

def _q(ratio, lo, hi):
    return dict(ratio=ratio, lo=lo, hi=hi, p=0.01, n=20, holds=lo > 1, below=hi < 1)

def test_fig2_rule_holds_fails_and_control():
    "The verdict rule: holds when the attack's CI is above 1 and the control's is not; withheld when the control passes."
    assert _controlled(_q(1.5, 1.3, 1.7), _q(1.0, 0.9, 1.1))[0] is True       # holds
    assert _controlled(_q(1.0, 0.9, 1.1), _q(1.0, 0.9, 1.1))[0] is False      # fails
    ok, note = _controlled(_q(3.0, 2.8, 3.2), _q(3.1, 2.9, 3.3))             # a model-free control passes: no verdict
    assert ok is None and 'not evidence' in note

def test_fig2_many_images_and_controls(fig2_pair):
    r = fig2_pair[0]; im = r['images']
    assert 2 <= im['n_images'] <= 16 and 0 <= im['n_success'] <= im['n_images'] and im['n_used'] >= 2
    assert set(im['comparisons']) == {'l_inf-matched noise', 'l2-matched noise', 'random signs'}
    rows = {c['claim']: c for c in r['claims']}
    for ref, comp in im['comparisons'].items():
        c = rows[f'PGD moves the sparse code more than {ref}']
        ctl = comp['random signs (control)']
        assert c['reproduced'] is (None if ctl['holds'] else comp['PGD']['holds'])
        assert comp['PGD']['lo'] <= comp['PGD']['ratio'] <= comp['PGD']['hi']
    # random signs against l_inf-matched Gaussian noise: ~3x the l2 norm, so the model-free control passes that rule
    assert im['comparisons']['l_inf-matched noise']['random signs (control)']['holds']
    # the two random-sign draws are exchangeable: their ratio's CI covers 1
    q = im['comparisons']['random signs']['random signs (control)']
    assert q['lo'] < 1 < q['hi']
    # one-image rows describe the figure and decide nothing
    assert all(c['reproduced'] is None for c in r['claims'] if "figure's image" in c['claim'])

def test_fig3_deterministic(fig3_pair):
    a, b = fig3_pair
    assert _same(a, b)

def test_fig3_content(fig3_pair):
    r = fig3_pair[0]
    for name in ('convlista', 'gaussian'):
        blk = r['dictionaries'][name]
        assert sum(blk['hist']['pgd']) == sum(blk['hist']['noise']) == blk['n_atoms']
        assert blk['summary']['pgd']['mean'] == pytest.approx(1 / blk['n_atoms'], rel=1e-6)   # correlations sum to 1
        assert blk['summary']['pgd']['max'] >= blk['summary']['pgd']['median'] >= blk['summary']['pgd']['min'] >= 0
        for g in ('top', 'bottom', 'random'):
            assert len(blk['spectra']['cond'][g]) == N_SUB and len(blk['spectra']['curves'][g]['mean']) == SUB_SIZE
            # without replacement, a sub-matrix of distinct atoms; with replacement (authors' code) repeats give zeros
            assert blk['spectra']['summary'][g]['min_sv_mean'] > 1e-6
    assert [c['figure'] for c in r['claims']] == ['3a', '3b', '3c', '3d']
    _check_claims(r['claims'])

def test_fig3_seed_changes_numbers(fig3_pair):
    other = run_fig3('quick', seed=1)
    assert other['dictionaries']['convlista']['levene']['W'] != fig3_pair[0]['dictionaries']['convlista']['levene']['W']

def test_fig4_not_run_without_data(tmp_path, monkeypatch):
    monkeypatch.setenv('SPARSADV_DATA', str(tmp_path))
    for prof in ('quick', 'paper'):
        r = run_fig4(prof, root=tmp_path)
        assert r['ran'] is False and r['data_present'] is False and 'Tiny ImageNet is absent' in r['reason']
        assert 'dictionaries' not in r
        assert len(r['claims']) == 1 and r['claims'][0]['reproduced'] is None and r['claims'][0]['measured'] == 'not run'
        assert '1.172' in r['claims'][0]['paper']
        _check_claims(r['claims'], prof)
        json.dumps(_jsonable(r))

def test_registry():
    from sparsadv.experiments.registry import REGISTRY, FIGURE_MODULES
    assert {f for f, m in FIGURE_MODULES.items() if m == 'images'} == {'fig2', 'fig3', 'fig4'}
    for f in ('fig2', 'fig3', 'fig4'):
        assert REGISTRY[f].chapter == '11_images' and callable(REGISTRY[f].run) and callable(REGISTRY[f].plot)

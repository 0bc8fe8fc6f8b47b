"""Fig 7 experiment: determinism, exact norms (the attacks, the controls and the calibration), no leak of the global
random state through ART, the fixed panels, and the claims of a panel that did not run. The claim rules on constructed
results are in test_claim_rules_universal.py."""
import json
import random

import numpy as np
import pytest
import torch

from sparsadv.experiments.universal import (run_fig7, fig7_claims, fig7_dataset, fig7_settings, fig7_data_missing,
                                            FIG7_EPS, FIG7_PANELS, CONTROLS, CALIBRATION, random_like)
from sparsadv.experiments.registry import REGISTRY
from sparsadv.attacks.universal import keep_global_rng, rescale_l2
from sparsadv.core.checks import SparsadvNumericWarning
from sparsadv.coding.dictionary import ConvDictionary
from sparsadv.attacks.dict_attack import class_pair_directions
from sparsadv.core.config import PROFILES

SMALL = dict(n_attack=8, n_eval=48)


def _strip(r):
    "The results without wall times (every key 'seconds', at any depth)."
    def drop(o):
        if isinstance(o, dict): return {k: drop(v) for k, v in o.items() if k != 'seconds'}
        if isinstance(o, list): return [drop(v) for v in o]
        return o
    return json.dumps(drop(dict(r)), sort_keys=True, default=str)


def test_fig7_quick_deterministic_and_no_rng_leak():
    random.seed(123); np.random.seed(123)
    rs, ns = random.getstate(), np.random.get_state()
    r1 = run_fig7('quick', seed=0, progress=False, panels=('a',), **SMALL)
    assert random.getstate() == rs and np.array_equal(np.random.get_state()[1], ns[1])
    a, b = random.random(), np.random.rand()
    random.seed(123); np.random.seed(123)
    assert (random.random(), np.random.rand()) == (a, b)      # the same sequences as without the call
    r2 = run_fig7('quick', seed=0, progress=False, panels=('a',), **SMALL)
    assert _strip(r1) == _strip(r2)
    pa = r1['panels']['a']
    for name, norms in pa['max_norm'].items():
        if any(e.startswith(name) for e in pa['empty_uaps']) and max(norms) == 0: continue  # ART found no perturbation
        assert np.allclose(norms, FIG7_EPS, rtol=1e-5), name
    assert set(pa['accuracy']) >= {'class-pair DA', 'UAP', 'targeted UAP', 'noise'}
    assert not set(pa['accuracy']) & (set(CONTROLS) | {CALIBRATION})          # the control and the calibration are kept apart
    for name in CONTROLS: assert np.allclose(pa['controls'][name]['max_norm'], FIG7_EPS, rtol=1e-5), name
    assert np.allclose(pa['calibration']['max_norm'], FIG7_EPS, rtol=1e-5) and pa['seconds']['control'] >= 0
    assert set(pa['paired']) >= {'class-pair DA', *CONTROLS, CALIBRATION}
    (ca,) = [c for c in r1['claims'] if c['figure'] == '7a']
    assert ca['verdict'] in ('reproduced', 'not reproduced', 'inconclusive', 'not evidence')
    assert 'random dictionary' in ca['control'] and 'class-mean difference' in ca['control']
    assert 'second noise draw' in ca['calibration'] and ca['data'].startswith(f"mnist5k ({pa['n_eval']} test images), task network resnet18")
    assert pa['dataset'] == 'mnist5k' and pa['task']['name'] == 'resnet18'
    prot = pa['protocols']
    assert set(prot['batch_stats']) == set(prot['eval']) and all(len(v) == len(prot['eps']) for v in prot['eval'].values())
    assert all(lo <= acc <= hi for v in prot['eval'].values() for acc, lo, hi in v)
    # panel b was not asked for: its claims are not tested and say so
    bs = [c for c in r1['claims'] if c['figure'] == '7b']
    assert len(bs) == 2 and all(c['verdict'] == 'not tested' and 'not asked for' in c['note'] for c in bs)
    assert REGISTRY['fig7'].run is run_fig7 and r1.provenance['profile'] == 'quick'


def test_fig7_panels_fixed_at_every_profile():
    for name, p in PROFILES.items():
        assert fig7_dataset('a', name) == ('mnist5k' if p.image_dataset == 'mnist5k' else 'mnist'), name
        assert fig7_dataset('b', name) == 'cifar10', name
        st = fig7_settings(name)
        assert st['task_a'] == 'resnet18' and st['finetune_a'] is False and st['finetune_b'] is True, name
    assert fig7_dataset('a', 'cpu') == fig7_dataset('a', 'quick') == 'mnist5k'   # whatever the profile's image_dataset
    assert fig7_dataset('b', 'quick') == 'cifar10'
    assert fig7_settings('paper')['task_b'] == FIG7_PANELS['b']['task'] == 'wrn28_10'
    assert {q: FIG7_PANELS[q]['family'] for q in FIG7_PANELS} == {'a': 'mnist', 'b': 'cifar10'}


def test_fig7_missing_cifar10_not_tested(tmp_path, monkeypatch):
    monkeypatch.setenv('SPARSADV_DATA', str(tmp_path))            # an empty data folder: no CIFAR-10 files
    assert 'CIFAR-10 not found' in fig7_data_missing('cifar10')
    r = run_fig7('quick', seed=0, progress=False, panels=('b',))   # returns at once: nothing trains
    pb = r['panels']['b']
    assert pb['ran'] is False and pb['dataset'] == 'cifar10' and 'CIFAR-10 not found' in pb['reason']
    bs = [c for c in r['claims'] if c['figure'] == '7b']
    assert len(bs) == 2 and all(c['verdict'] == 'not tested' and 'CIFAR-10 not found' in c['note'] and c['measured'] == 'not run'
                                for c in bs)
    assert not any(pr.get('dataset', '').startswith('mnist') for pr in r['panels'].values())   # never replaced by MNIST
    from sparsadv.experiments.settings import settings_rows
    rows = {row['setting']: row for row in settings_rows('fig7', 'quick')}
    assert rows['Fig 7b: task network on CIFAR-10']['status'] == 'not run'


def test_keep_global_rng_and_rescale():
    random.seed(5); np.random.seed(5)
    ref = (random.random(), np.random.rand())
    random.seed(5); np.random.seed(5)
    with keep_global_rng(99): random.random(); np.random.rand(10)
    assert (random.random(), np.random.rand()) == ref
    d = torch.randn(4, 1, 5, 5); d[0] = 0
    with pytest.warns(SparsadvNumericWarning, match='all zero'): out = rescale_l2(d, 3.0)
    assert out[0].abs().sum() == 0 and torch.allclose(out[1:].flatten(1).norm(dim=1), torch.full((3,), 3.0))


def test_random_like_dictionary():
    "The control's dictionary: the learned one's shape and filter norms, Gaussian filters, seeded; eqs. 4-5 accept it."
    g = torch.Generator().manual_seed(0)
    learned = ConvDictionary(torch.randn(1, 5, 3, 3, generator=g) * torch.linspace(0.1, 1.0, 5)[None, :, None, None])
    rnd = random_like(learned, seed=3)
    fn = lambda d: d.weight.pow(2).sum(dim=(0, 2, 3)).sqrt()
    assert isinstance(rnd, ConvDictionary) and rnd.weight.shape == learned.weight.shape
    assert torch.allclose(fn(rnd), fn(learned)) and not torch.allclose(rnd.weight, learned.weight)
    assert torch.equal(random_like(learned, 3).weight, rnd.weight) and not torch.equal(random_like(learned, 4).weight, rnd.weight)
    W = torch.randn(3, 5 * 7 * 7, generator=g)
    a, b = (class_pair_directions(d, W, eps=1.0, image_shape=(1, 7, 7)) for d in (learned, rnd))
    assert a.shape == b.shape == (3, 3, 1, 7, 7) and not torch.allclose(a, b)
    with pytest.raises(ValueError, match='ConvDictionary'): random_like(torch.zeros(4, 4), 0)

"""Fig 7 experiment: determinism, exact norms, no leak of the global random state through ART, the fixed panels, and
the claim rules on constructed results (a case that holds, one that fails, and the control that must fail)."""
import json
import random

import numpy as np
import pytest
import torch

from sparsadv.experiments.universal import (run_fig7, fig7_claims, fig7_dataset, fig7_settings, fig7_data_missing,
                                            FIG7_EPS, FIG7_BASELINES, FIG7_PANELS, CONTROL)
from sparsadv.experiments.registry import REGISTRY
from sparsadv.attacks.universal import keep_global_rng, rescale_l2
from sparsadv.core.checks import SparsadvNumericWarning
from sparsadv.analysis.stats import paired_accuracy
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
    assert pa['dataset'] == 'mnist5k' and pa['task']['name'] == 'resnet18'
    prot = pa['protocols']
    assert set(prot['batch_stats']) == set(prot['eval']) and all(len(v) == len(prot['eps']) for v in prot['eval'].values())
    assert all(lo <= acc <= hi for v in prot['eval'].values() for acc, lo, hi in v)
    # panel b was not asked for: its claims are not tested and say so
    bs = [c for c in r1['claims'] if c['figure'] == '7b']
    assert len(bs) == 2 and all(c['reproduced'] is None and 'not asked for' in c['note'] for c in bs)
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
    assert len(bs) == 2 and all(c['reproduced'] is None and 'CIFAR-10 not found' in c['note'] and c['measured'] == 'not run'
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


def _panel(da_fools=0.0, control_fools=0.0, tuap_gain=0.0, control_gain=0.0, empty=(), n=400, seed=0, panel='a'):
    """A constructed Fig 7 panel: per-image correctness where the DA / the control fool the given extra share of the
    images noise leaves right, and the targeted UAP / the control get the given extra share of noise's errors right."""
    rng = np.random.default_rng(seed)
    base = {o: [rng.random(n) < 0.8 for _ in FIG7_EPS] for o in FIG7_BASELINES}
    nz = base['noise']
    da = [nz[k] & (rng.random(n) > da_fools) for k in range(len(FIG7_EPS))]
    ctl = [(nz[k] & (rng.random(n) > control_fools)) | (~nz[k] & (rng.random(n) < control_gain)) for k in range(len(FIG7_EPS))]
    base['targeted UAP'] = [nz[k] | (rng.random(n) < tuap_gain) if tuap_gain else base['targeted UAP'][k]
                            for k in range(len(FIG7_EPS))]
    # the baselines differ from each other only by independent draws around the same accuracy
    correct = {'class-pair DA': da, CONTROL: ctl, **base}
    paired = {who: {o: [paired_accuracy(correct[who][k], correct[o][k]) for k in range(len(FIG7_EPS))] for o in FIG7_BASELINES}
              for who in ('class-pair DA', CONTROL)}
    paired['targeted UAP'] = {'noise': [paired_accuracy(correct['targeted UAP'][k], nz[k]) for k in range(len(FIG7_EPS))]}
    acc = {k: [float(v.mean()) for v in vs] for k, vs in correct.items() if k != CONTROL}
    return dict(panel=panel, ran=True, dataset='mnist5k' if panel == 'a' else 'cifar10', accuracy=acc, paired=paired,
                empty_baselines=list(empty), n_eval=n, task=dict(name=FIG7_PANELS[panel]['task'], paper=FIG7_PANELS[panel]['task']),
                control=dict(name=CONTROL, accuracy=[float(v.mean()) for v in ctl]))


def _result(**panels):
    return dict(figure='fig7', profile={'name': 'cpu'}, eps=list(FIG7_EPS), panels=panels)


def _claim(panels, fig, word):
    out = [c for c in fig7_claims(_result(**panels)) if c.figure == fig and word in c.claim]
    assert len(out) == 1, (fig, word, out)
    return out[0]


@pytest.mark.parametrize('panel', ['a', 'b'])
def test_fig7_da_lowest_rule_holds_fails_and_control(panel):
    fig, word = '7' + panel, 'Class-pair DA'
    holds = _claim({panel: _panel(da_fools=0.5, panel=panel)}, fig, word)
    assert holds.reproduced is True and holds.control.startswith('a second noise draw') and 'fails' in holds.control
    assert 'eps 10' in holds.control and '[' in holds.control              # the control's values with their CIs
    assert _claim({panel: _panel(da_fools=0.0, panel=panel)}, fig, word).reproduced is False
    # a control that beats the baselines as the DA does: the rule cannot tell, so no verdict
    control = _claim({panel: _panel(da_fools=0.5, control_fools=0.5, panel=panel)}, fig, word)
    assert control.reproduced is None and 'not evidence' in control.note and 'passes' in control.control
    # an empty baseline is left out of the rule and named
    empty = _claim({panel: _panel(da_fools=0.5, empty=('targeted UAP',), panel=panel)}, fig, word)
    assert 'targeted UAP' not in empty.test and 'not tested against targeted UAP' in empty.note


def test_fig7b_targeted_uap_weaker_than_noise_rule():
    word = 'targeted UAP is weaker'
    holds = _claim({'b': _panel(tuap_gain=0.5, panel='b')}, '7b', word)
    assert holds.reproduced is True and 'fails' in holds.control and 'in place of the targeted UAP' in holds.control
    assert _claim({'b': _panel(tuap_gain=0.0, panel='b')}, '7b', word).reproduced is False
    control = _claim({'b': _panel(tuap_gain=0.5, control_gain=0.5, panel='b')}, '7b', word)
    assert control.reproduced is None and 'not evidence' in control.note and 'passes' in control.control
    # the MNIST panel carries no such claim, and a panel not run leaves its claims untested with the reason
    cs = fig7_claims(_result(a=_panel(da_fools=0.5), b=dict(panel='b', ran=False, dataset='cifar10', reason='no files')))
    assert [c.figure for c in cs] == ['7a', '7b', '7b']
    assert all(c.reproduced is None and 'no files' in c.note for c in cs[1:])

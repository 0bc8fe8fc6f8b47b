"""Fig 7 experiment: determinism, exact norms, and no leak of the global random state through ART."""
import json
import random

import numpy as np
import torch

from sparsadv.experiments.universal import run_fig7, FIG7_EPS
from sparsadv.experiments.registry import REGISTRY
from sparsadv.attacks.universal import keep_global_rng, rescale_l2

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
    r1 = run_fig7('quick', seed=0, progress=False, **SMALL)
    assert random.getstate() == rs and np.array_equal(np.random.get_state()[1], ns[1])
    a, b = random.random(), np.random.rand()
    random.seed(123); np.random.seed(123)
    assert (random.random(), np.random.rand()) == (a, b)      # the same sequences as without the call
    r2 = run_fig7('quick', seed=0, progress=False, **SMALL)
    assert _strip(r1) == _strip(r2)
    for name, norms in r1['max_norm'].items():
        if any(e.startswith(name) for e in r1['empty_uaps']) and max(norms) == 0: continue  # ART found no perturbation
        assert np.allclose(norms, FIG7_EPS, rtol=1e-5), name
    assert set(r1['accuracy']) >= {'class-pair DA', 'UAP', 'targeted UAP', 'noise'}
    assert r1['claims'][1]['reproduced'] is None               # the CIFAR-10 claim cannot be tested on digits
    assert REGISTRY['fig7'].run is run_fig7 and r1.provenance['profile'] == 'quick'


def test_keep_global_rng_and_rescale():
    random.seed(5); np.random.seed(5)
    ref = (random.random(), np.random.rand())
    random.seed(5); np.random.seed(5)
    with keep_global_rng(99): random.random(); np.random.rand(10)
    assert (random.random(), np.random.rand()) == ref
    d = torch.randn(4, 1, 5, 5); d[0] = 0
    out = rescale_l2(d, 3.0)
    assert out[0].abs().sum() == 0 and torch.allclose(out[1:].flatten(1).norm(dim=1), torch.full((3,), 3.0))


def _fig7_result(da_fools: float, control_fools: float, empty=(), n=400, seed=0):
    "A constructed Fig 7 result: per-image correctness where the DA / the control fool the given extra share of images."
    import numpy as np
    from sparsadv.analysis.stats import paired_accuracy
    from sparsadv.experiments.universal import FIG7_EPS, FIG7_BASELINES, CONTROL
    rng = np.random.default_rng(seed)
    base = {o: [rng.random(n) < 0.9 for _ in FIG7_EPS] for o in FIG7_BASELINES}
    da = [base['noise'][k] & (rng.random(n) > da_fools) for k in range(len(FIG7_EPS))]
    ctl = [base['noise'][k] & (rng.random(n) > control_fools) for k in range(len(FIG7_EPS))]
    # the baselines differ from each other only by independent draws around the same accuracy
    correct = {'class-pair DA': da, CONTROL: ctl, **base}
    paired = {who: {o: [paired_accuracy(correct[who][k], correct[o][k]) for k in range(len(FIG7_EPS))] for o in FIG7_BASELINES}
              for who in ('class-pair DA', CONTROL)}
    acc = {k: [float(v.mean()) for v in vs] for k, vs in correct.items() if k != CONTROL}
    return dict(figure='fig7', profile={'name': 'cpu'}, eps=list(FIG7_EPS), accuracy=acc, paper_dataset='mnist',
                dataset='mnist5k', paired=paired, empty_baselines=list(empty), n_eval=n)

def test_fig7_rule_holds_fails_and_control():
    from sparsadv.experiments.universal import fig7_claims
    holds = fig7_claims(_fig7_result(da_fools=0.5, control_fools=0.0))[0]
    assert holds.reproduced is True and 'control' in holds.note and 'fails the rule' in holds.note
    fails = fig7_claims(_fig7_result(da_fools=0.0, control_fools=0.0))[0]
    assert fails.reproduced is False
    # a control that beats the baselines as the DA does: the rule cannot tell, so no verdict
    control = fig7_claims(_fig7_result(da_fools=0.5, control_fools=0.5))[0]
    assert control.reproduced is None and 'not evidence' in control.note
    # an empty baseline is left out of the rule and named
    empty = fig7_claims(_fig7_result(da_fools=0.5, control_fools=0.0, empty=('targeted UAP',)))[0]
    assert 'targeted UAP' not in empty.test and 'not tested against targeted UAP' in empty.note

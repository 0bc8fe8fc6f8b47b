"""Tests of sparsadv.attacks.autoattack: the budget, the caller's random state and model mode, agreement with
torchattacks called directly, and that it lowers the accuracy of a trained classifier far more than noise."""
import math

import pytest
import torch
import torchattacks

from sparsadv.attacks.autoattack import AUTOATTACK_ATTACKS, autoattack
from sparsadv.attacks.pgd import equal_norm_noise, per_sample_norm
from sparsadv.models.classifiers import accuracy, build_classifier, predict, train_classifier
from sparsadv.data.images import load_images

FAST = dict(steps=10, n_queries=100)   # fewer iterations / queries than the standard 100 / 5,000: tests stay small


pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py


@pytest.fixture(scope='module')
def trained():
    "A SmallCNN trained for a few seconds on 1,000 bundled digits, and 16 test digits it classifies correctly."
    Xtr, ytr = load_images('mnist5k', 'train', n=1000)
    Xte, yte = load_images('mnist5k', 'test', n=200, seed=2)
    model = build_classifier('smallcnn', 1, 10, seed=0)
    train_classifier(model, Xtr, ytr, epochs=2, batch=32, lr=0.05, seed=0, progress=False)
    assert accuracy(model, Xte, yte) > 0.75
    ok = predict(model, Xte) == yte
    return model, Xte[ok][:16], yte[ok][:16]


@pytest.mark.parametrize('norm,eps', [('inf', 0.1), (2, 1.5)])
@pytest.mark.parametrize('attacks', [('apgd-ce',), ('apgd-t',), ('fab-t',), ('square',), AUTOATTACK_ATTACKS])
def test_budget_and_box(trained, norm, eps, attacks):
    model, x, y = trained
    x_adv = autoattack(model, x[:6], y[:6], eps=eps, norm=norm, attacks=attacks, **FAST)
    assert x_adv.shape == x[:6].shape and x_adv.dtype == x.dtype
    assert (per_sample_norm(x_adv - x[:6], norm) <= eps + 1e-6).all()
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (per_sample_norm(x_adv - x[:6], norm) > 0).any()   # the attack did move some image (not vacuous)


def test_lowers_accuracy_far_more_than_noise(trained):
    model, x, y = trained
    assert accuracy(model, x, y) == 1.0
    x_adv = autoattack(model, x, y, eps=0.1, norm='inf', **FAST)
    noise = torch.clamp(x + equal_norm_noise(x_adv - x, 'inf', seed=0), 0, 1)
    acc_adv, acc_noise = accuracy(model, x_adv, y), accuracy(model, noise, y)
    assert acc_adv <= 0.5 and acc_noise >= 0.9, (acc_adv, acc_noise)
    # an image no attack fools comes back unchanged; a changed image is misclassified
    changed = (x_adv != x).flatten(1).any(1)
    assert (predict(model, x_adv)[changed] != y[changed]).all()


def test_callers_random_state_is_unchanged(trained):
    model, x, y = trained
    torch.manual_seed(1234); expected = torch.rand(5)
    torch.manual_seed(1234)
    autoattack(model, x[:4], y[:4], eps=0.1, **FAST)
    assert torch.equal(torch.rand(5), expected)
    # torchattacks on its own does reseed the global generator (so the test above can fail)
    torch.manual_seed(1234)
    torchattacks.APGD(model, norm='Linf', eps=0.1, steps=2, seed=0)(x[:4], y[:4])
    assert not torch.equal(torch.rand(5), expected)


def test_model_mode_is_restored(trained):
    model, x, y = trained
    model.train(); model.features[1].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    autoattack(model, x[:4], y[:4], eps=0.1, attacks=('apgd-ce', 'square'), **FAST)
    assert model.training and model.features[0].training and not model.features[1].training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)   # no batch-norm statistic moved
    model.eval()


def test_matches_torchattacks_called_directly(trained):
    "One attack alone is exactly torchattacks' (same seed, settings, model in eval mode)."
    model, x, y = trained
    ours = autoattack(model, x[:8], y[:8], eps=0.08, norm='inf', attacks=('apgd-ce',), seed=3, steps=10)
    ref = torchattacks.APGD(model, norm='Linf', eps=0.08, steps=10, n_restarts=1, seed=3, loss='ce')(x[:8], y[:8])
    assert torch.allclose(ours, ref, atol=1e-6)
    ours = autoattack(model, x[:8], y[:8], eps=1.0, norm=2, attacks=('square',), seed=3, n_queries=50)
    ref = torchattacks.Square(model, norm='L2', eps=1.0, n_queries=50, n_restarts=1, seed=3, p_init=0.8)(x[:8], y[:8])
    assert torch.allclose(ours, ref, atol=1e-6)


def test_seeded_and_default_label_is_the_prediction(trained):
    model, x, y = trained
    a = autoattack(model, x[:6], eps=0.1, attacks=('apgd-ce', 'square'), seed=1, **FAST)
    b = autoattack(model, x[:6], predict(model, x[:6]), eps=0.1, attacks=('apgd-ce', 'square'), seed=1, **FAST)
    assert torch.equal(a, b)


def test_bad_input(trained):
    model, x, y = trained
    with pytest.raises(ValueError, match=r'in \[0, 1\]'): autoattack(model, x * 2 - 0.5, y, eps=0.1)
    with pytest.raises(ValueError, match='dimensions'): autoattack(model, x[:, 0], y, eps=0.1)
    with pytest.raises(ValueError, match='eps'): autoattack(model, x, y, eps=0)
    with pytest.raises(ValueError, match='norm'): autoattack(model, x, y, eps=0.1, norm=1)
    with pytest.raises(ValueError, match='attacks='): autoattack(model, x, y, eps=0.1, attacks=())
    with pytest.raises(ValueError, match='attacks='): autoattack(model, x, y, eps=0.1, attacks=('apgd-ce', 'apgd-ce'))
    with pytest.raises(ValueError, match='y must be'): autoattack(model, x, y[:3], eps=0.1)
    with pytest.raises(ValueError, match='y must be'): autoattack(model, x, y.float(), eps=0.1)
    with pytest.raises(ValueError, match='seed'): autoattack(model, x, y, eps=0.1, seed=None)
    with pytest.raises(ValueError, match='n_queries'): autoattack(model, x, y, eps=0.1, n_queries=0)

"Tests of sparsadv.attacks: PGD cross-checked against cleverhans, norm-ball and model-state properties, equal-norm noise."
import math
import warnings
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from cleverhans.torch.attacks.projected_gradient_descent import projected_gradient_descent as ch_pgd

from sparsadv.attacks.pgd import pgd, equal_norm_noise, per_sample_norm, parse_norm
from sparsadv.core.config import PGD_STEPS, PGD_STEP_SIZE, EPS_L2_SYNTH, EPS_LINF_SYNTH, EPS_LINF_CLS, EPS_L2_CLS


pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py


def mlp_classifier(d=12, h=16, k=4, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Sigmoid(), torch.nn.Linear(h, k)).eval()


def conv_classifier(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 6 * 6, 5)).eval()


def mlp_regressor(d=10, h=32, out=15, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, out)).eval()


def test_paper_constants():
    assert PGD_STEPS == 40 and PGD_STEP_SIZE == 0.01
    assert EPS_L2_SYNTH == 0.3 and EPS_LINF_SYNTH == 0.05
    assert EPS_LINF_CLS == 8 / 255 and EPS_L2_CLS == 128 / 255


# ---------------------------------------------------------------- cleverhans cross-check
@pytest.mark.parametrize('norm', [2, np.inf])
@pytest.mark.parametrize('clip', [None, (0.0, 1.0)])
@pytest.mark.parametrize('kind', ['signals', 'images'])
def test_matches_cleverhans(norm, clip, kind):
    g = torch.Generator().manual_seed(1)
    if kind == 'signals':
        model, x = mlp_classifier(), torch.rand(64, 12, generator=g)
    else:
        model, x = conv_classifier(), torch.rand(32, 3, 6, 6, generator=g)
    # unclipped: not restricted to [0, 1]; clipped: [0, 1] with saturated entries, as in images
    x = 3 * x - 1.5 if clip is None else torch.clamp(1.4 * x - 0.2, 0, 1)
    eps = 0.3 if norm == 2 else 0.05
    kw = dict(clip_min=clip[0], clip_max=clip[1]) if clip else {}
    ref = ch_pgd(model, x, eps=eps, eps_iter=0.01, nb_iter=40, norm=norm, y=None, rand_init=False, **kw)
    model.zero_grad(set_to_none=True)
    ours = pgd(model, x, eps=eps, step_size=0.01, steps=40, norm=norm, rand_init=False, clip=clip)
    assert ours.shape == x.shape and ours.dtype == x.dtype
    assert torch.allclose(ours, ref, atol=1e-6, rtol=0), (ours - ref).abs().max()
    # the check is not vacuous: the attack moved, hit the budget, and (when asked) the clipping bound
    nrm = per_sample_norm(ours - x, norm)
    assert (nrm > 0.5 * eps).all() and nrm.max() > eps * (1 - 1e-4)
    if clip:
        assert ((ours == 0) | (ours == 1)).any() and ours.min() >= 0 and ours.max() <= 1


@pytest.mark.parametrize('norm', [2, 'inf'])
def test_matches_cleverhans_given_labels_odd_batch(norm):
    "True labels passed as y, a batch size that is not a power of two (rounding differs slightly from the mean loss)."
    model = mlp_classifier(seed=3)
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(37, 12, generator=g), torch.randint(0, 4, (37,), generator=g)
    ref = ch_pgd(model, x, eps=0.5, eps_iter=0.02, nb_iter=30, norm=parse_norm(norm), y=y, rand_init=False)
    ours = pgd(model, x, eps=0.5, step_size=0.02, steps=30, norm=norm, y=y, rand_init=False)
    assert torch.allclose(ours, ref, atol=1e-5, rtol=0), (ours - ref).abs().max()


def test_not_equal_to_cleverhans_when_loss_differs():
    "Sanity check of the cross-check: a different loss gives a different result."
    model = mlp_classifier()
    x = torch.rand(16, 12, generator=torch.Generator().manual_seed(0))
    ref = ch_pgd(model, x, eps=0.3, eps_iter=0.01, nb_iter=40, norm=2, rand_init=False)
    other = pgd(model, x, eps=0.3, rand_init=False, loss_fn=lambda out, y: -F.cross_entropy(out, y, reduction='none'),
                y=model(x).argmax(1))
    assert (other - ref).abs().max() > 1e-2


# ---------------------------------------------------------------- norm ball
@pytest.mark.parametrize('norm', [2, math.inf])
@pytest.mark.parametrize('rand_init', [True, False])
@pytest.mark.parametrize('clip', [None, (0.0, 1.0)])
def test_norm_ball_respected(norm, rand_init, clip):
    clf, reg = mlp_classifier(), mlp_regressor(d=12)
    for seed in range(15):
        g = torch.Generator().manual_seed(100 + seed)
        x = torch.rand(20, 12, generator=g)
        eps = float(torch.empty(1).uniform_(0.01, 0.6, generator=g))
        step = float(torch.empty(1).uniform_(0.005, 0.2, generator=g))
        y_reg = reg(x).detach() + 0.1 * torch.randn(20, 15, generator=g)  # not the clean output: a nonzero gradient
        for model, loss, y in ((clf, None, None), (reg, 'mse', y_reg)):
            xa = pgd(model, x, eps=eps, steps=8, step_size=step, norm=norm, loss_fn=loss, y=y, rand_init=rand_init,
                     seed=seed, clip=clip)
            assert not torch.equal(xa, x)
            nrm = per_sample_norm(xa - x, norm)
            assert (nrm <= eps * (1 + 1e-5) + 1e-7).all(), (nrm.max(), eps)
            if clip: assert xa.min() >= 0 and xa.max() <= 1


def _flat_model(t):
    "A model whose output does not depend on the input: PGD stays at its random start."
    return torch.zeros(t.shape[0], 3, dtype=t.dtype) + 0 * t.reshape(t.shape[0], -1).sum(1, keepdim=True)


def test_random_start_is_uniform_in_the_ball():
    x = torch.zeros(2000, 5)
    d2 = pgd(_flat_model, x, eps=0.7, steps=1, loss_fn='mse', seed=0) - x
    # uniform in the l2 ball of R^5: (r / eps)^5 is U(0, 1), the direction is uniform on the sphere
    r = per_sample_norm(d2) / 0.7
    assert stats.kstest((r ** 5).numpy(), 'uniform').pvalue > 1e-3
    assert d2.mean(0).abs().max() < 0.05
    dinf = pgd(_flat_model, x, eps=0.7, steps=1, norm='inf', loss_fn='mse', seed=0) - x
    assert stats.kstest((dinf.flatten().numpy() + 0.7) / 1.4, 'uniform').pvalue > 1e-3


def test_seeded_and_no_global_rng():
    model, x = mlp_classifier(), torch.rand(8, 12)
    state = torch.get_rng_state()
    a = pgd(model, x, eps=0.3, seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, pgd(model, x, eps=0.3, seed=4)) and not torch.equal(a, pgd(model, x, eps=0.3, seed=5))


def test_batch_independence_and_shapes_and_no_grad_context():
    model = conv_classifier()
    x = torch.rand(10, 3, 6, 6)
    full = pgd(model, x, eps=0.3, rand_init=False, steps=10)
    assert torch.allclose(full[:3], pgd(model, x[:3], eps=0.3, rand_init=False, steps=10), atol=1e-6)
    with torch.no_grad():
        inside = pgd(model, x, eps=0.3, rand_init=False, steps=10)
    assert torch.equal(full, inside) and not full.requires_grad


def test_float64():
    model = mlp_regressor(d=12).double()
    x = torch.rand(6, 12, dtype=torch.float64)
    xa = pgd(model, x, eps=0.2, loss_fn='mse', seed=0)
    assert xa.dtype == torch.float64 and (per_sample_norm(xa - x) <= 0.2 + 1e-12).all()


# ---------------------------------------------------------------- regression (MSE)
def test_mse_pgd_increases_loss_and_beats_equal_norm_noise():
    teacher, model = mlp_regressor(seed=1), mlp_regressor(seed=2)
    x = torch.randn(256, 10, generator=torch.Generator().manual_seed(0))
    y_true = teacher(x).detach()
    sq = lambda xa, y: ((model(xa) - y) ** 2).sum(1).detach()
    eps = 0.3
    # against the true targets: the loss goes up for (nearly) every sample
    xa = pgd(model, x, eps=eps, loss_fn='mse', y=y_true, seed=0)
    assert (sq(xa, y_true) > sq(x, y_true)).float().mean() > 0.95
    assert sq(xa, y_true).mean() > sq(x, y_true).mean() * 1.05
    # against the clean output (the default y): PGD beats Gaussian noise of the same norm
    y0 = model(x).detach()
    xa = pgd(model, x, eps=eps, loss_fn='mse', seed=0)
    noise = equal_norm_noise(xa - x, seed=1)
    assert torch.allclose(per_sample_norm(noise), per_sample_norm(xa - x), rtol=1e-5)
    l_pgd, l_noise = sq(xa, y0), sq(x + noise, y0)
    assert l_pgd.mean() > 2 * l_noise.mean()
    assert stats.ttest_ind(l_pgd.numpy(), l_noise.numpy()).pvalue < 1e-10


def test_mse_default_y_without_random_start_warns_and_stays():
    model, x = mlp_regressor(), torch.randn(4, 10)
    with pytest.warns(UserWarning, match='stationary'):
        xa = pgd(model, x, eps=0.3, loss_fn='mse', rand_init=False)
    assert torch.equal(xa, x)


def test_callable_loss_scalar_and_per_sample():
    model, x = mlp_regressor(), torch.randn(8, 10)
    per = pgd(model, x, eps=0.3, loss_fn=lambda o, y: ((o - y) ** 2).sum(1), seed=0)
    assert torch.allclose(per, pgd(model, x, eps=0.3, loss_fn='mse', seed=0), atol=1e-6)
    scal = pgd(model, x, eps=0.3, loss_fn=lambda o, y: ((o - y) ** 2).sum(), seed=0)
    assert torch.allclose(per, scal, atol=1e-6)
    with pytest.raises(ValueError, match='loss_fn'):
        pgd(model, x, eps=0.3, loss_fn=lambda o, y: (o - y) ** 2)


# ---------------------------------------------------------------- model state
@pytest.mark.parametrize('training', [False, True])
def test_model_state_untouched(training):
    model = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Dropout(0.1), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    model[0].bias.requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    before = [p.detach().clone() for p in model.parameters()]
    model.train(training)
    x = torch.randn(8, 12)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        pgd(model, x, eps=0.3, steps=3, seed=0)
    assert any('training mode' in str(m.message) for m in w) == training
    assert model.training == training and all(m.training == training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize('kw,name', [
    (dict(eps=0), 'eps'), (dict(eps=-0.1), 'eps'), (dict(eps=float('nan')), 'eps'), (dict(eps='a'), 'eps'),
    (dict(eps=0.1, step_size=0), 'step_size'), (dict(eps=0.1, step_size=-1), 'step_size'),
    (dict(eps=0.1, steps=0), 'steps'), (dict(eps=0.1, steps=2.5), 'steps'),
    (dict(eps=0.1, norm=1), 'norm'), (dict(eps=0.1, norm='l1'), 'norm'),
    (dict(eps=0.1, y=torch.zeros(5, dtype=torch.long)), 'y'), (dict(eps=0.1, loss_fn='l1'), 'loss_fn'),
    (dict(eps=0.1, clip=(1, 0)), 'clip'), (dict(eps=0.1, clip=(0.5, 1.0)), 'clip'), (dict(eps=0.1, clip=0), 'clip'),
])
def test_bad_input(kw, name):
    model, x = mlp_classifier(), torch.rand(4, 12)
    with pytest.raises(ValueError, match=name):
        pgd(model, x, **kw)


def test_bad_x():
    model = mlp_classifier()
    for bad in (torch.tensor([[0.1] * 11 + [float('inf')]]), torch.full((2, 12), float('nan'))):
        with pytest.raises(ValueError, match='^x '):
            pgd(model, bad, eps=0.1)
    with pytest.raises(ValueError, match='^x '):
        pgd(model, torch.rand(12), eps=0.1)
    with pytest.raises(ValueError, match='^x '):
        pgd(model, np.zeros((2, 12)), eps=0.1)
    with pytest.raises(ValueError, match='loss_fn'):  # a regression output under the default cross-entropy
        pgd(lambda t: t[:, :, None], torch.rand(2, 12), eps=0.1)


# ---------------------------------------------------------------- equal-norm noise
@pytest.mark.parametrize('norm', [2, 'linf'])
@pytest.mark.parametrize('shape', [(50, 30), (6, 3, 8, 8)])
def test_equal_norm_noise(norm, shape):
    delta = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    delta = delta * torch.rand((shape[0],) + (1,) * (len(shape) - 1), generator=torch.Generator().manual_seed(1))
    z = equal_norm_noise(delta, norm=norm, seed=3)
    assert z.shape == delta.shape and z.dtype == delta.dtype
    assert torch.allclose(per_sample_norm(z, norm), per_sample_norm(delta, norm), rtol=1e-6, atol=0)
    assert torch.equal(z, equal_norm_noise(delta, norm=norm, seed=3))
    assert not torch.equal(z, equal_norm_noise(delta, norm=norm, seed=4))
    # Gaussian, not a copy of delta's direction
    cos = F.cosine_similarity(z.reshape(shape[0], -1), delta.reshape(shape[0], -1), dim=1)
    assert cos.abs().mean() < 0.3
    zd = equal_norm_noise(delta.double(), norm=norm, seed=3)
    assert torch.allclose(per_sample_norm(zd, norm), per_sample_norm(delta.double(), norm), rtol=1e-12)


def test_equal_norm_noise_is_gaussian_and_zero_for_zero():
    delta = torch.ones(1, 20000)
    z = equal_norm_noise(delta, seed=0).flatten()
    assert stats.normaltest(z.numpy()).pvalue > 1e-3
    assert (equal_norm_noise(torch.zeros(3, 4), seed=0) == 0).all()
    with pytest.raises(ValueError, match='delta'):
        equal_norm_noise(torch.tensor([[float('nan')]]))
    with pytest.raises(ValueError, match='norm'):
        equal_norm_noise(torch.ones(2, 3), norm=1)

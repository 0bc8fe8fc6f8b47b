"Tests of sparsadv.convlista: the convolutional dictionary against scipy and the dense matrix, ConvLISTA, training, cache."
import math
import numpy as np
import pytest
import torch
import pytorch_msssim
from scipy.signal import correlate2d, convolve2d

from sparsadv.core.config import make_generator
from sparsadv.data.images import load_images
from sparsadv.coding.dictionary import ConvDictionary
from sparsadv.models.convlista import ConvLISTA, soft_threshold_channels, convlista_loss, evaluate_convlista, train_convlista, convlista_config, get_convlista
from sparsadv.analysis.metrics import psnr, ssim


pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py


def scipy_apply(W, z):
    "D z by scipy: x_c = sum_f correlate2d(z_f, W[c, f], 'same') (what conv2d with 'same' zero padding computes)."
    C, Fn = W.shape[:2]
    return np.stack([[sum(correlate2d(zb[f], W[c, f], mode='same') for f in range(Fn)) for c in range(C)] for zb in z])


def scipy_adjoint(W, x):
    "D^T x by scipy: z_f = sum_c convolve2d(x_c, W[c, f], 'same')."
    C, Fn = W.shape[:2]
    return np.stack([[sum(convolve2d(xb[c], W[c, f], mode='same') for c in range(C)) for f in range(Fn)] for xb in x])


def scipy_dense(W, H, Wd):
    "The dictionary matrix column by column: column (f, i, j) = D e_(f,i,j) by scipy."
    C, Fn = W.shape[:2]
    cols = []
    for f in range(Fn):
        for i in range(H):
            for j in range(Wd):
                e = np.zeros((1, Fn, H, Wd)); e[0, f, i, j] = 1
                cols.append(scipy_apply(W, e).reshape(-1))
    return np.stack(cols, axis=1)


SHAPES = [(1, 4, 3, 6, 6), (3, 4, 5, 7, 7), (2, 3, 5, 5, 8), (1, 2, 7, 6, 9)]   # C, F, k, H, W


@pytest.mark.parametrize('C,Fn,k,H,Wd', SHAPES)
def test_operator_matches_scipy_and_dense(C, Fn, k, H, Wd):
    g = make_generator(C * 100 + k)
    W = torch.randn(C, Fn, k, k, generator=g, dtype=torch.float64)
    dic = ConvDictionary(W)
    z = torch.randn(3, Fn, H, Wd, generator=g, dtype=torch.float64)
    x = torch.randn(3, C, H, Wd, generator=g, dtype=torch.float64)
    Wn = W.numpy()
    np.testing.assert_allclose(dic.apply(z).numpy(), scipy_apply(Wn, z.numpy()), atol=1e-10)
    np.testing.assert_allclose(dic.adjoint(x).numpy(), scipy_adjoint(Wn, x.numpy()), atol=1e-10)
    Dref = scipy_dense(Wn, H, Wd)
    Dm = dic.dense(H, Wd)
    assert Dm.shape == (C * H * Wd, Fn * H * Wd)
    np.testing.assert_allclose(Dm.numpy(), Dref, atol=1e-12)
    np.testing.assert_allclose(dic.atom_norms(H, Wd).reshape(-1).numpy(), np.linalg.norm(Dref, axis=0), atol=1e-10)
    # adjoint identity <Dz, x> = <z, D^T x>
    assert torch.allclose((dic.apply(z) * x).sum(), (z * dic.adjoint(x)).sum(), rtol=1e-10)
    # selected columns, plain and unit-norm
    idx = torch.tensor([0, 5, Fn * H * Wd - 1, H * Wd + 1])
    np.testing.assert_allclose(dic.columns(idx, H, Wd).numpy(), Dref[:, idx.numpy()], atol=1e-12)
    np.testing.assert_allclose(dic.columns(idx, H, Wd, unit=True).numpy(),
                               Dref[:, idx.numpy()] / np.linalg.norm(Dref[:, idx.numpy()], axis=0), atol=1e-12)
    # the Fourier bound bounds the true operator norm (and is not absurdly loose)
    s = np.linalg.norm(Dref, 2)
    b = dic.opnorm_bound(H, Wd)
    assert s <= b + 1e-9 and s >= 0.5 * b


def test_atom_norms_border_and_normalized():
    dic = ConvDictionary(torch.randn(2, 5, 7, 7, generator=make_generator(3))).normalized_filters()
    n = dic.atom_norms(20, 20)
    assert torch.allclose(n[:, 3:-3, 3:-3], torch.ones_like(n[:, 3:-3, 3:-3]), atol=1e-5)   # interior atoms: unit
    assert (n[:, 0, 0] < 0.9).all()                                                         # corner atoms: cut
    assert torch.allclose(dic.weight.pow(2).sum(dim=(0, 2, 3)), torch.ones(5), atol=1e-5)


def test_operator_errors():
    dic = ConvDictionary(torch.randn(3, 64, 7, 7))
    with pytest.raises(ValueError, match='GB'): dic.dense(32, 32)
    with pytest.raises(ValueError, match='odd kernel'): ConvDictionary(torch.randn(1, 4, 6, 6))
    with pytest.raises(ValueError, match='F=64'): dic.apply(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match='C=3'): dic.adjoint(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match='indices'): dic.columns(torch.tensor([64 * 64]), 8, 8)
    with pytest.raises(ValueError, match='all-zero'): ConvDictionary(torch.zeros(1, 2, 3, 3)).normalized_filters()
    with pytest.raises(ValueError, match='all-zero'): ConvDictionary(torch.zeros(1, 2, 3, 3)).at(4, 4).normalized()


def test_convlista_is_ista_at_init():
    "At the ISTA initialisation the network computes K+1 ISTA steps (checked with the dense matrix in NumPy)."
    H = Wd = 9
    net = ConvLISTA(2, filters=3, kernel=5, K=3, seed=4).double()
    Dm = net.dictionary.dense(H, Wd).numpy()
    assert np.linalg.norm(Dm, 2) <= 1 + 1e-6
    x = torch.rand(2, 2, H, Wd, generator=make_generator(5), dtype=torch.float64)
    xn = x.reshape(2, -1).numpy()
    soft = lambda v: np.sign(v) * np.maximum(np.abs(v) - 0.1, 0)
    z = soft(xn @ Dm)
    for _ in range(3): z = soft(z + (xn - z @ Dm.T) @ Dm)
    # (float32 parameters, so 0.1 is 0.1 to 1e-8)
    np.testing.assert_allclose(net.encode(x).reshape(2, -1).detach().numpy(), z, atol=1e-7)
    np.testing.assert_allclose(net(x).reshape(2, -1).detach().numpy(), z @ Dm.T, atol=1e-7)


def test_thresholds_per_channel_and_dictionary_is_D1():
    net = ConvLISTA(1, filters=4, kernel=3, K=2, seed=0)
    x = torch.rand(2, 1, 8, 8, generator=make_generator(0))
    with torch.no_grad():
        net.theta.copy_(torch.tensor([-1.0, 0.0, 1e6, 0.1]))
    z = net.encode(x)
    assert (z[:, 2] == 0).all()                                  # a huge threshold silences its channel
    with torch.no_grad(): net.theta[0] = 0.0
    assert torch.equal(z, net.encode(x))                         # negative thresholds act as 0 (kept >= 0)
    th = torch.tensor([0.5, 0.0, 2.0])
    v = torch.randn(2, 3, 4, 4, generator=make_generator(1))
    ref = torch.sign(v) * torch.clamp(v.abs() - th.reshape(1, 3, 1, 1), min=0)
    assert torch.allclose(soft_threshold_channels(v, th), ref)
    with torch.no_grad(): net.D1.weight.mul_(2)
    assert torch.equal(net.dictionary.weight, net.D1.weight) and net.dictionary.weight is not net.D1.weight
    assert not torch.equal(net.D0.weight, net.D1.weight)         # D0 and D1 are separate parameters


def test_random_init_and_seeds():
    a, b, c = ConvLISTA(1, 8, seed=1, init='random'), ConvLISTA(1, 8, seed=1, init='random'), ConvLISTA(1, 8, seed=2, init='random')
    assert torch.equal(a.E.weight, b.E.weight) and not torch.equal(a.E.weight, c.E.weight)
    assert a.E.weight.abs().max() <= 1 / math.sqrt(49) + 1e-7
    with pytest.raises(ValueError, match='init'): ConvLISTA(1, init='xavier')
    with pytest.raises(ValueError, match='in_channels'): ConvLISTA(0)


def test_loss_and_metrics():
    g = make_generator(7)
    x = torch.rand(4, 3, 16, 16, generator=g)
    y = (x + 0.1 * torch.randn(4, 3, 16, 16, generator=g)).clamp(0, 1)
    ref = 0.8 * (1 - pytorch_msssim.ssim(y, x, data_range=1.0)) + 0.2 * (y - x).abs().mean()
    assert torch.allclose(convlista_loss(y, x), ref)
    mse = ((y - x) ** 2).reshape(4, -1).mean(1).double().numpy()
    np.testing.assert_allclose(psnr(y, x).numpy(), 10 * np.log10(1 / mse), rtol=1e-5)
    assert torch.allclose(ssim(y, x).mean(), pytorch_msssim.ssim(y, x, data_range=1.0))
    assert torch.allclose(ssim(x, x), torch.ones(4))
    with pytest.raises(ValueError, match='same shape'): psnr(x, x[:2])


@pytest.fixture(scope='module')
def crops():
    X, _ = load_images('mnist5k', 'train', n=24, seed=0)
    return X[:, :, 6:22, 6:22].contiguous()       # 16 x 16 crops: fast, still larger than SSIM's 11 x 11 window


def test_training_lowers_loss_and_is_deterministic(crops):
    kw = dict(epochs=2, batch=6, lr=3e-3, progress=False)
    a, b, c = (ConvLISTA(1, filters=4, kernel=5, seed=0) for _ in range(3))
    before = evaluate_convlista(a, crops)
    ha = train_convlista(a, crops, seed=0, X_test=crops, **kw)
    train_convlista(b, crops, seed=0, **kw)
    train_convlista(c, crops, seed=1, **kw)
    assert ha['train_loss'][1] < ha['train_loss'][0] and ha['test_ssim'][-1] > before['ssim']
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


def test_interrupted_and_resumed_equals_uninterrupted(crops, tmp_path):
    kw = dict(epochs=2, batch=5, lr=3e-3, seed=3, progress=False)
    full = ConvLISTA(1, filters=4, kernel=5, seed=0)
    hf = train_convlista(full, crops[:20], **kw)
    ck = tmp_path / 'ck.pt'
    first = ConvLISTA(1, filters=4, kernel=5, seed=0)
    train_convlista(first, crops[:20], ckpt_path=ck, ckpt_every=3, stop_after=5, **kw)   # stops in epoch 2
    assert ck.exists()
    second = ConvLISTA(1, filters=4, kernel=5, seed=0)
    hr = train_convlista(second, crops[:20], ckpt_path=ck, ckpt_every=3, **kw)
    assert all(torch.equal(p, q) for p, q in zip(full.state_dict().values(), second.state_dict().values()))
    assert hr['steps'] == hf['steps'] == 8 and hr['train_loss'] == pytest.approx(hf['train_loss'], rel=1e-6)


def test_training_input_checks(crops):
    net = ConvLISTA(1, filters=2, kernel=3)
    with pytest.raises(ValueError, match=r'\[0, 1\]'): train_convlista(net, crops * 255, epochs=1)
    with pytest.raises(ValueError, match='C=1'): train_convlista(net, crops.repeat(1, 3, 1, 1), epochs=1)
    with pytest.raises(ValueError, match='epochs'): train_convlista(net, crops, epochs=0)
    with pytest.raises(ValueError, match='lr'): train_convlista(net, crops, epochs=1, lr=0)


def test_get_convlista_caches_and_keys():
    cfg = convlista_config('cpu')
    assert (cfg['filters'], cfg['kernel'], cfg['K'], cfg['lr'], cfg['threshold']) == (64, 7, 3, 1e-4, 0.1)
    kw = dict(filters=2, kernel=3, n_train=16, n_test=16, epochs=1, batch=8, progress=False)
    m1, i1 = get_convlista('quick', **kw)
    m2, i2 = get_convlista('quick', **kw)          # from the cache (conftest gives a private cache folder)
    assert i1['key'] == i2['key'] and i1['psnr'] == i2['psnr'] and 0 < i1['ssim'] <= 1
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert get_convlista('quick', seed=1, **kw)[1]['key'] != i1['key']
    with pytest.raises(FileNotFoundError, match='train=True'): get_convlista('quick', train=False, **{**kw, 'n_train': 17})
    with pytest.raises(ValueError, match='unknown ConvLISTA setting'): get_convlista('quick', filterz=2)

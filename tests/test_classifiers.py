"""Tests of sparsadv.classifiers: architectures, normalisation inside the model, the training recipe (schedule,
determinism, exact resume), eval-mode evaluation, the cache, and bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sparsadv.models.classifiers import CLASSIFIERS, SmallCNN, WideResNet, accuracy, build_classifier, classifier_config, eval_mode, get_classifier, predict, resnet18_mnist, resnet50_tiny, train_classifier, _augment
from sparsadv.core.config import make_generator
from sparsadv.data.images import load_images, image_channels


pytestmark = pytest.mark.usefixtures('one_thread')  # see conftest.py


@pytest.fixture(scope='module')
def digits():
    Xtr, ytr = load_images('mnist5k', 'train', n=1000, seed=0)
    Xte, yte = load_images('mnist5k', 'test', n=300, seed=0)
    return Xtr, ytr, Xte, yte


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------- architectures
@pytest.mark.parametrize('name,c,hw,k', [('smallcnn', 1, 28, 10), ('smallcnn', 3, 32, 10), ('resnet18', 1, 28, 10),
                                         ('resnet18', 3, 28, 10), ('wrn28_10', 3, 32, 10), ('resnet50', 3, 64, 200)])
def test_shapes(name, c, hw, k):
    model = build_classifier(name, c, k).eval()
    with torch.no_grad():
        out = model(torch.rand(2, c, hw, hw))
    assert out.shape == (2, k) and torch.isfinite(out).all()


def test_published_parameter_counts():
    "WRN-28-10 has 36.5 M parameters (Zagoruyko & Komodakis, Table 1); torchvision ResNet18 11.7 M, ResNet50 25.6 M."
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert round(count(WideResNet(28, 10)) / 1e6, 1) == 36.5
    assert round(count(resnet18_mnist(num_classes=1000).net) / 1e6, 1) == 11.7
    assert round(count(resnet50_tiny(num_classes=1000).net) / 1e6, 1) == 25.6
    # depth 28 = 6 n + 4 with n = 4 blocks per group: 1 stem + 3 groups x 4 blocks x 2 convolutions (3x3),
    # 1x1 shortcuts where the width changes (one per group), one linear layer
    wrn = WideResNet(28, 10)
    convs = [m for m in wrn.modules() if isinstance(m, torch.nn.Conv2d)]
    assert sum(m.kernel_size == (3, 3) for m in convs) == 1 + 3 * 4 * 2
    assert sum(m.kernel_size == (1, 1) for m in convs) == 3
    assert sum(isinstance(m, torch.nn.Linear) for m in wrn.modules()) == 1


def test_small_stem_and_other_wrn_depths():
    m = resnet18_mnist(in_channels=1, stem='small').eval()
    assert m.net.conv1.stride == (1, 1) and isinstance(m.net.maxpool, torch.nn.Identity)
    with torch.no_grad():
        assert m(torch.rand(2, 1, 28, 28)).shape == (2, 10)
        assert WideResNet(16, 2, num_classes=5, in_channels=1, mean=0.1307, std=0.3081).eval()(torch.rand(2, 1, 28, 28)).shape == (2, 5)


def test_normalisation_is_inside_the_model():
    x = torch.rand(3, 1, 28, 28)
    r18 = resnet18_mnist(in_channels=1).eval()
    mean, std = 0.1307, 0.3081
    with torch.no_grad():
        assert torch.allclose(r18(x), r18.net((image_channels(x, 3) - mean) / std), atol=1e-5)
        cnn = SmallCNN(mean=0.5, std=0.25).eval()
        ref = cnn.classifier(cnn.features((x - 0.5) / 0.25))
        assert torch.allclose(cnn(x), ref, atol=1e-6)
    wrn = build_classifier('wrn28_10', 3, 10, dataset='cifar10')
    assert torch.allclose(wrn.normalize.std.flatten(), torch.tensor([0.2470, 0.2435, 0.2616]))
    assert torch.allclose(build_classifier('resnet50', 3, 200, dataset='tiny-imagenet')[0].mean.flatten(),
                          torch.tensor([0.485, 0.456, 0.406]))


def test_build_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(11); expected = torch.rand(4)
    torch.manual_seed(11)
    a = build_classifier('smallcnn', 1, 10, seed=2)
    assert torch.equal(torch.rand(4), expected)
    assert same_weights(a, build_classifier('smallcnn', 1, 10, seed=2))
    assert not same_weights(a, build_classifier('smallcnn', 1, 10, seed=3))


def test_build_bad_input():
    with pytest.raises(ValueError, match="name='vgg16'"): build_classifier('vgg16', 3, 10)
    with pytest.raises(ValueError, match='in_channels=2'): build_classifier('resnet18', 2, 10)
    with pytest.raises(ValueError, match='num_classes'): build_classifier('smallcnn', 1, 0)
    with pytest.raises(ValueError, match='depth=20'): WideResNet(depth=20)
    with pytest.raises(ValueError, match='one per channel'): WideResNet(16, 1, in_channels=1)   # CIFAR-10 statistics
    with pytest.raises(ValueError, match='stem'): resnet18_mnist(stem='imagenet')
    with pytest.raises(ValueError, match='seed'): build_classifier('smallcnn', 1, 10, seed=-1)
    with pytest.raises(ValueError, match='name='): build_classifier('smallcnn', 1, 10, dataset='svhn')
    assert set(CLASSIFIERS) == {'smallcnn', 'resnet18', 'wrn28_10', 'resnet50'}


# ---------------------------------------------------------------- evaluation in eval() mode
def test_accuracy_restores_mode_and_uses_running_statistics(digits):
    Xtr, ytr, Xte, yte = digits
    m = build_classifier('smallcnn', 1, 10, seed=0)
    train_classifier(m, Xtr[:200], ytr[:200], epochs=1, batch=32, progress=False)
    m.train(); m.features[1].eval()
    buffers = {k: v.clone() for k, v in m.state_dict().items()}
    acc = accuracy(m, Xte, yte)
    assert m.training and m.features[0].training and not m.features[1].training
    after = m.state_dict()
    assert all(torch.equal(buffers[k], after[k]) for k in buffers)   # batch-norm running statistics untouched
    # eval mode: the result does not depend on the batch size, and equals a manual eval-mode computation
    assert accuracy(m, Xte, yte, batch=7) == acc
    m.eval()
    with torch.no_grad(): manual = (m(Xte).argmax(1) == yte).float().mean().item()
    assert acc == manual
    # and differs from what training-mode batch statistics would give on tiny batches (so the test can fail)
    m.train()
    with torch.no_grad(): train_mode = torch.cat([m(Xte[i:i + 2]).argmax(1) for i in range(0, len(yte), 2)])
    assert not torch.equal(train_mode, predict(m, Xte))


def test_eval_mode_context_manager():
    m = SmallCNN().train()
    with eval_mode(m) as inner:
        assert inner is m and not any(mod.training for mod in m.modules())
    assert all(mod.training for mod in m.modules())


def test_predict_and_accuracy_bad_input():
    m = SmallCNN().eval()
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    assert predict(m, x).dtype == torch.int64 and predict(m, x).shape == (4,)
    with pytest.raises(ValueError, match=r'in \[0, 1\]'): accuracy(m, x * 255, y)
    with pytest.raises(ValueError, match='y must have shape'): accuracy(m, x, y[:2])
    with pytest.raises(ValueError, match='integer'): accuracy(m, x, y.float())
    with pytest.raises(ValueError, match='dimensions'): predict(m, torch.rand(4, 28, 28))
    with pytest.raises(ValueError, match='torch.Tensor'): predict(m, np.zeros((4, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match='floating'): predict(m, torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match='batch'): predict(m, x, batch=0)


# ---------------------------------------------------------------- training
def test_training_improves_accuracy(digits):
    Xtr, ytr, Xte, yte = digits
    m = build_classifier('smallcnn', 1, 10, seed=0)
    before = accuracy(m, Xte, yte)
    hist = train_classifier(m, Xtr, ytr, epochs=3, batch=32, seed=0, progress=False)
    after = accuracy(m, Xte, yte)
    assert before < 0.25 and after > 0.7, (before, after)
    assert not m.training and hist['epoch'] == [1, 2, 3]
    assert hist['train_loss'][-1] < hist['train_loss'][0]


def test_learning_rate_schedule_of_the_supplement():
    "lr 0.01, x0.1 after 1/3 and 2/3 of the steps: with 3 epochs, the epochs run at 0.01, 0.001, 0.0001."
    x, y = torch.rand(64, 1, 28, 28), torch.arange(64) % 10
    hist = train_classifier(SmallCNN(width=4), x, y, epochs=3, batch=16, progress=False)
    assert np.allclose(hist['lr'], [0.01, 0.001, 0.0001])
    hist = train_classifier(SmallCNN(width=4), x, y, epochs=6, batch=16, lr=0.1, progress=False)
    assert np.allclose(hist['lr'], [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_training_is_deterministic_and_leaves_global_rng_alone(digits):
    Xtr, ytr, _, _ = digits
    torch.manual_seed(5); expected = torch.rand(3)
    runs = []
    for seed in (1, 1, 2):
        m = build_classifier('smallcnn', 1, 10, seed=0)
        torch.manual_seed(5)
        train_classifier(m, Xtr[:128], ytr[:128], epochs=1, batch=32, seed=seed, progress=False)
        assert torch.equal(torch.rand(3), expected)
        runs.append(m)
    assert same_weights(runs[0], runs[1]) and not same_weights(runs[0], runs[2])


@pytest.mark.parametrize('augment', [False, True])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, augment):
    g = make_generator(0)
    x, y = torch.rand(96, 3, 16, 16, generator=g), torch.randint(0, 4, (96,), generator=g)
    kw = dict(epochs=4, batch=16, seed=3, augment=augment, progress=False)
    full = build_classifier('smallcnn', 3, 4, seed=0)
    h_full = train_classifier(full, x, y, **kw)
    ck = tmp_path / 'run.ckpt'
    part = build_classifier('smallcnn', 3, 4, seed=0)
    h_part = train_classifier(part, x, y, ckpt_path=ck, stop_after=6, **kw)   # stop_after counts steps: 96 / 16 = 6 per epoch
    assert h_part['epoch'] == [1] and ck.exists()
    part2 = build_classifier('smallcnn', 3, 4, seed=0)
    train_classifier(part2, x, y, ckpt_path=ck, stop_after=15, **kw)  # a second interruption, in epoch 3
    resumed = build_classifier('smallcnn', 3, 4, seed=0)
    h_res = train_classifier(resumed, x, y, ckpt_path=ck, **kw)
    assert h_res['epoch'] == [1, 2, 3, 4] and h_res['train_loss'] == h_full['train_loss']
    assert same_weights(full, resumed)
    # a model resumed with a different seed would not match (the check can fail)
    other = build_classifier('smallcnn', 3, 4, seed=0)
    train_classifier(other, x, y, **{**kw, 'seed': 4})
    assert not same_weights(full, other)


def test_augment_is_a_padded_crop_and_flip():
    x = torch.rand(8, 3, 10, 10)
    a = _augment(x, make_generator(0))
    assert a.shape == x.shape and torch.equal(a, _augment(x, make_generator(0)))
    for i in range(8):   # each output is a shifted (and maybe mirrored) window of the zero-padded input
        xp = F.pad(x[i], (4, 4, 4, 4))
        found = any(torch.equal(a[i], w) or torch.equal(a[i].flip(2), w)
                    for dy in range(9) for dx in range(9) for w in [xp[:, dy:dy + 10, dx:dx + 10]])
        assert found


def test_train_bad_input():
    m = SmallCNN()
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8)
    with pytest.raises(ValueError, match=r'in \[0, 1\]'): train_classifier(m, x - 1, y, epochs=1)
    with pytest.raises(ValueError, match='y must have shape'): train_classifier(m, x, y[:4], epochs=1)
    with pytest.raises(ValueError, match='epochs'): train_classifier(m, x, y, epochs=0)
    with pytest.raises(ValueError, match='lr'): train_classifier(m, x, y, epochs=1, lr=0)
    with pytest.raises(ValueError, match='momentum'): train_classifier(m, x, y, epochs=1, momentum=-0.5)
    with pytest.raises(ValueError, match='at least 2'): train_classifier(m, x[:1], y[:1], epochs=1)
    with pytest.raises(ValueError, match='NaN'): train_classifier(m, torch.full_like(x, float('nan')), y, epochs=1)


# ---------------------------------------------------------------- cached classifiers
def test_get_classifier_trains_caches_and_loads():
    kw = dict(n_train=96, n_test=50, epochs=1)
    m1, info1 = get_classifier('quick', seed=0, progress=False, **kw)
    assert not m1.training and info1['n_test'] == 50 and 0 <= info1['test_accuracy'] <= 1
    assert info1['config']['classifier'] == 'smallcnn' and info1['config']['dataset'] == 'mnist5k'
    m2, info2 = get_classifier('quick', seed=0, progress=False, train=False, **kw)   # from the cache only
    assert same_weights(m1, m2) and info2['key'] == info1['key'] and info2['test_accuracy'] == info1['test_accuracy']
    _, info3 = get_classifier('quick', seed=1, progress=False, **kw)
    assert info3['key'] != info1['key']
    with pytest.raises(FileNotFoundError, match='train=True'): get_classifier('quick', train=False, n_train=97)
    with pytest.raises(ValueError, match='unknown classifier setting'): get_classifier('quick', epoch=1)


def test_classifier_config_of_the_profiles():
    paper = classifier_config('paper')
    assert paper['classifier'] == 'wrn28_10' and paper['dataset'] == 'cifar10' and paper['epochs'] == 100
    assert paper['lr'] == 0.01 and paper['momentum'] == 0.9 and paper['augment'] and paper['batch'] == 128
    cpu = classifier_config('cpu')
    assert cpu['classifier'] == 'smallcnn' and cpu['dataset'] == 'mnist5k' and not cpu['augment']
    assert cpu['n_train'] == 4000 and cpu['batch'] == 32
    with pytest.raises(ValueError, match='name='): classifier_config('cpu', dataset='svhn')

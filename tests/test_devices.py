"""The device rule, tested without a GPU: a function that takes a model runs it on the model's device, moving its inputs
there once. The model lives on PyTorch's 'meta' device (shapes, no data): every forward must see only 'meta' inputs,
and the only failure allowed is the final copy of the result back to the caller's CPU tensors (meta holds no data).
Before the rule, these calls fed CPU tensors to a model on another device.
The attacks that wrap torchattacks (AutoAttack) and ART (the universal perturbations) are checked as far as a CPU allows;
on a machine with a GPU, the last tests also run them with the model on CUDA and the caller's tensors on the CPU."""
import pytest
import torch
import torch.nn as nn

from sparsadv.attacks.pgd import pgd
from sparsadv.models.classifiers import predict, accuracy
from sparsadv.experiments.universal import correct_unclipped


class Recorder(nn.Module):
    "A linear classifier that records the device of every input its forward sees."
    def __init__(self, d_in: int, k: int):
        super().__init__(); self.lin = nn.Linear(d_in, k); self.seen = []
    def forward(self, x):
        self.seen.append(x.device.type)
        return self.lin(x.flatten(1))


def _on_meta(d_in=12, k=3):
    return Recorder(d_in, k).to('meta').eval()


CALLS = {
    'pgd (labels given)': lambda m: pgd(m, torch.rand(4, 12), eps=0.5, steps=2, y=torch.tensor([0, 1, 2, 0]), seed=0),
    'pgd (labels from the model)': lambda m: pgd(m, torch.rand(4, 12), eps=0.5, steps=2, seed=0, norm='inf'),
    'predict': lambda m: predict(m, torch.rand(5, 1, 3, 4)),
    'accuracy': lambda m: accuracy(m, torch.rand(5, 1, 3, 4), torch.zeros(5, dtype=torch.long)),
    'correct_unclipped': lambda m: correct_unclipped(m, torch.rand(5, 1, 3, 4), torch.zeros(5, dtype=torch.long)),
}


@pytest.mark.parametrize('name', list(CALLS))
def test_inputs_go_to_the_models_device(name):
    m = _on_meta()
    with pytest.raises(NotImplementedError, match='meta'):   # the copy of the result back to the CPU
        CALLS[name](m)
    assert m.seen and set(m.seen) == {'meta'}, m.seen


def test_pgd_same_numbers_as_before_on_one_device():
    "On one device the rule changes nothing: the same seed gives the same attack, within the budget."
    torch.manual_seed(0)
    m = Recorder(12, 3).eval()
    x = torch.rand(6, 12)
    a, b = (pgd(m, x, eps=0.3, steps=5, seed=3) for _ in range(2))
    assert torch.equal(a, b) and a.device == x.device and float((a - x).norm(dim=1).max()) <= 0.3 * (1 + 1e-5)


# The attacks that wrap other libraries: torchattacks (AutoAttack) and ART (the universal perturbations).

def _images(n=4, dtype=torch.float32):
    "n images (n, 1, 3, 4) in [0, 1] for a Recorder(12, 3)."
    return torch.rand(n, 1, 3, 4, generator=torch.Generator().manual_seed(0)).to(dtype)


@pytest.mark.parametrize('y', [None, torch.tensor([0, 1, 2, 0])], ids=['labels from the model', 'labels given'])
@pytest.mark.parametrize('attacks', [('apgd-ce',), ('square',), ('apgd-ce', 'fab-t')])
def test_autoattack_runs_on_the_models_device(attacks, y):
    "x and y go to the model's device, and torchattacks runs there: every forward, ours and the attack's, sees 'meta'."
    pytest.importorskip('torchattacks')
    from sparsadv.attacks.autoattack import autoattack
    m = _on_meta()
    with pytest.raises(NotImplementedError):   # meta holds no data: torchattacks stops at its first data-dependent step
        autoattack(m, _images(), y, eps=0.1, attacks=attacks, steps=2, n_queries=5, progress=False)
    assert len(m.seen) >= 2 and set(m.seen) == {'meta'}, m.seen   # the clean forward and the attack's own


def test_autoattack_returns_in_the_callers_dtype_and_device():
    pytest.importorskip('torchattacks')
    from sparsadv.attacks.autoattack import autoattack
    torch.manual_seed(0)
    m = Recorder(12, 3).eval()
    x = _images(dtype=torch.float64)
    xa = autoattack(m, x, eps=0.1, attacks=('apgd-ce', 'square'), steps=3, n_queries=10, progress=False)
    assert xa.dtype == torch.float64 and xa.device == x.device and xa.shape == x.shape
    assert float((xa - x).abs().max()) <= 0.1 and set(m.seen) == {'cpu'}


def test_art_device_type():
    "ART's device_type follows the model's device; ART runs on the CPU and CUDA only, so anything else fails clearly."
    from sparsadv.attacks.universal import _art_device_type
    assert _art_device_type(None) == 'cpu' and _art_device_type(torch.device('cpu')) == 'cpu'
    for d in ('cuda', 'cuda:0', 'cuda:3'):   # building a torch.device needs no GPU
        assert _art_device_type(torch.device(d)) == 'gpu'
    for d in ('meta', 'mps'):
        with pytest.raises(ValueError, match="where ART cannot run it.*model.to"):
            _art_device_type(torch.device(d))


@pytest.mark.parametrize('name', ['art_uap', 'art_targeted_uaps'])
def test_art_refuses_a_model_it_cannot_run_before_any_work(name):
    import sparsadv.attacks.universal as U
    m = _on_meta()
    with pytest.raises(ValueError, match="device 'meta'"):
        getattr(U, name)(m, _images(), (1, 3, 4), 3, max_iter=1)
    assert m.seen == []


@pytest.mark.parametrize('name', ['art_uap', 'art_targeted_uaps'])
def test_art_returns_in_the_callers_dtype_and_device(name):
    pytest.importorskip('art')
    import sparsadv.attacks.universal as U
    torch.manual_seed(0)
    m = Recorder(12, 3).eval()
    X = _images(6, dtype=torch.float64)
    kw = dict(max_iter=1, pgd_max_iter=2) if name == 'art_uap' else dict(max_iter=1)
    u = getattr(U, name)(m, X, (1, 3, 4), 3, progress=False, **kw)
    assert u.dtype == torch.float64 and u.device == X.device
    assert u.shape == ((1, 3, 4) if name == 'art_uap' else (3, 1, 3, 4))
    assert set(m.seen) == {'cpu'} and next(m.parameters()).device.type == 'cpu'


# On a machine with a GPU: the model on CUDA, the caller's tensors on the CPU.
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


@cuda
def test_on_gpu_attacks_run_on_the_model_and_return_to_the_caller():
    pytest.importorskip('torchattacks'); pytest.importorskip('art')
    from sparsadv.attacks.autoattack import autoattack
    from sparsadv.attacks.universal import art_uap, art_targeted_uaps
    torch.manual_seed(0)
    m = Recorder(12, 3).cuda().eval()
    x = _images(6)
    for xa in (pgd(m, x, eps=0.1, steps=3, norm='inf', seed=0, progress=False),
               autoattack(m, x, eps=0.1, attacks=('apgd-ce', 'square'), steps=3, n_queries=10, progress=False)):
        assert xa.device == x.device and xa.dtype == x.dtype
    u = art_uap(m, x, (1, 3, 4), 3, max_iter=1, pgd_max_iter=2, progress=False)
    t = art_targeted_uaps(m, x, (1, 3, 4), 3, max_iter=1, progress=False)
    assert u.device == x.device and t.device == x.device
    assert set(m.seen) == {'cuda'} and next(m.parameters()).is_cuda   # ART left the model where it was


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason='needs two CUDA GPUs')
def test_art_follows_a_model_on_the_second_gpu():
    pytest.importorskip('art')
    from sparsadv.attacks.universal import _art_classifier
    m = Recorder(12, 3).to('cuda:1').eval()
    assert _art_classifier(m, (1, 3, 4), 3).device == torch.device('cuda:1')
    assert next(m.parameters()).device == torch.device('cuda:1')


def test_code_classifier_trains_on_the_models_device():
    """Each training batch is moved to the model's device: on 'meta' the first failure is a check on the batch's values
    (meta tensors hold none), which means the batch reached the model there; a CPU batch would fail on the device."""
    from sparsadv.models.convlista import ConvLISTA
    from sparsadv.models.code_classifier import CodeClassifier, train_code_classifier
    model = CodeClassifier(ConvLISTA(1, filters=4, kernel=3), (1, 6, 6), 3).to('meta')
    with pytest.raises(Exception) as e:
        train_code_classifier(model, torch.rand(5, 1, 6, 6), torch.tensor([0, 1, 2, 0, 1]), epochs=1, batch=4, progress=False)
    msg = str(e.value)
    assert 'same device' not in msg and 'expected device' not in msg and 'meta tensors' in msg, msg

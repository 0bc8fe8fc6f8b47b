"""The device rule, tested without a GPU: a function that takes a model runs it on the model's device, moving its inputs
there once. The model lives on PyTorch's 'meta' device (shapes, no data): every forward must see only 'meta' inputs,
and the only failure allowed is the final copy of the result back to the caller's CPU tensors (meta holds no data).
Before the rule, these calls fed CPU tensors to a model on another device."""
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

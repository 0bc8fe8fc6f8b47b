"""Nothing is unpickled from the checkpoint cache: a planted pickle payload is refused, never run."""
import os
import pickle

import pytest
import torch

from sparsadv.config import cache_dir, config_hash, load_checkpoint
from sparsadv.lista import get_lista, lista_config


def _plant(path, mark):
    class Payload:   # unpickling it would create the folder `mark`
        def __reduce__(self): return (os.mkdir, (str(mark),))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'model': Payload(), 'hist': {}, 'step': 0}, path)


def test_planted_checkpoint_is_refused(tmp_path):
    mark = tmp_path / 'payload-ran'
    _plant(tmp_path / 'evil.ckpt', mark)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(tmp_path / 'evil.ckpt', {})
    assert not mark.exists()


def test_planted_cache_entry_is_refused(tmp_path):
    mark = tmp_path / 'payload-ran'
    final = cache_dir('lista') / f"{config_hash(lista_config('quick', steps=7))}.pt"
    _plant(final, mark)
    with pytest.raises(pickle.UnpicklingError):
        get_lista('quick', steps=7, progress=False)
    assert not mark.exists()

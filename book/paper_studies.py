"""Record the studies of Fig 5's readings and Fig 6's second network (sparsadv.experiments.studies) in
book/recorded/studies/ for chapter 12 to read (`make paper-studies`). Each study is written as <study>_<profile>.json
with its provenance (version, commit, date, machine, wall time, a hash of every sparsadv module the run imported).

Resumable: every LISTA checkpoints into the cache while it trains, and a study already recorded is skipped unless
--force. On a 2-core CPU at the paper's size: Fig 5's grid about 10 minutes once net 1 is trained; each second network
about 35-60 minutes."""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--profile', default='paper', help='scale profile (default: paper; quick checks the script in seconds)')
    ap.add_argument('--study', choices=('fig5', 'fig6', 'all'), default='all', help='which study to record (default: all)')
    ap.add_argument('--variants', nargs='*', default=None,
                    help="Fig 6's second-network starts (keys of FIG6_VARIANTS; default: all of them)")
    ap.add_argument('--steps', nargs='*', default=[], metavar='VARIANT=STEPS',
                    help="a longer schedule for a start, e.g. independent=28000 (default: net 1's)")
    ap.add_argument('--out', default=None, help='output folder (default: book/recorded/studies)')
    ap.add_argument('--force', action='store_true', help='record again a study already recorded')
    ap.add_argument('--no-progress', action='store_true', help='hide progress bars')
    args = ap.parse_args(argv)
    from sparsadv.core.config import get_profile
    from sparsadv.core.cache import provenance
    from sparsadv.experiments.registry import _jsonable
    from sparsadv.experiments.recorded import module_hashes, RECORDED_ROOT
    from sparsadv.experiments.studies import fig5_readings, fig6_networks
    p = get_profile(args.profile)
    out = Path(args.out) if args.out else RECORDED_ROOT / 'studies'
    out.mkdir(parents=True, exist_ok=True)
    progress = False if args.no_progress else None
    overrides = {}
    for s in args.steps:
        name, _, steps = s.rpartition('=')
        if not name or not steps.isdigit(): ap.error(f"--steps {s!r}: use VARIANT=STEPS, e.g. independent=28000")
        overrides[name] = dict(steps=int(steps))
    jobs = {'fig5': lambda: fig5_readings(p, seed=0, progress=progress),
            'fig6': lambda: fig6_networks(p, seed=0, variants=args.variants, overrides=overrides, progress=progress)}
    for name in (('fig5', 'fig6') if args.study == 'all' else (args.study,)):
        path = out / f"{'fig5_readings' if name == 'fig5' else 'fig6_networks'}_{p.name}.json"
        if path.exists() and not args.force:
            print(f'{path} exists: skipped (--force records it again)'); continue
        print(f'{name} study at profile {p.name!r}', flush=True)
        t0 = time.perf_counter()
        r = jobs[name]()
        r['provenance'] = provenance(profile=p.name, wall_seconds=round(time.perf_counter() - t0, 1), modules=module_hashes(),
                                     command=' '.join(['python book/paper_studies.py', *(argv if argv is not None else sys.argv[1:])]))
        path.write_text(json.dumps(_jsonable(r), indent=1))
        print(f'recorded {path} ({r["provenance"]["wall_seconds"] / 60:.1f} min)', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

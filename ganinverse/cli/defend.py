"""``ganinverse defend eval``: accuracy of classifiers with and without the projection defense
under FGSM, PGD, BPDA(+EOT) and the latent-space attack."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "defend",
        help="the robust-manifold (projection) defense and attacks that know it",
        description="Project inputs onto the range of a generator before classifying them "
        "(Ilyas et al. 2017; Defense-GAN) and evaluate it against adaptive attacks.",
    )
    sub = p.add_subparsers(dest="defend_command", metavar="ACTION", required=True)
    e = sub.add_parser(
        "eval",
        help="accuracy table: models x attacks",
        description="Rows: no defense (--classifier), adversarial training (--classifier-adv), "
        "projection defense (--classifier behind the projection), projection + robust-manifold "
        "training (--classifier-rm behind the projection). Columns: clean and each attack. "
        "fgsm/pgd on a defended row are computed on the classifier alone (defense-oblivious); "
        "bpda/eot attack through the projection; latent searches the generator's range. A '2' "
        "suffix (pgd2:4.0) means the L2 ball. Writes OUT/results.csv, OUT/results.md and "
        "OUT/cells.json (rerun with the same settings to resume).",
    )
    e.add_argument("--classifier", required=True, help="checkpoint of the plain classifier")
    e.add_argument("--classifier-adv", help="checkpoint of the PGD-trained classifier")
    e.add_argument("--classifier-rm", help="checkpoint of the robust-manifold-trained classifier")
    e.add_argument("--generator", required=True, help="bundled name or checkpoint path")
    e.add_argument("--dataset", default="mnist")
    e.add_argument("--data-root")
    e.add_argument("--split", default="test")
    e.add_argument("--n", type=int, default=100, help="number of test images")
    e.add_argument("--start", type=int, default=0, help="index of the first test image")
    e.add_argument(
        "--attacks",
        default="fgsm:0.3,pgd:0.3,bpda:0.3,latent:0.3",
        help="comma-separated name:eps with name in fgsm, pgd, bpda, eot, latent (+ '2' for L2)",
    )
    e.add_argument("--out", required=True, help="output folder")
    g = e.add_argument_group("projection defense (Defense-GAN defaults)")
    g.add_argument("--steps", type=int, default=200, help="projection steps per restart")
    g.add_argument("--restarts", type=int, default=10, help="projection restarts")
    g.add_argument("--lr", type=float, default=10.0, help="SGD learning rate (momentum 0.7)")
    a = e.add_argument_group("attack budgets")
    a.add_argument("--pgd-steps", type=int, default=40)
    a.add_argument("--bpda-steps", type=int, default=40, help="each runs a full projection")
    a.add_argument(
        "--bpda-projection",
        type=lambda t: tuple(int(v) for v in t.split(",")),
        metavar="STEPS,RESTARTS",
        help="a cheaper projection for BPDA's forward passes (scored with the full defense)",
    )
    a.add_argument("--eot-samples", type=int, default=4, help="projections per EOT gradient")
    a.add_argument("--latent-steps", type=int, default=200)
    a.add_argument("--latent-restarts", type=int, default=4)
    e.add_argument("--batch-size", type=int, default=100, help="images per attack batch")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:N")
    e.add_argument("--no-progress", action="store_true", help="hide progress bars")
    e.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from ..data import load_images, to_unit
    from ..defense.evaluate import (
        EvalSettings,
        Row,
        evaluate_defense,
        format_markdown,
        parse_attacks,
    )
    from ..defense.projection import ProjectionDefense
    from ..models import load_classifier, load_generator

    attacks = parse_attacks(args.attacks)
    G = load_generator(args.generator, device=args.device)
    device = next(G.parameters()).device
    plain = load_classifier(args.classifier, device=device)
    x, labels = load_images(args.dataset, args.data_root, args.split, n=args.n, start=args.start)
    if labels is None:
        raise ValueError(f"dataset {args.dataset!r} has no labels")
    if tuple(x.shape[1:]) != tuple(G.image_shape):
        raise ValueError(
            f"the {args.dataset} images have shape {tuple(x.shape[1:])} but the generator makes "
            f"{tuple(G.image_shape)}"
        )
    images = to_unit(x).clamp(0, 1)
    rows = [Row("no defense", plain, False)]
    if args.classifier_adv:
        rows.append(
            Row(
                "adversarial training (PGD)",
                load_classifier(args.classifier_adv, device=device),
                False,
            )
        )
    rows.append(Row("projection defense", plain, True))
    if args.classifier_rm:
        rm = load_classifier(args.classifier_rm, device=device)
        rows.append(Row("projection + robust-manifold training", rm, True))
    progress = not args.no_progress
    defense = ProjectionDefense(
        G, steps=args.steps, restarts=args.restarts, lr=args.lr, seed=args.seed, progress=False
    )
    settings = EvalSettings(
        pgd_steps=args.pgd_steps,
        bpda_steps=args.bpda_steps,
        eot_samples=args.eot_samples,
        latent_steps=args.latent_steps,
        latent_restarts=args.latent_restarts,
        bpda_projection=args.bpda_projection,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=progress,
    )
    table = evaluate_defense(
        rows,
        images,
        labels,
        attacks,
        defense=defense,
        G=G,
        settings=settings,
        out=args.out,
        tag={
            "generator": args.generator,
            "classifiers": [args.classifier, args.classifier_adv, args.classifier_rm],
            "data": [args.dataset, args.split, args.start],
        },
    )
    print(format_markdown(table), end="")
    print(f"-> {args.out}/results.csv, results.md")
    return 0

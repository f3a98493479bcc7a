"""nif-zoo publish: a finished run of a zoo config measured and written as checkpoints/NAME."""
NAME = "publish"


def add_parser(sub):
    p = sub.add_parser(
        "publish", help="measure a finished run and write checkpoints/NAME + its card",
        description="Measure a training run of a zoo config (test bits/dim) and write the "
                    "pretrained folder checkpoints/NAME and model_cards/NAME.md (a run of "
                    "your own config: nif-zoo export).")
    p.add_argument("run", help="the training run's --out folder")
    p.add_argument("--name", required=True, help="the zoo name (its config was used)")
    p.add_argument("--checkpoints", default=None, help="folder of pretrained folders "
                                                       "(the repo's checkpoints/)")
    p.add_argument("--cards", default=None, help="folder of cards (the repo's model_cards/)")
    return p


def run(args):
    from nif_zoo.zoo.publish import publish

    publish(args.run, args.name, checkpoints_root=args.checkpoints, cards_root=args.cards)

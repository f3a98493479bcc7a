"""nif-zoo cards: model_cards/ re-rendered from the registry."""
import os

NAME = "cards"


def add_parser(sub):
    p = sub.add_parser("cards", help="re-render model_cards/ from the registry",
                       description="Write model_cards/NAME.md for every zoo model (recipes "
                                   "rendered from their configs; bundled ones copied from "
                                   "checkpoints/NAME/README.md) and the bundled-models "
                                   "table of the repository's README.md.")
    p.add_argument("--out", default=None, help="folder (the repo's model_cards/)")
    return p


def run(args):
    from nif_zoo.zoo.publish import update_readme, write_cards

    paths = write_cards(args.out)
    print(f"wrote {len(paths)} model cards to {os.path.dirname(paths[0]) if paths else args.out}")
    if update_readme():
        print("updated the bundled-models table in README.md")

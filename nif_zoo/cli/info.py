"""nif-zoo info: a model's card."""
import os

NAME = "info"


def add_parser(sub):
    p = sub.add_parser("info", help="print a model's card",
                       description="Print a model's card (its README): architecture, "
                                   "training recipe, measured numbers, limitations.")
    p.add_argument("model", metavar="NAME",
                   help="a zoo name, a Hugging Face repo id or a pretrained folder")
    return p


def run(args):
    from nif_zoo.zoo import publish
    from nif_zoo.models import pretrained
    from nif_zoo.zoo import hub, registry

    if args.model in registry.entries() or args.model in registry.ALIASES:
        name = registry.get_entry(args.model).name  # a replaced name: its successor
        folder = hub.bundled_folder(name)
        if folder is None:
            print(publish.expected_card(name))
            return
    else:
        folder = hub.resolve(args.model)  # a folder or a hub repo id; unknown names fail here
    with open(os.path.join(folder, pretrained.CARD)) as fh:
        print(fh.read())

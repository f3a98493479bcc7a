"""nif-zoo list: the zoo's models."""
NAME = "list"


def add_parser(sub):
    p = sub.add_parser("list", help="list the zoo's models",
                       description="List the zoo's models: name, status (bundled weights or "
                                   "recipe), kind, latent size, data, summary.")
    p.add_argument("pattern", nargs="?", default=None, help="shell pattern, e.g. 'nif*'")
    p.add_argument("--bundled", action="store_true", help="only models with weights")
    p.add_argument("--names", action="store_true", help="names only, one per line")
    return p


def run(args):
    from nif_zoo.zoo import registry

    names = registry.list_models(args.pattern, pretrained_only=args.bundled)
    if args.names:
        print("\n".join(names))
        return
    if not names:
        print("no models match")
        return
    rows = [("name", "status", "kind", "M", "data", "summary")]
    for name in names:
        e = registry.get_entry(name)
        rows.append((name, e.status, e.kind, str(e.latent_dim),
                     f"{e.dataset} {'x'.join(map(str, e.image_shape))}", e.summary[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[5])

"""nif-zoo demo: a local web page to sample and explore a model (Gradio)."""
from nif_zoo.cli.options import load_model

NAME = "demo"


def add_parser(sub):
    p = sub.add_parser(
        "demo", help="a local web page to sample and explore a model (Gradio)",
        description="Serve a web page with temperature and s sliders, seed, number of "
                    "samples, a walk off the manifold and reconstruction of uploaded images. "
                    "Needs the [demo] extra (gradio).")
    p.add_argument("model", nargs="?", default=None, metavar="NAME",
                   help="the model shown first (default: nif64-celeba64-3bit, the CelebA faces)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (7860)")
    return p


def run(args):
    from nif_zoo.zoo.demo import launch

    if args.model is not None:
        load_model(args.model)  # fail early on a bad name
    print(f"nif-zoo demo on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    launch(args.model, host=args.host, port=args.port)

"""nif-zoo push: a pretrained folder uploaded to a Hugging Face repo."""
NAME = "push"


def add_parser(sub):
    p = sub.add_parser(
        "push", help="upload a pretrained folder to a Hugging Face repo",
        description="Verify a pretrained folder (nif-zoo export, save_pretrained) against its "
                    "SHA256SUMS and upload it to a Hugging Face model repo, created if missing "
                    "(HF_TOKEN or huggingface-cli login; HF_ENDPOINT for a mirror).")
    p.add_argument("folder", help="the pretrained folder")
    p.add_argument("repo_id", metavar="OWNER/NAME", help="the hub repo")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--revision", default=None, help="branch to push to (main)")
    p.add_argument("--message", default=None, help="commit message")
    return p


def run(args):
    from nif_zoo.zoo.hub import upload_folder

    url = upload_folder(args.folder, args.repo_id, private=args.private,
                        revision=args.revision, commit_message=args.message)
    print(f"pushed {args.folder} to {args.repo_id}: {url}")
    return url

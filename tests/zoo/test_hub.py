"""The Hugging Face download path against a real HF-compatible server: olah, offline, serving
git repositories from a mirror folder. Each load runs in a fresh process, as a user's would,
with HF_ENDPOINT / HF_HOME / HF_HUB_OFFLINE in its environment."""
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from nif_zoo.models import pretrained

pytestmark = pytest.mark.slow

LOAD = textwrap.dedent("""
    import json, sys, numpy as np, nif_zoo
    from nif_zoo.zoo import HubError
    try:
        if sys.argv[3] == "mixin":  # huggingface_hub's ModelHubMixin.from_pretrained
            model = nif_zoo.Model.from_pretrained(sys.argv[1], revision=(sys.argv[2] or None))
        else:
            model = nif_zoo.load(sys.argv[1], revision=(sys.argv[2] or None))
    except HubError as err:
        print(json.dumps({"error": str(err)}))
        sys.exit(0)
    print(json.dumps({"sample": model.sample(3, seed=1).tolist(), "config": model.config.to_dict()}))
""")


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.email=ci@nif-zoo", "-c", "user.name=nif-zoo", *args],
                   cwd=cwd, check=True, capture_output=True)


def make_mirror_repo(mirrors, repo_id, folder):
    """A git repository (branch main) holding a pretrained folder, where olah serves it."""
    path = os.path.join(mirrors, "models", *repo_id.split("/"))
    shutil.copytree(folder, path)
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "upload", cwd=path)
    return path


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_models, tmp_path_factory):
    if shutil.which("git") is None:
        pytest.fail("the hub tests need the git binary (olah serves git repositories)")
    olah = shutil.which("olah-cli") or os.path.join(os.path.dirname(sys.executable), "olah-cli")
    root = tmp_path_factory.mktemp("olah")
    mirrors = root / "mirrors"
    built = root / "built"
    tiny_models["nif"].save_pretrained(str(built / "nif"))
    tiny_models["deep_nif"].save_pretrained(str(built / "deep"))
    good = make_mirror_repo(str(mirrors), "nif-zoo-test/tiny", str(built / "nif"))
    git("tag", "v1", cwd=good)
    # main moves on to another model: revision "v1" must still give the first one
    shutil.rmtree(os.path.join(good, "weights"))
    for name in os.listdir(built / "deep"):
        src, dst = built / "deep" / name, os.path.join(good, name)
        if os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy(src, dst)
    git("add", "-A", cwd=good)
    git("commit", "-q", "-m", "v2", cwd=good)
    corrupt = make_mirror_repo(str(mirrors), "nif-zoo-test/corrupt", str(built / "nif"))
    weights = [f for f in pretrained.list_files(corrupt) if f.startswith("weights/")]
    target = os.path.join(corrupt, max(weights, key=lambda f: os.path.getsize(os.path.join(corrupt, f))))
    data = bytearray(open(target, "rb").read())
    data[-1] ^= 0xFF
    open(target, "wb").write(bytes(data))
    git("commit", "-q", "-am", "bit rot", cwd=corrupt)
    # a bundled checkpoint, published on the hub under its zoo repo id
    from nif_zoo.zoo import hub, registry

    bundled = [n for n in registry.list_models(pretrained_only=True) if hub.bundled_folder(n)]
    if bundled:
        name = min(bundled, key=lambda n: registry.get_entry(n).latent_dim)
        make_mirror_repo(str(mirrors), registry.get_entry(name).hub_repo, hub.bundled_folder(name))
    else:
        name = None
    port = free_port()
    config = root / "olah.toml"
    config.write_text(textwrap.dedent(f"""
        [basic]
        host = "127.0.0.1"
        port = {port}
        repos-path = "{root / 'repos'}"
        mirrors-path = ["{mirrors}"]
        [accessibility]
        offline = true
    """))
    log = open(root / "olah.log", "w")
    proc = subprocess.Popen([olah, "-c", str(config)], cwd=str(root), stdout=log,
                            stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/nif-zoo-test/tiny/resolve/main/config.json",
                                   timeout=2)
            break
        except urllib.error.HTTPError:  # any HTTP answer: it is up
            break
        except Exception:  # noqa: BLE001 - not up yet
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("olah did not start: " + (root / "olah.log").read_text()[-2000:])
            time.sleep(0.5)
    yield {"endpoint": endpoint, "root": root, "bundled": name, "built": built}
    proc.terminate()
    proc.wait(10)
    log.close()


def load_in_fresh_process(server, hf_home, target, revision="", offline=False, how="zoo"):
    env = dict(os.environ, HF_ENDPOINT=server["endpoint"], HF_HOME=str(hf_home),
               HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HUB_OFFLINE", None)
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    out = subprocess.run([sys.executable, "-c", LOAD, target, revision, how], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def cached_files(hf_home, repo_id):
    root = os.path.join(hf_home, "hub", "models--" + repo_id.replace("/", "--"), "snapshots")
    found = []
    for dirpath, _, files in os.walk(root):
        found += [os.path.join(dirpath, f) for f in files]
    return found


def expected_sample(folder):
    import nif_zoo

    return nif_zoo.load(str(folder)).sample(3, seed=1).tolist()


def test_download_cache_and_offline_reuse(server, tmp_path):
    hf_home = tmp_path / "hf"
    first = load_in_fresh_process(server, hf_home, "nif-zoo-test/tiny", "v1")
    assert first["sample"] == expected_sample(server["built"] / "nif")
    assert first["config"]["kind"] == "nif"
    assert len(cached_files(str(hf_home), "nif-zoo-test/tiny")) > 5
    # HF_HUB_OFFLINE=1: served from the cache, same model
    again = load_in_fresh_process(server, hf_home, "nif-zoo-test/tiny", "v1", offline=True)
    assert again["sample"] == first["sample"]
    # main moved on to the deep NIF
    latest = load_in_fresh_process(server, hf_home, "nif-zoo-test/tiny")
    assert latest["config"]["kind"] == "deep_nif"
    assert latest["sample"] == expected_sample(server["built"] / "deep")


def test_the_hub_mixin_downloads_the_same_verified_model(server, tmp_path):
    from nif_zoo.models.model import Model

    hf_home = tmp_path / "hf"
    out = load_in_fresh_process(server, hf_home, "nif-zoo-test/tiny", "v1", how="mixin")
    assert out["sample"] == expected_sample(server["built"] / "nif")
    again = load_in_fresh_process(server, hf_home, "nif-zoo-test/tiny", "v1", offline=True,
                                  how="mixin")
    assert again["sample"] == out["sample"]
    bad = load_in_fresh_process(server, tmp_path / "hf2", "nif-zoo-test/corrupt", how="mixin")
    assert "failed verification" in bad["error"]
    with pytest.raises(ValueError, match="nor a zoo model name"):
        Model.from_pretrained("no-such-model")


def test_from_pretrained_takes_a_zoo_name_as_load_does():
    """The transformers way: Model.from_pretrained("nif32-lfw24") is nif_zoo.load's model."""
    import nif_zoo
    from nif_zoo.models.model import Model

    by_mixin = Model.from_pretrained("nif32-lfw24")
    by_load = nif_zoo.load("nif32-lfw24")
    assert by_mixin.config == by_load.config
    np.testing.assert_array_equal(by_mixin.sample(2, temperature=0.7, seed=0),
                                  by_load.sample(2, temperature=0.7, seed=0))


def test_offline_with_nothing_cached_says_how_to_fix_it(server, tmp_path):
    out = load_in_fresh_process(server, tmp_path / "hf", "nif-zoo-test/tiny", offline=True)
    assert "HF_HUB_OFFLINE=1" in out["error"] and "not in the Hugging Face cache" in out["error"]


def test_corrupt_download_is_refused_and_not_cached(server, tmp_path):
    hf_home = tmp_path / "hf"
    out = load_in_fresh_process(server, hf_home, "nif-zoo-test/corrupt")
    assert "failed verification" in out["error"] and "corrupt or truncated" in out["error"]
    assert cached_files(str(hf_home), "nif-zoo-test/corrupt") == []
    blobs = os.path.join(hf_home, "hub", "models--nif-zoo-test--corrupt", "blobs")
    assert not os.path.isdir(blobs) or os.listdir(blobs) == []


def test_unknown_repo_and_revision(server, tmp_path):
    out = load_in_fresh_process(server, tmp_path / "hf", "nif-zoo-test/nothing-here")
    assert "no nif-zoo model there" in out["error"]


def test_zoo_name_resolves_to_its_hub_repo(server, tmp_path):
    if server["bundled"] is None:
        pytest.skip("no bundled checkpoint in this checkout")
    from nif_zoo.zoo import hub

    name = server["bundled"]
    # a revision skips the bundled copy: the model comes from the server
    out = load_in_fresh_process(server, tmp_path / "hf", name, "main")
    assert out["sample"] == expected_sample(hub.bundled_folder(name))
    assert cached_files(str(tmp_path / "hf"), f"nif-zoo/{name}")

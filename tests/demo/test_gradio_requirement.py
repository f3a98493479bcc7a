"""`nif-zoo demo` on a Gradio it cannot use says what to install (no Gradio needed here)."""
import importlib.metadata

import pytest

from nif_zoo.zoo import demo


def test_missing_or_old_gradio_names_the_version_needed(monkeypatch):
    def installed(version):
        def fake(name):
            if name != "gradio":
                return importlib.metadata.version(name)
            if version is None:
                raise importlib.metadata.PackageNotFoundError(name)
            return version
        return fake

    monkeypatch.setattr(importlib.metadata, "version", installed(None))
    with pytest.raises(ImportError, match=r"needs Gradio >= 6\.0: pip install -U"):
        demo.import_gradio()
    monkeypatch.setattr(importlib.metadata, "version", installed("5.49.1"))
    with pytest.raises(ImportError, match=r"needs Gradio >= 6\.0; gradio 5\.49\.1 is installed"):
        demo.import_gradio()


def test_a_gradio_that_fails_to_import_is_reported_with_its_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "gradio":
            raise ImportError("cannot import name 'HfFolder' from 'huggingface_hub'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "6.0.0" if name == "gradio" else "1")
    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(ImportError, match=r"gradio 6\.0\.0 is installed but fails to import "
                                          r"\(cannot import name 'HfFolder'"):
        demo.import_gradio()

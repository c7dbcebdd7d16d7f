"""Publishing a real build of recordings we did not make: the licence is never guessed, the card
names the real repo, Kaggle users get the same features, and an offline push says so."""

from __future__ import annotations

import csv
import json
import re
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers.layouts import ATTRIBUTION, REPO, load
from tests.helpers.publish import HF_TOKEN, KAGGLE_TOKEN, FakeHub, hub_env, kaggle_env, make_client_env, run_client

KEEP = "source.labels={{csv: {csv}, keep_columns: [{cols}]}}"


DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-audio"
LICENCES = ("Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "Creative Commons Attribution 4.0", "")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Real recordings (the bundled CC0 demo: 8 flac, ogg and aiff files) with a BirdCLEF-style
    train_metadata.csv whose attribution columns mix licences, built through the CLI."""
    root = tmp_path_factory.mktemp("trust")
    rows = []
    for i, path in enumerate(sorted(p for label in ("kick_drum", "tabla") for p in (DEMO / label).iterdir())):
        rel = path.relative_to(DEMO).as_posix()
        rows.append([rel, rel.split("/")[0], f"Recordist {i}", LICENCES[i % 3], f"https://xeno-canto.org/{i}",
                     f"{50 + i / 8:.3f}" if i != 2 else "", f"{i - 4}", f"{i % 5}.5"])
    table = root / "train_metadata.csv"
    with open(table, "w", newline="") as fh:
        csv.writer(fh).writerows([["filename", "primary_label", *ATTRIBUTION], *rows])
    outs = {}
    for layout in ("imagefolder", "parquet"):
        out = root / f"birds-{layout}"
        done = subprocess.run(
            [sys.executable, "-m", "builder", "build", str(REPO / "examples" / "demo.yaml"), "-j", "1",
             "--set", f"source.path={DEMO}", "--set", f"output.path={out}", "--set", f"output.layout={layout}",
             "--set", KEEP.format(csv=table, cols=", ".join(ATTRIBUTION)), "--set", "output.splits={train: 0.5, test: 0.5}",
             "--set", "name=demo-birds"],
            capture_output=True, text=True, cwd=str(REPO), timeout=600)
        assert done.returncode == 0, done.stderr
        outs[layout] = out
    return outs


def card_of(text: str):
    from huggingface_hub import DatasetCard

    return DatasetCard(text)


def test_hub_push_without_a_licence_says_unknown_and_warns_once(built, tmp_path):
    env = make_client_env(tmp_path)
    with FakeHub({HF_TOKEN: "alice"}) as hub:
        push = run_client("push", built["imagefolder"], "--to", "hf", "--repo", "alice/birds", env=hub_env(env, hub))
        remote = hub.files("alice/birds")
    assert push.returncode == 0, push.output
    warnings = [line for line in push.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "no licence set" in warnings[0] and "license: unknown" in warnings[0]
    card = card_of(remote["README.md"].decode())
    assert card.data.license == "unknown"
    assert 'load_dataset("alice/birds")' in card.text and "OWNER/NAME" not in card.text
    croissant = json.loads(remote["croissant.json"])
    assert croissant["url"] == "https://huggingface.co/datasets/alice/birds" and croissant["license"] == "unknown"
    built_card = (built["imagefolder"] / "README.md").read_text()
    assert "OWNER/NAME" in built_card  # the built folder is left as it was (the staged copy is rewritten)


def test_hub_push_with_a_licence_rewrites_header_and_licence_section(built, tmp_path):
    from huggingface_hub import DatasetCard

    env = make_client_env(tmp_path)
    with FakeHub({HF_TOKEN: "alice"}) as hub:
        push = run_client("push", built["parquet"], "--to", "hf", "--repo", "alice/birds", "--license", "CC-BY-4.0",
                          env=hub_env(env, hub))
        remote = hub.files("alice/birds")
    assert push.returncode == 0, push.output
    assert card_of(remote["README.md"].decode()).data.license == "cc-by-4.0"
    stage = tmp_path / "stage"
    result = run_client("push", built["parquet"], "--to", "hf", "--repo", "alice/birds", "--license", "CC-BY-4.0",
                        "--dry-run", stage, env=env)
    assert result.returncode == 0, result.output
    assert (stage / "README.md").read_bytes() == remote["README.md"]  # a dry run stages what a push sends
    assert "no licence set" not in result.stderr
    assert "warning: licence cc-by-4.0 grants more than some recordings' licences" in result.stderr
    card = DatasetCard.load(stage / "README.md")
    assert card.data.license == "cc-by-4.0" and 'load_dataset("alice/birds")' in card.text
    assert "published under `cc-by-4.0`" in card.text and "**Warning:** `cc-by-4.0` grants more" in card.text
    assert card.data.to_dict()["configs"][0]["data_files"][0]["path"] == "data/train-*"
    assert json.loads((stage / "croissant.json").read_text())["license"].endswith("#cc-by-4.0")


def test_a_bad_licence_is_refused_with_the_closest(built, tmp_path):
    result = run_client("push", built["parquet"], "--to", "kaggle", "--license", "cc by 4", "--dry-run",
                        tmp_path / "s", env=make_client_env(tmp_path))
    assert result.returncode == 5 and "Traceback" not in result.output
    assert result.stderr.strip().startswith("error: --license: 'cc by 4' is not a licence id; closest: cc-by-4.0")


@pytest.mark.parametrize("given, kaggle_name, hub_name", [
    ("US-Government-Works", "US-Government-Works", "other"),  # Kaggle's own name the Hub lacks
    ("cc-by-4.0", "CC-BY-4.0", "cc-by-4.0"),
    ("mit", "other", "mit"),  # a Hub id Kaggle lacks: `other`, with a warning naming it
])
def test_each_target_gets_the_licence_in_its_own_spelling(built, tmp_path, given, kaggle_name, hub_name):
    env = make_client_env(tmp_path)
    kaggle = run_client("push", built["parquet"], "--to", "kaggle", "--license", given, "--dry-run",
                        tmp_path / "k", env=env)
    assert kaggle.returncode == 0, kaggle.output
    meta = json.loads((tmp_path / "k" / "dataset-metadata.json").read_text())
    assert meta["licenses"] == [{"name": kaggle_name}]
    named = given if kaggle_name == "other" else kaggle_name
    assert re.search(rf"published under [^\n]*`{re.escape(named)}`", meta["description"])
    assert ("Kaggle has no licence" in kaggle.stderr) == (kaggle_name == "other")
    hub = run_client("push", built["parquet"], "--to", "hf", "--license", given, "--dry-run", tmp_path / "h", env=env)
    assert hub.returncode == 0, hub.output
    card = card_of((tmp_path / "h" / "README.md").read_text())
    assert card.data.license == hub_name
    if hub_name == "other":  # the Hub's spec: other names the licence and links its terms; so does the text
        assert card.data.license_name == "us-government-works"
        assert card.data.license_link == "https://www.usa.gov/government-works"
        assert "published under U.S. Government Works (`US-Government-Works`" in card.text
    else:
        assert card.data.get("license_name") is None and f"published under `{hub_name}`" in card.text


def unpack(stage: Path, where: Path) -> Path:
    """What Kaggle serves at /kaggle/input/<slug>: each zip unpacked to a folder of its name."""
    where.mkdir(parents=True)
    for path in stage.iterdir():
        if path.name == "dataset-metadata.json" or path.name.startswith("dataset-cover-image"):
            continue
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                zf.extractall(where / path.stem)
        else:
            (where / path.name).write_bytes(path.read_bytes())
    return where


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_kaggle_stage_loads_with_classlabel_and_every_column(layout, built, tmp_path):
    stage = tmp_path / "stage"
    result = run_client("push", built[layout], "--to", "kaggle", "--id", "alice/bird-spectrograms", "--dry-run", stage,
                        env=make_client_env(tmp_path))
    assert result.returncode == 0, result.output
    meta = json.loads((stage / "dataset-metadata.json").read_text())
    assert meta["licenses"] == [{"name": "unknown"}] and "no licence set" in result.stderr
    assert 20 <= len(meta["subtitle"]) <= 80 and meta["keywords"]
    assert (stage / "dataset-cover-image.png").read_bytes() == (built[layout] / "preview.png").read_bytes()
    description = meta["description"]
    assert 'load_dataset("/kaggle/input/bird-spectrograms")' in description and "OWNER/NAME" not in description
    files_section = description.split("## Files\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w.-]+\.(?:zip|csv|parquet|json|png|md))`", files_section))
    assert named and named <= {p.name for p in stage.iterdir()}, named
    assert "data/" not in files_section and "(preview.png)" not in description

    folder = unpack(stage, tmp_path / "input" / "bird-spectrograms")
    ds = load(folder)
    local = load(built[layout])
    for split in local:
        assert ds[split].features == local[split].features
        assert ds[split].num_rows == local[split].num_rows
    assert type(ds["train"].features["label"]).__name__ == "ClassLabel"
    assert set(ATTRIBUTION) <= set(ds["train"].column_names)
    mlc = pytest.importorskip("mlcroissant")
    records = list(mlc.Dataset(str(folder / "croissant.json")).records("train"))
    assert len(records) == local["train"].num_rows


def test_kaggle_push_with_a_licence_sets_cover_subtitle_and_keywords(built, kaggle, client_env):
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    result = run_client("push", built["imagefolder"], "--to", "kaggle", "--license", "cc-by-nc-sa-4.0", env=env)
    assert result.returncode == 0, result.output
    assert "no licence set" not in result.stderr
    dataset = kaggle.datasets["alice/demo-birds"]
    sent = dataset.create
    assert sent["licenseName"] == "CC-BY-NC-SA-4.0" and sent["subtitle"].startswith("Mel spectrograms of 8 recordings in 2 classes")
    assert sent["categoryIds"] == ["audio", "image classification"]
    files = kaggle.files_of(sent)
    assert "README.md" in files and "croissant.json" in files and "dataset-cover-image.png" not in files
    card = card_of(files["README.md"].decode())
    assert card.data.license == "cc-by-nc-sa-4.0" and "/kaggle/input/demo-birds" in card.text
    (settings,) = dataset.settings  # the cover image, through the client's metadata update
    assert settings["image"]["token"] in kaggle.blobs and settings["isPrivate"] is True  # still private
    cover = kaggle.blobs[settings["image"]["token"]]
    assert bytes(cover.data) == (built["imagefolder"] / "preview.png").read_bytes()
    again = run_client("push", built["imagefolder"], "--to", "kaggle", "--license", "cc-by-nc-sa-4.0", env=env)
    assert again.returncode == 0, again.output
    assert len(dataset.versions) == 2 and len(dataset.settings) == 1  # a version leaves the settings alone


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("to", ["hf", "kaggle"])
def test_an_unreachable_service_is_its_own_error(to, built, tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    env = make_client_env(tmp_path)
    if to == "hf":
        env.update(HF_ENDPOINT=url, HF_TOKEN=HF_TOKEN)
        args = ["--repo", "alice/birds"]
    else:
        env.update(KAGGLE_API_ENVIRONMENT="LOCALHOST", HTTP_PROXY=url, HTTPS_PROXY=url, http_proxy=url,
                   https_proxy=url, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
        args = []
    result = run_client("push", built["parquet"], "--to", to, "--license", "other", *args, env=env)
    assert result.returncode == 6, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: cannot reach ") and "Traceback" not in result.output
    assert "credentials" not in errors[0] and "token" not in errors[0]
    debug = run_client("push", built["parquet"], "--to", to, "--license", "other", *args,
                       env=dict(env, PUSH_CLIENT_DEBUG="1"))
    assert debug.returncode == 6 and "Traceback" in debug.output, debug.output  # --debug adds, changes nothing
    assert debug.stderr.strip().splitlines()[-1] == errors[0]


def test_kaggle_push_without_a_licence_is_unknown_with_one_warning(built, kaggle, client_env):
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    result = run_client("push", built["parquet"], "--to", "kaggle", "--id", "alice/birds-parquet", env=env)
    assert result.returncode == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "no licence set" in warnings[0]
    sent = kaggle.datasets["alice/birds-parquet"].create
    assert sent["licenseName"] == "unknown"
    files = kaggle.files_of(sent)
    assert card_of(files["README.md"].decode()).data.license == "unknown"
    assert json.loads(files["croissant.json"])["url"] == "https://www.kaggle.com/datasets/alice/birds-parquet"


class _ImageFolder:
    """torchvision's ``DatasetFolder`` as far as the card's snippet needs it: classes from
    ``find_classes`` (every sub-folder, sorted), samples from walking each class's folder."""

    def __init__(self, root):
        import os

        self.classes, self.class_to_idx = self.find_classes(root)
        self.samples = [(os.path.join(d, f), index) for cls, index in sorted(self.class_to_idx.items())
                        for d, _, files in sorted(os.walk(os.path.join(root, cls))) for f in sorted(files)
                        if f.endswith(".png")]

    def find_classes(self, directory):
        import os

        classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
        return classes, {c: i for i, c in enumerate(classes)}


def test_kaggle_description_maps_folders_to_the_classlabel_ids_for_torchvision(tmp_path, monkeypatch):
    """The demo's test split has no game_sfx or kick_drum: ImageFolder on it alone numbers tabla 1, not 3.
    The description gives the class list and an ImageFolder that keeps the header's ids."""
    import types

    import pyarrow.parquet

    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "builder", "build", str(REPO / "examples" / "demo.yaml"), "-o",
                           str(out), "-j", "1"], capture_output=True, text=True, cwd=str(REPO), timeout=600)
    assert done.returncode == 0, done.stderr
    stage = tmp_path / "stage"
    result = run_client("push", out, "--to", "kaggle", "--id", "alice/demo-spectra", "--dry-run", stage,
                        env=make_client_env(tmp_path))
    assert result.returncode == 0, result.output
    description = json.loads((stage / "dataset-metadata.json").read_text())["description"]
    section = description.split("## Load it without datasets\n", 1)[1].split("\n## ", 1)[0]
    assert "4 classes" in section
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'Split("/kaggle/input/demo-spectra/train")' in code
    folder = unpack(stage, tmp_path / "input" / "demo-spectra")
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = types.SimpleNamespace(ImageFolder=_ImageFolder)
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", torchvision.datasets)
    scope: dict = {}
    exec(code.replace("/kaggle/input/demo-spectra", str(folder)), scope)
    names = ["drum_loop", "game_sfx", "kick_drum", "tabla"]  # the header's ClassLabel, sorted
    for split in ("train", "validation", "test"):
        meta = pyarrow.parquet.read_table(folder / split / "metadata.parquet")
        want = dict(zip(meta.column("file_name").to_pylist(), meta.column("label").to_pylist()))
        got = {Path(p).relative_to(folder / split).as_posix(): i for p, i in scope["Split"](folder / split).samples}
        assert got == want and scope["Split"](folder / split).classes == names
    plain = _ImageFolder(folder / "test")  # what the snippet avoids
    assert plain.class_to_idx["tabla"] != names.index("tabla")

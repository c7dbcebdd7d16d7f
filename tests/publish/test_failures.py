"""Failures: credentials missing or rejected, 5xx bursts, dropped connections, interrupted pushes."""

from __future__ import annotations

import io
import zipfile

from tests.helpers.publish import KAGGLE_KEY, KAGGLE_TOKEN, hub_env, interrupt_client, kaggle_env, run_client


def one_line_error(result, *needles: str) -> None:
    assert result.returncode == 5, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0]


def local_files(out) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and ".spectroset" not in p.parts}


# --------------------------------------------------------------------------- credentials


def test_hf_missing_token(imagefolder_out, hub, client_env):
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/x-y", env=hub_env(client_env, hub, None))
    one_line_error(result, "HF_TOKEN")
    assert hub.log == []


def test_main_cli_reports_a_missing_token_in_one_line(imagefolder_out, client_env):
    import subprocess
    import sys

    from tests.helpers.publish import REPO_ROOT

    proc = subprocess.run([sys.executable, "-m", "builder", "push", str(imagefolder_out), "--to", "hf", "--repo",
                           "alice/x-y"], env=client_env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert proc.returncode == 5 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "error: no Hugging Face token: set HF_TOKEN to a write token (or run `hf auth login`)"]


def test_hf_rejected_token(imagefolder_out, hub, client_env):
    env = hub_env(client_env, hub, token="hf_WRONGtokenWRONGtokenWRONG")
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/x-y", env=env)
    one_line_error(result, "HF_TOKEN", "rejected")
    assert hub.repos == {} and hub.lfs == {}
    assert "hf_WRONGtokenWRONGtokenWRONG" not in result.output


def test_hf_token_from_login_cache(imagefolder_out, hub, client_env, tmp_path):
    from tests.helpers.publish import HF_TOKEN

    (tmp_path / "hf").mkdir(exist_ok=True)
    (tmp_path / "hf" / "token").write_text(HF_TOKEN)
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/x-y", env=hub_env(client_env, hub, None))
    assert result.returncode == 0, result.output
    assert "alice/x-y" in hub.repos


def test_kaggle_missing_credentials(imagefolder_out, kaggle, client_env):
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=kaggle_env(client_env, kaggle))
    one_line_error(result, "KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "kaggle.json")
    assert kaggle.log == []


def test_kaggle_half_a_key(imagefolder_out, kaggle, client_env):
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=kaggle_env(client_env, kaggle, KAGGLE_USERNAME="alice"))
    one_line_error(result, "KAGGLE_KEY")
    assert kaggle.log == []


def test_kaggle_rejected_token(imagefolder_out, kaggle, client_env):
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN="KGAT_notAValidTokenAtAll000")
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=env)
    one_line_error(result, "KAGGLE_API_TOKEN", "rejected")
    assert kaggle.blobs == {} and kaggle.datasets == {}
    assert "KGAT_notAValidTokenAtAll000" not in result.output


def test_kaggle_rejected_key(imagefolder_out, kaggle, client_env):
    env = kaggle_env(client_env, kaggle, KAGGLE_USERNAME="alice", KAGGLE_KEY="deadbeefdeadbeef")
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=env)
    one_line_error(result, "KAGGLE_USERNAME and KAGGLE_KEY", "rejected")
    assert kaggle.blobs == {} and kaggle.datasets == {}
    assert "deadbeefdeadbeef" not in result.output


# --------------------------------------------------------------------------- transient failures


def test_hf_5xx_burst_is_retried(imagefolder_out, hub, client_env):
    hub.fail(1, path="/api/whoami")
    hub.fail(2, path="/api/repos/create", status=502)
    hub.fail(1, path="/preupload/")  # retried inside the client (1 s backoff)
    hub.fail(2, path="/commit/", status=500)
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=hub_env(client_env, hub))
    assert result.returncode == 0, result.output
    assert [s for _, _, s in hub.log if s >= 500] == [503, 502, 502, 503, 500, 500]
    remote = hub.files("alice/tiny-birds")
    assert {p: b for p, b in remote.items() if p != ".gitattributes"} == local_files(imagefolder_out)


def test_hf_persistent_5xx_gives_up_with_one_line(imagefolder_out, hub, client_env):
    hub.fail(100, path="/api/repos/create")
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=hub_env(client_env, hub))
    one_line_error(result, "create alice/tiny-birds", "503")
    assert len(hub.requests("POST", "/api/repos/create")) == 5


def test_hf_dropped_upload_is_retried(imagefolder_out, hub, client_env):
    hub.drop(1, method="PUT", path="/lfs/", after=40)
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=hub_env(client_env, hub))
    assert result.returncode == 0, result.output
    assert [e for e in hub.log if e[2] == 0]  # the connection was cut once
    remote = hub.files("alice/tiny-birds")
    assert {p: b for p, b in remote.items() if p != ".gitattributes"} == local_files(imagefolder_out)


def test_hf_interrupted_push_resumes_without_resending(imagefolder_out, hub, client_env):
    env = hub_env(client_env, hub)
    hub.stall_after_objects = 4
    interrupt_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env, server=hub)
    hub.stall_after_objects = None
    arrived = dict(hub.lfs_puts)
    assert 4 <= len(arrived) < 12 and len(hub.repos["alice/tiny-birds"].commits) == 1  # nothing committed
    result = run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=env)
    assert result.returncode == 0, result.output
    assert len(hub.lfs_puts) == 12 and set(hub.lfs_puts.values()) == {1}  # each object sent once
    remote = hub.files("alice/tiny-birds")
    assert {p: b for p, b in remote.items() if p != ".gitattributes"} == local_files(imagefolder_out)


def names_sent(kaggle) -> dict[str, int]:
    """Upload requests that carried bytes, per file name."""
    out: dict[str, int] = {}
    for blob in kaggle.blobs.values():
        out[blob.name] = out.get(blob.name, 0) + blob.puts
    return out


def test_kaggle_5xx_burst_is_retried(imagefolder_out, kaggle, client_env):
    kaggle.fail(1, path="GetDatasetStatus")
    kaggle.fail(2, path="StartBlobUpload", status=500)
    kaggle.fail(1, path="CreateDataset", status=502)
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=env)
    assert result.returncode == 0, result.output
    files = kaggle.files_of(kaggle.datasets["alice/tiny-birds"].create)
    assert sorted(files) == ["README.md", "build.json", "test.csv", "test.zip", "train.csv", "train.zip"]
    assert set(names_sent(kaggle).values()) == {1}


def test_kaggle_dropped_upload_is_retried(imagefolder_out, kaggle, client_env):
    # Within one run the client's HTTP adapter re-sends a cut PUT from the start; resuming from the
    # offset the server holds happens on the next run (see the interrupted-push test below).
    kaggle.drop(1, method="PUT", path="/upload/", after=600)
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=env)
    assert result.returncode == 0, result.output
    assert [e for e in kaggle.log if e[2] == 0]  # the connection was cut once
    files = kaggle.files_of(kaggle.datasets["alice/tiny-birds"].create)
    with zipfile.ZipFile(io.BytesIO(files["train.zip"])) as zf:
        assert zf.testzip() is None and len(zf.namelist()) == 7


def test_kaggle_interrupted_push_resumes_without_resending(imagefolder_out, kaggle, client_env):
    env = kaggle_env(client_env, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)
    kaggle.stall(method="PUT", path="/upload/", skip=2, after=300)
    interrupt_client("push", imagefolder_out, "--to", "kaggle", env=env, server=kaggle)
    assert kaggle.datasets == {} and sum(b.complete for b in kaggle.blobs.values()) == 2
    result = run_client("push", imagefolder_out, "--to", "kaggle", env=env)
    assert result.returncode == 0, result.output
    files = kaggle.files_of(kaggle.datasets["alice/tiny-birds"].create)
    assert sorted(files) == ["README.md", "build.json", "test.csv", "test.zip", "train.csv", "train.zip"]
    assert set(names_sent(kaggle).values()) == {1}  # the two finished files were not sent again
    assert any(b.resumed_at == [300] for b in kaggle.blobs.values())  # the cut one went on from byte 300


# --------------------------------------------------------------------------- secrets


def test_no_token_anywhere(imagefolder_out, hub, kaggle, client_env, tmp_path):
    from tests.helpers.publish import HF_TOKEN, SECRETS

    debug = dict(client_env, PUSH_CLIENT_DEBUG="1", VERBOSE="1", HF_DEBUG="1")  # --debug: logs and tracebacks
    hub.fail(1, path="/commit/")
    results = [
        run_client("push", imagefolder_out, "--to", "hf", "--repo", "alice/tiny-birds", env=hub_env(debug, hub)),
        run_client("push", imagefolder_out, "--to", "hf", "--repo", "bob/not-mine", env=hub_env(debug, hub)),
        run_client("push", imagefolder_out, "--to", "kaggle", env=kaggle_env(debug, kaggle, KAGGLE_API_TOKEN=KAGGLE_TOKEN)),
        run_client("push", imagefolder_out, "--to", "kaggle", env=kaggle_env(debug, kaggle, KAGGLE_USERNAME="alice",
                                                                           KAGGLE_KEY=KAGGLE_KEY)),
        run_client("push", imagefolder_out, "--to", "kaggle", "--dry-run", tmp_path / "st",
                   env=kaggle_env(debug, kaggle, KAGGLE_USERNAME="alice", KAGGLE_KEY=KAGGLE_KEY)),
    ]
    assert [r.returncode for r in results] == [0, 5, 0, 0, 0], [r.output[-2000:] for r in results]  # --debug keeps codes
    assert "Traceback" in results[1].output and "CredentialsError" in results[1].output
    assert "Authorization" in results[2].output or "Bearer" in results[2].output  # VERBOSE did print headers
    for result in results:
        for secret in SECRETS:
            assert secret not in result.output
    for path in [*tmp_path.rglob("*"), *imagefolder_out.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, path
    assert HF_TOKEN  # the fixture token really was used: the repo exists
    assert "alice/tiny-birds" in hub.repos

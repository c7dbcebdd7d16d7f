"""Loading a build config: YAML text (aliases bounded), ``--set`` overrides, relative paths, and
pydantic's errors turned into one :class:`ConfigError` line each.

A relative path written in a config file resolves against that file's folder (against the working
directory for a bundled preset); one typed on the command line (``--set source.path=…``, ``-o``)
against the working directory, as a shell user expects. Errors are :class:`ConfigError` lines of the
form ``file: dotted.key: message``; an unknown key gets a "did you mean" from :func:`config_keys`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .geometry import is_url
from .sections import Config
from ..errors import ConfigError

_INTERNAL_LOC = re.compile(r"^[a-z0-9_-]+\[.*\]$|^function-")  # pydantic's own names: lax-or-strict[...], union[...]
MAX_YAML_NODES = 100_000  # a config has hundreds; an alias bomb expands to billions
MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; refused unread beyond this
MAX_LIST_ITEMS = 10_000  # the longest list a config needs (tags, keep_columns) has tens of items


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses a document whose aliases expand past :data:`MAX_YAML_NODES` nodes,
    or that holds more than that many, or a list longer than :data:`MAX_LIST_ITEMS`.

    PyYAML shares an aliased node instead of copying it, so a "billion laughs" document loads in
    kilobytes; it is the first deep copy (or a model walking it) that grows to gigabytes. The
    expanded size is counted on the composed graph, each node once (memoised), before anything
    is constructed.
    """

    composed = 0

    def compose_node(self, parent, index):
        # Counted as the document is composed, so a long list stops at its bound, not at its end.
        self.composed += 1
        if isinstance(parent, yaml.SequenceNode) and index >= MAX_LIST_ITEMS:
            raise yaml.YAMLError(f"the list at line {parent.start_mark.line + 1} has more than {MAX_LIST_ITEMS:,} "
                                 "items (the bound on one list)")
        if self.composed > MAX_YAML_NODES:
            raise yaml.YAMLError(f"more than {MAX_YAML_NODES:,} values (the bound on a config)")
        return super().compose_node(parent, index)

    def compose_document(self):
        node = super().compose_document()
        _expanded_size(node)
        return node


def _expanded_size(root: yaml.Node) -> int:
    """Nodes the document has once every alias is copied out; ``yaml.YAMLError`` past the bound."""
    sizes: dict[int, int] = {}
    stack, active = [(root, False)], set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else \
            node.value if isinstance(node, yaml.SequenceNode) else []
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_YAML_NODES:
                raise yaml.YAMLError(f"its aliases expand to more than {MAX_YAML_NODES:,} values (an alias bomb?)")
            continue
        if key in active:
            raise yaml.YAMLError("the YAML refers to itself (a recursive alias)")
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with aliases bounded (see :class:`_BoundedLoader`)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _set_error(msg: str, key: str) -> ConfigError:
    return _error(msg, key, "", [key])


def apply_override(data: dict, assignment: str, origin: str) -> str:
    """Apply one ``--set a.b.c=value`` (the value is parsed as YAML); returns the dotted key."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError("expected KEY=VALUE", file=f"--set {assignment}")
    key = key.strip()
    try:
        value = load_yaml(raw) if raw.strip() else None
    except RecursionError:
        raise _set_error("value nests too deeply", key) from None
    except yaml.YAMLError as exc:
        if type(exc) is yaml.YAMLError:  # ours: a bound, about YAML that parses
            raise _set_error(str(exc), key) from None
        raise _set_error(f"value is not YAML: {exc.__class__.__name__}", key) from None
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None or isinstance(child, str):
            child = node[part] = {} if child is None else {"path": child} if part == "source" else {}
        if not isinstance(child, dict):
            raise _set_error(f"{part} is not a section", key)
        node = child
    node[parts[-1]] = value
    return key


def _resolve_paths(data: dict, base: Path, bundled: Path | None = None) -> None:
    """Make the relative paths of ``data`` absolute against ``base``; in a bundled preset
    (``bundled``: its folder), one that is not under ``base`` but is beside the preset (the demo
    audio events-raven names) resolves there, so the preset runs from any folder."""
    def fix(parent: dict | None, key: str) -> None:
        if isinstance(parent, dict) and isinstance(parent.get(key), str) and not is_url(parent[key]):
            try:
                p = Path(parent[key]).expanduser()
            except RuntimeError:  # "~someone" with no such user
                raise ConfigError(f"cannot expand {parent[key]!r}: no such user's home folder", key=key) from None
            here = base / p
            if bundled is not None and not here.exists() and (bundled / p).exists():
                here = bundled / p
            parent[key] = os.path.normpath(p if p.is_absolute() else here)

    source = data.get("source")
    if isinstance(source, dict):
        for parent, key in ((source, "path"), (source.get("labels"), "csv"), (source.get("labels"), "events")):
            fix(parent, key)
        dataset = source.get("dataset")  # a local folder is made absolute; USER/NAME stays a Hub id
        if isinstance(dataset, str) and (dataset.startswith((".", "/", "~")) or (base / dataset).is_dir()):
            fix(source, "dataset")
    for key in ("path", "staging"):
        fix(data.get("output"), key)


_UNION_MODELS = ("CsvLabels", "EventLabels")


def config_keys(model: type[BaseModel] = None, prefix: str = "") -> list[str]:
    """Every dotted key a config may set, sections included (``spectrogram``, ``spectrogram.n_mels``)."""
    import typing

    keys = []
    for name, field in (model or Config).model_fields.items():
        keys.append(prefix + name)
        todo = [field.annotation]
        while todo:
            t = todo.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                keys += config_keys(t, f"{prefix}{name}.")
            else:
                todo += typing.get_args(t)
    return list(dict.fromkeys(keys))


def did_you_mean(key: str) -> str:
    """`` (did you mean a.b?)`` for the closest valid keys to an unknown one, else ``""``."""
    import difflib

    valid = config_keys()
    leaf = key.rsplit(".", 1)[-1]
    close = [k for k in valid if k.rsplit(".", 1)[-1] == leaf]  # the right name in the wrong section
    close = close or difflib.get_close_matches(key, valid, n=2, cutoff=0.75)
    if not close:  # a short typo in a long path
        leaves = {k.rsplit(".", 1)[-1]: k for k in reversed(valid)}
        close = [leaves[m] for m in difflib.get_close_matches(leaf, list(leaves), n=2, cutoff=0.7)]
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _where(key: str | None, origin: str, set_keys: list[str]) -> tuple[str, str | None]:
    """(file, key) for a message: ``--set KEY`` when an override wrote ``key`` (or a section above
    or below it), else the config file and the key."""
    for k in reversed(set_keys):
        if key and (key == k or key.startswith(k + ".") or k.startswith(key + ".")):
            return f"--set {k}", None if key == k else key
    return origin, key


def _format(exc: ValidationError, origin: str, set_keys: list[str] = ()) -> ConfigError:
    errors = exc.errors()
    # A mapping under a Literal|Model union fails both branches; the Literal complaint is noise then.
    model_fields = {e["loc"][: [str(p) for p in e["loc"]].index(m)] for e in errors for m in _UNION_MODELS
                    if m in map(str, e["loc"])}
    errors = [e for e in errors if not (e["type"] == "literal_error" and e["loc"][:-1] in model_fields)]
    # A derived default (windows.hop) is not computed once the field it derives from failed.
    errors = [e for e in errors if e["type"] != "default_factory_not_called"] or errors
    lines = []
    for err in errors:
        loc = [str(p) for p in err["loc"]
               if not _INTERNAL_LOC.match(str(p)) and str(p) not in _UNION_MODELS]
        msg = err["msg"].removeprefix("Value error, ")
        keyed = err.get("ctx", {}).get("error")  # a ConfigError raised by a validator (geometry._bad)
        if isinstance(keyed, ConfigError):
            loc, msg = loc + [keyed.key] if keyed.key else loc, keyed.message
        key = ".".join(dict.fromkeys(loc)) or "(top level)"
        if err["type"] == "extra_forbidden":
            msg = "unknown key" + did_you_mean(key)
        lines.append(_error(msg, key, origin, set_keys))
    lines[0].details = [str(e) for e in lines]
    return lines[0]


def _error(msg: str, key: str | None, origin: str, set_keys: list[str]) -> ConfigError:
    """A ConfigError whose line names ``--set KEY`` or the file; ``.key`` is the full key either way."""
    where, shown = _where(key, origin, set_keys)
    error = ConfigError(msg, file=where, key=shown)
    error.key = key
    return error


def parse_config(data: Any, origin: str, base: Path, overrides: list[str] = (), bundled: Path | None = None
                 ) -> Config:
    """Validate a loaded YAML document (plus --set overrides) into a :class:`Config`.

    Paths in ``data`` resolve against ``base``; paths set by ``overrides`` against the working
    directory (they were typed in a shell there). ``bundled``: the folder of a bundled preset,
    whose output defaults to ``out/<name>`` in the working directory, never beside the preset.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping", file=origin)
    try:
        data = json.loads(json.dumps(data, default=str))  # deep copy; YAML dates etc. become strings
    except (ValueError, RecursionError):
        raise ConfigError("the YAML refers to itself (a recursive alias) or nests too deeply", file=origin) from None
    _resolve(data, base, origin, bundled)
    set_keys = [apply_override(data, assignment, origin) for assignment in overrides]
    _resolve(data, Path.cwd(), "--set")  # only the overrides' paths are still relative
    data.setdefault("name", Path(origin).stem)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise _format(exc, origin, set_keys) from None
    except ConfigError as exc:  # geometry checks raised outside pydantic's wrapping
        raise _error(exc.message, exc.key, origin, set_keys) from None
    except ValueError as exc:
        raise _error(str(exc), None, origin, set_keys) from None
    if cfg.output.path is None:
        default = (Path.cwd() if bundled else base) / "out" / re.sub(r"[^\w.-]+", "-", cfg.name).strip("-.")
        cfg = cfg.model_copy(update={"output": cfg.output.model_copy(update={"path": default})})
    return cfg


def _resolve(data: dict, base: Path, origin: str, bundled: Path | None = None) -> None:
    if isinstance(data.get("source"), str):
        data["source"] = {"path": data["source"]}
    try:
        _resolve_paths(data, base, bundled)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=origin, key=exc.key) from None


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Load a config file, or a bundled preset by name (see ``spectroset presets``)."""
    from .presets import close_presets, find_preset, in_this_install, is_bundled, preset_folder

    path = Path(path)
    origin, base = str(path), path.resolve().parent
    if path.is_file() and is_bundled(path):  # a bundled preset by its path: as by its name
        base = Path.cwd()
    elif not path.is_file():
        preset = find_preset(str(path))
        if preset is None:
            close = close_presets(str(path))
            hint = f"did you mean {' or '.join(close)}? " if close and path.parent == Path(".") else ""
            raise ConfigError(f"no such config file or preset ({hint}see `spectroset presets`)", file=str(path))
        path, origin, base = preset, preset.name, Path.cwd()
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)  # never the whole of a huge file
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"more than {MAX_CONFIG_BYTES:,} bytes, the bound on a config file", file=origin)
        data = load_yaml(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc.__class__.__name__}", file=origin) from None
    except RecursionError:
        raise ConfigError("the YAML nests too deeply", file=origin) from None
    except yaml.YAMLError as exc:
        if type(exc) is yaml.YAMLError:  # ours: the alias bound
            raise ConfigError(str(exc), file=origin) from None
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{problem}", file=origin, key=where) from None
    return in_this_install(parse_config(data, origin, base, overrides, preset_folder(path)), path)

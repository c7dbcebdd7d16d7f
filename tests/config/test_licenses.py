"""Licence ids: both spellings accepted and mapped to each target's, unknown ones refused with the closest."""

from __future__ import annotations

import pytest

from builder.config import licenses as lic
from builder.errors import ConfigError
from builder.config.loading import parse_config


@pytest.mark.parametrize("value, hub, kaggle", [
    ("cc-by-4.0", "cc-by-4.0", "CC-BY-4.0"), ("CC-BY-4.0", "cc-by-4.0", "CC-BY-4.0"),
    ("CC0-1.0", "cc0-1.0", "CC0-1.0"), ("cc0-1.0", "cc0-1.0", "CC0-1.0"),
    ("ODbL-1.0", "odbl", "ODbL-1.0"), ("odbl", "odbl", "ODbL-1.0"),
    ("cc-by-nc-sa-4.0", "cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0"), ("Apache-2.0", "apache-2.0", "apache-2.0"),
    ("mit", "mit", "other"),  # no Kaggle name: `other`
    ("US-Government-Works", "other", "US-Government-Works"),  # no Hub id: `other`
    ("other", "other", "other"), ("unknown", "unknown", "unknown"), (None, "unknown", "unknown"),
])
def test_both_spellings_map_to_each_target(value, hub, kaggle):
    assert lic.hub_id(value) == hub and lic.kaggle_name(value) == kaggle


def test_every_kaggle_name_round_trips_where_the_hub_has_the_licence():
    for name, hub in lic.KAGGLE_TO_HUB.items():
        assert hub in lic.HUB_IDS
        if hub != "other":
            assert lic.kaggle_name(hub) == name and lic.hub_id(name) == hub


@pytest.mark.parametrize("bad, closest", [("not a licence", None), ("cc-by-4", "cc-by-4.0"), ("CC0", "cc0-1.0"),
                                          ("apache2", "apache-2.0"), ("", None)])
def test_unknown_values_are_refused_with_the_closest(bad, closest):
    with pytest.raises(ValueError, match="is not a licence id; closest: ") as info:
        lic.check(bad)
    if closest:
        assert closest in str(info.value).split("closest: ")[1].split(" (")[0].lower()


def test_config_refuses_a_bad_licence_in_one_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        parse_config({"source": "audio", "publish": {"license": "CC-BY-4"}}, "x.yaml", tmp_path)
    assert str(info.value).startswith("x.yaml: publish.license: 'CC-BY-4' is not a licence id; closest: CC-BY-4.0")
    with pytest.raises(ConfigError, match="publish.kaggle.license"):
        parse_config({"source": "audio", "publish": {"kaggle": {"license": "nope"}}}, "x.yaml", tmp_path)
    cfg = parse_config({"source": "audio"}, "x.yaml", tmp_path)
    assert cfg.publish.license is None and cfg.publish.kaggle.license is None  # no silent default


@pytest.mark.parametrize("cell, hub", [
    ("Creative Commons Attribution-NonCommercial-ShareAlike 4.0", "cc-by-nc-sa-4.0"),  # BirdCLEF 2023
    ("Creative Commons Attribution 4.0", "cc-by-4.0"),
    ("Creative Commons Attribution-ShareAlike 3.0", "cc-by-sa-3.0"),
    ("http://creativecommons.org/licenses/by-nc-nd/4.0/", "cc-by-nc-nd-4.0"),  # xeno-canto URLs
    ("//creativecommons.org/licenses/by-nc-sa/3.0/", "cc-by-nc-sa-3.0"),
    ("CC BY-NC 4.0", "cc-by-nc-4.0"), ("CC-BY-4.0", "cc-by-4.0"), ("cc0", "cc0-1.0"),
    ("Public Domain", "pddl"), ("", None), (None, None), ("all rights reserved", None),
])
def test_recordings_licence_cells(cell, hub):
    assert lic.recording_license(cell) == hub


def test_more_permissive_than_a_recording():
    assert lic.more_permissive("cc0-1.0", "cc-by-4.0")  # drops attribution
    assert lic.more_permissive("cc-by-4.0", "cc-by-nc-sa-4.0")  # drops non-commercial and share-alike
    assert lic.more_permissive("cc-by-4.0", None)  # a recording of unknown licence: all rights reserved
    assert not lic.more_permissive("cc-by-nc-sa-4.0", "cc-by-4.0")
    assert not lic.more_permissive("cc-by-nc-sa-4.0", "cc-by-nc-sa-4.0")
    assert not lic.more_permissive("unknown", "cc-by-nc-nd-4.0") and not lic.more_permissive("other", None)


def test_every_kaggle_licence_the_hub_lacks_has_a_name_and_a_link():
    """The Hub's spec for ``license: other``: ``license_name`` and ``license_link`` with it."""
    lacking = {name for name, hub in lic.KAGGLE_TO_HUB.items() if hub == "other" and name != "other"}
    assert lacking == set(lic.OTHER_LICENCES)
    for name in lacking:
        fields = lic.hub_fields(name.upper())  # either spelling
        assert fields["license"] == "other" and fields["license_name"] == name.lower() and fields["license_link"]
    assert lic.hub_fields("other") == {"license": "other"} and lic.hub_fields(None) == {"license": "unknown"}
    assert lic.hub_fields("CC-BY-4.0") == {"license": "cc-by-4.0"}
    assert lic.described("us-government-works").startswith("U.S. Government Works (`US-Government-Works`, https://")
    assert lic.described("CC-BY-4.0") == "`CC-BY-4.0`"  # as spelt: Kaggle's name in Kaggle's text

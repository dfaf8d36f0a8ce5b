"""'Does this model know your image?' — the domain line (#20, item 5)."""

from types import SimpleNamespace

from core.models.checkpoint import BUNDLED_MODEL, load_model
from core.models.domain import domain_line, held_out_figure


def test_the_bundled_model_knows_its_held_out_figure():
    held = held_out_figure(load_model(BUNDLED_MODEL, device="cpu"))
    assert held is not None and held.domain == "emoji" and 2.5 < held.bpd < 3.2


def test_a_photo_far_outside_gets_one_line_naming_the_model_that_fits_and_an_emoji_gets_none():
    model = load_model(BUNDLED_MODEL, device="cpu")
    others = [SimpleNamespace(label="ideal:emoji", domain=""), SimpleNamespace(label="emoji32", domain="emoji")]
    others.append(SimpleNamespace(label="photo", domain="photographs"))
    line = domain_line(model, 10.6, others)
    assert line is not None and "10.6" in line and "2.9" in line and "photo model" in line and "\n" not in line
    assert domain_line(model, 3.1, others) is None


def test_a_model_without_an_evaluation_says_nothing(tmp_path):
    assert domain_line(SimpleNamespace(path=tmp_path, name="mine"), 50.0) is None
    assert domain_line(SimpleNamespace(path=None, name="mine"), 50.0) is None


def test_the_model_menu_lists_both_networks_and_the_closed_forms_of_their_data():
    from core.models.catalogue import bundled_choices

    labels = [c.label for c in bundled_choices()]
    assert labels[:2] == ["emoji32", "photo"]
    assert {"ideal:emoji", "gaussian:emoji", "gaussian:photos"} <= set(labels)

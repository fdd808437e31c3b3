import pytest

from affectbench.errors import SpecError, UnknownNameError
from affectbench.spec import dump_toml, load_spec

BASE = {"name": "t", "corpus": {"name": "demo"}}


def test_defaults_and_override(tmp_path):
    s = load_spec(data=BASE, overrides=["head.kind=logreg", "features.jobs=2", "seed=7",
                                        "features.extractors=['egemaps', 'tfidf']"])
    assert s.head.kind == "logreg" and s.features.jobs == 2 and s.seed == 7
    assert s.features.extractors == ["egemaps", "tfidf"]
    assert s.protocol.valid_groups == 1 and s.features.normalization == "fold"


def test_misspelt_key_names_key_and_suggests(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('name = "x"\n[corpus]\nname = "demo"\n[features]\nextractor = ["egemaps"]\n')
    with pytest.raises(SpecError, match=r"s\.toml: unknown key 'features\.extractor'\. Did you mean 'extractors'\?"):
        load_spec(p)


def test_unknown_extractor_and_corpus_list_valid_names():
    with pytest.raises(UnknownNameError, match=r"unknown extractor 'egemap'.*Valid: .*egemaps.*minilm"):
        load_spec(data={**BASE, "features": {"extractors": ["egemap"]}})
    with pytest.raises(UnknownNameError, match=r"unknown corpus 'emodbb'.*Valid: .*emodb.*goemotions"):
        load_spec(data={"name": "t", "corpus": {"name": "emodbb"}})


def test_types_and_choices_are_checked():
    with pytest.raises(SpecError, match="'features.jobs' must be an integer"):
        load_spec(data={**BASE, "features": {"jobs": "two"}})
    with pytest.raises(SpecError, match="'features.normalization' = 'zscore' is not one of"):
        load_spec(data={**BASE, "features": {"normalization": "zscore"}})
    with pytest.raises(SpecError, match="expected key=value"):
        load_spec(data=BASE, overrides=["head.kind"])


def test_relative_root_is_relative_to_the_spec_file(tmp_path):
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "s.toml"
    p.write_text('name = "x"\n[corpus]\nname = "emodb"\nroot = "../data/emodb"\n')
    assert load_spec(p).corpus.root == str((tmp_path / "data" / "emodb").resolve())


def test_resolved_spec_round_trips_through_toml(tmp_path):
    s = load_spec(data={**BASE, "features": {"extractors": ["tfidf"], "options": {"tfidf": {"ngram_max": 4}}}})
    p = tmp_path / "r.toml"
    p.write_text(dump_toml(s.to_dict()))
    again = load_spec(p)
    assert again.to_dict() == s.to_dict()


def test_examples_demo_toml_is_the_builtin_demo():
    from pathlib import Path

    from affectbench.demo import demo_spec

    example = load_spec(Path(__file__).parents[1] / "examples" / "demo.toml").to_dict()
    assert example == demo_spec().to_dict()

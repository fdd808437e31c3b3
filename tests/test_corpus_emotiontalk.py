"""EmotionTalk adapter on a miniature release: tar shards and extracted tree."""
from __future__ import annotations

import io
import json
import shutil
import tarfile

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from affectbench import manifest as mf
from affectbench import tario
from affectbench.corpora import corpus_names, get_corpus
from affectbench.corpora.emotiontalk import CLASSES, EmotionTalk, strip_markup
from affectbench.errors import CorpusError, MediaError
from affectbench.protocol import make_folds
from fixtures import emotiontalk_fixture as fx


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("emotiontalk_shards")
    utts = fx.build(root)
    return root, utts


@pytest.fixture(scope="module")
def prepared(release):
    root, utts = release
    return get_corpus("emotiontalk").prepare(root)


@pytest.fixture
def copy(release, tmp_path):
    """A private copy of the shard release a test may damage."""
    dst = tmp_path / "et"
    shutil.copytree(release[0], dst)
    return dst


def test_registered():
    assert "emotiontalk" in corpus_names()


def test_manifest_from_shards(release, prepared):
    _, utts = release
    df = prepared.manifest.set_index("id")
    truth = {u.id: u for u in utts}
    assert len(df) == 40 and set(df.index) == set(truth)
    assert prepared.issues.skipped == []
    for uid, u in truth.items():
        r = df.loc[uid]
        assert r["label"] == u.released["multimodal"]
        for m in fx.MODALITIES:
            assert r[f"label_{m}"] == u.released[m], (uid, m)
        assert r["speaker"] == u.speaker
        assert r["session"] == u.group and r["dialogue"] == f"{u.group}_{u.dialogue:02d}"
        assert r["turn"] == u.turn
        assert r["split"] == u.split
        assert r["text"] == u.content  # markup kept in the manifest
        assert r["sentiment"] == pytest.approx(u.sentiment)
        assert r["language"] == "zh"
        assert r["audio"].startswith("tar:///") and r["audio"].endswith(f"#{u.key}.wav")
        assert pd.isna(r["video"])  # the fixture's Video shard has JSONs only
        votes = json.loads(r["votes"])
        assert set(votes) == set(fx.MODALITIES)
        raters = votes["multimodal"]["raters"]
        assert sorted(raters) == list("ABCDE")
        assert [(v["emotion"], round(v["confidence"] * 10), v["continuous"]) for v in raters.values()] == [
            (lab, deg, cont) for lab, deg, cont in u.raters["multimodal"]]
        assert votes["audio"]["result"] == u.released["audio"]
        meta = json.loads(r["meta"])
        assert meta["duration"] == 900 and meta["caption_5"].startswith("说话人是") and "emo_cap" in meta
    assert set(df["speaker"]) == {"01", "02", "03", "04"}
    assert any("[over/]" in t for t in df["text"])


def test_labels_are_canonical_whatever_the_spelling(prepared):
    df = prepared.manifest
    for col in ("label", "label_text", "label_audio", "label_video", "label_multimodal"):
        assert set(df[col]) <= set(CLASSES)
    assert {"fear", "disgust", "surprise"} <= set(df["label"])  # released as fearful/disgusted/surprised


def test_split_is_by_group_and_never_mixes_groups(prepared):
    df = prepared.manifest
    groups = {s: set(df.loc[df["split"] == s, "session"]) for s in ("train", "dev", "test")}
    assert groups == {"train": {"G00002", "G00004"}, "dev": {"G00001"}, "test": {"G00003"}}
    assert not (groups["train"] & (groups["dev"] | groups["test"]))
    assert df["split"].value_counts().to_dict() == {"train": 20, "dev": 10, "test": 10}
    fold, = make_folds(df, "official")
    sess = df["session"].to_numpy()
    assert set(sess[fold.train]) == {"G00002", "G00004"}
    assert set(sess[fold.valid]) == {"G00001"} and set(sess[fold.test]) == {"G00003"}
    # actors recur across groups: the official split is not speaker-independent, and says so
    assert fold.test_speakers_seen_in_training == 2
    assert any("not speaker-independent" in c for c in prepared.caveats)


def test_expected_counts_are_consistent():
    c = EmotionTalk()
    assert c.expected["total"] == 19250 == sum(c.expected["split"].values())
    assert sum(c.expected["label"].values()) == 19250
    for split, counts in c.expected_by_split.items():
        assert sum(counts.values()) == c.expected["split"][split]
    # a manifest with exactly the README's numbers passes check()
    rows = []
    spk = [f"{i:02d}" for i in range(1, 20)]
    for split, counts in c.expected_by_split.items():
        for lab, n in counts.items():
            rows += [(split, lab)] * n
    df = pd.DataFrame(rows, columns=["split", "label"])
    df["speaker"] = [spk[i % 19] for i in range(len(df))]
    df["dialogue"] = [f"D{i % 744}" for i in range(len(df))]
    df["label_multimodal"] = df["label"]
    df["id"] = [f"u{i}" for i in range(len(df))]
    assert c.check(df) == []
    assert any("19250" in p for p in c.check(df.iloc[:-1]))


def test_mini_copy_is_reported_incomplete(prepared):
    problems, warnings = prepared.problems, prepared.warnings
    assert "40 utterances, a complete copy has 19250" in problems
    assert any(p.startswith("split 'dev' label") for p in warnings)  # README table: unverified
    assert any("speakers" in p for p in problems)


def test_audio_member_opens(prepared):
    uri = prepared.manifest["audio"].iloc[0]
    data = tario.open_member(uri)
    x, sr = sf.read(io.BytesIO(data))
    assert sr == 44100 and len(x) > 1000
    tario._index.clear()  # a fresh process: the index is rebuilt from the shard headers
    assert tario.open_member(uri) == data
    with pytest.raises(MediaError, match="no member"):
        tario.open_member(uri.rsplit("#", 1)[0] + "#G00001/nothing.wav")
    with pytest.raises(MediaError, match="not found"):
        tario.open_member("tar:///no/such/shard.tar#a.wav")


def test_extracted_tree_gives_the_same_manifest(release, prepared, tmp_path):
    utts = fx.build(tmp_path / "tree", layout="tree")
    p = get_corpus("emotiontalk").prepare(tmp_path / "tree")
    assert mf.fingerprint(p.manifest) == mf.fingerprint(prepared.manifest)
    a = p.manifest["audio"].iloc[0]
    assert not a.startswith("tar://") and sf.info(a).samplerate == 44100
    assert len(utts) == len(p.manifest)


def test_views(prepared, release):
    c = get_corpus("emotiontalk")
    df = prepared.manifest
    _, utts = release
    want = lambda m, classes: sum(u.released[m] in classes for u in utts)  # noqa: E731
    assert len(c.labelset.view("all").apply(df)) == 40
    four = ("neutral", "happy", "sad", "angry")
    assert len(c.labelset.view("four").apply(df)) == want("multimodal", four)
    a4 = c.labelset.view("audio_four").apply(df)
    assert len(a4) == want("audio", four)
    assert (a4["y"] == a4["label_audio"]).all() and (a4["label"] == a4["label_audio"]).all()
    t7 = c.labelset.view("text_all").apply(df)
    assert (t7["y"] == t7["label_text"]).all()
    assert (df["label_text"] != df["label"]).any()  # so the test above means something
    b = c.labelset.view("binary").apply(df)
    s = df["sentiment"]
    assert len(b) == int((s != 0).sum())
    assert set(b.loc[b["sentiment"] > 0, "y"]) == {"positive"}
    assert set(b.loc[b["sentiment"] < 0, "y"]) == {"negative"}
    # the hook does the same job for callers that want the target in `label` up front
    sel = c.select_target(df, "video_four")
    assert (sel["label"] == df["label_video"]).all()
    assert (c.select_target(df, "four")["label"] == df["label"]).all()


def test_view_on_missing_modality_label_drops_and_counts(copy):
    # one utterance without its Text JSON
    tf_path = next((copy / "data" / "Text").glob("*.tar"))
    with tarfile.open(tf_path) as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    gone = members[0][0].name
    with tarfile.open(tf_path, "w") as dst:
        for m, data in members[1:]:
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(CorpusError, match="no text annotation"):
        get_corpus("emotiontalk").prepare(copy)
    p = get_corpus("emotiontalk").prepare(copy, on_error="skip")
    assert len(p.manifest) == 40
    assert any("no text annotation" in prob for _, prob in p.issues.skipped)
    v = p.corpus.labelset.view("text_all").apply(p.manifest)
    assert len(v) == 39 and v.attrs["dropped_no_target"] == 1
    assert gone.endswith(".json")


def test_agreement_report(prepared):
    c = get_corpus("emotiontalk")
    rep = c.agreement_report(prepared.manifest)["modalities"]
    assert set(rep) == set(fx.MODALITIES)
    mm = rep["multimodal"]
    assert mm["items"] == 40 and mm["raters"] == 5 and mm["paper_kappa"] == 0.78
    # released labels that the paper's rule does not reproduce: the expert overrides only
    assert [d["id"] for d in mm["weighted"]["list"]] == ["G00002_01_03_002"]
    assert mm["weighted"]["list"][0]["release"] == "angry"
    assert mm["weighted"]["agreement"] == pytest.approx(39 / 40)
    assert sorted(d["id"] for d in mm["majority"]["list"]) == ["G00002_01_03_002", fx.SPLIT_VOTE]
    assert [d["id"] for d in rep["audio"]["weighted"]["list"]] == ["G00004_02_01_002"]
    assert rep["text"]["weighted"]["disagreements"] == 0
    # kappa from an independent count of the votes
    votes = [json.loads(v)["video"]["raters"] for v in prepared.manifest["votes"]]
    m = np.array([[sum(r["emotion"] == c for r in v.values()) for c in CLASSES] for v in votes])
    n, N = 5, len(m)
    p = m.sum(0) / (N * n)
    pbar = ((m ** 2).sum(1) - n).sum() / (N * n * (n - 1))
    assert rep["video"]["fleiss_kappa"] == pytest.approx((pbar - (p ** 2).sum()) / (1 - (p ** 2).sum()))


def test_aggregation_options(release):
    root, utts = release
    maj = EmotionTalk(aggregation="majority").prepare(root)
    w = EmotionTalk(aggregation="weighted").prepare(root)
    rel = get_corpus("emotiontalk").prepare(root)
    lab = lambda p, uid: p.manifest.set_index("id").loc[uid, "label"]  # noqa: E731
    assert lab(rel, fx.SPLIT_VOTE) == "surprise" and lab(w, fx.SPLIT_VOTE) == "surprise"
    assert lab(maj, fx.SPLIT_VOTE) == "neutral"
    assert lab(rel, "G00002_01_03_002") == "angry"
    truth = {u.id: u for u in utts}
    assert lab(w, "G00002_01_03_002") == truth["G00002_01_03_002"].labels["multimodal"]
    assert w.manifest.set_index("id").loc["G00004_02_01_002", "label_audio"] == \
        truth["G00004_02_01_002"].labels["audio"]
    assert any("re-aggregated" in c for c in w.caveats)
    assert not any(p.startswith("label ") for p in w.problems + w.warnings)  # published counts not applied
    with pytest.raises(CorpusError, match="aggregation"):
        EmotionTalk(aggregation="vote")


def test_strip_markup():
    assert strip_markup("[over/]好的[/over]，我知道了。") == "好的，我知道了。"
    assert strip_markup("你说什么[interrupted]") == "你说什么"
    assert strip_markup("[over/]hello[/over] [interrupted]world") == "hello world"
    assert strip_markup("hello[interrupted]world") == "hello world"
    assert strip_markup("我[laugh]觉得  还行") == "我觉得 还行"
    assert strip_markup("no tags [at all here]") == "no tags [at all here]"
    assert strip_markup(None) is None
    assert EmotionTalk().text_for_features("[over/]嗯[/over]") == "嗯"


# ------------------------------------------------------------------------------ hostile input


@pytest.mark.parametrize("kind,why", [
    ("dotdot", "escapes"), ("nested_dotdot", "escapes"), ("absolute", "absolute"),
    ("symlink", "symbolic link"), ("hardlink", "hard link"), ("device", "device"), ("fifo", "FIFO")])
def test_hostile_members_refused(tmp_path, kind, why):
    shard = fx.hostile_shard(tmp_path / f"{kind}.tar", kind, benign=("Text/json/ok.json", b"{}"))
    with pytest.raises(CorpusError, match=why) as e:
        list(tario.iter_members(shard))
    assert str(shard) in str(e.value)
    report = tario.ShardReport(str(shard))
    got = list(tario.iter_members(shard, on_error="skip", report=report))
    assert [m.name for m in got] == ["Text/json/ok.json"]
    assert len(report.refused) == 1 and why in report.refused[0][1]
    assert not (tmp_path.parent / "escape.json").exists()


def test_hostile_shard_in_a_release(copy):
    evil = fx.hostile_shard(copy / "data" / "Text" / "zz_evil.tar", "dotdot")
    with pytest.raises(CorpusError) as e:
        get_corpus("emotiontalk").prepare(copy)
    assert str(evil) in str(e.value) and "../escape.json" in str(e.value)
    p = get_corpus("emotiontalk").prepare(copy, on_error="skip")
    assert len(p.manifest) == 40
    assert [w for w, _ in p.issues.skipped] == [f"{evil}#../escape.json"]


def test_truncated_shard(copy):
    mm = next((copy / "data" / "Multimodal").glob("*.tar"))
    fx.truncate(mm, keep=0.5)
    with pytest.raises(CorpusError, match="truncated") as e:
        get_corpus("emotiontalk").prepare(copy)
    assert str(mm) in str(e.value)
    p = get_corpus("emotiontalk").prepare(copy, on_error="skip")
    assert 0 < len(p.manifest) < 40  # what was read before the damage is kept
    where = [w for w, _ in p.issues.skipped]
    assert str(mm) in where
    assert sum("no Multimodal annotation" in prob for _, prob in p.issues.skipped) == 40 - len(p.manifest)


def test_truncated_between_members_is_caught(tmp_path):
    shard = tmp_path / "s.tar"
    with tarfile.open(shard, "w") as tf:
        for i in range(3):
            info = tarfile.TarInfo(f"m{i}.json")
            info.size = 600
            tf.addfile(info, io.BytesIO(b"x" * 600))
    # header 512 + data padded to 1024 per member: cut exactly after the second member
    fx.truncate(shard, at=2 * 1536)
    with pytest.raises(CorpusError, match="end-of-archive"):
        list(tario.iter_members(shard))
    report = tario.ShardReport(str(shard))
    assert len(list(tario.iter_members(shard, on_error="skip", report=report))) == 2
    assert report.truncated


def test_truncated_audio_member_fails_on_open(copy):
    audio = sorted((copy / "data" / "audio").glob("*.tar"))[-1]
    p = get_corpus("emotiontalk").prepare(copy)
    uri = p.manifest["audio"].iloc[-1]
    assert str(audio) in uri
    tario._index.clear()
    fx.truncate(audio, keep=0.9)
    with pytest.raises(MediaError):
        tario.open_member(uri)


def test_not_a_shard_and_not_a_root(tmp_path, copy):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"this is not a tar file at all" * 40)
    with pytest.raises(CorpusError, match="not a readable tar shard"):
        list(tario.iter_members(bad))
    with pytest.raises(CorpusError, match="Multimodal"):
        get_corpus("emotiontalk").prepare(tmp_path)


def test_broken_annotations_are_named(copy):
    tree = copy.parent / "tree"
    fx.build(tree, layout="tree")
    f = next((tree / "data" / "Text").rglob("*.json"))
    obj = json.loads(f.read_text())
    obj["speaker_id"] = "99"
    f.write_text(json.dumps(obj))
    g = sorted((tree / "data" / "Video").rglob("*.json"))[3]
    obj = json.loads(g.read_text())
    obj["data"]["A"]["emotion"] = "bored"
    g.write_text(json.dumps(obj))
    with pytest.raises(CorpusError) as e:
        get_corpus("emotiontalk").prepare(tree)
    assert "bored" in str(e.value) and g.name in str(e.value)
    p = get_corpus("emotiontalk").prepare(tree, on_error="skip")
    probs = dict(p.issues.skipped)
    assert any("speaker_id 99" in v for v in probs.values())
    # the speaker mismatch is left out; the bad video JSON only empties label_video
    assert len(p.manifest) == 39
    assert p.manifest["label_video"].isna().sum() == 1


def test_compressed_shard_and_uri_quoting(tmp_path):
    d = tmp_path / "odd #dir %x"
    d.mkdir()
    shard = d / "a.tar.gz"
    with tarfile.open(shard, "w:gz") as tf:
        for name, data in (("x/one.wav", b"RIFF1"), ("x/two#2.wav", b"RIFF22")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    got = {m.name: m for m in tario.iter_members(shard, want=lambda n: True)}
    assert got["x/two#2.wav"].data == b"RIFF22"
    uri = tario.member_uri(shard, "x/two#2.wav")
    assert tario.split_uri(uri) == (shard.resolve(), "x/two#2.wav")
    assert tario.open_member(uri) == b"RIFF22"
    assert tario.is_tar_uri(uri) and not tario.is_tar_uri(str(shard))
    with pytest.raises(MediaError):
        tario.split_uri("tar://relative.tar#x")


def test_oversized_member_is_not_read(tmp_path):
    shard = tmp_path / "big.tar"
    with tarfile.open(shard, "w") as tf:
        info = tarfile.TarInfo("Text/json/huge.json")
        info.size = 5000
        tf.addfile(info, io.BytesIO(b" " * 5000))
    with pytest.raises(CorpusError, match="huge.json"):
        list(tario.iter_members(shard, want=lambda n: True, max_read=4096))
    report = tario.ShardReport(str(shard))
    assert list(tario.iter_members(shard, want=lambda n: True, max_read=4096, on_error="skip",
                                   report=report)) == []
    assert report.refused


def test_open_member_beyond_the_remembered_media_index(prepared):
    # reading the shards remembers only the media members; any other member still opens
    uri = prepared.manifest["audio"].iloc[0]
    assert tario.open_member(uri[:-len(".wav")] + ".json").startswith(b"{")


def test_member_file_and_stat_key(prepared):
    uri = prepared.manifest["audio"].iloc[1]
    with sf.SoundFile(tario.member_file(uri)) as f:
        assert f.samplerate == 44100 and f.frames > 0
    size, mtime = tario.stat_key(uri)
    assert size == len(tario.open_member(uri)) and mtime > 0


def test_run_reads_audio_inside_the_shards(tmp_path):
    """egemaps on audio that never leaves the tar shards; a second run hits the cache."""
    import affectbench as ab
    from fixtures.emotiontalk_fixture import build

    root = tmp_path / "et"
    build(root, layout="shards")
    spec = ab.load_spec(data={"name": "et", "output_dir": str(tmp_path / "runs"),
                              "corpus": {"name": "emotiontalk", "root": str(root), "view": "four",
                                         "allow_partial": True},
                              "features": {"extractors": ["egemaps"]}, "metrics": {"bootstrap": 50}})
    res = ab.run(spec)
    info = __import__("json").loads((res.folder / "run.json").read_text())
    # every utterance of the view decoded from inside its shard, none failed
    assert 0 < info["features"][0]["computed"] <= info["corpus"]["n"] and info["features"][0]["failed"] == 0
    assert res.metrics["folds"][0]["fold"] == "official" and info["protocol"]["speaker_independent"] is False
    again = ab.run(spec, force=True)
    info2 = __import__("json").loads((again.folder / "run.json").read_text())
    assert info2["features"][0]["computed"] == 0 and info2["features"][0]["cached"] > 0

"""The embedded conversational demo: dialogues in which an utterance's emotion lies in its context.

Generated at run time (our own code and word lists; licence-clean). A **demo, not a
benchmark**: it exists so that context heads can be tested on a corpus where reading the
conversation is *necessary*, and so that "past only" can be checked.

Construction (:func:`synthesize_dialogs`): 4 sessions, each with its own two speakers (so
leave-one-session-out is speaker-independent and keeps dialogues whole), ``dialogues``
dialogues per session of ``turns`` turns. Each speaker carries a mood (neutral, happy, sad,
angry) through the dialogue; before each of their turns it changes with probability
``p_change``. An utterance's label is its speaker's current mood. With probability
``p_explicit`` the text says the mood (a cue word of that class inside neutral filler);
otherwise it is filler only, shared by all classes, and the label can only be recovered from
the same speaker's earlier explicit turns. The two speakers' moods are drawn independently,
so copying the *previous turn* (the other speaker's, mostly) is wrong about 3/4 of the time:
a model must know who speaks.

So an utterance-level model can reach about ``p_explicit + (1 - p_explicit) / 4`` accuracy
(0.55 + 0.45/4 ≈ 0.66 by default) and a context model reading the same speaker's past
about ``p_explicit + (1 - p_explicit) · (1 - p_change)``-ish (≈ 0.9). Measured margins are in
tests/test_context_heads.py and docs/context.md.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from ..labels import LabelSet, LabelView
from .base import register
from .demo import GeneratedCorpus

DEMO_DIALOG_VERSION = 1
EMOTIONS = ("neutral", "happy", "sad", "angry")
CUES = {"neutral": ("calm", "steady", "composed", "settled"),
        "happy": ("delighted", "thrilled", "cheerful", "overjoyed"),
        "sad": ("gloomy", "heartbroken", "miserable", "downcast"),
        "angry": ("furious", "livid", "outraged", "irate")}
OPENERS = ("well", "so", "okay", "right", "listen", "look", "you know")
TOPICS = ("the meeting", "the train", "dinner", "the weekend", "the report", "your sister",
          "the landlord", "the game", "the budget", "the trip", "the new job", "the garden")
VERBS = ("talked about", "thought about", "heard about", "asked about", "wrote about", "went over")


def _filler(rng: random.Random) -> str:
    return f"{rng.choice(OPENERS)} we {rng.choice(VERBS)} {rng.choice(TOPICS)} again"


def synthesize_dialogs(sessions: int = 4, dialogues: int = 24, turns: int = 12, *,
                       p_explicit: float = 0.55, p_change: float = 0.15, seed: int = 0) -> list[dict]:
    """The rows (id, session, dialogue, turn, speaker, label, text, explicit), deterministic in ``seed``."""
    rng = random.Random(seed)
    rows = []
    for s in range(1, sessions + 1):
        spk = (f"s{s}a", f"s{s}b")
        for d in range(dialogues):
            dia = f"ses{s}_d{d:02d}"
            mood = {p: rng.choice(EMOTIONS) for p in spk}
            who = rng.randrange(2)
            for t in range(turns):
                if t and rng.random() < 0.75:  # mostly alternating, sometimes twice in a row
                    who = 1 - who
                p = spk[who]
                if t and rng.random() < p_change:
                    mood[p] = rng.choice(EMOTIONS)
                explicit = rng.random() < p_explicit
                text = _filler(rng)
                if explicit:
                    text += f" and I feel {rng.choice(CUES[mood[p]])}"
                rows.append({"id": f"{dia}_t{t:02d}", "session": f"ses{s}", "dialogue": dia, "turn": t,
                             "speaker": p, "label": mood[p], "text": text, "explicit": explicit})
    return rows


@register
class DemoDialog(GeneratedCorpus):
    name = "demo_dialog"
    title = "affectbench conversational demo"
    description = ("Built-in synthetic dialogues (text, 8 speakers in 4 sessions, 4 emotions) where half "
                   "the utterances show their emotion only through the same speaker's earlier turns; "
                   "not a benchmark.")
    modalities = ("text",)
    conversational = True
    default_protocol = {"kind": "logo", "group": "session"}
    expected = {"total": 1152}
    layout_hint = "nothing: generated under $AFFECTBENCH_HOME/demo_dialog (or the folder given)"
    labelset = LabelSet(EMOTIONS, {
        "four": LabelView.identity("four", EMOTIONS, "neutral/happy/sad/angry (the speaker's mood)")},
        default_view="four")
    generator_version = DEMO_DIALOG_VERSION
    columns = ("id", "session", "dialogue", "turn", "speaker", "label", "text")

    @property
    def generator_modules(self):
        import sys

        return (sys.modules[__name__],)

    def synthesize(self, out: Path) -> list[dict]:
        rows = synthesize_dialogs()
        out.mkdir(parents=True, exist_ok=True)
        meta = out / "metadata.json"
        if not meta.is_file():  # the rows as written, for a reader who wants to look at them
            tmp = meta.with_suffix(".tmp")
            tmp.write_text(json.dumps(rows, indent=0), encoding="utf-8")
            tmp.replace(meta)
        return rows

    def caveats(self, df):
        return ["synthetic conversational demo generated by affectbench: a test of context heads, not a "
                "benchmark; by construction about half the utterances carry no cue of their own and "
                "take their label from the same speaker's earlier turns"]

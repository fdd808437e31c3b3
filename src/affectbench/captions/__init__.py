"""Emotional speaking-style captions (EmotionTalk's four dimensions): the caption task,
its no-language-model baselines and the caption metrics (docs/captions.md)."""

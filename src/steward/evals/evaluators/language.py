"""Language mismatch: the answer is not in the question's language. A small stopword detector
(English, French, German, Spanish, Italian, Portuguese, Dutch) that abstains on short or
ambiguous text rather than guess."""

from __future__ import annotations

import re
from typing import ClassVar

from steward.evals.evaluators.base import Evaluator, Subject, Verdict

_STOPWORD_TEXT: dict[str, str] = {
    "en": (
        "the and is are was were to of in that it for on with as this be have has not you "
        "what which how do does can will would should there their they he she we i my your "
        "from by at or an but if about"
    ),
    "fr": (
        "le la les et est sont un une des du de que qui dans pour pas sur avec ce cette il "
        "elle nous vous je ne au aux mais ou comment quoi quel quelle être avoir très"
    ),
    "de": (
        "der die das und ist sind ein eine nicht zu mit den dem des für auf ich sie wir es "
        "ihr auch wie was wer oder aber bei von im sich noch kann haben werden"
    ),
    "es": (
        "el la los las y es son un una de del que en para por con no se su como qué cómo "
        "pero más este esta lo al muy también hay puede tiene"
    ),
    "it": (
        "il lo la gli le e è sono un una di del che in per non con si come cosa ma più "
        "questo questa anche ho hai ha della delle nel alla"
    ),
    "pt": (
        "o a os as e é são um uma de do da que em para não com se como mas mais este esta "
        "também por ao dos das no na você"
    ),
    "nl": (
        "de het een en is zijn van dat die in voor niet met op te ik je we ze wat hoe maar "
        "ook als bij door naar er kan heeft worden"
    ),
}
_STOPWORDS = {lang: frozenset(text.split()) for lang, text in _STOPWORD_TEXT.items()}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_HITS = 3  # stopwords needed before a language is named
MIN_MARGIN = 1.5  # the best language's hits over the runner-up's


def detect(text: str) -> str | None:
    """The text's language code, or None when too short or too close to call."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return None
    scores = {lang: sum(1 for w in words if w in stops) for lang, stops in _STOPWORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    (best, hits), (_, second) = ranked[0], ranked[1]
    if hits < MIN_HITS or hits < MIN_MARGIN * second:
        return None
    return best


class LanguageMismatch(Evaluator):
    """Fails when question and answer are confidently in different languages."""

    kind: ClassVar[str] = "language"

    async def evaluate(self, subject: Subject) -> Verdict | None:
        asked, answered = detect(subject.question), detect(subject.answer)
        if asked is None or answered is None:
            return None
        if asked == answered:
            return Verdict(1.0, f"question and answer in '{asked}'")
        return Verdict(0.0, f"question in '{asked}', answer in '{answered}'")

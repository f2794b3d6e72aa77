"""Content compliance for Pitch: did the caller say the script? (WIL / WER on normalised text).

The Pitch machine score uses the Word Information Lost (WIL) between an ASR transcript
and the script the caller was asked to read; this module holds the text side of that:
normalisation, WIL/WER, a question heuristic and the per-challenge ``content_score``.
Everything here is pure Python (jiwer, num2words), deterministic and offline.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import jiwer
from num2words import num2words

from bench.api import BenchError

CONTENT_KINDS = ("wil", "foreign_wer", "question", "none")

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "sen", "sen")}
_MAGNITUDES = "thousand|million|billion|trillion"
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety")
# contractions are expanded so that "I'm" and "I am", "can't" and "cannot" compare equal
_CONTRACTIONS = [
    (r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\bcannot\b", "can not"), (r"\bshan't\b", "shall not"),
    (r"\bain't\b", "is not"), (r"\blet's\b", "let us"), (r"\by'all\b", "you all"),
    (r"n't\b", " not"), (r"'re\b", " are"), (r"'ve\b", " have"), (r"'ll\b", " will"), (r"\bi'm\b", "i am"),
    (r"'d\b", " would"),
    (r"\b(it|that|what|where|who|how|there|here|he|she|this|when|why)'s\b", r"\1 is"),
]
_ABBREVIATIONS = [(r"\bmr\.", "mister"), (r"\bmrs\.", "missus"), (r"\bdr\.", "doctor"), (r"\bok\b", "okay")]
_AUXILIARIES = frozenset(
    "am is are was were do does did have has had can could will would shall should may might must "
    "isn't aren't wasn't weren't don't doesn't didn't haven't hasn't hadn't can't cannot couldn't won't "
    "wouldn't shan't shouldn't mightn't mustn't ain't".split())
_WH_WORDS = frozenset("what when where which who whom whose why how".split())
_FILLERS = frozenset("so and but well um uh er oh okay ok hey hi hello".split())


def _spell(number: str, lang: str, *, year_style: bool = False) -> str:
    """A digit string ('1,500', '3.5') in words; English if num2words lacks ``lang``."""
    value: int | float = float(number.replace(",", "")) if "." in number else int(number.replace(",", ""))
    for code in (lang, "en"):
        try:
            if year_style and code == "en":
                return num2words(value, lang=code, to="year")
            return num2words(value, lang=code)
        except (NotImplementedError, OverflowError, ValueError, KeyError):
            continue
    return number


def _numbers_to_words(text: str, lang: str) -> str:
    """Currency, percentages, ordinals, clock times, decimals and integers, spelled out."""

    def currency(m: re.Match) -> str:
        one, many, sub_one, sub_many = _CURRENCIES[m.group(1)]
        amount, magnitude = m.group(2), m.group(3)
        if magnitude:
            return f"{_spell(amount, lang)} {magnitude.strip()} {many}"
        whole, _, frac = amount.replace(",", "").partition(".")
        out = f"{_spell(whole, lang)} {one if whole == '1' else many}"
        if frac and int(frac[:2].ljust(2, "0")):
            cents = int(frac[:2].ljust(2, "0"))
            out += f" {_spell(str(cents), lang)} {sub_one if cents == 1 else sub_many}"
        return out

    text = re.sub(rf"([$£€¥])\s?({_NUMBER})(\s+(?:{_MAGNITUDES})\b)?", currency, text)
    text = re.sub(rf"({_NUMBER})\s?%", lambda m: f"{_spell(m.group(1), lang)} percent", text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", lambda m: _ordinal(m.group(1), lang), text)
    text = re.sub(r"\b(\d{1,2}):(\d{2})\b", lambda m: _clock(m.group(1), m.group(2), lang), text)
    text = re.sub(r"(?<![\d.,])\b\d{4}\b(?![.,]\d)",
                  lambda m: _spell(m.group(0), lang, year_style=1100 <= int(m.group(0)) <= 2099), text)
    text = re.sub(_NUMBER, lambda m: _spell(m.group(0), lang), text)
    return text


def _ordinal(number: str, lang: str) -> str:
    try:
        return num2words(int(number), lang=lang, to="ordinal")
    except (NotImplementedError, KeyError):
        return num2words(int(number), lang="en", to="ordinal")


def _clock(hours: str, minutes: str, lang: str) -> str:
    h = _spell(str(int(hours)), lang)
    m = int(minutes)
    if m == 0:
        return h
    return f"{h} oh {_spell(str(m), lang)}" if m < 10 and lang == "en" else f"{h} {_spell(str(m), lang)}"


@lru_cache(maxsize=1)
def _spellings() -> dict[str, str]:
    """British -> American spellings (1,739 words) from Whisper's English normaliser, as packaged by
    ``whisper-normalizer`` (MIT): the same list Whisper's evaluation uses."""
    from importlib.resources import files

    return json.loads(files("whisper_normalizer").joinpath("normalizers/english.json").read_text(encoding="utf-8"))


def normalise(text: str | None, language: str | None = None) -> str:
    """Text as compared for WIL/WER: lower case, words only, numbers spelled out.

    Choices (applied to script and transcript alike, so they only have to be consistent):

    - Unicode NFKC, typographic apostrophes to ``'``, lower case.
    - Numbers in words with num2words (``language`` for the words when num2words has it,
      else English): "500" -> "five hundred", "$5" -> "five dollars", "$5.50" -> "five
      dollars fifty cents", "$2 million" -> "two million dollars", "5%" -> "five percent",
      "3rd" -> "third", "3.5" -> "three point five", "10:30" -> "ten thirty". Whisper writes
      spoken numbers as digits, scripts usually spell them out. Four-digit numbers
      1100-2099 written without a thousands separator are read as years ("1999" ->
      "nineteen ninety-nine", "1500" -> "fifteen hundred"), which is how people say them
      and what Whisper writes digits for; "1,500" is read as "one thousand five hundred".
    - British "and" inside numbers is dropped ("one hundred and five" -> "one hundred
      five"), so num2words output and US-style scripts agree.
    - Contractions are expanded ("I'm" -> "i am", "can't"/"cannot" -> "can not", "won't"
      -> "will not", "'re/'ve/'ll/'d" -> are/have/will/would, "it's/that's/what's..." ->
      "... is"), because Whisper contracts freely ("I am driving" -> "I'm driving"). Other
      apostrophes are removed ("John's" -> "johns").
    - "Mr." / "Mrs." / "Dr." -> mister / missus / doctor; "ok" -> "okay".
    - Accents are stripped ("estación" -> "estacion"): the foreign scripts are
      transliterated without diacritics.
    - Every other punctuation mark and symbol becomes a space; whitespace is collapsed.
    - English only: British spellings become American ones with Whisper's own list
      ("centre" -> "center", "colour" -> "color"), so a spelling variant is not a lost word.
    """
    if not text:
        return ""
    lang = (language or "en").lower().replace("_", "-").split("-")[0] or "en"
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = text.replace("&", " and ")
    for pattern, repl in _ABBREVIATIONS:
        text = re.sub(pattern, repl, text)
    text = _numbers_to_words(text, lang)
    text = re.sub(rf"\b(hundred|thousand|million|billion|trillion),? and (?=(?:{_NUMBER_WORDS})\b)", r"\1 ", text)
    for pattern, repl in _CONTRACTIONS:
        text = re.sub(pattern, repl, text)
    text = text.replace("'", "")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"[^\w\s]|_", " ", text)
    words = text.split()
    if lang == "en":
        spell = _spellings()
        words = [spell.get(w, w) for w in words]
    return " ".join(words)


def _compare(measure: Callable[[str, str], float], reference: str | None, hypothesis: str | None,
             language: str | None) -> float:
    ref, hyp = normalise(reference, language), normalise(hypothesis, language)
    if not ref:
        return 0.0 if not hyp else 1.0  # nothing to say: saying nothing is right, anything else is not
    if not hyp:
        return 1.0
    return float(min(1.0, max(0.0, measure(ref, hyp))))


def wil(reference: str | None, hypothesis: str | None, language: str | None = None) -> float:
    """Word Information Lost (jiwer) between normalised texts, in [0, 1].

    WIL = 1 - (H/N_ref) * (H/N_hyp) with H the hits of the word alignment: 0 when the
    transcript equals the script, 1 when nothing matches. An empty hypothesis gives 1.0
    (for a non-empty reference); an empty reference gives 0.0 with an empty hypothesis and
    1.0 otherwise.
    """
    return _compare(jiwer.wil, reference, hypothesis, language)


def wer(reference: str | None, hypothesis: str | None, language: str | None = None) -> float:
    """Word Error Rate (jiwer) between normalised texts, clipped at 1.0 (WER can exceed 1
    when the hypothesis has many insertions); same empty-text rules as :func:`wil`."""
    return _compare(jiwer.wer, reference, hypothesis, language)


def is_question(text: str | None) -> bool:
    """Heuristic: is this utterance phrased as a question?

    True when the text ends with "?" (ignoring closing quotes/brackets and spaces), or
    when its first word - after up to three fillers such as "so", "well", "um", "okay" -
    is an auxiliary or modal verb (do/does/did, is/are/was/were, have/has/had, can/could,
    will/would, shall/should, may/might/must, and their n't forms) or a wh-word (what,
    when, where, which, who, whom, whose, why, how; also "what's", "where's"...). Whisper
    does not always write the question mark, so word order is used too. Imperatives
    starting with "do" ("Do it now.") are counted as questions; this is accepted.
    """
    if not text:
        return False
    stripped = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).strip().rstrip("\"')]}”»… ")
    if stripped.endswith(("?", "？", "¿")):
        return True
    words = [re.sub(r"^[^\w']+|[^\w']+$", "", w) for w in stripped.lower().split()]
    words = [w for w in words if w]
    skipped = 0
    while words and words[0] in _FILLERS and skipped < 3 and len(words) > 1:
        words.pop(0)
        skipped += 1
    if not words:
        return False
    first = words[0]
    return first in _AUXILIARIES or first in _WH_WORDS or first.split("'")[0] in _WH_WORDS


def content_score(content_kind: str, script: str | None, transcript_text: str | None,
                  language: str | None = None) -> float | None:
    """Content-compliance error for one utterance, in [0, 1] (higher = less compliant), or None.

    ``content_kind`` is the challenge's ``content`` field in the taxonomy:

    - ``"wil"``: WIL between the script and the transcript (the Pitch paper's measure).
    - ``"foreign_wer"``: min(1, WER) against the foreign-language script. WER rather than
      WIL because an English-only ASR model cannot transcribe the foreign words; WER still
      rewards the sounds-alike words it writes, and is clipped to stay in [0, 1].
      ``language`` (e.g. "es") selects num2words' language for numbers.
    - ``"question"``: (WIL against the question script + (0 if the transcript is phrased
      as a question else 1)) / 2: half for the words, half for asking.
    - ``"none"``: None (challenges with no script, e.g. non-verbal sounds).
    """
    if content_kind == "none":
        return None
    if content_kind == "wil":
        return wil(script, transcript_text, language)
    if content_kind == "foreign_wer":
        return min(1.0, wer(script, transcript_text, language))
    if content_kind == "question":
        return (wil(script, transcript_text, language) + (0.0 if is_question(transcript_text) else 1.0)) / 2
    raise BenchError(f"unknown content kind {content_kind!r}; expected one of {', '.join(CONTENT_KINDS)}")


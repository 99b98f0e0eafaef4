"""Steward's guard Scanner vs Microsoft Presidio on the same texts, in one run.

    .venv/bin/python bench/guard_bench.py [--presidio-limit N]

Reports per-text median scan time for each, the speed ratio, P/R/F1 on the entity types both
detect (Presidio: AnalyzerEngine with its pattern recognizers, a blank spaCy English pipeline,
no model download), and the p50 scan time of distinct ~4 KB prompts (prose with a couple of
personal-data items) for Steward's default detectors. Writes bench/results/guard.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

from steward.guard import DetectorConfig, Finding, Scanner, evaluate, load_jsonl

ROOT = Path(__file__).resolve().parents[1]
EVAL_SET = ROOT / "tests" / "data" / "guard" / "eval.jsonl"
RESULTS = ROOT / "bench" / "results" / "guard.json"
# Presidio entity -> Steward entity, for the types both detect.
SHARED = {
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "UK_NHS": "UK_NHS",
}


class PresidioScanner:
    """Presidio's AnalyzerEngine behind the Scanner.scan interface (shared types only)."""

    def __init__(self, threshold: float = 0.0) -> None:
        import spacy
        import tldextract

        # Presidio's e-mail recognizer calls tldextract, which would fetch the public suffix
        # list over the network; use the snapshot bundled with tldextract instead.
        tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        class BlankSpacy(SpacyNlpEngine):  # type: ignore[misc]
            def load(self) -> None:
                self.nlp = {"en": spacy.blank("en")}

        engine = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
        engine.load()
        self.engine = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
        self.threshold = threshold
        self.last: list[Any] = []

    def analyze(self, text: str) -> list[Any]:
        return list(self.engine.analyze(text=text, language="en", entities=list(SHARED)))

    def to_findings(self, results: list[Any], threshold: float) -> list[Finding]:
        return [
            Finding(SHARED[r.entity_type], "pii", "presidio", r.start, r.end, r.score)
            for r in results
            if r.score >= threshold
        ]


class Replay:
    """Feeds precomputed findings to evaluate() (so each engine is timed once per text)."""

    def __init__(self, by_text: dict[str, list[Finding]]) -> None:
        self.by_text = by_text

    def scan(self, text: str) -> list[Finding]:
        return self.by_text[text]


def time_each(fn: Any, texts: list[str], repeat: int) -> tuple[list[float], list[Any]]:
    """Per-text best-of-``repeat`` time in microseconds, and the last outputs."""
    times, outs = [], []
    for t in texts:
        best = float("inf")
        out = None
        for _ in range(repeat):
            start = time.perf_counter_ns()
            out = fn(t)
            best = min(best, (time.perf_counter_ns() - start) / 1000)
        times.append(best)
        outs.append(out)
    return times, outs


def prompts_4k(records: list[dict[str, Any]], n: int, seed: int = 7) -> list[str]:
    """Distinct ~4 KB prompts: Faker prose with two labelled personal-data snippets."""
    from faker import Faker

    fk = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    wanted = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN")
    pii = [r["text"] for r in records if any(s["entity"] in wanted for s in r["spans"])]
    out = []
    for _ in range(n):
        parts = [fk.paragraph(nb_sentences=8) for _ in range(10)]
        parts.insert(2, rng.choice(pii))
        parts.insert(7, rng.choice(pii))
        text = "\n\n".join(parts)
        while len(text.encode()) < 4096:
            text += "\n\n" + fk.paragraph(nb_sentences=6)
        out.append(text.encode()[:4096].decode("utf-8", "ignore"))
    return out


def f1_table(report: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        e: {k: round(m[k], 4) for k in ("precision", "recall", "f1", "tp", "fp", "fn")}
        for e, m in report.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presidio-limit", type=int, default=0, help="Time Presidio on N texts")
    args = ap.parse_args()
    records = load_jsonl(EVAL_SET)
    texts = list(dict.fromkeys(r["text"] for r in records))
    scanner = Scanner(DetectorConfig())
    for t in texts[:200]:
        scanner.scan(t)  # warm up (thread state, regex caches)
    steward_times, steward_out = time_each(scanner.scan, texts, repeat=3)
    steward_by_text = dict(zip(texts, steward_out, strict=True))

    presidio = PresidioScanner()
    ptexts = texts[: args.presidio_limit] if args.presidio_limit else texts
    for t in ptexts[:20]:
        presidio.analyze(t)
    presidio_times, presidio_raw = time_each(presidio.analyze, ptexts, repeat=1)
    raw_by_text = dict(zip(ptexts, presidio_raw, strict=True))
    shared = sorted(set(SHARED.values()))
    eval_records = [r for r in records if r["text"] in raw_by_text]
    steward_report = evaluate(Replay(steward_by_text), eval_records, shared)
    presidio_reports = {
        f"presidio@{th}": evaluate(
            Replay({t: presidio.to_findings(v, th) for t, v in raw_by_text.items()}),
            eval_records,
            shared,
        )
        for th in (0.0, 0.5)
    }

    prompts = prompts_4k(records, 300)
    for p in prompts_4k(records, 30, seed=99):
        scanner.scan(p)
    cold = []
    for p in prompts:  # each prompt once: validator caches see it for the first time
        start = time.perf_counter_ns()
        scanner.scan(p)
        cold.append((time.perf_counter_ns() - start) / 1000)
    warm, _ = time_each(scanner.scan, prompts, repeat=5)
    presidio_4k, _ = time_each(presidio.analyze, prompts[:100], repeat=1)

    s_med = statistics.median(steward_times[: len(ptexts)])
    p_med = statistics.median(presidio_times)
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
        "texts": len(texts),
        "presidio_texts": len(ptexts),
        "steward_median_us_per_text": round(s_med, 1),
        "presidio_median_us_per_text": round(p_med, 1),
        "speed_ratio": round(p_med / s_med, 1),
        "steward_4k_p50_us": round(statistics.median(cold), 1),
        "steward_4k_p90_us": round(sorted(cold)[int(0.9 * len(cold))], 1),
        "steward_4k_p50_us_repeat": round(statistics.median(warm), 1),
        "presidio_4k_p50_us": round(statistics.median(presidio_4k), 1),
        "speed_ratio_4k": round(statistics.median(presidio_4k) / statistics.median(cold), 1),
        "shared_entities": shared,
        "steward": f1_table(steward_report),
        **{k: f1_table(v) for k, v in presidio_reports.items()},
        "steward_patterns": scanner.pattern_count,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    print(f"texts: {len(texts)} (Presidio timed on {len(ptexts)})")
    print(
        f"per-text median: Steward {s_med:.1f} us, Presidio {p_med:.1f} us -> {p_med / s_med:.0f}x"
    )
    print(
        f"4 KB prompt (default detectors, {scanner.pattern_count} patterns): "
        f"p50 {result['steward_4k_p50_us']} us (first sight), "
        f"p90 {result['steward_4k_p90_us']} us, "
        f"p50 {result['steward_4k_p50_us_repeat']} us (repeated); Presidio p50 "
        f"{result['presidio_4k_p50_us']} us -> {result['speed_ratio_4k']:.0f}x"
    )
    print(f"\n{'entity':<15} {'Steward P/R/F1':>22} {'Presidio P/R/F1':>22} {'Presidio>=0.5':>22}")
    for e in shared:
        cells = [
            steward_report.get(e),
            presidio_reports["presidio@0.0"].get(e),
            presidio_reports["presidio@0.5"].get(e),
        ]
        row = [f"{m['precision']:.3f}/{m['recall']:.3f}/{m['f1']:.3f}" if m else "-" for m in cells]
        print(f"{e:<15} {row[0]:>22} {row[1]:>22} {row[2]:>22}")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

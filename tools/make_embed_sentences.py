"""Writes bench/data/embed-sentences-256.json: 256 mixed-length texts (3-200 words) for `strata bench embed`.

Deterministic (fixed seed): word counts are drawn log-uniformly in [3, 200]; each text is a run of consecutive
KJV verses (data/kjv.txt) cut to that many words, or, for every fourth text, plain technical prose written here.
Run from the repository root: python3 tools/make_embed_sentences.py
"""
import json
import math
import random

PROSE = (
    "A sentence encoder maps a piece of text to a single vector so that texts with similar meaning land close "
    "together. The model reads word pieces, adds learned positions, and passes them through a stack of attention "
    "and feed-forward layers. Mean pooling over the unmasked tokens then gives one vector per text, which is scaled "
    "to unit length. Search systems compare such vectors with a dot product, cluster them to find topics, or feed "
    "them to a small classifier. On a laptop the cost is dominated by matrix products, so batching texts of similar "
    "length and skipping padding matters more than clever kernels. The weather station on the hill records wind, "
    "rain and temperature every ten minutes and sends a summary to the village each evening. Bread rises faster in "
    "a warm kitchen; bakers who start before dawn keep the dough covered and check it by pressing a finger into it. "
    "Trains leave the central station every quarter hour, and the last one reaches the coast shortly after midnight. "
    "Good error messages name the file, the key and the shape at fault, and say what would have been accepted."
).split()


def main():
    rng = random.Random(20261202)
    verses = [line.strip() for line in open("data/kjv.txt", encoding="utf-8") if line.strip()]
    texts = []
    for i in range(256):
        n = int(round(math.exp(rng.uniform(math.log(3), math.log(200)))))
        if i % 4 == 3:
            start = rng.randrange(len(PROSE))
            words = [PROSE[(start + j) % len(PROSE)] for j in range(n)]
        else:
            start = rng.randrange(len(verses) - 50)
            words = []
            while len(words) < n:
                words += verses[start].split()
                start += 1
            words = words[:n]
        texts.append(" ".join(words))
    with open("bench/data/embed-sentences-256.json", "w", encoding="utf-8") as f:
        json.dump(texts, f, indent=0, ensure_ascii=False)
        f.write("\n")
    lengths = sorted(len(t.split()) for t in texts)
    print(f"256 texts, words min {lengths[0]} median {lengths[128]} max {lengths[-1]} total {sum(lengths)}")


if __name__ == "__main__":
    main()

extension BPETokenizer {
    /// Learns merges on `text` until the vocabulary has `vocabSize` ids (at least the 256 bytes), or no
    /// adjacent pair is left.
    ///
    /// Pre-token (word) frequencies are counted once; each merge then updates pair counts only in the words
    /// that contain the merged pair (a heap with lazy deletion finds the most frequent pair). Ties go to
    /// the smallest (left id, right id), so training is deterministic. `progress(done, total)` is called
    /// after every merge. Ids 0–255 are the bytes; a merge whose bytes already exist as a token reuses
    /// that id (as Hugging Face's trainer does).
    public static func train(text: String, vocabSize: Int,
                             progress: ((Int, Int) -> Void)? = nil) -> BPETokenizer {
        var tokenBytes: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        var idOfBytes: [[UInt8]: Int32] = [:]
        for (i, b) in tokenBytes.enumerated() { idOfBytes[b] = Int32(i) }
        let target = max(vocabSize, 256)
        var merges: [Merge] = []
        var (words, freqs) = countWords(text)

        var pairCounts: [UInt64: Int] = [:]
        var occurrences: [UInt64: [Int32]] = [:]  // pair → words that contained it (may be stale)
        for (w, word) in words.enumerated() where word.count > 1 {
            for i in 0..<(word.count - 1) {
                let key = pairKey(word[i], word[i + 1])
                pairCounts[key, default: 0] += freqs[w]
                if occurrences[key]?.last != Int32(w) { occurrences[key, default: []].append(Int32(w)) }
            }
        }
        var heap = PairHeap()
        for (key, count) in pairCounts { heap.push(count, key) }

        var lastVisit = [Int](repeating: -1, count: words.count)
        while tokenBytes.count < target, let (count, key) = heap.pop() {
            guard pairCounts[key] == count, count > 0 else { continue }  // stale heap entry
            let left = Int32(truncatingIfNeeded: key >> 32), right = Int32(truncatingIfNeeded: key & 0xFFFF_FFFF)
            let newBytes = tokenBytes[Int(left)] + tokenBytes[Int(right)]
            let result = idOfBytes[newBytes] ?? Int32(tokenBytes.count)
            if result == Int32(tokenBytes.count) { tokenBytes.append(newBytes); idOfBytes[newBytes] = result }
            merges.append(Merge(left: left, right: right, result: result))

            // Re-count pairs only in the words that held (left, right): remove their old pairs, add the new.
            var delta: [UInt64: Int] = [:]
            for w32 in occurrences.removeValue(forKey: key) ?? [] {
                let w = Int(w32)
                guard lastVisit[w] != merges.count else { continue }
                lastVisit[w] = merges.count
                let old = words[w], merged = replacingPair(old, left, right, with: result)
                guard merged.count != old.count else { continue }
                for i in 0..<(old.count - 1) { delta[pairKey(old[i], old[i + 1]), default: 0] -= freqs[w] }
                for i in 0..<max(merged.count - 1, 0) {
                    let k = pairKey(merged[i], merged[i + 1])
                    delta[k, default: 0] += freqs[w]
                    if merged[i] == result || merged[i + 1] == result, occurrences[k]?.last != w32 {
                        occurrences[k, default: []].append(w32)
                    }
                }
                words[w] = merged
            }
            // Apply in key order so the heap (and thus tie-breaking) never depends on hash order.
            for (k, d) in delta.sorted(by: { $0.key < $1.key }) where d != 0 {
                let c = pairCounts[k, default: 0] + d
                if c > 0 { pairCounts[k] = c; heap.push(c, k) } else { pairCounts[k] = nil }
            }
            progress?(tokenBytes.count - 256, target - 256)
        }
        return BPETokenizer(tokenBytes: tokenBytes, byteIds: (0..<256).map { Int32($0) }, merges: merges)
    }

    /// Distinct pre-tokens of `text` as byte ids with their counts, sorted by bytes so that nothing
    /// downstream depends on hash order.
    private static func countWords(_ text: String) -> (words: [[Int32]], freqs: [Int]) {
        var counts: [[UInt8]: Int] = [:]
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { buf in
            ByteLevel.preTokenize(buf) { counts[Array(buf[$0]), default: 0] += 1 }
        }
        let sorted = counts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        return (sorted.map { $0.key.map { Int32($0) } }, sorted.map(\.value))
    }
}

/// `word` with every non-overlapping (left, right), scanned left to right, replaced by `result`.
func replacingPair(_ word: [Int32], _ left: Int32, _ right: Int32, with result: Int32) -> [Int32] {
    var out: [Int32] = []
    out.reserveCapacity(word.count)
    var i = 0
    while i < word.count {
        if i + 1 < word.count, word[i] == left, word[i + 1] == right { out.append(result); i += 2 }
        else { out.append(word[i]); i += 1 }
    }
    return out
}

/// Max-heap of (count, pair key): larger count first, then smaller key (deterministic ties).
struct PairHeap {
    private var items: [(count: Int, key: UInt64)] = []

    private static func before(_ a: (count: Int, key: UInt64), _ b: (count: Int, key: UInt64)) -> Bool {
        a.count > b.count || (a.count == b.count && a.key < b.key)
    }

    mutating func push(_ count: Int, _ key: UInt64) {
        items.append((count, key))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(items[i], items[parent]) else { break }
            items.swapAt(i, parent); i = parent
        }
    }

    mutating func pop() -> (Int, UInt64)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count, Self.before(items[l], items[m]) { m = l }
                if r < items.count, Self.before(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m); i = m
            }
        }
        return (top.count, top.key)
    }
}

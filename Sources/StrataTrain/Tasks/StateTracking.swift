import StrataCore

/// State tracking (catalog `state_tracking`): parity of a bit string, or composition in the symmetric group
/// S₅ (a non-solvable group, so no constant-depth shortcut exists; Merrill et al., "The Illusion of State").
/// Parity: inputs are bits 0/1 and the target at t is the parity of bits 0...t. S₅: inputs are the 120
/// permutations (ids in lexicographic order) and the target at t is the id of the running product
/// g₁ ∘ … ∘ g_t, where p ∘ g applies p first, then g. `scored` = `all` scores every prefix, `final` only the
/// last position. Train at one length and test longer ones with `--eval-lengths`.
public struct StateTrackingTask: CapabilityTask {
    public let id = "state_tracking"
    public let summary = "parity or S5 permutation composition: predict the running state at each position"
    /// `parity` or `s5`.
    public let group: String
    /// `all` or `final`.
    public let scored: String
    public let length: Int
    public var vocabSize: Int { group == "parity" ? 2 : 120 }

    init(_ r: inout KnobReader) throws {
        group = try r.choice("group", "parity", ["parity", "s5"])
        scored = try r.choice("scored", "all", ["all", "final"])
        length = try r.int("length", 32, in: 1...1_000_000)
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("group", group, "parity (Z2) or s5 (permutations of 5 items, 120 tokens)"),
         TaskKnob("scored", scored, "all: the running state at every position; final: only the last"),
         TaskKnob("length", "\(length)", "sequence length T (catalog: 32-64)")]
    }
    public var chance: Double { 1 / Double(vocabSize) }
    public var scoresSequences: Bool { scored == "all" }

    /// The 120 permutations of 0..<5 in lexicographic order; a token id indexes this table.
    public static let permutations: [[Int]] = {
        var out: [[Int]] = []
        func build(_ prefix: [Int]) {
            if prefix.count == 5 { out.append(prefix); return }
            for i in 0..<5 where !prefix.contains(i) { build(prefix + [i]) }
        }
        build([])
        return out
    }()

    /// The id of p ∘ g (apply permutation p, then g): (p ∘ g)[i] = g[p[i]].
    public static func compose(_ p: Int, _ g: Int) -> Int {
        let a = permutations[p], b = permutations[g]
        let c = (0..<5).map { b[a[$0]] }
        return permutations.firstIndex(of: c)!
    }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        // Composition table once per batch: 120×120 lookups instead of permutation searches per token.
        let table: [[Int]] = group == "s5"
            ? (0..<120).map { p in (0..<120).map { StateTrackingTask.compose(p, $0) } } : []
        return stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            let inputs = (0..<length).map { _ in Int32(rng.below(vocabSize)) }
            var targets = [Int32](repeating: TaskBatch.ignored, count: length)
            var state = 0
            for t in 0..<length {
                let g = Int(inputs[t])
                state = group == "parity" ? state ^ g : (t == 0 ? g : table[state][g])
                if scored == "all" || t == length - 1 { targets[t] = Int32(state) }
            }
            return (inputs, targets)
        }
    }
}

import StrataCore

// Recall and memory probes of catalog section 10: mqar, selective_copying, induction_heads, passkey_retrieval,
// phonebook, delayed_recall. Each sequence is built as (inputs, targets) of length T with −100 targets at
// unscored positions; `stacked` lays B of them out row-major.

/// Concatenates `size` generated sequences of length `length` into one batch.
func stacked(size: Int, length: Int, vocab: Int, rng: inout RNG,
             _ sequence: (inout RNG) -> (inputs: [Int32], targets: [Int32])) -> TaskBatch {
    var inputs: [Int32] = [], targets: [Int32] = []
    inputs.reserveCapacity(size * length); targets.reserveCapacity(size * length)
    for _ in 0..<size {
        let s = sequence(&rng)
        inputs += s.inputs; targets += s.targets
    }
    return TaskBatch(inputs: inputs, targets: targets, batchSize: size, length: length, vocabSize: vocab)
}

/// Multi-query associative recall (Zoology; catalog `mqar`). Token 0 is filler, keys are 1...V/2−1, values
/// the upper half. The context lists `pairs` key–value pairs; then `queries` of the keys reappear at random
/// positions among filler, each followed by its value; the target at a reappearing key is its value.
public struct MQARTask: CapabilityTask {
    public let id = "mqar"
    public let summary = "multi-query associative recall: k→v pairs, then keys reappear; predict each value"
    /// Key–value pairs per sequence.
    public let pairs: Int
    /// Keys queried per sequence.
    public let queries: Int
    public let length: Int
    public let vocabSize: Int
    var keyCount: Int { vocabSize / 2 - 1 }
    var valueCount: Int { vocabSize - vocabSize / 2 }

    init(_ r: inout KnobReader) throws {
        vocabSize = try r.int("vocab", 128, in: 8...65_536)
        pairs = try r.int("pairs", 8, in: 1...4096)
        length = try r.int("length", 64, in: 4...1_000_000)
        queries = try r.int("queries", pairs, in: 1...pairs)
        guard pairs <= vocabSize / 2 - 1 else { throw TaskError("mqar: pairs=\(pairs) needs more than \(pairs) keys; raise vocab to at least \(2 * pairs + 2)") }
        guard 2 * pairs + 2 * queries <= length else {
            throw TaskError("mqar: \(pairs) pairs and \(queries) queries need length ≥ \(2 * pairs + 2 * queries) (got \(length))")
        }
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("pairs", "\(pairs)", "key–value pairs per sequence (the recall load)"),
         TaskKnob("queries", "\(queries)", "keys queried per sequence, ≤ pairs"),
         TaskKnob("length", "\(length)", "sequence length T ≥ 2·pairs + 2·queries"),
         TaskKnob("vocab", "\(vocab)", "vocabulary: half keys, half values")]
    }
    private var vocab: Int { vocabSize }
    public var chance: Double { 1 / Double(valueCount) }
    public var scoresSequences: Bool { true }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            var inputs = [Int32](repeating: 0, count: length), targets = [Int32](repeating: TaskBatch.ignored, count: length)
            let keys = rng.distinct(pairs, below: keyCount).map { Int32($0 + 1) }
            let values = (0..<pairs).map { _ in Int32(vocabSize / 2 + rng.below(valueCount)) }
            for i in 0..<pairs { inputs[2 * i] = keys[i]; inputs[2 * i + 1] = values[i] }
            // Query slots are pairs of positions (key, value) in the rest of the sequence.
            let start = 2 * pairs, slots = (length - start) / 2
            let picked = rng.distinct(queries, below: pairs)
            let chosenSlots = rng.distinct(queries, below: slots).sorted()
            for (q, slot) in zip(picked, chosenSlots) {
                let p = start + 2 * slot
                inputs[p] = keys[q]; inputs[p + 1] = values[q]; targets[p] = values[q]
            }
            return (inputs, targets)
        }
    }
}

/// Selective copying (Mamba; catalog `selective_copying`). Token 0 is noise, 1 the separator, content tokens
/// 2...V−1. `tokens` content tokens sit at random positions of the first T − tokens positions; from the
/// separator on, the model emits them in order (teacher forced: the inputs after the separator are the
/// content tokens shifted by one).
public struct SelectiveCopyingTask: CapabilityTask {
    public let id = "selective_copying"
    public let summary = "copy the content tokens scattered among noise, in order, after a separator"
    /// Content tokens per sequence.
    public let tokens: Int
    public let length: Int
    public let vocabSize: Int

    init(_ r: inout KnobReader) throws {
        tokens = try r.int("tokens", 8, in: 1...4096)
        length = try r.int("length", 64, in: 4...1_000_000)
        vocabSize = try r.int("vocab", 18, in: 3...65_536)
        guard 2 * tokens <= length else { throw TaskError("selective_copying: \(tokens) tokens need length ≥ \(2 * tokens) (got \(length))") }
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("tokens", "\(tokens)", "content tokens to copy (M)"),
         TaskKnob("length", "\(length)", "sequence length T ≥ 2·tokens"),
         TaskKnob("vocab", "\(vocabSize)", "vocabulary: noise, separator and vocab − 2 content tokens")]
    }
    public var chance: Double { 1 / Double(vocabSize - 2) }
    public var scoresSequences: Bool { true }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            var inputs = [Int32](repeating: 0, count: length), targets = [Int32](repeating: TaskBatch.ignored, count: length)
            let region = length - tokens
            let content = (0..<tokens).map { _ in Int32(2 + rng.below(vocabSize - 2)) }
            for (i, p) in rng.distinct(tokens, below: region).sorted().enumerated() { inputs[p] = content[i] }
            inputs[region] = 1
            for i in 0..<tokens {
                targets[region + i] = content[i]
                if i + 1 < tokens { inputs[region + i + 1] = content[i] }
            }
            return (inputs, targets)
        }
    }
}

/// Induction heads (catalog `induction_heads`). Token V−1 is the trigger A; it appears once at a random
/// position followed by a random B, and again at the last position, where the target is B. Other tokens
/// are uniform over 0...V−2.
public struct InductionHeadsTask: CapabilityTask {
    public let id = "induction_heads"
    public let summary = "a trigger A followed by B appears once; when A reappears at the end, predict B"
    public let length: Int
    public let vocabSize: Int

    init(_ r: inout KnobReader) throws {
        length = try r.int("length", 64, in: 4...1_000_000)
        vocabSize = try r.int("vocab", 16, in: 3...65_536)
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("length", "\(length)", "sequence length T ≥ 4"),
         TaskKnob("vocab", "\(vocabSize)", "vocabulary; the last id is the trigger")]
    }
    public var chance: Double { 1 / Double(vocabSize - 1) }
    public var scoresSequences: Bool { false }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        let trigger = Int32(vocabSize - 1)
        return stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            var inputs = (0..<length).map { _ in Int32(rng.below(vocabSize - 1)) }
            var targets = [Int32](repeating: TaskBatch.ignored, count: length)
            let p = rng.below(length - 2)
            inputs[p] = trigger
            inputs[length - 1] = trigger
            targets[length - 1] = inputs[p + 1]
            return (inputs, targets)
        }
    }
}

/// Passkey retrieval (catalog `passkey_retrieval`): a `digits`-digit key after a KEY marker at a random depth
/// in a repeating filler pattern; after a final QUERY marker the model recites the digits. Ids: digits 0–9,
/// filler 10–25, KEY 26, QUERY 27. Train at one `length`, evaluate at longer ones (`--eval-lengths`).
public struct PasskeyTask: CapabilityTask {
    public let id = "passkey_retrieval"
    public let summary = "recite a passkey hidden at a random depth in filler text (grow length at test time)"
    public let digits: Int
    public let length: Int
    public let vocabSize = 28
    static let filler = 16, key: Int32 = 26, query: Int32 = 27

    init(_ r: inout KnobReader) throws {
        digits = try r.int("digits", 5, in: 1...64)
        length = try r.int("length", 128, in: 8...1_000_000)
        guard length >= 2 * digits + 3 else { throw TaskError("passkey_retrieval: length must be ≥ \(2 * digits + 3) for \(digits) digits") }
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("digits", "\(digits)", "passkey digits"),
         TaskKnob("length", "\(length)", "sequence length T (filler grows with it)")]
    }
    public var chance: Double { 0.1 }
    public var scoresSequences: Bool { true }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            // Filler is a fixed cycle, so it carries no information (like the repeated sentences of the paper).
            var inputs = (0..<length).map { Int32(10 + $0 % PasskeyTask.filler) }
            var targets = [Int32](repeating: TaskBatch.ignored, count: length)
            let key = (0..<digits).map { _ in Int32(rng.below(10)) }
            let answer = length - digits - 1           // position of QUERY
            let depth = rng.below(answer - digits)     // KEY marker position, before the answer block
            inputs[depth] = PasskeyTask.key
            for i in 0..<digits { inputs[depth + 1 + i] = key[i] }
            inputs[answer] = PasskeyTask.query
            for i in 0..<digits {
                targets[answer + i] = key[i]
                if i + 1 < digits { inputs[answer + 1 + i] = key[i] }
            }
            inputs[length - 1] = key[digits - 1]
            return (inputs, targets)
        }
    }
}

/// Phonebook lookup (catalog `phonebook`): `entries` lines "name SEP number END", names of `name_tokens`
/// tokens and numbers of `number_digits` digits, then "QUERY name SEP" and the number recited. Ids: digits
/// 0–9, names 10...9+names, then SEP, END, QUERY.
public struct PhonebookTask: CapabilityTask {
    public let id = "phonebook"
    public let summary = "look up the number of a queried name in a list of name → number entries"
    public let entries: Int
    public let nameTokens: Int
    public let numberDigits: Int
    public let names: Int
    public var vocabSize: Int { 10 + names + 3 }
    public var length: Int { entries * (nameTokens + numberDigits + 2) + 1 + nameTokens + numberDigits }

    init(_ r: inout KnobReader) throws {
        entries = try r.int("entries", 8, in: 1...100_000)
        nameTokens = try r.int("name_tokens", 2, in: 1...16)
        numberDigits = try r.int("number_digits", 4, in: 1...16)
        names = try r.int("names", 32, in: 2...60_000)
        var space = 1.0
        for _ in 0..<nameTokens { space *= Double(names) }
        guard space >= Double(entries) else { throw TaskError("phonebook: \(entries) distinct names need names^name_tokens ≥ entries") }
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("entries", "\(entries)", "phonebook entries (the recall load); T = entries·(name_tokens+number_digits+2)+1+name_tokens+number_digits"),
         TaskKnob("name_tokens", "\(nameTokens)", "tokens per name"),
         TaskKnob("number_digits", "\(numberDigits)", "digits per number"),
         TaskKnob("names", "\(names)", "name-token vocabulary")]
    }
    public var chance: Double { 0.1 }
    public var scoresSequences: Bool { true }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        let sep = Int32(10 + names), end = sep + 1, query = sep + 2
        return stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            var book: [[Int32]] = []
            var seen = Set<[Int32]>()
            while book.count < entries {
                let name = (0..<nameTokens).map { _ in Int32(10 + rng.below(names)) }
                if seen.insert(name).inserted { book.append(name) }
            }
            let numbers = (0..<entries).map { _ in (0..<numberDigits).map { _ in Int32(rng.below(10)) } }
            var inputs: [Int32] = []
            for (name, number) in zip(book, numbers) { inputs += name + [sep] + number + [end] }
            let q = rng.below(entries)
            inputs += [query] + book[q] + [sep]
            var targets = [Int32](repeating: TaskBatch.ignored, count: inputs.count)
            for i in 0..<numberDigits {
                targets.append(TaskBatch.ignored)
                targets[inputs.count - 1] = numbers[q][i]
                inputs.append(numbers[q][i])
            }
            // The last digit is a target only (at the position before it); drop the final input/target pair.
            inputs.removeLast(); targets.removeLast()
            return (inputs, targets)
        }
    }
}

/// Delayed recall with distractors (catalog `delayed_recall`): a cue (one of `classes`) followed by D noise
/// tokens, D uniform in min_delay...T−2, then a recall marker whose target is the cue. Positions before the
/// cue are noise too. Ids: cues 0...C−1, noise C...C+N−1, marker C+N.
public struct DelayedRecallTask: CapabilityTask {
    public let id = "delayed_recall"
    public let summary = "remember a cue across a long run of distractors and recall it at a marker"
    public let classes: Int
    public let noise: Int
    public let length: Int
    public let minDelay: Int
    public var vocabSize: Int { classes + noise + 1 }

    init(_ r: inout KnobReader) throws {
        classes = try r.int("classes", 8, in: 2...10_000)
        noise = try r.int("noise", 8, in: 1...10_000)
        length = try r.int("length", 64, in: 3...1_000_000)
        minDelay = try r.int("min_delay", (length - 2) / 2, in: 0...(length - 2))
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("classes", "\(classes)", "cue classes C (chance 1/C)"),
         TaskKnob("noise", "\(noise)", "distractor tokens"),
         TaskKnob("length", "\(length)", "sequence length T"),
         TaskKnob("min_delay", "\(minDelay)", "fewest distractors between cue and marker, ≤ T − 2")]
    }
    public var chance: Double { 1 / Double(classes) }
    public var scoresSequences: Bool { false }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            var inputs = (0..<length).map { _ in Int32(classes + rng.below(noise)) }
            var targets = [Int32](repeating: TaskBatch.ignored, count: length)
            let delay = minDelay + rng.below(length - 1 - minDelay)
            let cue = Int32(rng.below(classes))
            inputs[length - 2 - delay] = cue
            inputs[length - 1] = Int32(classes + noise)
            targets[length - 1] = cue
            return (inputs, targets)
        }
    }
}

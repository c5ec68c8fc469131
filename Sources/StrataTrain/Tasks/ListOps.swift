import StrataCore

/// ListOps of the Long Range Arena (catalog `lra_listops`): random expression trees in bracketed prefix
/// notation over digits with MAX, MIN, MED and SM (sum mod 10); the label is the value, scored at the last
/// position. Brackets, operators and digits are single tokens; sequences are left-padded so the expression
/// ends at the scored position (a causal model has read all of it there). Ids: digits 0–9, `[` 10, MAX 11,
/// MIN 12, MED 13, SM 14, `]` 15, PAD 16.
public struct ListOpsTask: CapabilityTask {
    public let id = "lra_listops"
    public let summary = "LRA ListOps: value (0-9) of a nested MAX/MIN/MED/SUM_MOD expression, scored at the end"
    /// Deepest operator nesting.
    public let maxDepth: Int
    /// Most arguments of one operator.
    public let maxArgs: Int
    /// Sequence length T (longest expression).
    public let length: Int
    /// Shortest expression accepted (tokens).
    public let minLength: Int
    public let vocabSize = 17

    init(_ r: inout KnobReader) throws {
        maxDepth = try r.int("depth", 4, in: 1...20)
        maxArgs = try r.int("args", 5, in: 2...10)
        length = try r.int("length", 128, in: 8...1_000_000)
        minLength = try r.int("min_length", 1, in: 1...length)
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("depth", "\(maxDepth)", "deepest operator nesting (LRA: 10)"),
         TaskKnob("args", "\(maxArgs)", "most arguments per operator, 2...10 (LRA: 10)"),
         TaskKnob("length", "\(length)", "sequence length T, the longest expression kept (LRA: 2000; 512-1K on CPU)"),
         TaskKnob("min_length", "\(minLength)", "shorter expressions are rejected (LRA: 500)")]
    }
    public var chance: Double { 0.1 }
    public var scoresSequences: Bool { false }

    /// Operators by token id.
    public enum Operator: Int32, CaseIterable, Sendable {
        case max = 11, min = 12, median = 13, sumMod = 14

        /// Applies the operator; MED of an even count is the floor of the mean of the middle two (as in
        /// the LRA code, `int(np.median(x))`).
        public func apply(_ xs: [Int]) -> Int {
            switch self {
            case .max: return xs.max()!
            case .min: return xs.min()!
            case .sumMod: return xs.reduce(0, +) % 10
            case .median:
                let s = xs.sorted(), n = s.count
                return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
            }
        }
    }

    static let open: Int32 = 10, close: Int32 = 15, pad: Int32 = 16

    /// Token ids of an expression written as text, e.g. `[MAX 4 3 [MIN 2 3 ] 1 0 ]`.
    public static func tokenize(_ text: String) throws -> [Int32] {
        var out: [Int32] = []
        for word in text.split(separator: " ") {
            var w = Substring(word)
            if w.hasPrefix("[") { out.append(open); w = w.dropFirst() }
            if w.isEmpty { continue }
            switch w {
            case "MAX": out.append(Operator.max.rawValue)
            case "MIN": out.append(Operator.min.rawValue)
            case "MED": out.append(Operator.median.rawValue)
            case "SM", "SUM_MOD": out.append(Operator.sumMod.rawValue)
            case "]": out.append(close)
            default:
                guard let d = Int32(w), (0...9).contains(d) else {
                    throw TaskError("lra_listops: cannot read \"\(word)\"; expected a digit, [MAX, [MIN, [MED, [SM or ]")
                }
                out.append(d)
            }
        }
        return out
    }

    /// The value of a token expression (PAD tokens are skipped); throws naming the position of a malformed one.
    public static func evaluate(_ tokens: [Int32]) throws -> Int {
        let body = tokens.filter { $0 != pad }
        var i = 0
        func value() throws -> Int {
            guard i < body.count else { throw TaskError("lra_listops: expression ends early at token \(i)") }
            let t = body[i]; i += 1
            if (0...9).contains(t) { return Int(t) }
            guard t == open, i < body.count, let op = Operator(rawValue: body[i]) else {
                throw TaskError("lra_listops: token \(i - 1) (id \(t)) is neither a digit nor `[` followed by an operator")
            }
            i += 1
            var args: [Int] = []
            while i < body.count && body[i] != close { args.append(try value()) }
            guard i < body.count, !args.isEmpty else { throw TaskError("lra_listops: operator without arguments or `]` near token \(i)") }
            i += 1
            return op.apply(args)
        }
        let v = try value()
        guard i == body.count else { throw TaskError("lra_listops: \(body.count - i) tokens after the end of the expression") }
        return v
    }

    /// One random tree as tokens, or nil once it exceeds `budget` tokens. The root is always an operator; below
    /// it a node is a leaf with probability 1/4 (the LRA generator's value probability) or at the depth limit.
    func expression(rng: inout RNG, budget: Int) -> [Int32]? {
        var out: [Int32] = []
        func node(_ depth: Int) -> Bool {
            if out.count >= budget { return false }
            if depth > 0 && (depth >= maxDepth || rng.nextUniform() < 0.25) {
                out.append(Int32(rng.below(10)))
                return true
            }
            out.append(ListOpsTask.open)
            out.append(Operator.allCases[rng.below(4)].rawValue)
            for _ in 0..<(2 + rng.below(maxArgs - 1)) {
                if !node(depth + 1) { return false }
            }
            out.append(ListOpsTask.close)
            return out.count <= budget
        }
        return node(0) ? out : nil
    }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        stacked(size: size, length: length, vocab: vocabSize, rng: &rng) { rng in
            var expr: [Int32] = []
            // Rejection sampling on length, as LRA does; after many misses the length floor is dropped so a
            // badly chosen min_length cannot hang the generator.
            for attempt in 0..<10_000 {
                guard let e = expression(rng: &rng, budget: length) else { continue }
                if e.count >= minLength || attempt > 1000 { expr = e; break }
            }
            if expr.isEmpty { expr = [ListOpsTask.open, Operator.max.rawValue, 0, ListOpsTask.close] }
            let inputs = [Int32](repeating: ListOpsTask.pad, count: length - expr.count) + expr
            var targets = [Int32](repeating: TaskBatch.ignored, count: length)
            targets[length - 1] = Int32(try! ListOpsTask.evaluate(expr))
            return (inputs, targets)
        }
    }
}

import StrataCore

/// One generated batch of a capability task: token inputs [B·T] and targets [B·T] that are −100 everywhere
/// except at the scored positions, where they hold the token the model must predict *at* that position
/// (the usual next-token alignment: the target at t is read from the logits at t).
public struct TaskBatch: Sendable {
    /// Token ids [B·T], row-major by sequence.
    public var inputs: [Int32]
    /// Targets [B·T]; `TaskBatch.ignored` where nothing is scored.
    public var targets: [Int32]
    /// Sequences B.
    public var batchSize: Int
    /// Sequence length T.
    public var length: Int
    /// Vocabulary size V the inputs and targets need.
    public var vocabSize: Int
    /// Real-valued prompts for tasks that are not token tasks (`icl_linear_regression`); nil otherwise.
    public var regression: RegressionBatch?

    /// The target value that marks an unscored position (what `crossEntropy` ignores).
    public static let ignored: Int32 = -100

    /// A token batch.
    public init(inputs: [Int32], targets: [Int32], batchSize: Int, length: Int, vocabSize: Int,
                regression: RegressionBatch? = nil) {
        self.inputs = inputs; self.targets = targets; self.batchSize = batchSize; self.length = length
        self.vocabSize = vocabSize; self.regression = regression
    }

    /// Indices into `targets` of the scored positions, in order.
    public var scoredPositions: [Int] { targets.indices.filter { targets[$0] != TaskBatch.ignored } }
}

/// Real-valued prompts: one token of width F per position, and one real target per sequence, read at the
/// last position (in-context regression, where a column (x_i, y_i) is one token).
public struct RegressionBatch: Sendable {
    /// Prompt features [B, T, F], row-major.
    public var features: [Float]
    /// Token width F.
    public var width: Int
    /// Targets: one per sequence [B], predicted at its last position, or one per position [B·T] (tasks that
    /// score every step; NaN marks an unscored position). See `RealValuedTask`.
    public var targets: [Float]
}

/// A documented option of a task, with the value the task was built with.
public struct TaskKnob: Sendable, Equatable {
    /// Knob name as written on the command line (`--knob name=value`).
    public var name: String
    /// Current value, as text.
    public var value: String
    /// What it controls and its valid range.
    public var help: String

    /// A knob.
    public init(_ name: String, _ value: String, _ help: String) {
        self.name = name; self.value = value; self.help = help
    }
}

/// A synthetic capability probe (catalog section 10): batches are generated on the fly from an RNG, so a
/// seed fixes the data and disjoint seed streams give disjoint train and test sets.
public protocol CapabilityTask: Sendable {
    /// Catalog id, e.g. `mqar`.
    var id: String { get }
    /// One line saying what is tested.
    var summary: String { get }
    /// The task's options with their current values.
    var knobs: [TaskKnob] { get }
    /// Vocabulary size V every batch fits in.
    var vocabSize: Int { get }
    /// Sequence length T of every batch.
    var length: Int { get }
    /// Accuracy of guessing uniformly among the possible answers at a scored position.
    var chance: Double { get }
    /// True when sequence-level accuracy (every scored position right) means something beyond the
    /// per-position one, that is when a sequence has several dependent scored positions.
    var scoresSequences: Bool { get }
    /// A fresh batch of `size` sequences.
    func batch(size: Int, rng: inout RNG) -> TaskBatch
}

/// A task id, knob or knob value that is not valid: names it and lists what would be.
public struct TaskError: Error, CustomStringConvertible {
    /// The message for users.
    public var description: String
    /// An error with this message.
    public init(_ message: String) { description = message }
}

/// Reads `--knob name=value` settings for one task, rejecting unknown names and out-of-range values.
public struct KnobReader {
    private var values: [String: String]
    private var used: Set<String> = []
    private let task: String

    /// Settings for `task`; a name given twice keeps the last value.
    public init(task: String, _ settings: [String: String]) {
        self.task = task
        values = settings
    }

    /// An integer knob in `range`, `fallback` when absent.
    public mutating func int(_ name: String, _ fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        used.insert(name)
        guard let text = values[name] else { return fallback }
        guard let v = Int(text), range.contains(v) else {
            throw TaskError("\(task): knob \(name)=\(text) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    /// A real knob in `range`, `fallback` when absent.
    public mutating func double(_ name: String, _ fallback: Double, in range: ClosedRange<Double>) throws -> Double {
        used.insert(name)
        guard let text = values[name] else { return fallback }
        guard let v = Double(text), range.contains(v) else {
            throw TaskError("\(task): knob \(name)=\(text) must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    /// A knob with one of `choices`, `fallback` when absent.
    public mutating func choice(_ name: String, _ fallback: String, _ choices: [String]) throws -> String {
        used.insert(name)
        guard let text = values[name] else { return fallback }
        guard choices.contains(text) else {
            throw TaskError("\(task): knob \(name)=\(text) must be one of \(choices.joined(separator: ", "))")
        }
        return text
    }

    /// Throws naming every given knob the task did not read, with the valid ones.
    public func finish() throws {
        let unknown = values.keys.filter { !used.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw TaskError("\(task): unknown knob\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", ")); valid: \(used.sorted().joined(separator: ", "))")
        }
    }
}

/// The registry of capability tasks: id → builder from knob settings.
public enum CapabilityTasks {
    /// Every task id, in the order `strata tasks list` prints them.
    public static let ids = ["mqar", "selective_copying", "induction_heads", "icl_linear_regression", "lra_listops",
                             "passkey_retrieval", "phonebook", "delayed_recall", "delayed_signal", "state_tracking"]

    /// Builds task `id` with `knobs` (name → value); errors name an unknown id or knob and list valid ones.
    public static func make(_ id: String, knobs: [String: String] = [:]) throws -> any CapabilityTask {
        var r = KnobReader(task: id, knobs)
        let task: any CapabilityTask
        switch id {
        case "mqar": task = try MQARTask(&r)
        case "selective_copying": task = try SelectiveCopyingTask(&r)
        case "induction_heads": task = try InductionHeadsTask(&r)
        case "icl_linear_regression": task = try ICLRegressionTask(&r)
        case "lra_listops": task = try ListOpsTask(&r)
        case "passkey_retrieval": task = try PasskeyTask(&r)
        case "phonebook": task = try PhonebookTask(&r)
        case "delayed_recall": task = try DelayedRecallTask(&r)
        case "delayed_signal": task = try DelayedSignalTask(&r)
        case "state_tracking": task = try StateTrackingTask(&r)
        default: throw TaskError("unknown task \(id); valid: \(ids.joined(separator: ", "))")
        }
        try r.finish()
        return task
    }

    /// Every task with its default knobs.
    public static func all() -> [any CapabilityTask] { ids.map { try! make($0) } }
}

extension RNG {
    /// A uniform integer in 0..<n (n ≥ 1); the modulo bias is below 2⁻⁴⁰ for the small n tasks use.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// `k` distinct integers from 0..<n in random order (partial Fisher–Yates).
    mutating func distinct(_ k: Int, below n: Int) -> [Int] {
        var pool = Array(0..<n)
        for i in 0..<k { pool.swapAt(i, i + below(n - i)) }
        return Array(pool.prefix(k))
    }
}

import Foundation
import StrataModels
import StrataTrain

/// Everything the HTML report shows about one run, as plain values (no store needed to render).
public struct ReportRun: Sendable {
    /// Run id.
    public var id: String
    /// Display name (legend, table).
    public var name: String
    /// One line describing the model (e.g. `d_model=384, n_layers=6`).
    public var specSummary: String
    /// Trainable parameter count.
    public var parameterCount: Int
    /// Evaluation passes (all splits).
    public var evaluations: [EvaluationRecord]
    /// Training loss by step.
    public var trainLoss: [MetricPoint]
    /// Per-layer probe rows (all steps; the report plots each probe's last step).
    public var probes: [ProbeRecord]
    /// Training throughput, if measured.
    public var tokensPerSecond: Double?
    /// Peak resident memory in bytes, if measured.
    public var peakMemoryBytes: Int?

    /// Memberwise initializer.
    public init(id: String, name: String, specSummary: String = "", parameterCount: Int = 0,
                evaluations: [EvaluationRecord] = [], trainLoss: [MetricPoint] = [], probes: [ProbeRecord] = [],
                tokensPerSecond: Double? = nil, peakMemoryBytes: Int? = nil) {
        self.id = id
        self.name = name
        self.specSummary = specSummary
        self.parameterCount = parameterCount
        self.evaluations = evaluations
        self.trainLoss = trainLoss
        self.probes = probes
        self.tokensPerSecond = tokensPerSecond
        self.peakMemoryBytes = peakMemoryBytes
    }

    /// Reads a run (by id or unique id prefix) and its rows from `store`.
    ///
    /// Throughput and peak memory come from the run's summary (`tokens_per_s`, `peak_memory_bytes`)
    /// when it has them, else from the logged metrics of the same names (median tokens/s, since the
    /// first steps include warm-up; maximum memory).
    public static func load(from store: RunStore, id: String) throws -> ReportRun {
        let run = try store.run(id: id)
        let summary = run.summaryNumbers
        var tokensPerSecond = summary[RunMetric.tokensPerSecond]
        if tokensPerSecond == nil {
            let speeds = try store.metrics(runID: run.id, name: RunMetric.tokensPerSecond).map(\.value).filter(\.isFinite)
            tokensPerSecond = speeds.isEmpty ? nil : speeds.sorted()[speeds.count / 2]
        }
        var peakMemory = summary[RunMetric.peakMemoryBytes]
        if peakMemory == nil {
            peakMemory = try store.metrics(runID: run.id, name: RunMetric.peakMemoryBytes).map(\.value)
                .filter(\.isFinite).max()
        }
        return ReportRun(
            id: run.id, name: run.name, specSummary: summarize(specJSON: run.specJSON),
            parameterCount: run.parameterCount, evaluations: try store.evaluations(runID: run.id),
            trainLoss: try store.metrics(runID: run.id, name: RunMetric.trainLoss), probes: try store.probes(runID: run.id),
            tokensPerSecond: tokensPerSecond, peakMemoryBytes: peakMemory.map { Int($0) })
    }

    /// A one-line digest of a spec: its scalar fields (nested objects as dotted keys), sorted, shortened.
    public static func summarize(specJSON: String, limit: Int = 160) -> String {
        guard case .object(let object)? = (try? JSONValue.parse(Data(specJSON.utf8))) else {
            return Markup.truncate(specJSON, limit)
        }
        var parts: [String] = []
        func visit(_ dictionary: [String: JSONValue], prefix: String, depth: Int) {
            for key in dictionary.keys.sorted() {
                let value = dictionary[key]!
                if case .object(let nested) = value {
                    if depth < 2 { visit(nested, prefix: prefix + key + ".", depth: depth + 1) }
                } else if let text = value.scalarText {
                    parts.append("\(prefix)\(key)=\(text)")
                }
            }
        }
        visit(object, prefix: "", depth: 0)
        return Markup.truncate(parts.joined(separator: ", "), limit)
    }
}

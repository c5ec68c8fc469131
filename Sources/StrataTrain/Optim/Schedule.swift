import Foundation

/// Learning-rate multiplier over training (the trainer sets lr = peak × multiplier before each update).
///
/// JSON: `{"kind": "constant"}`, `{"kind": "cosine", "warmup": 100, "min_ratio": 0.1}`,
/// `{"kind": "wsd", "warmup": 100, "decay_fraction": 0.2, "min_ratio": 0}`. Omitted numbers take the
/// defaults below; unknown kinds and keys are errors that list the valid ones.
public enum LearningRateSchedule: Codable, Equatable, Sendable {
    /// Multiplier 1 throughout.
    case constant
    /// Linear warmup over `warmup` steps, then a half cosine from 1 down to `minRatio` at the last step
    /// (Loshchilov & Hutter 2017, without restarts).
    case cosine(warmup: Int, minRatio: Float)
    /// Warmup–stable–decay (Hu et al. 2024, MiniCPM): linear warmup, constant 1, then a linear decay to
    /// `minRatio` over the last `decayFraction` of the steps.
    case wsd(warmup: Int, decayFraction: Float, minRatio: Float)

    /// Multiplier for 0-based `step` of `totalSteps`. Warmup step s gives (s+1)/warmup, so the first update
    /// is not wasted and step warmup−1 reaches 1; decays reach `minRatio` at step totalSteps (and stay).
    public func multiplier(step: Int, totalSteps: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case .cosine(let warmup, let minRatio):
            if step < warmup { return Float(step + 1) / Float(warmup) }
            let span = max(1, totalSteps - warmup)
            let progress = min(1, Double(step - warmup) / Double(span))
            return minRatio + (1 - minRatio) * Float(0.5 * (1 + cos(Double.pi * progress)))
        case .wsd(let warmup, let decayFraction, let minRatio):
            if step < warmup { return Float(step + 1) / Float(warmup) }
            let decaySteps = Int((Double(decayFraction) * Double(totalSteps)).rounded())
            let decayStart = max(warmup, totalSteps - decaySteps)
            if step < decayStart { return 1 }
            let progress = min(1, Double(step - decayStart) / Double(max(1, totalSteps - decayStart)))
            return 1 - (1 - minRatio) * Float(progress)
        }
    }

    /// Valid `kind` values.
    public static let kinds = ["constant", "cosine", "wsd"]
    private static let keysByKind: [String: [String]] = [
        "constant": ["kind"], "cosine": ["kind", "warmup", "min_ratio"],
        "wsd": ["kind", "warmup", "decay_fraction", "min_ratio"],
    ]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes the JSON form; defaults: warmup 0, min_ratio 0.1 (cosine) / 0 (wsd), decay_fraction 0.2.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let kind = try c.decode(String.self, forKey: Key("kind"))
        guard let valid = Self.keysByKind[kind] else {
            throw DecodingError.dataCorruptedError(
                forKey: Key("kind"), in: c,
                debugDescription: "unknown schedule kind \"\(kind)\"; valid kinds: \(Self.kinds.joined(separator: ", "))")
        }
        for key in c.allKeys.map(\.stringValue).sorted() where !valid.contains(key) {
            throw DecodingError.dataCorruptedError(
                forKey: Key(key), in: c,
                debugDescription: "unknown key \"\(key)\" for schedule kind \"\(kind)\"; valid keys: \(valid.joined(separator: ", "))")
        }
        let warmup = try c.decodeIfPresent(Int.self, forKey: Key("warmup")) ?? 0
        guard warmup >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: Key("warmup"), in: c, debugDescription: "warmup must be ≥ 0, got \(warmup)")
        }
        switch kind {
        case "constant":
            self = .constant
        case "cosine":
            self = .cosine(warmup: warmup, minRatio: try c.decodeIfPresent(Float.self, forKey: Key("min_ratio")) ?? 0.1)
        default:
            let fraction = try c.decodeIfPresent(Float.self, forKey: Key("decay_fraction")) ?? 0.2
            guard fraction >= 0 && fraction <= 1 else {
                throw DecodingError.dataCorruptedError(
                    forKey: Key("decay_fraction"), in: c, debugDescription: "decay_fraction must be in [0, 1], got \(fraction)")
            }
            self = .wsd(warmup: warmup, decayFraction: fraction,
                        minRatio: try c.decodeIfPresent(Float.self, forKey: Key("min_ratio")) ?? 0)
        }
    }

    /// Encodes the JSON form with every key written.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .constant:
            try c.encode("constant", forKey: Key("kind"))
        case .cosine(let warmup, let minRatio):
            try c.encode("cosine", forKey: Key("kind"))
            try c.encode(warmup, forKey: Key("warmup"))
            try c.encode(minRatio, forKey: Key("min_ratio"))
        case .wsd(let warmup, let decayFraction, let minRatio):
            try c.encode("wsd", forKey: Key("kind"))
            try c.encode(warmup, forKey: Key("warmup"))
            try c.encode(decayFraction, forKey: Key("decay_fraction"))
            try c.encode(minRatio, forKey: Key("min_ratio"))
        }
    }
}

import Foundation
import StrataCore
import StrataNN

/// ALiBi (catalog `alibi`; Press et al., 2022, "Train Short, Test Long"): adds −m_h·(i − j) to the logit of query i
/// and key j ≤ i (keys j > i are masked by causality and get 0 here); in bidirectional models −m_h·|i − j|.
/// Slopes are geometric, m_h = 2^(−8h/H) for h = 1…H when H is a power of two; otherwise, as in the paper's code,
/// the slopes of the nearest lower power of two n followed by every other slope of 2n, starting with the first
/// (2^(−8h/(2n)) for h = 1, 3, 5, …), H − n of them. No parameters.
public final class ALiBiPositions: Module, Component, PositionalScheme {
    public typealias Options = NoOptions
    public static let info = ComponentInfo(
        id: "alibi", summary: "linear distance bias −m_h·(i−j) on attention logits, geometric head slopes",
        paper: "Train Short, Test Long: Attention with Linear Biases (Press et al., 2022)")

    /// Causal (−m·(i−j) for j ≤ i) or bidirectional (−m·|i−j|).
    public let causal: Bool

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        causal = context.causal
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 0 }

    /// The bias [1, H, T, S] is built in every attention call.
    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        ComponentCost(quadraticShared: Double(context.heads) * Double(context.contextLength) * Double(context.contextLength))
    }

    /// Head slopes m_1…m_H.
    public static func slopes(heads: Int) -> [Float] {
        guard heads > 0 else { return [] }
        func powerOfTwo(_ n: Int) -> [Double] { (1...n).map { Foundation.pow(2, -8 * Double($0) / Double(n)) } }
        var n = 1
        while n * 2 <= heads { n *= 2 }
        if n == heads { return powerOfTwo(n).map(Float.init) }
        let extra = powerOfTwo(2 * n).enumerated().filter { $0.offset % 2 == 0 }.map(\.element).prefix(heads - n)
        return (powerOfTwo(n) + extra).map(Float.init)
    }

    /// Bias [1, H, T, S] for T queries ending at key S − 1 (query t is at key index i = S − T + t).
    public func attentionBias(heads: Int, queries t: Int, keys s: Int) -> Tensor? {
        let m = ALiBiPositions.slopes(heads: heads)
        var bias = [Float](repeating: 0, count: heads * t * s)
        for h in 0..<heads {
            for ti in 0..<t {
                let i = s - t + ti
                for j in 0..<s {
                    let distance = causal ? max(i - j, 0) : abs(i - j)
                    bias[(h * t + ti) * s + j] = -m[h] * Float(distance)
                }
            }
        }
        return Tensor(bias, shape: [1, heads, t, s])
    }
}

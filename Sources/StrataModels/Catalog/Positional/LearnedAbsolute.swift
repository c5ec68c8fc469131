import StrataCore
import StrataNN

/// Learned absolute position embedding: x_p ← x_p + P[p], P [T_max, C] (catalog `learned_abs_pe`).
public final class LearnedAbsolutePositions: Module, Component, PositionalScheme {
    public typealias Options = NoOptions
    public static let info = ComponentInfo(id: "learned_abs_pe", summary: "learned absolute position embedding (GPT-2)")

    /// Table P [T_max, C].
    public let weight: Parameter

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        weight = Parameter(Initializer.normal(std: context.initStd).make([context.contextLength, context.dim], rng: &rng),
                           role: .embedding)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { context.contextLength * context.dim }

    public func embed(_ x: Tensor, offset: Int) -> Tensor {
        let t = x.shape[1], capacity = weight.shape[0]
        // Callers keep sequences within the context (training batches, evaluation, generation's restart).
        guard offset + t <= capacity else {
            shapeError("learned_abs_pe", "position \(offset + t - 1) is beyond the table of \(capacity) positions (context_length)")
        }
        let ids = (offset..<offset + t).map { Int32($0) }
        return x + embedding(weight.value, ids: ids, shape: [t])
    }
}

/// No positional signal (catalog `nope`); a causal mask still lets a decoder infer order.
public final class NoPositions: Module, Component, PositionalScheme {
    public typealias Options = NoOptions
    public static let info = ComponentInfo(id: "nope", summary: "no positional encoding")

    public init(options: Options, context: BuildContext, rng: inout RNG) { super.init() }
    public static func parameterCount(options: Options, context: BuildContext) -> Int { 0 }
}

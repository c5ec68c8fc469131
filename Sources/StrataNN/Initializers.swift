import StrataCore

/// Weight initializers. Each draws from the generator it is given, so a model's initial weights are a
/// function of its seed and parameter order only.
public enum Initializer: Sendable, Equatable {
    /// All zeros.
    case zeros
    /// All ones.
    case ones
    /// N(0, std²).
    case normal(std: Float)
    /// N(0, std²) truncated to ±2·std (redrawn outside).
    case truncatedNormal(std: Float)
    /// U(−bound, bound).
    case uniform(bound: Float)
    /// Glorot/Xavier uniform: U(±√(6 / (fanIn + fanOut))).
    case xavierUniform
    /// PyTorch's default for Linear: U(±1/√fanIn).
    case fanInUniform

    /// A tensor of `shape` drawn by this rule; fan-in is the last dimension, fan-out the first.
    public func make(_ shape: [Int], rng: inout RNG) -> Tensor {
        let fanIn = Float(shape.last ?? 1), fanOut = Float(shape.first ?? 1)
        switch self {
        case .zeros: return Tensor.zeros(shape)
        case .ones: return Tensor.ones(shape)
        case .normal(let std): return rng.normal(shape, std: std)
        case .truncatedNormal(let std): return rng.truncatedNormal(shape, std: std, low: -2 * std, high: 2 * std)
        case .uniform(let bound): return rng.uniform(shape, low: -bound, high: bound)
        case .xavierUniform:
            let bound = (6 / (fanIn + fanOut)).squareRoot()
            return rng.uniform(shape, low: -bound, high: bound)
        case .fanInUniform:
            let bound = 1 / fanIn.squareRoot()
            return rng.uniform(shape, low: -bound, high: bound)
        }
    }
}

import Foundation
import StrataCore
import StrataNN

/// Fixed sinusoidal absolute position embedding (catalog `sinusoidal`; Vaswani et al., 2017, section 3.5):
/// PE[p, 2i] = sin(p / base^(2i/C)), PE[p, 2i+1] = cos(p / base^(2i/C)), added to the token embeddings. No
/// parameters; positions beyond context_length are computed on demand (no table limit).
public final class SinusoidalPositions: Module, Component, PositionalScheme {
    /// The frequency base.
    public struct Options: ComponentOptions {
        /// 10000 in the paper.
        public var base: Float
        public init(_ r: inout OptionReader) {
            base = r.float("base", default: 10000, "frequency base", in: 1.0001...1e12)
        }
    }
    public static let info = ComponentInfo(
        id: "sinusoidal", summary: "fixed sin/cos absolute position embedding added to the token embeddings",
        paper: "Attention Is All You Need (Vaswani et al., 2017)")

    /// Frequency base.
    public let base: Double
    let dim: Int
    let table: [Float]                                          // [T_max, C]

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        base = Double(options.base)
        dim = context.dim
        var t = [Float]()
        t.reserveCapacity(context.contextLength * context.dim)
        for p in 0..<context.contextLength { t += SinusoidalPositions.row(p, dim: context.dim, base: Double(options.base)) }
        table = t
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 0 }

    /// The table [T, C].
    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        ComponentCost(tableFloats: Double(context.contextLength) * Double(context.dim))
    }

    /// PE[p] [C].
    static func row(_ p: Int, dim: Int, base: Double) -> [Float] {
        (0..<dim).map { c in
            let angle = Double(p) / Foundation.pow(base, Double(c - c % 2) / Double(dim))
            return Float(c % 2 == 0 ? Foundation.sin(angle) : Foundation.cos(angle))
        }
    }

    /// The embedding PE [T, C] for positions offset..<offset+T.
    public func embedding(offset: Int, count t: Int) -> Tensor {
        var v = [Float]()
        v.reserveCapacity(t * dim)
        for p in offset..<offset + t {
            if (p + 1) * dim <= table.count { v += table[p * dim..<(p + 1) * dim] }
            else { v += SinusoidalPositions.row(p, dim: dim, base: base) }
        }
        return Tensor(v, shape: [t, dim])
    }

    public func embed(_ x: Tensor, offset: Int) -> Tensor {
        guard x.rank == 3, x.shape[2] == dim else { shapeError("sinusoidal", "embed expects [B, T, \(dim)], got \(x.shape)") }
        return x + embedding(offset: offset, count: x.shape[1])
    }
}

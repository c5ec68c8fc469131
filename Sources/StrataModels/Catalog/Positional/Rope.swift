import Foundation
import StrataCore
import StrataNN

/// Rotary position embedding (catalog `rope`; Su et al., 2021, "RoFormer"): each consecutive pair (2i, 2i+1) of a
/// head's q and k at position p is rotated by the angle p·θ_i, θ_i = base^(−2i/r), so q_p·k_s depends only on p − s.
///
/// Layout: interleaved pairs (2i, 2i+1), as the catalog and the RoFormer paper write it (GPT-NeoX/Llama code uses
/// the half-split layout (i, i + r/2), an equivalent model up to a fixed permutation of the q/k channels, but not
/// checkpoint-compatible). Partial rotary (`fraction`) rotates only the first r = round(fraction·D/2)·2 dims, with
/// the frequencies spread over r (GPT-NeoX's rotary_pct convention); the rest pass through unchanged.
/// Angles are computed in double precision; cos/sin tables cover 0..<context_length for the build-time D, and any
/// position beyond (or another head width) is computed on demand without changing the tables.
public final class RotaryPositions: Module, Component, PositionalScheme {
    /// Base and fraction.
    public struct Options: ComponentOptions {
        /// Frequency base (10000 in RoFormer).
        public var base: Float
        /// Fraction of each head's dims that rotate.
        public var fraction: Float
        public init(_ r: inout OptionReader) {
            base = r.float("base", default: 10000, "frequency base: θ_i = base^(−2i/r)", in: 1.0001...1e12)
            fraction = r.float("fraction", default: 1, "fraction of head dims rotated (partial rotary): r = round(fraction·D/2)·2", in: 0...1)
        }
    }
    public static let info = ComponentInfo(
        id: "rope", summary: "rotary position embedding on q and k (interleaved pairs, optional partial rotary)",
        paper: "RoFormer: Enhanced Transformer with Rotary Position Embedding (Su et al., 2021)")

    /// Frequency base.
    public let base: Double
    /// Fraction of head dims rotated.
    public let fraction: Float
    let tableDim: Int
    let cosTable: [Float], sinTable: [Float]                   // [T_max, r/2] for D = tableDim

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        base = Double(options.base)
        fraction = options.fraction
        tableDim = context.headDim
        let pairs = RotaryPositions.rotatedPairs(headDim: context.headDim, fraction: options.fraction)
        var c = [Float](), s = [Float]()
        c.reserveCapacity(context.contextLength * pairs)
        s.reserveCapacity(context.contextLength * pairs)
        for p in 0..<context.contextLength {
            for i in 0..<pairs {
                let angle = Double(p) * RotaryPositions.frequency(i, pairs: pairs, base: Double(options.base))
                c.append(Float(Foundation.cos(angle)))
                s.append(Float(Foundation.sin(angle)))
            }
        }
        cosTable = c
        sinTable = s
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 0 }

    /// The cos and sin tables, T × r/2 floats each.
    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        let pairs = RotaryPositions.rotatedPairs(headDim: context.headDim, fraction: options.fraction)
        return ComponentCost(tableFloats: 2 * Double(context.contextLength) * Double(pairs))
    }

    /// Rotated pairs r/2 for head width D: round(fraction·D/2).
    public static func rotatedPairs(headDim: Int, fraction: Float) -> Int {
        min(headDim / 2, Int((Double(fraction) * Double(headDim) / 2).rounded()))
    }

    /// θ_i = base^(−2i/r) with r = 2·pairs.
    static func frequency(_ i: Int, pairs: Int, base: Double) -> Double {
        Foundation.pow(base, -Double(2 * i) / Double(2 * pairs))
    }

    /// cos and sin [T, r/2, 1] for positions offset..<offset+T.
    func tables(offset: Int, count t: Int, headDim: Int, pairs: Int) -> (Tensor, Tensor) {
        var c = [Float](repeating: 0, count: t * pairs), s = c
        let tabled = headDim == tableDim ? cosTable.count / max(pairs, 1) : 0
        for ti in 0..<t {
            let p = offset + ti
            for i in 0..<pairs {
                if p < tabled {
                    c[ti * pairs + i] = cosTable[p * pairs + i]
                    s[ti * pairs + i] = sinTable[p * pairs + i]
                } else {
                    let angle = Double(p) * RotaryPositions.frequency(i, pairs: pairs, base: base)
                    c[ti * pairs + i] = Float(Foundation.cos(angle))
                    s[ti * pairs + i] = Float(Foundation.sin(angle))
                }
            }
        }
        return (Tensor(c, shape: [t, pairs, 1]), Tensor(s, shape: [t, pairs, 1]))
    }

    /// q or k [B, H, T, D] at positions offset..<offset+T → rotated, with the fused op.
    public func rotate(_ x: Tensor, offset: Int) -> Tensor {
        guard x.rank == 4 else { shapeError("rope", "rotate expects [B, H, T, D], got \(x.shape)") }
        let (t, d) = (x.shape[2], x.shape[3])
        let pairs = RotaryPositions.rotatedPairs(headDim: d, fraction: fraction)
        guard pairs > 0 else { return x }
        let (cos, sin) = tables(offset: offset, count: t, headDim: d, pairs: pairs)
        return x.rotaryEmbedding(cos: cos.reshaped([t, pairs]), sin: sin.reshaped([t, pairs]))
    }

    /// The composed form of `rotate` (slices, products, concat): the fused op's reference twin.
    public func rotateComposed(_ x: Tensor, offset: Int) -> Tensor {
        guard x.rank == 4 else { shapeError("rope", "rotate expects [B, H, T, D], got \(x.shape)") }
        let (b, h, t, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let pairs = RotaryPositions.rotatedPairs(headDim: d, fraction: fraction)
        guard pairs > 0 else { return x }
        let r = 2 * pairs
        let (cos, sin) = tables(offset: offset, count: t, headDim: d, pairs: pairs)
        let xr = (r == d ? x : x.slice(axis: 3, 0..<r)).reshaped([b, h, t, pairs, 2])
        let x0 = xr.slice(axis: 4, 0..<1), x1 = xr.slice(axis: 4, 1..<2)              // [B, H, T, r/2, 1]
        let y = Tensor.concat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], axis: 4).reshaped([b, h, t, r])
        return r == d ? y : Tensor.concat([y, x.slice(axis: 3, r..<d)], axis: 3)
    }
}

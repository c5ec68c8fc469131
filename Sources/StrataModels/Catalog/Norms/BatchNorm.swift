import StrataCore
import StrataNN

/// BatchNorm over the channel axis (catalog `batch_norm`): in training, per-channel mean and (biased)
/// variance over every batch × time position, with running estimates updated by
/// r ← (1 − momentum)·r + momentum·batch (the running variance uses the unbiased batch variance, as in
/// PyTorch); in evaluation (`isTraining == false`) the running estimates, so the layer is a fixed per-channel
/// affine map that folds into an adjacent `Linear` (`folded(into:)`).
///
/// The running mean and variance are `Parameter`s with role `.other` so that they travel in state dicts and
/// checkpoints; they are only ever read detached, so they never receive a gradient (optimizers skip them),
/// and they are replaced (not written in place) on each update. They do count in `parameterCount`: the
/// formula is 4·C. Caveat (catalog): in training a token's output depends on every other token of the batch,
/// including later ones, so a causal decoder with `batch_norm` is causal only in evaluation mode.
public final class BatchNormLayer: Module, Component, NormLayer {
    /// BatchNorm options.
    public struct Options: ComponentOptions {
        public var eps: Float
        public var momentum: Float
        public init(_ r: inout OptionReader) {
            eps = r.float("eps", default: 1e-5, "added to the variance", in: 0...1)
            momentum = r.float("momentum", default: 0.1, "weight of the new batch in the running estimates", in: 0...1)
        }
    }
    public static let info = ComponentInfo(id: "batch_norm", summary: "BatchNorm over batch×time, running stats at eval, foldable",
                                           paper: "Batch Normalization (Ioffe & Szegedy, 2015)")

    /// Gain γ [C].
    public let weight: Parameter
    /// Shift β [C].
    public let bias: Parameter
    /// Running mean μ [C] (no gradient).
    public let runningMean: Parameter
    /// Running variance σ² [C] (no gradient).
    public let runningVariance: Parameter
    public let eps: Float
    public let momentum: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        weight = Parameter(.ones([context.dim]), role: .norm)
        bias = Parameter(.zeros([context.dim]), role: .norm)
        runningMean = Parameter(.zeros([context.dim]), role: .other)
        runningVariance = Parameter(.ones([context.dim]), role: .other)
        eps = options.eps
        momentum = options.momentum
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 4 * context.dim }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        let c = x.shape[x.rank - 1]
        guard c == weight.shape[0] else {
            shapeError("batch_norm", "input \(x.shape) does not end in \(weight.shape[0]) channels")
        }
        guard isTraining else {
            let (scale, shift) = affine()
            return x * scale + shift
        }
        let rows = x.reshaped([-1, c])                                  // [N, C], N = B·T
        let n = rows.shape[0]
        let mean = rows.mean(axis: 0)                                   // [C]
        let centered = rows - mean
        let variance = (centered * centered).mean(axis: 0)              // [C], biased
        updateRunningStatistics(mean: mean.detached(), variance: variance.detached(), count: n)
        let y = centered * (variance + eps).rsqrt() * weight.value + bias.value
        return y.reshaped(x.shape)
    }

    /// The evaluation-mode map y = x ⊙ scale + shift: scale = γ/σ, shift = β − γ⊙μ/σ, σ = √(running var + ε).
    public func affine() -> (scale: Tensor, shift: Tensor) {
        let rstd = (runningVariance.value.detached() + eps).rsqrt()
        let scale = weight.value * rstd
        return (scale, bias.value - runningMean.value.detached() * scale)
    }

    private func updateRunningStatistics(mean: Tensor, variance: Tensor, count n: Int) {
        withNoGrad {
            let unbiased = n > 1 ? variance * (Float(n) / Float(n - 1)) : variance
            runningMean.assign(runningMean.value.detached() * (1 - momentum) + mean * momentum)
            runningVariance.assign(runningVariance.value.detached() * (1 - momentum) + unbiased * momentum)
        }
    }

    /// A `Linear` equal to `linear` applied after this layer in evaluation mode (column form y = W·BN(x) + b):
    /// W' = W·diag(γ/σ), b' = b + W(β − γ⊙μ/σ). The result has a bias even if `linear` has none.
    public func folded(into linear: Linear) -> Linear {
        guard linear.inputs == weight.shape[0] else {
            shapeError("batch_norm.folded", "Linear takes \(linear.inputs) inputs, the norm has \(weight.shape[0]) channels")
        }
        return withNoGrad {
            let (scale, shift) = affine()
            let w = linear.weight.value.detached()                     // [out, C]
            let foldedWeight = w * scale                                // scales column j by scale[j]
            var foldedBias = w.matmul(shift.reshaped([-1, 1])).reshaped([linear.outputs])
            if let b = linear.bias { foldedBias = foldedBias + b.value.detached() }
            var rng = RNG(seed: 0)                                      // values are overwritten below
            let out = Linear(linear.inputs, linear.outputs, bias: true, rng: &rng, weightInit: .zeros, biasInit: .zeros)
            out.weight.assign(foldedWeight)
            out.bias!.assign(foldedBias)
            return out
        }
    }
}

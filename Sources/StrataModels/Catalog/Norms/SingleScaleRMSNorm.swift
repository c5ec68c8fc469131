import StrataCore
import StrataNN

/// Single-Scale RMSNorm: g · x / RMS(x) with one learnable scalar g instead of a per-channel gain, which
/// removes a source of channel-wise activation outliers (catalog `ss_rms_norm`; Outlier-Safe Pre-training).
public final class SingleScaleRMSNorm: Module, Component, NormLayer {
    /// Single-scale RMSNorm options.
    public struct Options: ComponentOptions {
        public var eps: Float
        public init(_ r: inout OptionReader) {
            eps = r.float("eps", default: 1e-5, "added to the mean square", in: 0...1)
        }
    }
    public static let info = ComponentInfo(id: "ss_rms_norm", summary: "RMSNorm with one scalar gain (no per-channel γ)",
                                           paper: "Outlier-Safe Pre-Training (OSP)")

    /// Scalar gain g [1], initialized to 1 so the layer starts as a gain-free RMSNorm.
    public let scale: Parameter
    public let eps: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        scale = Parameter(.ones([1]), role: .norm)
        eps = options.eps
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 1 }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        x.rmsNorm(weight: nil, eps: eps) * scale.value
    }
}

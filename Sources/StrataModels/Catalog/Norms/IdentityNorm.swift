import StrataCore
import StrataNN

/// No normalization: the identity (catalog norm `none`).
public final class IdentityNorm: Module, Component, NormLayer {
    public typealias Options = NoOptions
    public static let info = ComponentInfo(id: "none", summary: "no normalization (identity)")

    public init(options: Options, context: BuildContext, rng: inout RNG) { super.init() }
    public static func parameterCount(options: Options, context: BuildContext) -> Int { 0 }
    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor { x }
}

import StrataCore
import StrataNN

/// No channel mixer (catalog channel mixer `none`): the block has a token-mixer sublayer only, as in
/// Mamba-style stacks. Blocks skip the channel sublayer entirely, so this module is never called.
public final class NoChannelMixer: Module, Component, ChannelMixer {
    public typealias Options = NoOptions
    public static let info = ComponentInfo(id: "none", summary: "no channel sublayer (token mixer only)")

    public init(options: Options, context: BuildContext, rng: inout RNG) { super.init() }
    public static func parameterCount(options: Options, context: BuildContext) -> Int { 0 }
    public func forward(_ x: Tensor, context: MixerContext) -> Tensor { x }
}

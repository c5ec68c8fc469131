import StrataCore
import StrataNN

/// One sublayer site: its input norm, optional output norm (Peri-LN), the function and the residual scheme.
public final class Sublayer: Module {
    public let inputNorm: (any NormLayer)?
    public let outputNorm: (any NormLayer)?
    public let residual: any ResidualConnection
    let placement: NormPlacement
    let inSite: NormSite, outSite: NormSite

    init(placement: NormPlacement, makeNorm: () -> any NormLayer, residual: any ResidualConnection,
         inSite: NormSite, outSite: NormSite) {
        self.placement = placement
        inputNorm = placement == .none ? nil : makeNorm()
        outputNorm = placement == .peri ? makeNorm() : nil
        self.residual = residual
        self.inSite = inSite
        self.outSite = outSite
        super.init()
    }

    // `inputNorm` exists under pre, peri and post and `outputNorm` under peri (see init): the unwraps below follow
    // from the placement they are under.

    /// The sublayer input the function sees (normalized under pre and peri).
    func input(_ x: Tensor, _ scratch: BlockScratch) -> Tensor {
        switch placement {
        case .pre, .peri: inputNorm!.normalize(x, site: inSite, scratch: scratch)
        case .post, .none: x
        }
    }

    /// The new stream from the stream x and the function's output y.
    func output(_ x: Tensor, _ y: Tensor, _ scratch: BlockScratch) -> Tensor {
        switch placement {
        case .pre, .none: residual.combine(x, y)
        case .peri: residual.combine(x, outputNorm!.normalize(y, site: outSite, scratch: scratch))
        case .post: inputNorm!.normalize(residual.combine(x, y), site: outSite, scratch: scratch)
        }
    }
}

/// A block: a token mixer and a channel mixer (two for macaron), each in a sublayer site, in one of the
/// three layouts. Sequential: x ← S_mix(x); x ← S_ch(x). Parallel: x ← x + F_mix(x) + F_ch(x) (one residual,
/// post-norm after the sum). Macaron: x ← S_ch₁(x) with ½·FFN; x ← S_mix(x); x ← S_ch₂(x) with ½·FFN.
public final class Block: Module {
    public let mixerSite: Sublayer
    public let mixer: any TokenMixer
    public let channelSite: Sublayer?
    public let channel: (any ChannelMixer)?
    /// The first (half) FFN of a macaron block.
    public let preChannelSite: Sublayer?
    public let preChannel: (any ChannelMixer)?
    public let layout: BlockLayout
    public let layer: Int
    let dropout: Dropout?

    /// Builds layer `layer` of `spec`.
    public init(spec: ModelSpec, layer: Int, rng: inout RNG) {
        let b = spec.block(at: layer)
        let ctx = spec.buildContext(layer: layer)
        func component<P>(_ registry: Registry<P>, _ c: ComponentSpec, _ path: String, rng: inout RNG) -> P {
            // Internal invariant: `TransformerModel.init` validated the spec, so every component resolves.
            guard let (entry, options) = registry.resolve(c, path: path) else {
                fatalError("Block: \(path) \(c.id) does not resolve; validate the spec before building")
            }
            return entry.build(options, context: ctx, rng: &rng)
        }
        layout = b.layout
        self.layer = layer
        func site(_ inSite: NormSite, _ outSite: NormSite, rng: inout RNG) -> Sublayer {
            var local = rng.split()
            let s = Sublayer(placement: b.placement,
                             makeNorm: { component(Catalog.norms, b.norm, "norm", rng: &local) },
                             residual: component(Catalog.residuals, b.residual, "residual", rng: &local),
                             inSite: inSite, outSite: outSite)
            return s
        }
        let hasChannel = b.channelMixer.id != "none"
        if b.layout == .macaron && hasChannel {
            preChannelSite = site(.channelInput, .channelOutput, rng: &rng)
            preChannel = component(Catalog.channelMixers, b.channelMixer, "channel_mixer", rng: &rng)
        } else {
            preChannelSite = nil
            preChannel = nil
        }
        mixerSite = site(.mixerInput, .mixerOutput, rng: &rng)
        mixer = component(Catalog.tokenMixers, b.tokenMixer, "token_mixer", rng: &rng)
        if hasChannel {
            channelSite = site(.channelInput, .channelOutput, rng: &rng)
            channel = component(Catalog.channelMixers, b.channelMixer, "channel_mixer", rng: &rng)
        } else {
            channelSite = nil
            channel = nil
        }
        dropout = spec.dropout > 0 ? Dropout(spec.dropout, seed: rng.next()) : nil
        super.init()
    }

    /// x [B, T, C] → [B, T, C]; `cache` is this block's mixer cache when decoding.
    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let scratch = BlockScratch(tokenMixer: mixer, offset: cache?.length ?? context.offset, probes: context.probes,
                                   layer: layer)
        func drop(_ y: Tensor) -> Tensor { dropout.map { $0(y) } ?? y }
        func channelOut(_ site: Sublayer, _ f: any ChannelMixer, _ h: Tensor, scale: Float) -> Tensor {
            var y = f.forward(site.input(h, scratch), context: context)
            if scale != 1 { y = y * scale }
            context.probes?.recordChannelOutput(layer: layer, y)
            return drop(y)
        }
        var h = x
        switch layout {
        case .sequential, .macaron:
            if let site = preChannelSite, let f = preChannel {
                h = site.output(h, channelOut(site, f, h, scale: 0.5), scratch)
            }
            h = mixerSite.output(h, drop(mixer.forward(mixerSite.input(h, scratch), context: context, cache: cache)), scratch)
            if let site = channelSite, let f = channel {
                h = site.output(h, channelOut(site, f, h, scale: layout == .macaron ? 0.5 : 1), scratch)
            }
        case .parallel:
            // Both branches read the same stream; under peri each branch output is normalized before the sum.
            var y = drop(mixer.forward(mixerSite.input(h, scratch), context: context, cache: cache))
            if let out = mixerSite.outputNorm { y = out.normalize(y, site: .mixerOutput, scratch: scratch) }
            if let site = channelSite, let f = channel {
                var c = channelOut(site, f, h, scale: 1)
                if let out = site.outputNorm { c = out.normalize(c, site: .channelOutput, scratch: scratch) }
                y = y + c
            }
            h = mixerSite.residual.combine(h, y)
            if mixerSite.placement == .post { h = mixerSite.inputNorm!.normalize(h, site: .mixerOutput, scratch: scratch) }
        }
        context.probes?.recordBlock(layer: layer, input: x, output: h)
        return h
    }
}

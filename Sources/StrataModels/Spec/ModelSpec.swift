import Foundation

/// Where a block's norms sit (catalog `post`, `pre`, `peri`, `none`).
public enum NormPlacement: String, CaseIterable, Sendable {
    /// x ← Norm(x + F(x)).
    case post
    /// x ← x + F(Norm(x)), with a final norm before the head.
    case pre
    /// x ← x + Norm_out(F(Norm_in(x))), with an embedding norm and a final norm.
    case peri
    /// x ← x + F(x).
    case none
}

/// The order of a block's sublayers (catalog `parallel_block`, `macaron`).
public enum BlockLayout: String, CaseIterable, Sendable {
    /// Token mixer, then channel mixer.
    case sequential
    /// x ← x + F_mix(x) + F_channel(x).
    case parallel = "parallel_block"
    /// x ← x + ½·FFN₁(x); x ← x + Mix(x); x ← x + ½·FFN₂(x).
    case macaron
}

/// The kind of model a spec builds.
public enum ModelKind: String, CaseIterable, Sendable {
    /// Causal language model with a next-token head.
    case decoder
    /// Bidirectional encoder with pooling and a classification or regression head.
    case encoder
}

/// One block: norm placement × norm × token mixer × channel mixer × residual × layout.
public struct BlockSpec: Equatable, Sendable {
    public var placement: NormPlacement = .pre
    public var norm: ComponentSpec = "layer_norm"
    public var tokenMixer: ComponentSpec = "softmax_attention"
    public var channelMixer: ComponentSpec = "mlp"
    public var residual: ComponentSpec = "add"
    public var layout: BlockLayout = .sequential

    public init() {}
}

/// Block settings that replace the default block's at some layers (a hybrid is one override).
public struct LayerOverride: Equatable, Sendable {
    /// 0-based layer indices the override applies to.
    public var layers: [Int]
    public var placement: NormPlacement?
    public var norm: ComponentSpec?
    public var tokenMixer: ComponentSpec?
    public var channelMixer: ComponentSpec?
    public var residual: ComponentSpec?
    public var layout: BlockLayout?

    public init(layers: [Int]) { self.layers = layers }

    /// `base` with this override's settings applied.
    public func apply(to base: BlockSpec) -> BlockSpec {
        var b = base
        if let placement { b.placement = placement }
        if let norm { b.norm = norm }
        if let tokenMixer { b.tokenMixer = tokenMixer }
        if let channelMixer { b.channelMixer = channelMixer }
        if let residual { b.residual = residual }
        if let layout { b.layout = layout }
        return b
    }
}

/// Pooling and head of an encoder.
public struct EncoderHeadSpec: Equatable, Sendable {
    /// `mean` over non-padding tokens or the first (`cls`) token.
    public var pooling: String = "mean"
    /// `classification` (logits), `regression` (values) or `none` (the pooled embedding).
    public var task: String = "classification"
    /// Classes or regression targets.
    public var outputs: Int = 2

    public init() {}
}

/// A whole model, as written in a JSON spec (snake_case keys). Every default lives in this type's property
/// initializers and is listed by `ModelSpec.documentation`; decoding reports every problem at once.
public struct ModelSpec: Equatable, Sendable {
    public var name: String = "unnamed"
    public var model: ModelKind = .decoder
    public var vocabSize: Int = 256
    public var contextLength: Int = 256
    public var dim: Int = 384
    public var layers: Int = 6
    public var heads: Int = 6
    /// Head width D; nil means dim / heads.
    public var headDim: Int?
    public var positional: ComponentSpec = "learned_abs_pe"
    public var block = BlockSpec()
    public var overrides: [LayerOverride] = []
    /// Norm on the embedding output; nil means none, except under `peri` (the block norm).
    public var embeddingNorm: ComponentSpec?
    /// Norm before the head; nil means the block norm, except under `post` (none).
    public var finalNorm: ComponentSpec?
    public var tieEmbeddings: Bool = true
    /// A bias on the untied decoder head (needed to fold a final LayerNorm's β exactly, see `PreLNEquivalence`).
    public var headBias: Bool = false
    public var initStd: Float = 0.02
    public var dropout: Float = 0
    /// Coefficient c of the logit z-loss c·(log Z)² (catalog `z_loss`); 0 disables it.
    public var zLoss: Float = 0
    public var encoder = EncoderHeadSpec()
    /// Rows of the token-type (segment) embedding added to encoder inputs (BERT's sentence A/B); 0 means none.
    public var typeVocabSize: Int = 0

    public init() {}

    /// The effective head width.
    public var effectiveHeadDim: Int { headDim ?? dim / max(heads, 1) }

    /// The block used at `layer` after overrides (later overrides win).
    public func block(at layer: Int) -> BlockSpec {
        overrides.filter { $0.layers.contains(layer) }.reduce(block) { $1.apply(to: $0) }
    }

    /// The embedding norm actually used.
    public var effectiveEmbeddingNorm: ComponentSpec? {
        embeddingNorm ?? (block.placement == .peri ? block.norm : nil)
    }

    /// The final norm actually used (nil for none).
    public var effectiveFinalNorm: ComponentSpec? {
        let n = finalNorm ?? (block.placement == .post || block.placement == .none ? nil : block.norm)
        return n?.id == "none" ? nil : n
    }

    /// The context in which the components of `layer` are built.
    public func buildContext(layer: Int) -> BuildContext {
        BuildContext(dim: dim, heads: heads, headDim: effectiveHeadDim, layer: layer, layers: layers,
                     contextLength: contextLength, causal: model == .decoder, initStd: initStd)
    }
}

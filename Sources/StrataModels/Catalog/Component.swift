import StrataCore
import StrataNN

/// The spec slot a catalog entry fills.
public enum Slot: String, CaseIterable, Sendable {
    case norm, tokenMixer = "token_mixer", channelMixer = "channel_mixer", residual, positional
}

/// What the catalog says about an entry: its id, a one-line summary and the paper it implements.
public struct ComponentInfo: Sendable {
    /// Spec id (`rms_norm`, `swiglu`, …), as in `../shared/docs/catalog.md`.
    public var id: String
    /// One-line description.
    public var summary: String
    /// The paper (or "baseline") the formulation follows.
    public var paper: String

    public init(id: String, summary: String, paper: String = "baseline") {
        self.id = id
        self.summary = summary
        self.paper = paper
    }
}

/// Typed options of one component, parsed (and documented) through an `OptionReader`.
public protocol ComponentOptions {
    /// Reads every option; problems are collected in the reader.
    init(_ reader: inout OptionReader)
}

/// Options of a component that takes none.
public struct NoOptions: ComponentOptions {
    public init(_ reader: inout OptionReader) {}
}

/// Model-level facts a component is built against: widths, head layout, depth, position in the stack.
public struct BuildContext: Sendable {
    /// Model width C.
    public var dim: Int
    /// Query heads H.
    public var heads: Int
    /// Head width D.
    public var headDim: Int
    /// This block's 0-based index (−1 for model-level components such as the final norm).
    public var layer: Int
    /// Number of blocks L.
    public var layers: Int
    /// Longest sequence the model is built for.
    public var contextLength: Int
    /// Causal (decoder) or bidirectional (encoder).
    public var causal: Bool
    /// Standard deviation for weight initialization.
    public var initStd: Float

    public init(dim: Int, heads: Int, headDim: Int, layer: Int, layers: Int, contextLength: Int, causal: Bool,
                initStd: Float = 0.02) {
        self.dim = dim; self.heads = heads; self.headDim = headDim; self.layer = layer; self.layers = layers
        self.contextLength = contextLength; self.causal = causal; self.initStd = initStd
    }

    /// Standard deviation for output projections that write into the residual stream (GPT-2's 1/√(2L) scaling).
    public var residualInitStd: Float { initStd / Float(2 * max(layers, 1)).squareRoot() }
}

/// A catalog variant: a module with typed options, built from a context, with a parameter-count formula
/// the conformance suite checks against the built module.
public protocol Component: Module {
    /// The variant's options.
    associatedtype Options: ComponentOptions
    /// Id, summary and paper.
    static var info: ComponentInfo { get }
    /// Builds the module (initializing its parameters from `rng`).
    init(options: Options, context: BuildContext, rng: inout RNG)
    /// The number of trainable scalars this variant has for `options` in `context`, by formula.
    static func parameterCount(options: Options, context: BuildContext) -> Int
    /// Problems of `options` against the model (`context`) that the option ranges alone cannot see: divisibility
    /// of head counts, widths that must match, combinations the constructor cannot build. Paths are relative to the
    /// component (`kv_heads`); `ModelSpec.validate()` prefixes them with the component's key path. A spec that
    /// passes this check must build without trapping, so every `init` precondition that options can reach is
    /// declared here.
    static func issues(options: Options, context: BuildContext) -> [SpecIssue]
    /// The analytical cost per token of this variant for the cost model (`ModelSpec.cost`, `trainingMemory`).
    static func cost(options: Options, context: BuildContext) -> ComponentCost
}

extension Component {
    /// No constraints beyond the option ranges.
    public static func issues(options: Options, context: BuildContext) -> [SpecIssue] { [] }

    /// Every parameter is a weight each token multiplies, and the saved activations are as wide as the outputs of
    /// those multiplications (a C → F layer has C·F weights and an F-wide output). Mixers whose cost is not in their
    /// weights (attention scores, recurrent states) say so themselves.
    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        let p = Double(parameterCount(options: options, context: context))
        return ComponentCost(matmulWeights: p, activationsPerToken: p / Double(max(context.dim, 1)))
    }
}

// MARK: - Slot protocols

/// Where in a block a norm sits; norms that share statistics between their two sites (`bhyt`) use it.
public enum NormSite: Sendable {
    case embedding, mixerInput, mixerOutput, channelInput, channelOutput, final
}

/// Per-block scratch space shared by the block's norms (for norms whose second site reuses statistics of the
/// first, such as `bhyt`); a fresh one per block call.
public final class BlockScratch {
    /// Saved tensors by name.
    public var tensors: [String: Tensor] = [:]
    /// The block's token mixer, for norms whose statistics depend on its weights.
    public weak var tokenMixer: Module?
    /// Absolute position of the block input's first token (the cache length when decoding), for norms whose
    /// estimates depend on how many keys a position sees (`bhyt`).
    public var offset: Int
    /// Probe recorder of the forward pass (nil when not probing), for norms with their own probes (tanh
    /// saturation of `dyt`, `bhyt`), and the block index they record under (−1 outside blocks).
    public var probes: ProbeRecorder?
    public var layer: Int

    public init(tokenMixer: Module? = nil, offset: Int = 0, probes: ProbeRecorder? = nil, layer: Int = -1) {
        self.tokenMixer = tokenMixer
        self.offset = offset
        self.probes = probes
        self.layer = layer
    }
}

/// A normalization over the last (channel) axis: x [..., C] → [..., C].
public protocol NormLayer: Module {
    /// Normalizes x at `site`; `scratch` is shared by the norms of one block call.
    func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor
}

/// A positional scheme: adds absolute positions to embeddings, rotates queries and keys, or biases attention
/// logits. Each hook defaults to doing nothing.
public protocol PositionalScheme: Module {
    /// x [B, T, C] holding tokens at positions offset..<offset+T → x with positions added.
    func embed(_ x: Tensor, offset: Int) -> Tensor
    /// q or k [B, H, T, D] at positions offset..<offset+T → rotated.
    func rotate(_ x: Tensor, offset: Int) -> Tensor
    /// Additive logit bias [1, H, T, S] for T queries ending at key S−1 (query t is at position S−T+t).
    func attentionBias(heads: Int, queries: Int, keys: Int) -> Tensor?
}

extension PositionalScheme {
    public func embed(_ x: Tensor, offset: Int) -> Tensor { x }
    public func rotate(_ x: Tensor, offset: Int) -> Tensor { x }
    public func attentionBias(heads: Int, queries: Int, keys: Int) -> Tensor? { nil }
}

/// What a mixer sees besides its input.
public struct MixerContext {
    /// The model's positional scheme (for mixers that rotate or bias attention).
    public var positional: any PositionalScheme
    /// Absolute position of the first input token (the cache length when decoding).
    public var offset: Int
    /// Additive key-padding mask [B, 1, 1, S] (0 keep, −∞ drop), for padded encoder batches.
    public var keyPadding: Tensor?
    /// Probe recorder; nil when not probing.
    public var probes: ProbeRecorder?
    /// Block index.
    public var layer: Int

    public init(positional: any PositionalScheme, offset: Int = 0, keyPadding: Tensor? = nil,
                probes: ProbeRecorder? = nil, layer: Int = 0) {
        self.positional = positional; self.offset = offset; self.keyPadding = keyPadding
        self.probes = probes; self.layer = layer
    }
}

/// Decoding state of one token mixer: a KV cache or a recurrent state.
public protocol MixerCache: AnyObject {
    /// Tokens consumed so far.
    var length: Int { get }
}

/// Mixes information across positions: x [B, T, C] → [B, T, C].
public protocol TokenMixer: Module {
    /// Full-sequence form when `cache` is nil. With a cache, x continues the sequence the cache holds
    /// (a prefill chunk or one decoding step); the cache is extended.
    func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor
    /// An empty cache for `batch` sequences of up to `capacity` tokens.
    func makeCache(batch: Int, capacity: Int) -> MixerCache
}

/// Mixes channels of each token independently: x [B, T, C] → [B, T, C].
public protocol ChannelMixer: Module {
    /// Applies the mixer.
    func forward(_ x: Tensor, context: MixerContext) -> Tensor
}

/// Combines the residual stream x with a sublayer's output y.
public protocol ResidualConnection: Module {
    /// The new stream.
    func combine(_ x: Tensor, _ y: Tensor) -> Tensor
}

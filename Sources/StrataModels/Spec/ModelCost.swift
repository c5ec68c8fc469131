import Foundation

/// What one component costs per token, as its catalog entry declares it (`Component.cost`); `ModelSpec.cost()` and
/// the memory estimates sum these. Counts are in scalars (floats), not bytes.
public struct ComponentCost: Sendable, Equatable {
    /// Weights each token multiplies: 2 forward FLOPs each.
    public var matmulWeights: Double
    /// Forward FLOPs per token beyond the matmuls, at the context length (attention scores and values, the update
    /// and read-out of a recurrent state).
    public var mixingFlops: Double
    /// Floats per token the component keeps for the backward pass (the outputs of its matmuls and nonlinearities).
    public var activationsPerToken: Double
    /// Floats per sequence that grow as T² in a training forward at the context length (materialized attention
    /// weights with their scores and masks).
    public var quadraticPerSequence: Double
    /// Floats per forward that grow as T² but are shared by the batch (a [T, S] visibility or band mask, an ALiBi
    /// bias [H, T, S]).
    public var quadraticShared: Double
    /// Floats of decoding state per sequence holding the whole context (KV cache, or a recurrent state).
    public var statePerSequence: Double
    /// Floats of fixed tables built with the module that are not parameters (rotary cos/sin, sinusoidal positions).
    public var tableFloats: Double

    public init(matmulWeights: Double = 0, mixingFlops: Double = 0, activationsPerToken: Double = 0,
                quadraticPerSequence: Double = 0, quadraticShared: Double = 0, statePerSequence: Double = 0,
                tableFloats: Double = 0) {
        self.matmulWeights = matmulWeights; self.mixingFlops = mixingFlops; self.activationsPerToken = activationsPerToken
        self.quadraticPerSequence = quadraticPerSequence; self.quadraticShared = quadraticShared
        self.statePerSequence = statePerSequence; self.tableFloats = tableFloats
    }

    static func + (a: ComponentCost, b: ComponentCost) -> ComponentCost {
        ComponentCost(matmulWeights: a.matmulWeights + b.matmulWeights, mixingFlops: a.mixingFlops + b.mixingFlops,
                      activationsPerToken: a.activationsPerToken + b.activationsPerToken,
                      quadraticPerSequence: a.quadraticPerSequence + b.quadraticPerSequence,
                      quadraticShared: a.quadraticShared + b.quadraticShared,
                      statePerSequence: a.statePerSequence + b.statePerSequence, tableFloats: a.tableFloats + b.tableFloats)
    }

    static func * (a: ComponentCost, n: Double) -> ComponentCost {
        ComponentCost(matmulWeights: a.matmulWeights * n, mixingFlops: a.mixingFlops * n,
                      activationsPerToken: a.activationsPerToken * n, quadraticPerSequence: a.quadraticPerSequence * n,
                      quadraticShared: a.quadraticShared * n, statePerSequence: a.statePerSequence * n,
                      tableFloats: a.tableFloats * n)
    }
}

/// The analytical compute cost of a spec (`ModelSpec.cost()`).
///
/// Forward FLOPs per token = 2 × (the matmul weights a token touches: every block's mixers, gates and norms, plus
/// the V × C output head, tied or not; the embedding and learned position tables are lookups) + the mixers' own
/// terms at the context length T: for attention 4·H·D per visible key (QKᵀ and A·V), with (T+1)/2 keys on average
/// under a causal mask and at most the window, and for recurrent mixers their state update and read-out. Training
/// costs 3× the forward (the backward pass computes two products per forward product). For `bench-char` this gives
/// 10.8 M parameters and 68 MFLOP per training token, the figures of design.md §6.
public struct ModelCost: Sendable, Equatable, Codable {
    /// Trainable scalars (`ModelSpec.expectedParameterCount`).
    public var parameters: Int
    /// Forward FLOPs per token at the context length.
    public var forwardFlopsPerToken: Double
    /// Forward + backward FLOPs per token (3× forward).
    public var trainingFlopsPerToken: Double { 3 * forwardFlopsPerToken }

    enum CodingKeys: String, CodingKey { case parameters, forwardFlopsPerToken = "forward_flops_per_token" }
}

/// Bytes a training step or an inference pass needs, by part (`ModelSpec.trainingMemory`, `inferenceMemory`).
public struct MemoryEstimate: Sendable, Equatable, Codable {
    /// fp32 weights (4 bytes per parameter).
    public var weights: Double
    /// fp32 gradients (training only).
    public var gradients: Double
    /// Optimizer state: AdamW's first and second moments, 2 × parameters (training only).
    public var optimizerState: Double
    /// Activations kept for the backward pass (training) or of one layer's forward (inference), logits included.
    public var activations: Double
    /// Attention weights and masks that grow as T², and decoding state (KV caches, recurrent states).
    public var attentionAndState: Double
    /// Fixed tables that are not parameters (rotary and sinusoidal positions).
    public var tables: Double

    /// The sum of the parts, in bytes.
    public var total: Double { weights + gradients + optimizerState + activations + attentionAndState + tables }
    /// The total in GB (10⁹ bytes).
    public var gigabytes: Double { total / 1e9 }

    enum CodingKeys: String, CodingKey {
        case weights, gradients, optimizerState = "optimizer_state", activations
        case attentionAndState = "attention_and_state", tables
    }

    /// One line listing the parts in GB, for messages.
    public var breakdown: String {
        let parts: [(String, Double)] = [("weights", weights), ("gradients", gradients), ("optimizer", optimizerState),
                                         ("activations", activations), ("attention/state", attentionAndState),
                                         ("tables", tables)]
        return parts.filter { $0.1 > 0 }.map { "\($0.0) \(MemoryEstimate.format($0.1))" }.joined(separator: ", ")
    }

    /// Bytes as GB with a precision that suits the size ("0.004 GB", "51.3 GB").
    public static func format(_ bytes: Double) -> String {
        let gb = bytes / 1e9
        return gb >= 10 ? String(format: "%.1f GB", gb) : gb >= 0.1 ? String(format: "%.2f GB", gb) : String(format: "%.4f GB", gb)
    }
}

/// A spec (or a batch) whose estimated memory exceeds what this machine can hold; thrown before anything is
/// allocated, with the estimate in the message.
public struct MemoryLimitError: Error, CustomStringConvertible {
    /// What was estimated ("a training step of spec default at batch 8").
    public var what: String
    /// The estimate.
    public var estimate: MemoryEstimate
    /// The limit it was checked against, in bytes.
    public var limit: Double
    /// The machine's physical memory, in bytes.
    public var physical: Double

    public var description: String {
        "\(what) needs about \(MemoryEstimate.format(estimate.total)) (\(estimate.breakdown)), more than the "
            + "\(MemoryEstimate.format(limit)) this machine allows (\(MemoryEstimate.format(physical)) of physical memory); "
            + "lower the batch, the context length, dim or layers"
    }
}

/// Compares memory estimates with the machine's physical memory.
public enum MemoryBudget {
    /// Fraction of physical memory an estimate may use: the rest is the OS, the data and the estimate's error.
    public static let usableFraction = 0.85

    /// This machine's physical memory in bytes.
    public static var physicalBytes: Double { Double(ProcessInfo.processInfo.physicalMemory) }

    /// The default limit: `usableFraction` of physical memory.
    public static var defaultLimit: Double { physicalBytes * usableFraction }

    /// Whether `estimate` fits under `limit` bytes.
    public static func fits(_ estimate: MemoryEstimate, limit: Double = defaultLimit) -> Bool { estimate.total <= limit }

    /// Throws `MemoryLimitError` naming `what` and the estimate in GB when it does not fit under `limit` bytes.
    public static func require(_ estimate: MemoryEstimate, for what: String, limit: Double = defaultLimit) throws {
        guard estimate.total <= limit else {
            throw MemoryLimitError(what: what, estimate: estimate, limit: limit, physical: physicalBytes)
        }
    }
}

extension ModelSpec {
    /// Per-block C-wide tensors kept for the backward pass, in units of B·T·C floats: the block input, each site's
    /// normalized input and its statistics, the mixers' outputs, the residual sums and dropout masks. Measured peak
    /// memory of training steps at batch 8 (bench-char, the default preset with softmax, sigmoid, gla and mamba mixers)
    /// is within about 50 % of the estimate (mostly above it) with this constant
    /// and `backwardFactor`.
    static let streamTensorsPerBlock = 8.0
    /// The backward pass holds the gradients of a layer's activations while the forward's are still alive, and
    /// composed ops keep temporaries: the saved activations are counted this many times.
    static let backwardFactor = 2.0

    /// The summed cost of every component of the model, of the blocks alone, and of the costliest block.
    func componentCosts() -> (total: ComponentCost, blocks: ComponentCost, maxBlock: ComponentCost) {
        let ctx = buildContext(layer: -1)
        func cost<P>(_ registry: Registry<P>, _ c: ComponentSpec, _ context: BuildContext) -> ComponentCost {
            guard let (entry, options) = registry.resolve(c, path: "") else { return ComponentCost() }
            return entry.cost(options, context: context)
        }
        var model = ComponentCost()
        let pos = cost(Catalog.positional, positional, ctx)
        model.tableFloats += pos.tableFloats
        model.quadraticShared += pos.quadraticShared * Double(layers)   // a positional bias is built in every layer
        for n in [effectiveEmbeddingNorm, effectiveFinalNorm].compactMap({ $0 }) { model = model + cost(Catalog.norms, n, ctx) }
        var blocks = ComponentCost(), maxBlock = ComponentCost()
        for layer in 0..<max(layers, 0) {
            let b = block(at: layer), lctx = buildContext(layer: layer)
            let normsPerSite = b.placement == .none ? 0.0 : b.placement == .peri ? 2 : 1
            let hasChannel = b.channelMixer.id != "none"
            let copies = hasChannel ? (b.layout == .macaron ? 2.0 : 1) : 0
            let site = cost(Catalog.norms, b.norm, lctx) * normsPerSite + cost(Catalog.residuals, b.residual, lctx)
            var c = site * (1 + copies) + cost(Catalog.tokenMixers, b.tokenMixer, lctx)
            if hasChannel { c = c + cost(Catalog.channelMixers, b.channelMixer, lctx) * copies }
            c.activationsPerToken += ModelSpec.streamTensorsPerBlock * Double(dim)
            blocks = blocks + c
            if c.activationsPerToken + c.quadraticPerSequence > maxBlock.activationsPerToken + maxBlock.quadraticPerSequence {
                maxBlock = c
            }
        }
        return (model + blocks, blocks, maxBlock)
    }

    /// Output head weights a token multiplies: V × C for decoders (tied or not), the task head for encoders.
    private var headWeights: Double {
        switch model {
        case .decoder: return Double(vocabSize) * Double(dim)
        case .encoder: return encoder.task == "none" ? 0 : Double(dim) * Double(encoder.outputs) / Double(max(contextLength, 1))
        }
    }

    /// Parameters and forward FLOPs per token at the context length (see `ModelCost` for the formula). Meaningful
    /// for a valid spec; an invalid one counts only the components that resolve.
    public func cost() -> ModelCost {
        let c = componentCosts().total
        return ModelCost(parameters: expectedParameterCount,
                         forwardFlopsPerToken: 2 * (c.matmulWeights + headWeights) + c.mixingFlops)
    }

    /// Bytes one training step needs at `batch` sequences of `sequenceLength` tokens (default: the context length):
    /// fp32 weights, gradients and AdamW's two moments (4 × 4 bytes per parameter), the activations saved for the
    /// backward pass (per block `streamTensorsPerBlock`·C plus the mixers' own widths, per token; the embedding output
    /// and the logits with their softmax and gradient, 3·V per token), times `backwardFactor`, plus attention
    /// weights materialized as T² per sequence and layer, shared masks, and fixed position tables.
    public func trainingMemory(batch: Int, sequenceLength: Int? = nil) -> MemoryEstimate {
        let (all, blocks, _) = componentCosts()
        let p = Double(expectedParameterCount)
        let t = Double(sequenceLength ?? contextLength), bt = Double(max(batch, 0)) * t
        let scale = (t / Double(max(contextLength, 1))) * (t / Double(max(contextLength, 1)))   // T² terms at another T
        let perToken = blocks.activationsPerToken + 2 * Double(dim) + 3 * Double(model == .decoder ? vocabSize : dim)
        return MemoryEstimate(
            weights: 4 * p, gradients: 4 * p, optimizerState: 8 * p,
            activations: 4 * bt * perToken * ModelSpec.backwardFactor,
            attentionAndState: 4 * scale * (Double(max(batch, 0)) * blocks.quadraticPerSequence * ModelSpec.backwardFactor
                                            + all.quadraticShared),
            tables: 4 * all.tableFloats)
    }

    /// Bytes inference needs for `batch` sequences of up to `tokens` tokens (default: the context length): fp32
    /// weights, the decoding state of every layer (KV caches grow with the tokens, recurrent states do not), and
    /// the activations of one layer's forward over the whole prompt with its logits (no gradients are kept).
    public func inferenceMemory(batch: Int = 1, tokens: Int? = nil) -> MemoryEstimate {
        let (all, blocks, maxBlock) = componentCosts()
        let p = Double(expectedParameterCount)
        let t = Double(tokens ?? contextLength), b = Double(max(batch, 0))
        let ratio = t / Double(max(contextLength, 1))
        let perToken = maxBlock.activationsPerToken + 2 * Double(dim) + Double(model == .decoder ? vocabSize : dim)
        let quadratic = ratio * ratio * (b * maxBlock.quadraticPerSequence + all.quadraticShared / Double(max(layers, 1)))
        return MemoryEstimate(weights: 4 * p, gradients: 0, optimizerState: 0, activations: 4 * b * t * perToken,
                              attentionAndState: 4 * (quadratic + b * blocks.statePerSequence * min(ratio, 1)),
                              tables: 4 * all.tableFloats)
    }

    /// Bytes building the model allocates: fp32 weights and the fixed position tables (no batch, no state).
    public var modelMemory: MemoryEstimate {
        MemoryEstimate(weights: 4 * Double(expectedParameterCount), gradients: 0, optimizerState: 0, activations: 0,
                       attentionAndState: 0, tables: 4 * componentCosts().total.tableFloats)
    }

    /// The training-step estimate at `batch`; throws `SpecError` when the spec is invalid (the estimate means
    /// nothing then) or `MemoryLimitError` when it exceeds `limit` bytes (default 85 % of physical memory). Call
    /// before building the model or allocating a batch.
    @discardableResult
    public func requireTrainingFits(batch: Int, sequenceLength: Int? = nil, limit: Double = MemoryBudget.defaultLimit) throws -> MemoryEstimate {
        _ = try validated()
        let e = trainingMemory(batch: batch, sequenceLength: sequenceLength)
        try MemoryBudget.require(e, for: "a training step of spec \(name) at batch \(batch) × \(sequenceLength ?? contextLength) tokens",
                                 limit: limit)
        return e
    }

    /// The inference estimate; throws `SpecError` for an invalid spec or `MemoryLimitError` when it exceeds `limit`
    /// bytes. Call before building a model for prefill or decoding.
    @discardableResult
    public func requireInferenceFits(batch: Int = 1, tokens: Int? = nil, limit: Double = MemoryBudget.defaultLimit) throws -> MemoryEstimate {
        _ = try validated()
        let e = inferenceMemory(batch: batch, tokens: tokens)
        try MemoryBudget.require(e, for: "inference with spec \(name) at batch \(batch) × \(tokens ?? contextLength) tokens",
                                 limit: limit)
        return e
    }

    /// What building the model allocates (`modelMemory`); throws `SpecError` for an invalid spec or
    /// `MemoryLimitError` when it exceeds `limit` bytes. Call before building a model from a checkpoint's spec, so
    /// that metadata claiming a huge model is refused before anything is allocated.
    @discardableResult
    public func requireModelFits(limit: Double = MemoryBudget.defaultLimit) throws -> MemoryEstimate {
        _ = try validated()
        let e = modelMemory
        try MemoryBudget.require(e, for: "building the model of spec \(name)", limit: limit)
        return e
    }
}

import StrataCore
import StrataNN

/// Decoding state of a whole model: one mixer cache per block and the number of tokens consumed.
public final class DecodeState {
    /// One cache per block.
    public let caches: [MixerCache]
    /// Tokens consumed so far.
    public private(set) var length = 0

    init(caches: [MixerCache]) { self.caches = caches }

    func advance(_ t: Int) { length += t }
}

/// A model built from a `ModelSpec`: token embedding, positional scheme, optional embedding norm, a stack of
/// blocks, a final norm and a head. Decoders predict the next token (tied or untied head); encoders pool
/// (mean or first token) and classify or regress.
public final class TransformerModel: Module {
    /// The validated spec this model was built from.
    public let spec: ModelSpec
    /// Token table [V, C].
    public let tokenEmbedding: Embedding
    /// Token-type (segment) table [type_vocab_size, C] of encoders (nil when `type_vocab_size` is 0).
    public let tokenTypeEmbedding: Embedding?
    public let positional: any PositionalScheme
    public let embeddingNorm: (any NormLayer)?
    public let blocks: [Block]
    public let finalNorm: (any NormLayer)?
    /// Untied LM head [V, C] (decoders) or the task head [outputs, C] (encoders); nil when tied.
    public let head: Linear?
    let embeddingDropout: Dropout?

    /// Builds and initializes the model; throws `SpecError` listing every problem of an invalid spec.
    public init(spec: ModelSpec, seed: UInt64 = 0) throws {
        self.spec = try spec.validated()
        var rng = RNG(seed: seed)
        let ctx = spec.buildContext(layer: -1)
        tokenEmbedding = Embedding(spec.vocabSize, spec.dim, rng: &rng, initializer: .normal(std: spec.initStd))
        func build<P>(_ registry: Registry<P>, _ c: ComponentSpec, _ path: String, rng: inout RNG) -> P {
            let (entry, options) = registry.resolve(c, path: path)!   // validated above: every component resolves
            return entry.build(options, context: ctx, rng: &rng)
        }
        positional = build(Catalog.positional, spec.positional, "positional", rng: &rng)
        embeddingNorm = spec.effectiveEmbeddingNorm.map { build(Catalog.norms, $0, "embedding_norm", rng: &rng) }
        var blockRNG = rng.split()
        blocks = (0..<spec.layers).map { Block(spec: spec, layer: $0, rng: &blockRNG) }
        finalNorm = spec.effectiveFinalNorm.map { build(Catalog.norms, $0, "final_norm", rng: &rng) }
        switch spec.model {
        case .decoder:
            head = spec.tieEmbeddings ? nil
                : Linear(spec.dim, spec.vocabSize, bias: spec.headBias, rng: &rng, weightInit: .normal(std: spec.initStd),
                         biasInit: .zeros)
        case .encoder:
            head = spec.encoder.task == "none" ? nil
                : Linear(spec.dim, spec.encoder.outputs, bias: true, rng: &rng, weightInit: .normal(std: spec.initStd),
                         biasInit: .zeros)
        }
        embeddingDropout = spec.dropout > 0 ? Dropout(spec.dropout, seed: rng.next()) : nil
        // Drawn last so that specs without token types keep every other parameter's initial values.
        tokenTypeEmbedding = spec.typeVocabSize > 0
            ? Embedding(spec.typeVocabSize, spec.dim, rng: &rng, initializer: .normal(std: spec.initStd)) : nil
        super.init()
    }

    /// A fresh decoding state for `batch` sequences of up to `capacity` tokens.
    public func makeDecodeState(batch: Int, capacity: Int? = nil) -> DecodeState {
        DecodeState(caches: blocks.map { $0.mixer.makeCache(batch: batch, capacity: capacity ?? spec.contextLength) })
    }

    /// Final hidden states [B, T, C] for token ids laid out [B, T]. With `state`, the ids continue the
    /// sequences the state holds (prefill or one step) and the state advances. `attentionMask` ([B·T], 1 keep,
    /// 0 padding) masks padded keys in encoders. `tokenTypes` ([B·T] segment ids, default all 0) select rows of
    /// the token-type table of encoders with `type_vocab_size` > 0.
    public func hiddenStates(_ ids: [Int32], batch: Int, length: Int, state: DecodeState? = nil,
                             attentionMask: [Int32]? = nil, tokenTypes: [Int32]? = nil, probes: ProbeRecorder? = nil) -> Tensor {
        // Preconditions of the API, not of specs: callers check ids against the vocabulary and lengths against the
        // context before they get here (the trainer, evaluation and generation do, with messages for users).
        guard ids.count == batch * length else {
            shapeError("TransformerModel", "\(ids.count) token ids do not fill batch \(batch) × length \(length)")
        }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= spec.vocabSize }) {
            shapeError("TransformerModel", "token id \(bad) is outside the vocabulary 0..<\(spec.vocabSize)")
        }
        let offset = state?.length ?? 0
        guard offset + length <= spec.contextLength || !(positional is LearnedAbsolutePositions) else {
            shapeError("TransformerModel", "sequence of \(offset + length) tokens exceeds context_length \(spec.contextLength)")
        }
        var h = positional.embed(tokenEmbedding(ids, shape: [batch, length]), offset: offset)
        if let types = tokenTypeEmbedding {
            let t = tokenTypes ?? [Int32](repeating: 0, count: batch * length)
            guard t.count == batch * length, t.allSatisfy({ $0 >= 0 && Int($0) < spec.typeVocabSize }) else {
                shapeError("TransformerModel", "token types must be \(batch * length) ids in 0..<\(spec.typeVocabSize) (type_vocab_size)")
            }
            h = h + types(t, shape: [batch, length])
        } else if let t = tokenTypes, t.contains(where: { $0 != 0 }) {
            shapeError("TransformerModel", "token types other than 0 need a spec with type_vocab_size > 0")
        }
        if let n = embeddingNorm { h = n.normalize(h, site: .embedding, scratch: BlockScratch()) }
        if let d = embeddingDropout { h = d(h) }
        let padding = attentionMask.map { m -> Tensor in
            guard m.count == batch * length else {
                shapeError("TransformerModel", "attention mask has \(m.count) entries, expected \(batch * length)")
            }
            return Tensor(m.map { $0 == 0 ? -1e9 : 0 }, shape: [batch, 1, 1, length])
        }
        for (i, block) in blocks.enumerated() {
            let ctx = MixerContext(positional: positional, offset: offset, keyPadding: padding, probes: probes, layer: i)
            h = block.forward(h, context: ctx, cache: state?.caches[i])
        }
        state?.advance(length)
        if let n = finalNorm { h = n.normalize(h, site: .final, scratch: BlockScratch()) }
        return h
    }

    /// Next-token logits [B, T, V] (decoders).
    public func logits(_ ids: [Int32], batch: Int, length: Int, state: DecodeState? = nil,
                       probes: ProbeRecorder? = nil) -> Tensor {
        let h = hiddenStates(ids, batch: batch, length: length, state: state, probes: probes)
        if let head { return head(h) }
        return h.matmul(tokenEmbedding.weight.value, transposeB: true)
    }

    /// Mean next-token cross-entropy (nats) plus the z-loss term when `z_loss` > 0; targets of −100 are ignored.
    public func loss(inputs: [Int32], targets: [Int32], batch: Int, length: Int, probes: ProbeRecorder? = nil) -> Tensor {
        let logits = self.logits(inputs, batch: batch, length: length, probes: probes).reshaped([batch * length, spec.vocabSize])
        let ce = crossEntropy(logits: logits, targets: targets)
        guard spec.zLoss > 0 else { return ce }
        let lz = logits.logsumexp(axis: -1)
        return ce + (lz * lz).mean() * spec.zLoss
    }

    /// Pooled encoder states [B, C]: the mean over unmasked tokens, or the first token (`cls`).
    public func pooled(_ ids: [Int32], batch: Int, length: Int, attentionMask: [Int32]? = nil, tokenTypes: [Int32]? = nil,
                       probes: ProbeRecorder? = nil) -> Tensor {
        let h = hiddenStates(ids, batch: batch, length: length, attentionMask: attentionMask, tokenTypes: tokenTypes,
                             probes: probes)
        if spec.encoder.pooling == "cls" { return h.slice(axis: 1, 0..<1).reshaped([batch, spec.dim]) }
        let m = Tensor((attentionMask ?? [Int32](repeating: 1, count: batch * length)).map(Float.init),
                       shape: [batch, length, 1])
        return (h * m).sum(axis: 1) / m.sum(axis: 1).maximum(Tensor([1], shape: [1]))
    }

    /// Encoder head output [B, outputs] (class logits or regression values), or the pooled states when the
    /// task is `none`.
    public func predict(_ ids: [Int32], batch: Int, length: Int, attentionMask: [Int32]? = nil) -> Tensor {
        let p = pooled(ids, batch: batch, length: length, attentionMask: attentionMask)
        return head.map { $0(p) } ?? p
    }
}

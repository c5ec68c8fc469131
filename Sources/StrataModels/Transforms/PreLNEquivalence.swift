import StrataCore
import StrataNN

/// Rewrites a trained Pre-LN decoder into a Pre-RMSNorm or Pre-CRMSNorm decoder that computes the same logits
/// (catalog `crms_norm`; Jiang et al., "Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN
/// Transformers", NeurIPS 2023).
///
/// Every reader of a Pre-LN residual stream (each sublayer's LayerNorm and the final one) subtracts the mean first,
/// so the mean the stream carries is never read. The recipe, following the paper and catalog.md:
/// 1. Re-center every writer to the stream: token and position tables row by row, every sublayer output projection
///    column by column, W ← (I − 11ᵀ/d)·W, and its bias b ← b − mean(b). The stream is then zero-mean everywhere and
///    each LayerNorm equals RMSNorm with the same γ and ε (var(x) + ε = mean(x²) + ε, exactly).
/// 2. Fold each LayerNorm's shift β into the bias of the linear layer that reads it (qkv, FFN up, head): b' = Wβ + b.
/// 3. Pre-CRMSNorm only: store d − 1 coordinates (the last is −Σ of the others), so writers drop their last output,
///    each norm becomes CRMSNorm without a gain, and each reader absorbs γ and the implicit coordinate:
///    W'[:, i] = V[:, i] − V[:, d−1] with V = W·diag γ.
/// A tied head is untied and keeps the original embedding matrix: the head reads the norm output, not the stream, and
/// re-centered rows would shift each logit by a token-dependent amount. The final β therefore needs a head bias
/// (`ModelSpec.headBias`).
///
/// The result is built from a rewritten `ModelSpec` plus a state dict (house style: never mutate modules in place).
/// With dropout > 0 the equivalence holds in evaluation mode only (a dropout mask does not keep the stream centered).
public enum PreLNEquivalence {
    /// The norm of the converted model.
    public enum Target: String, CaseIterable, Sendable {
        /// Pre-RMSNorm: same width d, RMSNorm with the LayerNorm's γ.
        case rmsNorm = "rms_norm"
        /// Pre-CRMSNorm: stream width d − 1, gain-free CRMSNorm, γ folded into the readers.
        case crmsNorm = "crms_norm"

        /// Parses a command-line spelling (`rms_norm`, `crms_norm`).
        public init(parsing text: String) throws {
            guard let t = Target(rawValue: text) else {
                throw ConversionError(["target \"\(text)\": valid targets are \(Target.allCases.map(\.rawValue).joined(separator: ", "))"])
            }
            self = t
        }
    }

    /// Why a model could not be converted: every problem found, each naming the component (and layer) at fault.
    public struct ConversionError: Error, CustomStringConvertible, Equatable {
        /// The problems, in the order found.
        public var problems: [String]

        public init(_ problems: [String]) { self.problems = problems }

        public var description: String {
            "cannot convert Pre-LN to Pre-RMSNorm / Pre-CRMSNorm:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }

    /// Largest max|Δlogit| / max|logit| the self-check of `convert` accepts: the catalog's equivalence bound for
    /// float32 (`crms_norm` check a, 1e-5 relative). Float32 rounding leaves ~1e-6 on the test models; a real
    /// mismatch (a component that is not a plain reader or writer of the stream) is orders of magnitude larger.
    public static let verificationTolerance: Float = 1e-5

    /// Channel mixers whose parameters are plain `Linear` readers [F, d] and writers [d, F] of the stream.
    public static let supportedChannelMixers: Set<String> = ["mlp", "swiglu", "glu", "none"]

    /// Entry point for `strata convert`: converts a model loaded from a checkpoint; `target` is `rms_norm` or
    /// `crms_norm`. Save `result.spec` and `result.stateDict()` as the new checkpoint.
    public static func convert(checkpointModel model: TransformerModel, target: String) throws -> TransformerModel {
        try convert(model, to: Target(parsing: target))
    }

    /// The equivalent model. Throws `ConversionError` when `model` is not a supported Pre-LN decoder, or (with
    /// `verify`) when the new model's logits on random tokens differ by more than `verificationTolerance`.
    public static func convert(_ model: TransformerModel, to target: Target, verify: Bool = true) throws -> TransformerModel {
        let issues = unsupportedParts(of: model.spec)
        guard issues.isEmpty else { throw ConversionError(issues) }
        let table = try positionTable(of: model)
        var weights = WeightRewrite(model: model, target: target)
        try weights.run(positionTable: table)
        let spec = rewrittenSpec(model, target: target, weights: weights, hasPositionTable: table != nil)
        let converted: TransformerModel
        do { converted = try TransformerModel(spec: spec, seed: 0) } catch {
            throw ConversionError(["the rewritten spec does not build (\(error))"])
        }
        var state = weights.output
        // Biases the rewrite added (a bias option now on) start at zero: the source had none, i.e. zero.
        for (name, p) in converted.namedParameters() where state[name] == nil && name.hasSuffix(".bias") {
            if state[String(name.dropLast(5)) + ".weight"] != nil { state[name] = .zeros(p.shape) }
        }
        do { try converted.load(stateDict: state) } catch {
            throw ConversionError(["the rewritten weights do not fit the rewritten spec (\(error))"])
        }
        if verify {
            let (relative, absolute) = logitDifference(model, converted)
            guard relative <= verificationTolerance else {
                throw ConversionError(["self-check failed: logits differ by \(relative) relative (max |Δ| \(absolute)); "
                    + "a component reads or writes the stream in a way the transform does not model"])
            }
        }
        return converted
    }

    /// max|Δ| / max|logit| and max|Δ| between the next-token logits of two models on the same random tokens
    /// (`batch` sequences of `length` tokens, default min(32, context)), both evaluated without dropout.
    public static func logitDifference(_ a: TransformerModel, _ b: TransformerModel, batch: Int = 2, length: Int? = nil,
                                       seed: UInt64 = 0) -> (relative: Float, absolute: Float) {
        let t = length ?? min(32, a.spec.contextLength, b.spec.contextLength)
        var rng = RNG(seed: seed)
        let ids = (0..<batch * t).map { _ in Int32(rng.next() % UInt64(min(a.spec.vocabSize, b.spec.vocabSize))) }
        func evaluate(_ m: TransformerModel) -> Tensor {
            let wasTraining = m.isTraining
            if wasTraining && m.spec.dropout > 0 { m.train(false) }
            defer { if wasTraining && m.spec.dropout > 0 { m.train(true) } }
            return withNoGrad { m.logits(ids, batch: batch, length: t) }
        }
        return StreamAlgebra.relativeDifference(evaluate(a), evaluate(b))
    }

    /// Every reason `spec` is outside the transform's scope (empty when it can be converted).
    public static func unsupportedParts(of spec: ModelSpec) -> [String] {
        var out: [String] = []
        if spec.model != .decoder {
            out.append("model \(spec.model.rawValue): only decoders are converted (encoders read pooled states without a norm)")
        }
        if let n = spec.effectiveEmbeddingNorm {
            out.append("embedding_norm \(n.id): the embedding output must reach the stream un-normalized (placement pre)")
        }
        for layer in 0..<spec.layers {
            let b = spec.block(at: layer), at = "layer \(layer) (placement \(b.placement.rawValue), norm \(b.norm.id))"
            if b.placement != .pre {
                out.append("\(at): placement \(b.placement.rawValue) is not supported; needs pre, so that every reader of "
                    + "the stream is a LayerNorm")
            }
            if b.norm.id != "layer_norm" {
                out.append("\(at): norm \(b.norm.id) is not supported; needs layer_norm, which ignores the stream mean")
            }
            if b.tokenMixer.id != "softmax_attention" {
                out.append("\(at): token_mixer \(b.tokenMixer.id) is not supported; valid: softmax_attention")
            }
            if !supportedChannelMixers.contains(b.channelMixer.id) {
                out.append("\(at): channel_mixer \(b.channelMixer.id) is not supported; valid: "
                    + supportedChannelMixers.sorted().joined(separator: ", "))
            }
            for (key, c) in [("token_mixer", b.tokenMixer), ("channel_mixer", b.channelMixer)]
            where c.options["sigma_reparam"] == .bool(true) {
                // Ŵ = (γ/σ_max(W))·W: re-centering W changes σ_max, so the rewritten layer would not compute the same map.
                out.append("\(at): \(key) \(c.id) with sigma_reparam is not supported (re-centering a weight changes its σ_max)")
            }
            if b.residual.id != "add" {
                out.append("\(at): residual \(b.residual.id) is not supported; needs add (x + F(x) keeps a centered sum)")
            }
        }
        if let f = spec.effectiveFinalNorm {
            if f.id != "layer_norm" { out.append("final_norm \(f.id): needs layer_norm before the head") }
        } else {
            out.append("final_norm none: the head would read the stream mean; needs a final layer_norm")
        }
        return out
    }

    /// The table P [T, d] the positional scheme adds to the embeddings (nil when it adds nothing, as rope, alibi and
    /// nope), found by probing `embed`, so any additive scheme (learned or fixed) becomes a centered learned table.
    static func positionTable(of model: TransformerModel) throws -> Tensor? {
        let spec = model.spec, id = spec.positional.id
        let (t, d) = (spec.contextLength, spec.dim)
        var rng = RNG(seed: 0x5eed)
        let probe = rng.normal([1, t, d])
        let (table, added) = withNoGrad {
            (model.positional.embed(.zeros([1, t, d]), offset: 0), model.positional.embed(probe, offset: 0) - probe)
        }
        guard StreamAlgebra.relativeDifference(table, added).absolute <= 1e-4 else {
            throw ConversionError(["positional \(id): embed is not x + P[position]; only additive tables (learned_abs_pe, "
                + "sinusoidal) and schemes that leave the stream alone (rope, alibi, nope) can be converted"])
        }
        guard table.scalars.contains(where: { $0 != 0 }) else { return nil }
        let q = rng.normal([1, 1, 2, spec.effectiveHeadDim])
        let rotated = withNoGrad { model.positional.rotate(q, offset: 1) }
        guard rotated.scalars == q.scalars, model.positional.attentionBias(heads: 1, queries: 1, keys: 1) == nil else {
            throw ConversionError(["positional \(id): adds to the stream and also rotates q/k or biases attention; "
                + "the converted model would need both a re-centered table and the scheme"])
        }
        return table.reshaped([t, d])
    }

    /// The spec of the converted model: norms swapped, bias options turned on where β was folded, widths made
    /// explicit for CRMSNorm (dim d − 1, head_dim and FFN hidden kept), head untied, per-layer blocks as overrides.
    static func rewrittenSpec(_ model: TransformerModel, target: Target, weights: WeightRewrite,
                              hasPositionTable: Bool) -> ModelSpec {
        let source = model.spec
        var spec = source
        spec.name = "\(source.name)-\(target.rawValue)"
        spec.dim = weights.keep
        if target == .crmsNorm { spec.headDim = source.effectiveHeadDim }
        spec.tieEmbeddings = false
        spec.headBias = weights.finalShift
        spec.embeddingNorm = nil
        spec.finalNorm = normSpec(target, eps: (model.finalNorm as? LayerNormLayer)?.eps ?? 1e-5)
        if hasPositionTable { spec.positional = "learned_abs_pe" }
        let blocks = (0..<source.layers).map { layer -> BlockSpec in
            var b = source.block(at: layer)
            let l = weights.layers[layer]
            b.norm = normSpec(target, eps: (model.blocks[layer].mixerSite.inputNorm as? LayerNormLayer)?.eps ?? 1e-5)
            if l.mixerNeedsBias { b.tokenMixer.options["bias"] = .bool(true) }
            if l.channelNeedsBias { b.channelMixer.options["bias"] = .bool(true) }
            if target == .crmsNorm, let f = l.hidden { b.channelMixer.options["hidden"] = .number(Double(f)) }
            return b
        }
        spec.block = blocks.first ?? spec.block
        if blocks.isEmpty { spec.block.norm = normSpec(target, eps: 1e-5) }
        spec.overrides = []
        var grouped: [(BlockSpec, [Int])] = []
        for (layer, b) in blocks.enumerated() where b != spec.block {
            if let i = grouped.firstIndex(where: { $0.0 == b }) { grouped[i].1.append(layer) } else { grouped.append((b, [layer])) }
        }
        spec.overrides = grouped.map { b, layers in
            var o = LayerOverride(layers: layers)
            o.placement = b.placement; o.norm = b.norm; o.tokenMixer = b.tokenMixer
            o.channelMixer = b.channelMixer; o.residual = b.residual; o.layout = b.layout
            return o
        }
        return spec
    }

    /// The converted norm: RMSNorm keeps γ (and ε); CRMSNorm has its gain folded into the readers.
    static func normSpec(_ target: Target, eps: Float) -> ComponentSpec {
        switch target {
        case .rmsNorm: ComponentSpec("rms_norm", ["eps": .number(Double(eps))])
        case .crmsNorm: ComponentSpec("crms_norm", ["eps": .number(Double(eps)), "affine": .bool(false)])
        }
    }
}

import StrataCore
import StrataModels
import StrataNN

/// Inference-only forward of a BERT-shaped encoder (post-LN blocks, softmax attention with biases, 2-layer MLP,
/// learned absolute positions, embedding LayerNorm) over *packed* sequences: the tokens of every sequence are
/// stacked into one [N, C] matrix (N = Σ Tᵢ, no padding), so each projection (QKV, out, up, down) is one GEMM
/// over real tokens only, and attention runs per group of equal-length sequences (softmax never sees a pad).
/// Its slow twin is `TransformerModel.pooled` over a padded batch; tests tie the two together.
public final class HFPackedEncoder {
    /// One block's tensors (the model's own parameter values, not copies).
    struct Layer {
        var qkvW: Tensor, qkvB: Tensor           // [3C, C], [3C]
        var outW: Tensor, outB: Tensor           // [C, C], [C]
        var norm1W: Tensor, norm1B: Tensor       // [C]
        var upW: Tensor, upB: Tensor             // [F, C], [F]
        var downW: Tensor, downB: Tensor         // [C, F], [C]
        var norm2W: Tensor, norm2B: Tensor       // [C]
    }

    let tokens: Tensor                           // [V, C]
    let positions: Tensor                        // [P, C]
    let types: Tensor?                           // [types, C]
    let embeddingNormW: Tensor, embeddingNormB: Tensor
    let layers: [Layer]
    let heads: Int, headDim: Int, dim: Int
    let embeddingEps: Float, blockEps: Float
    let activation: String
    /// `mean` or `cls`.
    public let pooling: String

    /// Reads the weights of `model`; throws naming the spec key when the model is not of the BERT shape this
    /// path implements (then use `TransformerModel.pooled`).
    public init(model: TransformerModel) throws {
        let spec = model.spec
        if let problem = Self.unsupported(spec) {
            throw HFImportError(file: "spec \(spec.name)", key: problem.key, "the packed encoder path needs a BERT-shaped encoder: \(problem.message)")
        }
        let state = Dictionary(model.stateDict(), uniquingKeysWith: { a, _ in a })
        func w(_ name: String) -> Tensor { state[name]! }
        tokens = w("tokenEmbedding.weight")
        positions = w("positional.weight")
        types = state["tokenTypeEmbedding.weight"]
        embeddingNormW = w("embeddingNorm.weight")
        embeddingNormB = w("embeddingNorm.bias")
        layers = (0..<spec.layers).map { i in
            let p = "blocks.\(i)."
            return Layer(qkvW: w(p + "mixer.qkv.weight"), qkvB: w(p + "mixer.qkv.bias"),
                         outW: w(p + "mixer.out.weight"), outB: w(p + "mixer.out.bias"),
                         norm1W: w(p + "mixerSite.inputNorm.weight"), norm1B: w(p + "mixerSite.inputNorm.bias"),
                         upW: w(p + "channel.up.weight"), upB: w(p + "channel.up.bias"),
                         downW: w(p + "channel.down.weight"), downB: w(p + "channel.down.bias"),
                         norm2W: w(p + "channelSite.inputNorm.weight"), norm2B: w(p + "channelSite.inputNorm.bias"))
        }
        heads = spec.heads
        headDim = spec.effectiveHeadDim
        dim = spec.dim
        embeddingEps = Self.eps(spec.effectiveEmbeddingNorm!)
        blockEps = Self.eps(spec.block.norm)
        activation = spec.block.channelMixer.options["activation"]?.stringValue ?? "gelu"
        pooling = spec.encoder.pooling
    }

    /// Largest sequence length (the position table's rows).
    public var maxLength: Int { positions.shape[0] }

    static func eps(_ norm: ComponentSpec) -> Float {
        if case .number(let n)? = norm.options["eps"] { return Float(n) }
        return 1e-5
    }

    /// The first spec setting this path does not implement, as (key, what is wrong), or nil when supported.
    static func unsupported(_ s: ModelSpec) -> (key: String, message: String)? {
        if s.model != .encoder { return ("model", "\(s.model.rawValue), expected encoder") }
        if s.positional.id != "learned_abs_pe" { return ("positional", "\(s.positional.id), expected learned_abs_pe") }
        if !s.overrides.isEmpty { return ("overrides", "per-layer overrides are not supported") }
        if s.dropout != 0 { return ("dropout", "\(s.dropout), expected 0") }
        if s.effectiveFinalNorm != nil { return ("final_norm", "expected none") }
        if s.effectiveHeadDim * s.heads != s.dim { return ("head_dim", "heads × head_dim must equal dim") }
        guard let en = s.effectiveEmbeddingNorm, en.id == "layer_norm", Set(en.options.keys).isSubset(of: ["eps"]) else {
            return ("embedding_norm", "expected layer_norm")
        }
        let b = s.block
        if b.placement != .post { return ("block.placement", "\(b.placement.rawValue), expected post") }
        if b.layout != .sequential { return ("block.layout", "\(b.layout.rawValue), expected sequential") }
        if b.residual != "add" { return ("block.residual", "\(b.residual.id), expected add") }
        if b.norm.id != "layer_norm" || !Set(b.norm.options.keys).isSubset(of: ["eps"]) {
            return ("block.norm", "\(b.norm.id), expected layer_norm")
        }
        if b.tokenMixer != ComponentSpec("softmax_attention", ["bias": .bool(true)]) {
            return ("block.token_mixer", "expected softmax_attention with bias and no other options")
        }
        let c = b.channelMixer
        let act = c.options["activation"]?.stringValue ?? "gelu"
        if c.id != "mlp" || c.options["bias"] != .bool(true) || !Set(c.options.keys).isSubset(of: ["activation", "hidden", "bias"])
            || !["gelu", "gelu_tanh", "relu"].contains(act) {
            return ("block.channel_mixer", "expected mlp with bias and activation gelu, gelu_tanh or relu")
        }
        return nil
    }

    /// Final hidden states [N, C] of the packed sequences (rows in sequence order). `tokenTypes`, when given,
    /// has one segment id per token, laid out like `sequences`.
    public func hiddenStates(_ sequences: [[Int32]], tokenTypes: [[Int32]]? = nil) -> Tensor {
        withNoGrad {
            var ids: [Int32] = [], pos: [Int32] = []
            for s in sequences {
                guard !s.isEmpty, s.count <= maxLength else {
                    shapeError("HFPackedEncoder", "sequence of \(s.count) tokens; expected 1…\(maxLength) (the position table)")
                }
                ids += s
                pos += (0..<s.count).map { Int32($0) }
            }
            let n = ids.count
            if let bad = ids.first(where: { $0 < 0 || Int($0) >= tokens.shape[0] }) {
                shapeError("HFPackedEncoder", "token id \(bad) is outside the vocabulary 0..<\(tokens.shape[0])")
            }
            var x = embedding(tokens, ids: ids, shape: [n]) + embedding(positions, ids: pos, shape: [n])   // [N, C]
            if let tokenTypes {
                let t = tokenTypes.flatMap { $0 }
                guard tokenTypes.map(\.count) == sequences.map(\.count) else {
                    shapeError("HFPackedEncoder", "token types do not have one id per token of each sequence")
                }
                let rows = types?.shape[0] ?? 1
                if let bad = t.first(where: { $0 < 0 || Int($0) >= rows }) {
                    shapeError("HFPackedEncoder", "token type \(bad) is outside 0..<\(rows) (type_vocab_size)")
                }
                if let types { x = x + embedding(types, ids: t, shape: [n]) }
            } else if let types {
                x = x + types.slice(axis: 0, 0..<1)
            }
            x = x.layerNorm(weight: embeddingNormW, bias: embeddingNormB, eps: embeddingEps)
            let groups = Self.equalLengthRuns(sequences.map(\.count))
            for layer in layers { x = block(x, layer, groups) }
            return x
        }
    }

    /// Runs of consecutive sequences with the same length: (first row, sequences, length).
    static func equalLengthRuns(_ lengths: [Int]) -> [(row: Int, count: Int, length: Int)] {
        var runs: [(row: Int, count: Int, length: Int)] = []
        var row = 0
        for t in lengths {
            if let last = runs.last, last.length == t { runs[runs.count - 1].count += 1 } else { runs.append((row, 1, t)) }
            row += t
        }
        return runs
    }

    /// One post-LN block on packed rows x [N, C]: x ← LN(x + Attn(x)); x ← LN(x + MLP(x)).
    func block(_ x: Tensor, _ l: Layer, _ groups: [(row: Int, count: Int, length: Int)]) -> Tensor {
        let (h, d, c) = (heads, headDim, dim)
        let qkv = linear(x, weight: l.qkvW, bias: l.qkvB)                          // [N, 3C]
        var outputs: [Tensor] = []
        outputs.reserveCapacity(groups.count)
        for g in groups {
            // [b·T, 3C] → [3, b, H, T, D] in one copy; q, k, v are then views (a leading-axis slice shares storage).
            let part = qkv.slice(axis: 0, g.row..<(g.row + g.count * g.length))
                .reshaped([g.count, g.length, 3, h, d]).permuted([2, 0, 3, 1, 4])
            let o = scaledDotProductAttention(q: part.slice(axis: 0, 0..<1).reshaped([g.count, h, g.length, d]),
                                              k: part.slice(axis: 0, 1..<2).reshaped([g.count, h, g.length, d]),
                                              v: part.slice(axis: 0, 2..<3).reshaped([g.count, h, g.length, d]))   // [b, H, T, D]
            outputs.append(o.permuted([0, 2, 1, 3]).reshaped([g.count * g.length, c]))
        }
        let attention = outputs.count == 1 ? outputs[0] : Tensor.concat(outputs, axis: 0)   // [N, C]
        var y = (x + linear(attention, weight: l.outW, bias: l.outB)).layerNorm(weight: l.norm1W, bias: l.norm1B, eps: blockEps)
        var f = linear(y, weight: l.upW, bias: l.upB)                                 // [N, F]
        switch activation {
        case "relu": f = f.relu()
        case "gelu_tanh": f = f.geluTanh()
        default: f = f.gelu()
        }
        y = (y + linear(f, weight: l.downW, bias: l.downB)).layerNorm(weight: l.norm2W, bias: l.norm2B, eps: blockEps)
        return y
    }

    /// Pooled states [B, C] of the packed sequences: the mean over each sequence's tokens, or its first token.
    /// Sequences run in passes of about `tokensPerPass` tokens (rows are independent, so the split does not change
    /// the result): the [N, F] FFN activations of a pass then stay in cache.
    public func pooled(_ sequences: [[Int32]], tokenTypes: [[Int32]]? = nil, tokensPerPass: Int = 1024) -> Tensor {
        let c = dim
        var out = [Float](repeating: 0, count: sequences.count * c)
        var start = 0
        while start < sequences.count {
            var end = start + 1, tokens = sequences[start].count
            while end < sequences.count, tokens + sequences[end].count <= tokensPerPass {
                tokens += sequences[end].count
                end += 1
            }
            let chunk = Array(sequences[start..<end])
            let hidden = hiddenStates(chunk, tokenTypes: tokenTypes.map { Array($0[start..<end]) })   // [N, C]
            hidden.withUnsafePointer { hp in
                var row = 0
                for (i, s) in chunk.enumerated() {
                    let dst = (start + i) * c
                    if pooling == "cls" {
                        for j in 0..<c { out[dst + j] = hp[row * c + j] }
                    } else {
                        for t in 0..<s.count { for j in 0..<c { out[dst + j] += hp[(row + t) * c + j] } }
                        let n = Float(s.count)
                        for j in 0..<c { out[dst + j] /= n }
                    }
                    row += s.count
                }
            }
            start = end
        }
        return Tensor(out, shape: [sequences.count, c])
    }
}

import StrataCore
import StrataNN

/// What the weight pass learned about one layer that the rewritten spec must reflect.
struct LayerRewrite {
    /// β was folded into the attention's qkv, which had no bias.
    var mixerNeedsBias = false
    /// β was folded into an FFN reader that had no bias.
    var channelNeedsBias = false
    /// FFN hidden width F (kept explicit when the stream narrows to d − 1).
    var hidden: Int?
}

/// The weight pass of `PreLNEquivalence`: maps the source state dict, parameter by parameter, to the converted
/// model's, and refuses to finish while any source parameter is left unaccounted for.
struct WeightRewrite {
    let target: PreLNEquivalence.Target
    /// Source stream width d.
    let width: Int
    /// Stored stream width: d, or d − 1 for CRMSNorm.
    let keep: Int
    private let source: [String: Tensor]
    private let sourceOrder: [String]
    private var used = Set<String>()
    /// The converted state dict (biases that become newly present are added by the caller).
    private(set) var output: [String: Tensor] = [:]
    /// Per-layer facts for the spec rewrite.
    private(set) var layers: [LayerRewrite]
    /// The final LayerNorm had a shift β, now the head's bias.
    private(set) var finalShift = false

    init(model: TransformerModel, target: PreLNEquivalence.Target) {
        self.target = target
        width = model.spec.dim
        keep = target == .crmsNorm ? model.spec.dim - 1 : model.spec.dim
        let state = model.stateDict()
        source = Dictionary(uniqueKeysWithValues: state)
        sourceOrder = state.map(\.0)
        layers = Array(repeating: LayerRewrite(), count: model.spec.layers)
    }

    private mutating func take(_ name: String) -> Tensor? {
        guard let t = source[name] else { return nil }
        used.insert(name)
        return t
    }

    mutating func run(positionTable: Tensor?) throws {
        guard keep >= 1 else {
            throw PreLNEquivalence.ConversionError(["dim \(width): crms_norm needs a stream of at least 2 channels"])
        }
        let embedding = take("tokenEmbedding.weight")!
        output["tokenEmbedding.weight"] = StreamAlgebra.centeredRows(embedding, keep: keep)
        let positionalKeys = sourceOrder.filter { $0.hasPrefix("positional.") }
        if let positionTable {
            // The table replaces whatever produced it (learned_abs_pe's own weight, or a fixed scheme's formula).
            for k in positionalKeys { used.insert(k) }
            output["positional.weight"] = StreamAlgebra.centeredRows(positionTable, keep: keep)
        } else {
            for k in positionalKeys { output[k] = take(k) }
        }
        for layer in layers.indices {
            for (site, function) in [("preChannelSite", "preChannel"), ("mixerSite", "mixer"), ("channelSite", "channel")] {
                try rewriteSite(layer: layer, site: site, function: function)
            }
        }
        let gamma = take("finalNorm.weight")!, beta = take("finalNorm.bias")
        finalShift = beta != nil
        // The original head matrix: the untied head, or the (uncentered) embedding it was tied to.
        let head = take("head.weight") ?? embedding
        let (w, b) = StreamAlgebra.foldedReader(head, bias: nil, gain: gamma, shift: beta, foldGain: target == .crmsNorm,
                                                keep: keep)
        output["head.weight"] = w
        if let b { output["head.bias"] = b }
        if target == .rmsNorm { output["finalNorm.weight"] = gamma }
        let left = sourceOrder.filter { !used.contains($0) }
        guard left.isEmpty else {
            throw PreLNEquivalence.ConversionError(left.map { "parameter \($0) is not handled by the transform" })
        }
    }

    /// One sublayer: its LayerNorm becomes (C)RMSNorm, its readers absorb β (and γ for CRMSNorm), its writers are
    /// re-centered; parameters that touch only the hidden side are copied.
    private mutating func rewriteSite(layer: Int, site: String, function: String) throws {
        let norm = "blocks.\(layer).\(site).inputNorm"
        guard let gamma = take("\(norm).weight") else { return }   // no such site (no FFN, or not macaron)
        let beta = take("\(norm).bias")
        if target == .rmsNorm { output["\(norm).weight"] = gamma }
        let prefix = "blocks.\(layer).\(function)"
        let (readers, writers) = function == "mixer"
            ? (["\(prefix).qkv"], ["\(prefix).out"])
            : try linearRoles(prefix: prefix)
        for r in readers {
            let bias = take("\(r).bias")
            let (w, b) = StreamAlgebra.foldedReader(take("\(r).weight")!, bias: bias, gain: gamma, shift: beta,
                                                    foldGain: target == .crmsNorm, keep: keep)
            output["\(r).weight"] = w
            if let b { output["\(r).bias"] = b }
            if bias == nil && beta != nil {
                if function == "mixer" { layers[layer].mixerNeedsBias = true } else { layers[layer].channelNeedsBias = true }
            }
            if function != "mixer" { layers[layer].hidden = w.shape[0] }
        }
        for wr in writers {
            output["\(wr).weight"] = StreamAlgebra.centeredWriter(take("\(wr).weight")!, keep: keep)
            if let b = take("\(wr).bias") { output["\(wr).bias"] = StreamAlgebra.centeredVector(b, keep: keep) }
        }
        for name in sourceOrder where name.hasPrefix(prefix + ".") && !used.contains(name) {
            let t = take(name)!
            guard !t.shape.contains(width) else {
                throw PreLNEquivalence.ConversionError(["parameter \(name) \(t.shape) touches the stream width \(width) "
                    + "but is neither a reader [F, \(width)] nor a writer [\(width), F]"])
            }
            output[name] = t
        }
    }

    /// Splits an FFN's `Linear` layers into stream readers (weight [F, d]) and writers ([d, F]) by shape; when F = d
    /// only the conventional names decide (up/gate/w1/w3 read, down/w2/out/proj write).
    private func linearRoles(prefix: String) throws -> ([String], [String]) {
        var readers: [String] = [], writers: [String] = []
        for name in sourceOrder where name.hasPrefix(prefix + ".") && name.hasSuffix(".weight") {
            let shape = source[name]!.shape
            guard shape.count == 2, shape.contains(width) else { continue }
            let linear = String(name.dropLast(7)), leaf = linear.split(separator: ".").last.map(String.init) ?? ""
            let readsStream = shape[1] == width, writesStream = shape[0] == width
            if readsStream && writesStream {
                if ["up", "gate", "w1", "w3", "in", "fc1"].contains(leaf) { readers.append(linear) }
                else if ["down", "w2", "out", "proj", "fc2"].contains(leaf) { writers.append(linear) }
                else {
                    throw PreLNEquivalence.ConversionError(["\(name) \(shape): cannot tell whether it reads or writes the "
                        + "stream (hidden width equals dim); name it up/gate or down"])
                }
            } else if readsStream { readers.append(linear) } else { writers.append(linear) }
        }
        return (readers, writers)
    }
}

import StrataCore
import StrataNN

/// The depth diagnostics of catalog `layer_norm_scaling` and `probes` that need more than one forward pass or
/// the gradients: per-block gradient norms (`probe_layer_stats`) and ΔLoss when one block is removed
/// (`probe_layer_removal`). The single-pass ones (angular distance, kurtosis, tanh saturation, attention-row
/// cosine) are recorded by `ProbeRecorder` during an ordinary forward.
public enum DepthDiagnostics {
    /// L2 norm of the gradients of one group of parameters.
    public struct GradientNorm: Equatable, Sendable {
        /// Block index, or −1 for everything outside the blocks (embeddings, final norm, head).
        public var layer: Int
        public var norm: Double
    }

    /// The block index of a parameter path `blocks.N.…` (nil outside the blocks).
    public static func blockIndex(ofParameter name: String) -> Int? {
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "blocks" else { return nil }
        return Int(parts[1])
    }

    /// Per-block L2 norms of the accumulated gradients (call after `backward()`, before the optimizer clears
    /// them), summed in Double in parameter order; parameters without a gradient count as zero. Row −1 holds
    /// the parameters outside the blocks. Sorted by layer, one row per block of the model.
    public static func blockGradientNorms(_ model: TransformerModel) -> [GradientNorm] {
        var sums = [Double](repeating: 0, count: model.blocks.count + 1)      // index layer + 1
        for (name, p) in model.namedParameters() {
            guard let g = p.grad else { continue }
            let slot = (blockIndex(ofParameter: name) ?? -1) + 1
            guard slot < sums.count else { continue }
            var s = 0.0
            for v in g.scalars { s += Double(v) * Double(v) }
            sums[slot] += s
        }
        return sums.enumerated().map { GradientNorm(layer: $0.offset - 1, norm: $0.element.squareRoot()) }
    }

    /// Mean next-token loss of a decoder with the blocks in `skipping` left out (their input passes straight
    /// to the next block), evaluated without gradient and without dropout. With `skipping` empty it equals
    /// `model.loss` exactly (tested), so the same embedding, final norm, head and z-loss are used.
    public static func loss(_ model: TransformerModel, inputs: [Int32], targets: [Int32], batch: Int, length: Int,
                            skipping: Set<Int> = []) -> Float {
        let wasTraining = model.isTraining
        if wasTraining { model.train(false) }
        defer { if wasTraining { model.train(true) } }
        return withNoGrad {
            let spec = model.spec
            var h = model.positional.embed(model.tokenEmbedding(inputs, shape: [batch, length]), offset: 0)
            if let types = model.tokenTypeEmbedding {
                h = h + types([Int32](repeating: 0, count: batch * length), shape: [batch, length])
            }
            if let n = model.embeddingNorm { h = n.normalize(h, site: .embedding, scratch: BlockScratch()) }
            for (i, block) in model.blocks.enumerated() where !skipping.contains(i) {
                h = block.forward(h, context: MixerContext(positional: model.positional, layer: i), cache: nil)
            }
            if let n = model.finalNorm { h = n.normalize(h, site: .final, scratch: BlockScratch()) }
            let logits = (model.head.map { $0(h) } ?? h.matmul(model.tokenEmbedding.weight.value, transposeB: true))
                .reshaped([batch * length, spec.vocabSize])
            var l = crossEntropy(logits: logits, targets: targets)
            if spec.zLoss > 0 {
                let lz = logits.logsumexp(axis: -1)
                l = l + (lz * lz).mean() * spec.zLoss
            }
            return l.item
        }
    }

    /// ΔLoss_l = loss without block l − loss of the full model, for every block l, on one batch (catalog
    /// `probe_layer_removal`). A block that contributes nothing to the stream has ΔLoss 0.
    public static func layerRemovalDeltas(_ model: TransformerModel, inputs: [Int32], targets: [Int32], batch: Int,
                                          length: Int) -> [Double] {
        let full = Double(loss(model, inputs: inputs, targets: targets, batch: batch, length: length))
        return model.blocks.indices.map { l in
            Double(loss(model, inputs: inputs, targets: targets, batch: batch, length: length, skipping: [l])) - full
        }
    }
}

extension ProbeRecorder {
    /// Records `grad_norm` per block (and at layer −1 for the parameters outside the blocks) from the
    /// gradients `model` holds now; the trainer calls it after backward, before the optimizer step.
    public func recordBlockGradientNorms(of model: TransformerModel) {
        for r in DepthDiagnostics.blockGradientNorms(model) { record(layer: r.layer, name: "grad_norm", value: r.norm) }
    }

    /// Records `layer_removal_delta_loss` per block (see `DepthDiagnostics.layerRemovalDeltas`).
    public func recordLayerRemoval(of model: TransformerModel, inputs: [Int32], targets: [Int32], batch: Int, length: Int) {
        let deltas = DepthDiagnostics.layerRemovalDeltas(model, inputs: inputs, targets: targets, batch: batch, length: length)
        for (l, d) in deltas.enumerated() { record(layer: l, name: "layer_removal_delta_loss", value: d) }
    }
}

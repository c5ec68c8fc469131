extension ModelSpec {
    /// The number of trainable scalars the model has, summed from each component's formula. The conformance
    /// suite checks it against the built model, so a variant's formula and its module cannot drift apart.
    public var expectedParameterCount: Int {
        let ctx = buildContext(layer: -1)
        func count<P>(_ registry: Registry<P>, _ c: ComponentSpec, _ context: BuildContext) -> Int {
            guard let (entry, options) = registry.resolve(c, path: "") else { return 0 }
            return entry.parameterCount(options, context: context)
        }
        var total = vocabSize * dim + typeVocabSize * dim + count(Catalog.positional, positional, ctx)
        if let n = effectiveEmbeddingNorm { total += count(Catalog.norms, n, ctx) }
        if let n = effectiveFinalNorm { total += count(Catalog.norms, n, ctx) }
        switch model {
        case .decoder: if !tieEmbeddings { total += vocabSize * dim + (headBias ? vocabSize : 0) }
        case .encoder: if encoder.task != "none" { total += (dim + 1) * encoder.outputs }
        }
        for layer in 0..<layers {
            let b = block(at: layer), lctx = buildContext(layer: layer)
            let normsPerSite = b.placement == .none ? 0 : b.placement == .peri ? 2 : 1
            let site = normsPerSite * count(Catalog.norms, b.norm, lctx) + count(Catalog.residuals, b.residual, lctx)
            let hasChannel = b.channelMixer.id != "none"
            let channelCopies = hasChannel ? (b.layout == .macaron ? 2 : 1) : 0
            total += site * (1 + channelCopies) + count(Catalog.tokenMixers, b.tokenMixer, lctx)
                + channelCopies * count(Catalog.channelMixers, b.channelMixer, lctx)
        }
        return total
    }
}

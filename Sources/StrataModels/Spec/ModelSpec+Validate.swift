extension ModelSpec {
    /// Model-level keys every component is built against; when one of them could not be read (it then holds its
    /// default), component constraints are not checked, since they would name a value the spec never wrote.
    static let shapeKeys: Set<String> = ["dim", "heads", "head_dim", "layers", "context_length", "vocab_size"]

    /// Every problem with this spec at once: model sizes out of range, shapes that do not fit, layer indices out of
    /// range, unknown catalog ids and bad component options, and each component's own constraints against the model
    /// (`Component.issues`), checked for the default block and for every layer's effective block after `overrides`,
    /// each with its key path. Empty when the spec can be built.
    public func validate() -> [SpecIssue] { validate(unreadable: []) }

    /// `validate()`, skipping the checks that involve `unreadable` keys (keys whose JSON value was rejected while
    /// reading, so that one bad value gives one error).
    func validate(unreadable: Set<String>) -> [SpecIssue] {
        var issues: [SpecIssue] = []
        func require(_ key: String, _ ok: Bool, _ message: @autoclosure () -> String) {
            if !ok, !unreadable.contains(key) { issues.append(SpecIssue(path: key, message: message())) }
        }
        // The reader enforces these ranges on JSON; a spec built in code reaches `validate()` directly.
        require("vocab_size", vocabSize >= 2, "\(vocabSize) is out of range: a vocabulary needs at least 2 tokens")
        require("context_length", contextLength >= 1, "\(contextLength) is out of range: the context needs at least 1 token")
        require("dim", dim >= 1, "\(dim) is out of range: the model width needs at least 1 channel")
        require("heads", heads >= 1, "\(heads) is out of range: a model needs at least 1 query head")
        require("head_dim", (headDim ?? 1) >= 1, "\(headDim ?? 0) is out of range: a head needs at least 1 channel")
        require("layers", layers >= 1, "\(layers) blocks: a model needs at least 1 (an embedding-only model is not supported)")
        let shapesValid = issues.isEmpty && unreadable.isDisjoint(with: ModelSpec.shapeKeys)
        if shapesValid, headDim == nil, dim % heads != 0 {
            issues.append(SpecIssue(path: "heads", message: "dim \(dim) is not divisible by heads \(heads); set head_dim or change heads"))
        }
        if headBias, model == .decoder, tieEmbeddings {
            issues.append(SpecIssue(path: "head_bias", message: "a bias needs an untied head; set tie_embeddings false or head_bias false"))
        }
        if typeVocabSize > 0, model == .decoder {
            issues.append(SpecIssue(path: "type_vocab_size", message: "token types are for encoders; set model encoder or type_vocab_size 0"))
        }
        // Parse every component as written (unknown ids, bad options), once per key path.
        _ = Catalog.positional.resolve(positional, path: "positional", issues: &issues)
        if let n = embeddingNorm { _ = Catalog.norms.resolve(n, path: "embedding_norm", issues: &issues) }
        if let n = finalNorm { _ = Catalog.norms.resolve(n, path: "final_norm", issues: &issues) }
        resolveBlock(block, path: "block", issues: &issues)
        for (i, ov) in overrides.enumerated() {
            let path = "overrides.\(i)"
            for l in ov.layers where !(0..<max(layers, 0)).contains(l) {
                issues.append(SpecIssue(path: joinPath(path, "layers"), message: "layer \(l) is out of range 0..<\(layers)"))
            }
            if let n = ov.norm { _ = Catalog.norms.resolve(n, path: joinPath(path, "norm"), issues: &issues) }
            if let m = ov.tokenMixer { _ = Catalog.tokenMixers.resolve(m, path: joinPath(path, "token_mixer"), issues: &issues) }
            if let c = ov.channelMixer { _ = Catalog.channelMixers.resolve(c, path: joinPath(path, "channel_mixer"), issues: &issues) }
            if let r = ov.residual { _ = Catalog.residuals.resolve(r, path: joinPath(path, "residual"), issues: &issues) }
        }
        if shapesValid { issues += constraintIssues() }
        return issues
    }

    private func resolveBlock(_ b: BlockSpec, path: String, issues: inout [SpecIssue]) {
        _ = Catalog.norms.resolve(b.norm, path: joinPath(path, "norm"), issues: &issues)
        _ = Catalog.tokenMixers.resolve(b.tokenMixer, path: joinPath(path, "token_mixer"), issues: &issues)
        _ = Catalog.channelMixers.resolve(b.channelMixer, path: joinPath(path, "channel_mixer"), issues: &issues)
        _ = Catalog.residuals.resolve(b.residual, path: joinPath(path, "residual"), issues: &issues)
    }

    /// The components' own constraints (`Component.issues`) in the context they are built in: model-level ones at
    /// layer −1, and every layer's effective block, each problem named by the key path that wrote the component
    /// (`block.token_mixer` or the last override that set it, `overrides.1.token_mixer`) and reported once.
    private func constraintIssues() -> [SpecIssue] {
        var issues: [SpecIssue] = [], seen = Set<String>()
        func add<P>(_ registry: Registry<P>, _ c: ComponentSpec, _ path: String, _ context: BuildContext) {
            var local: [SpecIssue] = []
            registry.check(c, path: path, context: context, issues: &local)
            for issue in local where seen.insert(issue.description).inserted { issues.append(issue) }
        }
        let model = buildContext(layer: -1)
        add(Catalog.positional, positional, "positional", model)
        if let n = effectiveEmbeddingNorm { add(Catalog.norms, n, embeddingNorm == nil ? "block.norm" : "embedding_norm", model) }
        if let n = effectiveFinalNorm { add(Catalog.norms, n, finalNorm == nil ? "block.norm" : "final_norm", model) }
        for layer in 0..<layers {
            let b = block(at: layer), context = buildContext(layer: layer)
            // The key path that supplied each slot at this layer: the last override naming the layer and setting it.
            func source(_ key: String, _ sets: (LayerOverride) -> Bool) -> String {
                let i = overrides.indices.last { overrides[$0].layers.contains(layer) && sets(overrides[$0]) }
                return i.map { "overrides.\($0).\(key)" } ?? "block.\(key)"
            }
            if b.placement != .none { add(Catalog.norms, b.norm, source("norm") { $0.norm != nil }, context) }
            add(Catalog.tokenMixers, b.tokenMixer, source("token_mixer") { $0.tokenMixer != nil }, context)
            if b.channelMixer.id != "none" {
                add(Catalog.channelMixers, b.channelMixer, source("channel_mixer") { $0.channelMixer != nil }, context)
            }
            add(Catalog.residuals, b.residual, source("residual") { $0.residual != nil }, context)
        }
        return issues
    }

    /// Throws every problem at once, or returns the spec unchanged.
    public func validated() throws -> ModelSpec {
        let issues = validate()
        guard issues.isEmpty else { throw SpecError(issues) }
        return self
    }
}

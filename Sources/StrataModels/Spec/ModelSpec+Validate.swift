extension ModelSpec {
    /// Every problem with this spec at once: shapes that do not fit, layer indices out of range, unknown
    /// catalog ids and bad component options, each with its key path. Empty when the spec can be built.
    public func validate() -> [SpecIssue] {
        var issues: [SpecIssue] = []
        if headDim == nil, dim % heads != 0 {
            issues.append(SpecIssue(path: "heads", message: "dim \(dim) is not divisible by heads \(heads); set head_dim or change heads"))
        }
        if headBias, model == .decoder, tieEmbeddings {
            issues.append(SpecIssue(path: "head_bias", message: "a bias needs an untied head; set tie_embeddings false or head_bias false"))
        }
        if typeVocabSize > 0, model == .decoder {
            issues.append(SpecIssue(path: "type_vocab_size", message: "token types are for encoders; set model encoder or type_vocab_size 0"))
        }
        _ = Catalog.positional.resolve(positional, path: "positional", issues: &issues)
        if let n = embeddingNorm { _ = Catalog.norms.resolve(n, path: "embedding_norm", issues: &issues) }
        if let n = finalNorm { _ = Catalog.norms.resolve(n, path: "final_norm", issues: &issues) }
        validateBlock(block, path: "block", issues: &issues)
        for (i, ov) in overrides.enumerated() {
            let path = "overrides.\(i)"
            for l in ov.layers where !(0..<layers).contains(l) {
                issues.append(SpecIssue(path: joinPath(path, "layers"), message: "layer \(l) is out of range 0..<\(layers)"))
            }
            if let n = ov.norm { _ = Catalog.norms.resolve(n, path: joinPath(path, "norm"), issues: &issues) }
            if let m = ov.tokenMixer { _ = Catalog.tokenMixers.resolve(m, path: joinPath(path, "token_mixer"), issues: &issues) }
            if let c = ov.channelMixer { _ = Catalog.channelMixers.resolve(c, path: joinPath(path, "channel_mixer"), issues: &issues) }
            if let r = ov.residual { _ = Catalog.residuals.resolve(r, path: joinPath(path, "residual"), issues: &issues) }
        }
        return issues
    }

    private func validateBlock(_ b: BlockSpec, path: String, issues: inout [SpecIssue]) {
        _ = Catalog.norms.resolve(b.norm, path: joinPath(path, "norm"), issues: &issues)
        _ = Catalog.tokenMixers.resolve(b.tokenMixer, path: joinPath(path, "token_mixer"), issues: &issues)
        _ = Catalog.channelMixers.resolve(b.channelMixer, path: joinPath(path, "channel_mixer"), issues: &issues)
        _ = Catalog.residuals.resolve(b.residual, path: joinPath(path, "residual"), issues: &issues)
    }

    /// Throws every problem at once, or returns the spec unchanged.
    public func validated() throws -> ModelSpec {
        let issues = validate()
        guard issues.isEmpty else { throw SpecError(issues) }
        return self
    }
}

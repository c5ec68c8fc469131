import Foundation
import StrataCore

extension ModelSpec {
    /// The spec as JSON with every default written out, down to each component's options (`strata spec check`
    /// prints it): the model-level keys as in `json`, and every component as an object holding its id and all the
    /// options its catalog entry documents (options without a default, such as `kv_heads`, stay absent unless set).
    public var resolvedJSON: JSONValue {
        guard case .object(var top) = json else { return json }
        func resolved<P>(_ registry: Registry<P>, _ value: JSONValue) -> JSONValue {
            var issues: [SpecIssue] = []
            guard let c = ComponentSpec.read(value, path: "", issues: &issues), let entry = registry.entry(c.id) else { return value }
            var o: [String: JSONValue] = ["id": .string(c.id)]
            for doc in entry.optionDocs where doc.defaultValue != "null" {
                if let v = try? JSONValue.parse(Data(doc.defaultValue.utf8)) { o[doc.key] = v }
            }
            for (k, v) in c.options { o[k] = v }
            return .object(o)
        }
        func block(_ value: JSONValue) -> JSONValue {
            guard case .object(var b) = value else { return value }
            if let v = b["norm"] { b["norm"] = resolved(Catalog.norms, v) }
            if let v = b["token_mixer"] { b["token_mixer"] = resolved(Catalog.tokenMixers, v) }
            if let v = b["channel_mixer"] { b["channel_mixer"] = resolved(Catalog.channelMixers, v) }
            if let v = b["residual"] { b["residual"] = resolved(Catalog.residuals, v) }
            return .object(b)
        }
        if let v = top["positional"] { top["positional"] = resolved(Catalog.positional, v) }
        for key in ["embedding_norm", "final_norm"] { if let v = top[key] { top[key] = resolved(Catalog.norms, v) } }
        if let v = top["block"] { top["block"] = block(v) }
        if case .array(let a)? = top["overrides"] { top["overrides"] = .array(a.map(block)) }
        return .object(top)
    }
}

extension TransformerModel {
    /// One training forward and backward on `batch` random sequences of `length` tokens, then (decoders) a cached
    /// decode of a prompt and single steps up to the context length, restarting the cache when it is full; returns
    /// the loss. `strata spec check --step` and the spec fuzzer run it on every spec that validates: such a spec
    /// must get through it without trapping.
    public func smokeStep(batch: Int, length: Int, decodeSteps: Int = 8, seed: UInt64 = 0) -> Float {
        var rng = RNG(seed: seed)
        let t = max(1, min(length, spec.contextLength)), b = max(1, batch)
        func ids(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % UInt64(spec.vocabSize)) } }
        train(true)
        zeroGrad()
        let loss: Tensor
        switch spec.model {
        case .decoder:
            loss = self.loss(inputs: ids(b * t), targets: ids(b * t), batch: b, length: t)
        case .encoder:
            let y = predict(ids(b * t), batch: b, length: t)
            loss = (y * y).mean()
        }
        loss.backward()
        let value = loss.scalars.first ?? .nan
        zeroGrad()
        guard spec.model == .decoder else { return value }
        train(false)
        defer { train(true) }
        withNoGrad {
            let capacity = spec.contextLength
            var state = makeDecodeState(batch: 1)
            _ = logits(ids(min(3, capacity)), batch: 1, length: min(3, capacity), state: state)
            for _ in 0..<decodeSteps {
                if state.length >= capacity {
                    // A full context restarts on its most recent half (at least one token), as generation does.
                    state = makeDecodeState(batch: 1)
                    let keep = max(1, capacity / 2)
                    _ = logits(ids(keep), batch: 1, length: keep, state: state)
                } else {
                    _ = logits(ids(1), batch: 1, length: 1, state: state)
                }
            }
        }
        return value
    }
}
